"""Diffusion-based inpainting from OpenCV's ``cv2.inpaint``.

- Telea, "An Image Inpainting Technique Based on the Fast Marching Method", J. Graphics
  Tools 9(1), 2004: fills the hole from its boundary inwards by fast marching, each pixel a
  weighted average of its known neighbourhood.
- Bertalmio, Bertozzi and Sapiro, "Navier-Stokes, Fluid Dynamics, and Image and Video
  Inpainting", CVPR 2001: propagates isophotes into the hole like a fluid's vorticity.

Both fill a hole pixel from the known and already filled pixels within ``radius`` of it,
marching inwards from the hole's border, so a hole far from the others is filled on a crop
around it with the same result (:mod:`holefill.regions`); the cost follows the hole.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from holefill.fillers import Filler
from holefill.options import Option, checked
from holefill.regions import fill_by_regions


class _CvInpaint(Filler):
    flag: int = cv2.INPAINT_TELEA
    # The work per hole pixel grows with the radius squared: 16 is about 12x the default.
    options = (Option("radius", "float", 3.0, "pixels around each hole pixel that it is computed from",
                      minimum=1.0, maximum=16.0),)

    def __init__(self, radius: float = 3.0) -> None:
        self.radius = checked(self.options, radius=radius)["radius"]

    @property
    def reach(self) -> int:
        """How far the fill of a pixel can look: OpenCV's neighbourhood (the radius, rounded
        and held to 1..100 pixels), doubled for the distance field it marches on, with a margin.
        (Crops at half this reach already gave identical fills.)"""
        return 2 * math.ceil(min(100.0, max(1.0, self.radius))) + 2

    def _fill(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        def fill(crop: np.ndarray, hole: np.ndarray) -> np.ndarray:
            return cv2.inpaint(crop, hole.astype(np.uint8) * 255, self.radius, self.flag)

        return fill_by_regions(image, mask, self.reach, fill)


class Telea(_CvInpaint):
    """Fast-marching inpainting (Telea 2004) via ``cv2.inpaint``."""

    name = "telea"
    flag = cv2.INPAINT_TELEA


class NavierStokes(_CvInpaint):
    """Navier-Stokes inpainting (Bertalmio et al. 2001) via ``cv2.inpaint``."""

    name = "ns"
    flag = cv2.INPAINT_NS
