"""The blending benchmark's protocol: self-reconstruction panoramas cut from photos.

The blend protocol (``BLEND_PROTOCOL_NAME``)
--------------------------------------------
Wide-range blending has no true middle for two unrelated photos, so the benchmark cuts both
photos and the middle from one wide window of a photo, as Lu et al. (CVPR 2021) evaluate
their self-reconstruction:

* a window is ``BLEND_HEIGHT`` rows by ``BLEND_SIDE + BLEND_GAP + BLEND_SIDE`` columns
  (256 | 256 | 256): the left photo, the true middle, the right photo;
* a photo narrower than the window or shorter than its height is first enlarged (bicubic,
  aspect kept) until the window fits; other photos are used at their size;
* ``BLEND_WINDOWS`` windows per photo, their corners drawn uniformly from a generator seeded
  by (seed, CRC-32 of the photo's file stem, window index), so a photo's windows do not
  depend on the other photos;
* every method gets the two photos and the gap's width, and is scored on the middle alone:
  PSNR and SSIM of the generated middle against the true one, hole L1/L2, and the middle's
  relative total variation (texture: a smudge has little of it; compare with the true
  middles' value, which the report states).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import cv2
import numpy as np

from holefill.errors import InvalidArgumentError

BLEND_PROTOCOL_NAME = "holefill-blend-v1"
BLEND_HEIGHT = 256
BLEND_SIDE = 256
BLEND_GAP = 256
BLEND_WINDOWS = 4
BLEND_SEED = 0


@dataclass(frozen=True)
class BlendItem:
    """One benchmark panorama: the two photos, the gap and its truth."""

    name: str
    left: np.ndarray
    right: np.ndarray
    truth: np.ndarray

    @property
    def gap(self) -> int:
        return int(self.truth.shape[1])


def _fit(photo: np.ndarray, height: int, width: int) -> np.ndarray:
    """``photo`` enlarged (aspect kept) until it is at least ``height`` x ``width``."""
    h, w = photo.shape[:2]
    factor = max(height / h, width / w)
    if factor <= 1.0:
        return photo
    size = (max(width, round(w * factor)), max(height, round(h * factor)))
    return cv2.resize(photo, size, interpolation=cv2.INTER_CUBIC)


def blend_items(photos: list[tuple[str, np.ndarray]], *, windows: int = BLEND_WINDOWS, seed: int = BLEND_SEED,
                height: int = BLEND_HEIGHT, side: int = BLEND_SIDE, gap: int = BLEND_GAP) -> list[BlendItem]:
    """The protocol's panoramas for ``photos`` ((file stem, HxWx3 uint8) pairs), photo by photo."""
    for name, value in (("windows", windows), ("height", height), ("side", side), ("gap", gap)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidArgumentError(f"{name} must be a whole number >= 1, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidArgumentError(f"seed must be a whole number >= 0, got {seed!r}")
    if not photos:
        raise InvalidArgumentError("the blend benchmark needs at least one photo")
    width = 2 * side + gap
    items = []
    for stem, photo in photos:
        image = _fit(photo, height, width)
        h, w = image.shape[:2]
        rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(stem.encode()), 0xB1E4D]))
        for i in range(windows):
            top, left = int(rng.integers(0, h - height + 1)), int(rng.integers(0, w - width + 1))
            window = image[top:top + height, left:left + width]
            items.append(BlendItem(f"{stem}_{i:03d}", np.ascontiguousarray(window[:, :side]),
                                   np.ascontiguousarray(window[:, side + gap:]),
                                   np.ascontiguousarray(window[:, side:side + gap])))
    return items


def describe_blend_protocol(n_photos: int, *, windows: int = BLEND_WINDOWS, seed: int = BLEND_SEED,
                            height: int = BLEND_HEIGHT, side: int = BLEND_SIDE, gap: int = BLEND_GAP) -> str:
    """The protocol in one paragraph, for reports."""
    return (f"{BLEND_PROTOCOL_NAME}: {windows} windows of {height} x {side} | {gap} | {side} px per photo "
            f"({n_photos} photos, {n_photos * windows} panoramas), corners drawn with seed {seed} and each photo's "
            "name; photos smaller than a window enlarged (bicubic) to fit. Each method gets the two sides and the "
            "gap's width; PSNR, SSIM, hole L1/L2 and relative TV are taken on the generated middle alone.")


__all__ = ["BLEND_GAP", "BLEND_HEIGHT", "BLEND_PROTOCOL_NAME", "BLEND_SEED", "BLEND_SIDE", "BLEND_WINDOWS", "BlendItem",
           "blend_items", "describe_blend_protocol"]
