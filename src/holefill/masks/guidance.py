"""Guidance images whose truth is known: training data and the guided benchmark protocol.

Guided inpainting (Zhao, Price, Cohen and Gurari, WACV 2019) fills a hole with content pulled
from another photo, the *guide*. Its training data is self-supervised, as the paper does it:
the guide holds the hole's original content, transformed (rotation, scale, translation,
crop), next to irrelevant content, so a network must both find the content and synthesise
what the guide lacks. :func:`make_guide` draws such a guide for an image and its hole and
returns the exact map from image to guide, so alignment and fill can both be scored.

Frames. Affine maps between an image and its guide are stated in *long-side units*: a pixel
``(x, y)`` of an image of ``h x w`` pixels, ``s = max(h, w)``, sits at
``((x + 0.5 - w / 2) / (s / 2), (y + 0.5 - h / 2) / (s / 2))``, so the image's centre is 0 and
its long side spans [-1, 1]. A similarity transform stays a similarity in these units
whatever the two images' sizes and aspect ratios (:func:`pixel_affine_to_frames`).

The guided benchmark protocol (:data:`GUIDED_PROTOCOL_NAME`, :func:`protocol_guide`): for
benchmark image i and its mask, the guide is the same image under a random similarity
transform (rotation up to 10 degrees, scale 0.85-1.2), placed on a canvas of the image's
size whose surroundings come from another benchmark image (irrelevant content, plus two
irrelevant patches kept off the hole's content), under a lighting change (a brightness gain
away from 1, a colour cast and a gamma). Everything is drawn from (seed, i, mask set), so the
set is fixed; the hole's content is always whole inside the guide, so the truth is known.

NumPy and OpenCV only: the benchmark uses this without torch.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from holefill.errors import InvalidArgumentError

GUIDED_PROTOCOL_NAME = "holefill-guided-v1"


@dataclass(frozen=True)
class GuideSettings:
    """How a guide is drawn. Ranges are (low, high); scales and gains are drawn log-uniformly."""

    #: Largest rotation, degrees (drawn in [-rotation, rotation]).
    rotation: float = 15.0
    #: Guide pixels per image pixel.
    scale: tuple[float, float] = (0.75, 1.33)
    #: Global brightness gain of the guide's lighting.
    brightness: tuple[float, float] = (0.6, 1.4)
    #: Gains closer to 1 than this are pushed out to it (0: any gain in the range).
    min_brightness_change: float = 0.0
    #: Per-channel colour cast: each channel's gain is multiplied by 1 +- this.
    colour: float = 0.1
    #: Gamma of the guide's tone curve.
    gamma: tuple[float, float] = (0.75, 1.33)
    #: Irrelevant patches pasted away from the hole's content: (fewest, most).
    patches: tuple[int, int] = (0, 3)
    #: Probability that one irrelevant patch covers part of the hole's content (a gap the
    #: network must synthesise instead of copying).
    gap: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.rotation <= 180:
            raise InvalidArgumentError(f"guide rotation must lie in [0, 180] degrees, got {self.rotation}")
        for name in ("scale", "brightness", "gamma"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise InvalidArgumentError(f"guide {name} must be (low, high) with 0 < low <= high, got {(lo, hi)}")
        if not 0 <= self.colour < 1:
            raise InvalidArgumentError(f"guide colour cast must lie in [0, 1), got {self.colour}")
        if not 0 <= self.patches[0] <= self.patches[1]:
            raise InvalidArgumentError(f"guide patches must be (fewest, most) >= 0, got {self.patches}")
        if not 0 <= self.gap <= 1:
            raise InvalidArgumentError(f"guide gap probability must lie in [0, 1], got {self.gap}")


#: What :func:`protocol_guide` draws (the guided benchmark protocol, stated in every report).
PROTOCOL_SETTINGS = GuideSettings(rotation=10.0, scale=(0.85, 1.2), brightness=(0.6, 1.45),
                                  min_brightness_change=0.15, colour=0.08, gamma=(0.8, 1.25), patches=(2, 2), gap=0.0)


@dataclass(frozen=True)
class Guide:
    """A drawn guide: the picture, the map from the image to it, and where the truth lies."""

    #: HgxWgx3 uint8 RGB.
    image: np.ndarray
    #: 2x3 map of image pixels (x, y) to guide pixels.
    pixels: np.ndarray
    #: The same map in long-side units (see the module docstring).
    frames: np.ndarray
    #: HxW bool: hole pixels whose own content is in the guide (all of the hole unless a gap).
    truth: np.ndarray


def frame_matrix(h: int, w: int) -> np.ndarray:
    """3x3 map of pixel coordinates (x, y, 1) of an ``h x w`` image to long-side units."""
    s = max(h, w) / 2.0
    return np.array([[1 / s, 0, (0.5 - w / 2) / s], [0, 1 / s, (0.5 - h / 2) / s], [0, 0, 1]], np.float64)


def pixel_affine_to_frames(affine: np.ndarray, image_shape: Sequence[int], guide_shape: Sequence[int]) -> np.ndarray:
    """A 2x3 pixel map (image -> guide) restated in long-side units."""
    a = np.vstack([np.asarray(affine, np.float64), [0, 0, 1]])
    f_img = frame_matrix(int(image_shape[0]), int(image_shape[1]))
    f_gd = frame_matrix(int(guide_shape[0]), int(guide_shape[1]))
    return (f_gd @ a @ np.linalg.inv(f_img))[:2]


def frames_affine_to_pixels(affine: np.ndarray, image_shape: Sequence[int], guide_shape: Sequence[int]) -> np.ndarray:
    """The inverse of :func:`pixel_affine_to_frames`."""
    a = np.vstack([np.asarray(affine, np.float64), [0, 0, 1]])
    f_img = frame_matrix(int(image_shape[0]), int(image_shape[1]))
    f_gd = frame_matrix(int(guide_shape[0]), int(guide_shape[1]))
    return (np.linalg.inv(f_gd) @ a @ f_img)[:2]


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi)))) if hi > lo else float(lo)


def _backdrop(distractor: np.ndarray, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """An ``h x w`` piece of ``distractor`` at a random place and scale (only that piece is resized)."""
    dh, dw = distractor.shape[:2]
    scale = max(h / dh, w / dw) * _log_uniform(rng, 1.0, 1.5)  # output pixels per distractor pixel
    sh, sw = min(dh, max(1, round(h / scale))), min(dw, max(1, round(w / scale)))
    top, left = int(rng.integers(0, dh - sh + 1)), int(rng.integers(0, dw - sw + 1))
    piece = distractor[top:top + sh, left:left + sw]
    return cv2.resize(piece, (w, h), interpolation=cv2.INTER_AREA if sh > h else cv2.INTER_LINEAR)


def _rect(rng: np.random.Generator, h: int, w: int, lo: float = 0.15, hi: float = 0.35) -> tuple[int, int, int, int]:
    rh, rw = max(2, round(h * rng.uniform(lo, hi))), max(2, round(w * rng.uniform(lo, hi)))
    top, left = int(rng.integers(0, max(1, h - rh + 1))), int(rng.integers(0, max(1, w - rw + 1)))
    return top, left, min(h, top + rh), min(w, left + rw)


def _relight(image: np.ndarray, rng: np.random.Generator, s: GuideSettings) -> np.ndarray:
    gain = _log_uniform(rng, *s.brightness)
    if s.min_brightness_change > 0 and abs(math.log(gain)) < math.log1p(s.min_brightness_change):
        gain = (1 + s.min_brightness_change) ** (1 if gain >= 1 else -1)
    cast = 1 + rng.uniform(-s.colour, s.colour, 3)
    gamma = _log_uniform(rng, *s.gamma)
    x = (image.astype(np.float32) / 255.0) ** gamma * (gain * cast).astype(np.float32)
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def make_guide(source: np.ndarray, offset: tuple[int, int], mask: np.ndarray, rng: np.random.Generator,
               distractor: np.ndarray, guide_shape: tuple[int, int], settings: GuideSettings) -> Guide:
    """Draw a guide for an image that is ``source[top:top+h, left:left+w]``, ``offset = (left, top)``.

    The guide is ``source`` under a random similarity transform that keeps the hole's whole
    content inside the guide's ``guide_shape = (hg, wg)`` canvas; the rest of the canvas shows
    what the transform brings in from ``source`` (the hole's real surroundings, when
    ``source`` is larger than the image) or, beyond ``source``, a piece of ``distractor``;
    irrelevant patches of ``distractor`` are pasted off the hole's content (and, with
    probability ``settings.gap``, one over part of it); and the whole guide is relit.
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        raise InvalidArgumentError("a guide is drawn for a hole; the mask is empty")
    hg, wg = int(guide_shape[0]), int(guide_shape[1])
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min() - 0.5, ys.max() + 0.5, xs.min() - 0.5, xs.max() + 0.5
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]]) - centre
    angle = math.radians(rng.uniform(-settings.rotation, settings.rotation))
    scale = _log_uniform(rng, *settings.scale)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    margin = 2.0
    half = np.abs(corners @ (scale * rot).T).max(axis=0)
    room = np.array([wg / 2 - margin, hg / 2 - margin])
    if np.any(half > room):  # the hole's content would not fit: shrink the transform until it does
        scale *= float(np.min(room / half))
        half = np.abs(corners @ (scale * rot).T).max(axis=0)
    lin = scale * rot
    u = rng.uniform(0, 1, 2)
    lo = half + margin - 0.5
    hi = np.array([wg, hg]) - 0.5 - half - margin
    target = lo + u * np.maximum(hi - lo, 0)
    image_to_guide = np.hstack([lin, (target - lin @ centre)[:, None]])
    source_to_guide = np.hstack([lin, (target - lin @ (centre + np.asarray(offset, np.float64)))[:, None]])

    guide = cv2.warpAffine(source, source_to_guide, (wg, hg), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    inside = cv2.warpAffine(np.ones(source.shape[:2], np.float32), source_to_guide, (wg, hg), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0.999
    backdrop = _backdrop(distractor, hg, wg, rng)
    guide[~inside] = backdrop[~inside]

    footprint = cv2.warpAffine(mask.astype(np.uint8), image_to_guide, (wg, hg), flags=cv2.INTER_NEAREST) > 0
    keep_off = cv2.dilate(footprint.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    covered = np.zeros((hg, wg), bool)
    n_patches = int(rng.integers(settings.patches[0], settings.patches[1] + 1))
    for _ in range(n_patches):
        for _try in range(20):
            t, l, b, r = _rect(rng, hg, wg)
            if not keep_off[t:b, l:r].any():
                piece = _backdrop(distractor, b - t, r - l, rng)
                guide[t:b, l:r] = piece
                break
    if settings.gap > 0 and rng.random() < settings.gap:
        fy, fx = np.nonzero(footprint)
        cy, cx = int(fy[rng.integers(len(fy))]), int(fx[rng.integers(len(fx))])
        t, l, b, r = _rect(rng, hg, wg, 0.1, 0.25)
        rh, rw = b - t, r - l
        t, l = max(0, cy - rh // 2), max(0, cx - rw // 2)
        b, r = min(hg, t + rh), min(wg, l + rw)
        guide[t:b, l:r] = _backdrop(distractor, b - t, r - l, rng)
        covered[t:b, l:r] = True
    guide = _relight(guide, rng, settings)

    truth = mask.copy()
    if covered.any():
        guide_to_image = cv2.invertAffineTransform(image_to_guide)
        gone = cv2.warpAffine(covered.astype(np.uint8), guide_to_image, (w, h), flags=cv2.INTER_NEAREST) > 0
        truth &= ~gone
    frames = pixel_affine_to_frames(image_to_guide, (h, w), (hg, wg))
    return Guide(image=guide, pixels=image_to_guide, frames=frames, truth=truth)


def protocol_rng(seed: int, index: int, mask_set: str = "") -> np.random.Generator:
    """The random stream of the guided benchmark's image ``index`` in mask set ``mask_set``."""
    key = (zlib.crc32(b"guided"), int(index), zlib.crc32(mask_set.encode()))
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=key))


def protocol_guide(image: np.ndarray, mask: np.ndarray, distractor: np.ndarray, index: int, seed: int = 0,
                   mask_set: str = "") -> Guide:
    """The guided protocol's guide for benchmark image ``index`` with its mask of ``mask_set``
    (see the module docstring)."""
    return make_guide(image, (0, 0), mask, protocol_rng(seed, index, mask_set), distractor, image.shape[:2],
                      PROTOCOL_SETTINGS)


def describe_guided_protocol(seed: int = 0) -> str:
    """One line naming the guided protocol and its settings, for reports."""
    s = PROTOCOL_SETTINGS
    return (f"{GUIDED_PROTOCOL_NAME}: each image's guide is the image itself under a random similarity"
            f" (rotation up to {s.rotation:g} deg, scale {s.scale[0]:g}-{s.scale[1]:g}), on a canvas of its size"
            f" whose surroundings and {s.patches[1]} patches come from another benchmark image, relit (brightness gain"
            f" {s.brightness[0]:g}-{s.brightness[1]:g}, at least {100 * s.min_brightness_change:g} % away from 1;"
            f" colour cast +-{100 * s.colour:g} %; gamma {s.gamma[0]:g}-{s.gamma[1]:g}); seed {seed}")


__all__ = [
    "GUIDED_PROTOCOL_NAME",
    "PROTOCOL_SETTINGS",
    "Guide",
    "GuideSettings",
    "describe_guided_protocol",
    "frame_matrix",
    "frames_affine_to_pixels",
    "make_guide",
    "pixel_affine_to_frames",
    "protocol_guide",
    "protocol_rng",
]
