"""Learned blending: a blending model (``task == "blend"``) becomes a :class:`~holefill.fillers.Blender`.

The network needs heights, side widths and gaps that are multiples of its stride (64 for
``bct_blend``); photos and gaps of any size are handled here:

- the height is padded (mirrored) to a multiple of the stride, at least two strides, and
  the middle is cut back to it;
- each side hands the network up to ``context`` columns next to the gap (rounded down to the
  stride; a photo narrower than one stride is mirrored outwards to one), so the cost does not
  grow with the photos' widths;
- the gap is rounded up to the stride and the generated middle resized to the asked width
  (a gap that is a multiple of the stride is used as it is);
- ``scale`` runs the network on the photos resized by that factor and resizes the middle
  back (for weights trained on smaller photos than the ones given);
- ``seam="poisson"`` (ours, not in the paper or its code) removes the step between each photo
  and the generated middle. The network redraws the whole panorama, sides included, and its
  redrawn sides differ from the photos (a small network's most of all); pasting the photos
  back then leaves a visible edge where the redrawn side's error stops. The middle is
  Poisson-blended between the two photos instead (:func:`poisson_seam`), at the photos' own
  scale (after ``scale``'s resize back). ``"none"`` pastes the network's middle as it is.

The photos themselves come back unchanged: :meth:`Blender.blend` puts the original pixels
around the generated middle.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import torch

from holefill.errors import InvalidArgumentError
from holefill.fillers import Blender
from holefill.models.base import InpaintModel
from holefill.models.registry import load_model
from holefill.options import Option
from holefill.pipeline import resolve_device


def poisson_seam(d_left: np.ndarray, d_right: np.ndarray, gap: int) -> np.ndarray:
    """The ``seam="poisson"`` correction of a generated middle ``gap`` columns wide: (H, gap, C) float64.

    ``d_left`` and ``d_right`` (H, C) are, per row, each photo's column next to the gap minus
    the network's redrawn copy of that column. The correction ``c`` is harmonic in the gap (the
    discrete Laplace equation at every middle pixel), equals ``d_left`` and ``d_right`` on those
    two columns, and has no flux at the top and bottom rows (Neumann). So ``middle + c`` keeps
    the middle's gradients and meets both photos exactly: Poisson blending (Pérez, Gangnet and
    Blake, SIGGRAPH 2003) with the network's middle as the guidance field, as GLCIC
    post-processes its fills. Solved exactly: a DCT down the rows separates the frequencies,
    and each one's profile across the gap is ``sinh(mu (L - x)) / sinh(mu L)`` from the left
    and ``sinh(mu x) / sinh(mu L)`` from the right (``L = gap + 1``, ``cosh mu = 1 + lambda / 2``
    for the rows' Laplacian eigenvalue ``lambda``; linear for the mean), so a row-to-row
    difference of high frequency (the edge's texture) fades within a few columns and a colour
    offset spreads across the gap.
    """
    from scipy.fft import dct, idct

    d_left, d_right = np.asarray(d_left, np.float64), np.asarray(d_right, np.float64)
    if d_left.ndim != 2 or d_left.shape != d_right.shape or isinstance(gap, bool) or not isinstance(gap, int) \
            or gap < 1:
        raise InvalidArgumentError(f"poisson_seam needs two (H, C) edge differences of one shape and a gap >= 1, got "
                                   f"{d_left.shape}, {d_right.shape} and {gap!r}")
    h = d_left.shape[0]
    k_left, k_right = (dct(d, type=2, norm="ortho", axis=0) for d in (d_left, d_right))
    lam = 2.0 - 2.0 * np.cos(np.pi * np.arange(h) / h)  # the eigenvalues of the rows' Laplacian
    mu = np.arccosh(1.0 + lam / 2.0)[:, None]
    span = gap + 1
    x = np.arange(1, gap + 1, dtype=np.float64)[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):  # the mean (mu = 0) takes the linear profile below
        denominator = np.expm1(-2.0 * mu * span)
        from_left = np.exp(-mu * x) * np.expm1(-2.0 * mu * (span - x)) / denominator
        from_right = np.exp(-mu * (span - x)) * np.expm1(-2.0 * mu * x) / denominator
    from_left[0], from_right[0] = 1.0 - x[0] / span, x[0] / span
    spectrum = k_left[:, None, :] * from_left[..., None] + k_right[:, None, :] * from_right[..., None]
    return idct(spectrum, type=2, norm="ortho", axis=0)


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = image.shape[:2]
    if (h, w) == (height, width):
        return image
    shrink = width * height < w * h
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


class ModelBlender(Blender):
    """A :class:`Blender` backed by a blending model (e.g. :class:`~holefill.models.bct_blend.BCTBlend`)."""

    options = (
        Option("context", "int", 256, "columns of each photo next to the gap that the network sees (at least "
               "the model's stride)", minimum=1, maximum=4096),
        Option("scale", "float", 1.0, "run the network on the photos resized by this factor", minimum=0.05,
               maximum=4.0),
        Option("seam", "choice", "poisson", "poisson: Poisson-blend the generated middle between the two photos "
               "(it meets both exactly, no step at the joins); none: the network's middle as drawn",
               choices=("poisson", "none")),
    )

    def __init__(self, model: InpaintModel, *, device: str | torch.device | None = None, name: str | None = None,
                 context: int = 256, scale: float = 1.0, seam: str = "poisson") -> None:
        if getattr(model, "task", "inpaint") != "blend" or not hasattr(model, "blend"):
            raise InvalidArgumentError(f"{model.architecture or type(model).__name__} is not a blending model")
        if isinstance(context, bool) or not isinstance(context, int) or context < model.size_multiple:
            raise InvalidArgumentError(f"context must be a whole number of pixels >= {model.size_multiple}, "
                                       f"got {context!r}")
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0.05 <= scale <= 4:
            raise InvalidArgumentError(f"scale must be a number in [0.05, 4], got {scale!r}")
        if seam not in ("poisson", "none"):
            raise InvalidArgumentError(f"seam must be poisson or none, got {seam!r}")
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.name = name or model.architecture or type(model).__name__
        self.context = int(context)
        self.scale = float(scale)
        self.seam = seam

    @classmethod
    def from_pretrained(cls, weights: str | Path, *, device: str | torch.device | None = None, expect: str | None = None,
                        **options) -> "ModelBlender":
        """Load a ``save_pretrained`` folder (checking the architecture when ``expect`` is given).

        The folder's ``config.json`` may hold defaults for the options under ``"blender"``
        (e.g. ``{"context": 256, "scale": 0.5, "seam": "poisson"}`` for weights trained on smaller
        photos);
        ``options`` override them.
        """
        from holefill.models.base import read_config

        defaults = read_config(weights).get("blender", {})
        if not isinstance(defaults, dict) or set(defaults) - {"context", "scale", "seam"}:
            raise InvalidArgumentError("config.json's \"blender\" entry may hold only context, scale and seam", weights)
        return cls(load_model(weights, device="cpu", expect=expect), device=device, **{**defaults, **options})

    def _side(self, photo: np.ndarray, at_right: bool) -> np.ndarray:
        """The ``context`` columns of ``photo`` next to the gap, a whole number of strides wide."""
        k = self.model.size_multiple
        width = photo.shape[1]
        if width < k:  # mirror outwards, away from the gap
            pad = ((0, 0), (0, k - width) if at_right else (k - width, 0), (0, 0))
            return np.pad(photo, pad, mode="symmetric")
        keep = min(width, self.context) // k * k
        return photo[:, :keep] if at_right else photo[:, width - keep:]

    @torch.inference_mode()
    def _blend(self, left: np.ndarray, right: np.ndarray, gap: int) -> np.ndarray:
        k = self.model.size_multiple
        h0 = left.shape[0]
        photos = left, right
        if self.scale != 1.0:
            h = max(1, round(h0 * self.scale))
            left = _resize(left, max(1, round(left.shape[1] * self.scale)), h)
            right = _resize(right, max(1, round(right.shape[1] * self.scale)), h)
            inner_gap = max(1, round(gap * self.scale))
        else:
            h, inner_gap = h0, gap
        rows = max(2 * k, math.ceil(h / k) * k)
        top = (rows - h) // 2
        pad = ((top, rows - h - top), (0, 0), (0, 0))
        sides = [np.pad(self._side(p, at_right), pad, mode="symmetric") for p, at_right in ((left, False), (right, True))]
        g = math.ceil(inner_gap / k) * k
        x_l, x_r = (torch.from_numpy(np.ascontiguousarray(s)).to(self.device).permute(2, 0, 1)[None].float()
                    / 127.5 - 1.0 for s in sides)
        panorama = self.model.blend(x_l, x_r, g).output
        wl = sides[0].shape[1]
        # The middle with the redrawn photo column on either side of it (all the seam needs).
        strip = panorama[0, :, top:top + h, wl - 1:wl + g + 1].float().clamp(-1, 1)
        drawn = ((strip + 1.0) * 127.5).permute(1, 2, 0).cpu().numpy()
        middle = _resize(drawn[:, 1:-1], gap, h0)
        if self.seam == "none":
            return np.rint(middle).astype(np.uint8)
        # Each redrawn column at the photos' scale (resized down its rows only, so that no middle
        # pixel mixes into it), then the middle Poisson-blended between the photos' own columns.
        d_left = photos[0][:, -1].astype(np.float64) - _resize(drawn[:, :1], 1, h0)[:, 0]
        d_right = photos[1][:, 0].astype(np.float64) - _resize(drawn[:, -1:], 1, h0)[:, 0]
        middle = middle.astype(np.float64) + poisson_seam(d_left, d_right, gap)
        return np.clip(np.rint(middle), 0, 255).astype(np.uint8)

    def __repr__(self) -> str:
        return f"ModelBlender(name={self.name!r}, context={self.context}, scale={self.scale}, seam={self.seam!r})"
