"""The public Python API: inpaint (from the context, or from a guide photo), outpaint and blend on numpy arrays.

Outpainting and blending are inpainting on a larger canvas: they build the canvas and its
mask, then call the same filler as :func:`inpaint`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from holefill.errors import InvalidArgumentError
from holefill.fillers import Filler, GuidedFiller
from holefill.io import check_image
from holefill.methods import get_filler, get_guided_filler


def _resolve(method: str | Filler | None, weights: str | Path | None, device: str | None,
             options: dict[str, Any]) -> Filler:
    if isinstance(method, Filler):
        if weights is not None or options:
            raise InvalidArgumentError("weights and options go to the filler's constructor, not here")
        return method
    return get_filler(method, weights=weights, device=device, **options)


def inpaint(image: np.ndarray, mask: np.ndarray, method: str | Filler | GuidedFiller | None = None, *,
            guide: np.ndarray | None = None, weights: str | Path | None = None, device: str | None = None,
            **options: Any) -> np.ndarray:
    """Fill the holes of ``image`` (HxWx3 uint8 RGB) where ``mask`` (HxW bool) is True.

    ``method`` is a name from :func:`holefill.list_methods` (the default method when None)
    or a ready :class:`~holefill.fillers.Filler`. With ``guide`` (another photo, HxWx3 uint8
    RGB of any size) the hole is filled with content pulled from it, by a guided method
    (``task == "guided"``; the default guided method when None) or a ready
    :class:`~holefill.fillers.GuidedFiller`. Known pixels come back unchanged.
    """
    if guide is not None or isinstance(method, GuidedFiller):
        if guide is None:
            raise InvalidArgumentError(f"method {method.name!r} fills from a guide photo: pass guide=")  # type: ignore[union-attr]
        if isinstance(method, GuidedFiller):
            if weights is not None or options:
                raise InvalidArgumentError("weights and options go to the filler's constructor, not here")
            return method.fill(image, mask, guide)
        if isinstance(method, Filler):
            raise InvalidArgumentError(f"method {method.name!r} takes no guide photo")
        return get_guided_filler(method, weights=weights, device=device, **options).fill(image, mask, guide)
    return _resolve(method, weights, device, options).fill(image, mask)


def inpaint_samples(image: np.ndarray, mask: np.ndarray, samples: int, method: str | Filler | None = None, *,
                    seed: int = 0, weights: str | Path | None = None, device: str | None = None,
                    **options: Any) -> list[np.ndarray]:
    """``samples`` different plausible fills of one hole (sample i drawn with seed ``seed + i``).

    Works for stochastic methods: ``patchmatch`` (its randomised search) and models with
    contextual attention (stochastic attention: each hole patch is drawn from the attention
    distribution). A deterministic method raises an error for ``samples > 1``.
    """
    return _resolve(method, weights, device, options).fill_samples(image, mask, samples, seed)


def _side(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidArgumentError(f"{name} must be a whole number of pixels, got {value!r}")
    if value < 0:
        raise InvalidArgumentError(f"{name} must be >= 0, got {value}")
    return int(value)


def outpaint_canvas(image: np.ndarray, *, left: int = 0, right: int = 0, top: int = 0,
                    bottom: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The enlarged canvas (new area black) and its mask (True on the new area)."""
    image = check_image(image)
    left, right = _side(left, "left"), _side(right, "right")
    top, bottom = _side(top, "top"), _side(bottom, "bottom")
    if left + right + top + bottom == 0:
        raise InvalidArgumentError("outpaint needs at least one of left, right, top, bottom > 0")
    h, w = image.shape[:2]
    canvas = np.zeros((h + top + bottom, w + left + right, 3), np.uint8)
    canvas[top:top + h, left:left + w] = image
    mask = np.ones(canvas.shape[:2], bool)
    mask[top:top + h, left:left + w] = False
    return canvas, mask


def outpaint(image: np.ndarray, *, left: int = 0, right: int = 0, top: int = 0, bottom: int = 0,
             method: str | Filler | None = None, weights: str | Path | None = None,
             device: str | None = None, **options: Any) -> np.ndarray:
    """Extend ``image`` past its borders by the given numbers of pixels on each side."""
    canvas, mask = outpaint_canvas(image, left=left, right=right, top=top, bottom=bottom)
    return _resolve(method, weights, device, options).fill(canvas, mask)


def blend_canvas(left: np.ndarray, right: np.ndarray, *, gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Place ``left`` and ``right`` side by side with ``gap`` empty columns between them.

    ``right`` is resized (keeping its aspect ratio) to ``left``'s height when they differ.
    """
    left, right = check_image(left, "left"), check_image(right, "right")
    gap = _side(gap, "gap")
    if gap == 0:
        raise InvalidArgumentError("gap must be > 0 pixels")
    h = left.shape[0]
    if right.shape[0] != h:
        import cv2

        new_w = max(1, round(right.shape[1] * h / right.shape[0]))
        right = cv2.resize(right, (new_w, h), interpolation=cv2.INTER_AREA)
    wl, wr = left.shape[1], right.shape[1]
    canvas = np.zeros((h, wl + gap + wr, 3), np.uint8)
    canvas[:, :wl] = left
    canvas[:, wl + gap:] = right
    mask = np.zeros((h, wl + gap + wr), bool)
    mask[:, wl:wl + gap] = True
    return canvas, mask


def blend(left: np.ndarray, right: np.ndarray, *, gap: int = 128, method: str | Filler | None = None,
          weights: str | Path | None = None, device: str | None = None, **options: Any) -> np.ndarray:
    """Wide-range blending: join two photos with ``gap`` columns of generated content between."""
    canvas, mask = blend_canvas(left, right, gap=gap)
    return _resolve(method, weights, device, options).fill(canvas, mask)
