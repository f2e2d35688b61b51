"""Biharmonic inpainting from scikit-image.

The hole is filled by the smooth surface that solves the biharmonic equation with the
known pixels as boundary values: Damelin and Hoang, "On Surface Completion and Image
Inpainting by Biharmonic Functions: Numerical Aspects", International Journal of
Mathematics and Mathematical Sciences, 2018 (the reference scikit-image names).
"""

from __future__ import annotations

import numpy as np

from holefill.fillers import Filler
from holefill.options import Option, checked


class Biharmonic(Filler):
    """Biharmonic surface fill (Damelin and Hoang 2018) via ``skimage.restoration``.

    ``split_into_regions`` solves each connected hole on its own instead of one sparse
    system for all of them; scikit-image says this uses less memory and is likely slower.
    """

    name = "biharmonic"
    options = (Option("split_into_regions", "bool", False, "solve each connected hole on its own (less memory,"
                      " likely slower)"),)

    def __init__(self, split_into_regions: bool = False) -> None:
        self.split_into_regions = checked(self.options, split_into_regions=split_into_regions)["split_into_regions"]

    def _fill(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        from skimage.restoration import inpaint_biharmonic  # imported here: it takes ~0.3 s

        out = inpaint_biharmonic(image.astype(np.float64) / 255.0, mask, channel_axis=-1,
                                 split_into_regions=self.split_into_regions)
        return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)
