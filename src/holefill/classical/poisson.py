"""Poisson blending of a finished fill into its surroundings: GLCIC's post-process.

Iizuka, Simo-Serra and Ishikawa (SIGGRAPH 2017) optionally blend the completion network's
output into the image (``inpaint.lua --postproc`` in satoshiiizuka/siggraph2017_inpainting).
It is a step after any fill, not part of one network, so it lives here: the pipeline's
``postprocess="poisson"`` and :class:`PoissonBlendFiller` (around any filler) both use it.
"""

from __future__ import annotations

import cv2
import numpy as np

from holefill.errors import InvalidArgumentError
from holefill.fillers import Filler


def poisson_blend(filled: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``inpaint.lua``'s post-process, with OpenCV: fill the hole of ``filled`` (HxWx3 uint8,
    already completed) by Telea inpainting (radius 1), clone the completed image into that
    result with ``cv2.seamlessClone`` (normal clone, centred on the holes' bounding box), and
    keep the known pixels. Returns a new HxWx3 uint8 array."""
    if filled.dtype != np.uint8 or filled.ndim != 3 or filled.shape[2] != 3:
        raise InvalidArgumentError(f"poisson_blend needs an HxWx3 uint8 image, got {filled.dtype} {filled.shape}")
    if mask.shape != filled.shape[:2]:
        raise InvalidArgumentError(f"poisson_blend: mask {mask.shape} does not match image {filled.shape[:2]}")
    hole = np.ascontiguousarray(mask.astype(np.uint8) * 255)
    # seamlessClone ignores the outer 1-px frame of the mask; so do we, to align its box.
    inner = hole.copy()
    inner[0, :] = inner[-1, :] = 0
    inner[:, 0] = inner[:, -1] = 0
    src = np.ascontiguousarray(filled)
    base = cv2.inpaint(src, hole, 1, cv2.INPAINT_TELEA)
    out = base
    if inner.any():
        x, y, w, h = cv2.boundingRect(inner)
        out = cv2.seamlessClone(src, base, inner, (x + w // 2, y + h // 2), cv2.NORMAL_CLONE)
    result = filled.copy()
    sel = mask.astype(bool)
    result[sel] = out[sel]
    return result


class PoissonBlendFiller(Filler):
    """Wrap a filler (e.g. a GLCIC :class:`~holefill.pipeline.ModelFiller`) with GLCIC's
    Poisson-blending post-process (:func:`poisson_blend`)."""

    def __init__(self, inner: Filler, name: str | None = None) -> None:
        self.inner = inner
        self.name = name or f"{inner.name}+poisson"
        self.needs_context = inner.needs_context

    def _fill(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return poisson_blend(self.inner.fill(image, mask), mask)
