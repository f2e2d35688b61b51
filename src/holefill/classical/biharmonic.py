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
from holefill.regions import fill_by_regions

#: How far a hole pixel's value reaches: the biharmonic operator is the Laplacian of the
#: Laplacian, a stencil of radius 2, so holes more than 2 pixels apart are separate systems.
REACH = 2


def _with_limits(crop: np.ndarray, hole: np.ndarray, low: np.ndarray,
                 high: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[slice, slice]]:
    """The crop with two known rows (or columns) of the whole photo's lowest and highest known
    values added on a side where no hole pixel is within the stencil's reach, and where to cut
    the result back out.

    scikit-image clips its solution to the range of the known pixels it is given; the added
    rows make that the whole photo's range, so a crop's fill equals the whole photo's. Where no
    side is free (the holes touch every border), the crop is the whole photo and needs none."""
    h, w = hole.shape
    rows, cols = np.flatnonzero(hole.any(axis=1)), np.flatnonzero(hole.any(axis=0))
    bands = np.empty((2, 2, crop.shape[2]))
    bands[0], bands[1] = low, high
    if h - 1 - rows[-1] > REACH - 1:  # bottom
        strip = np.broadcast_to(bands[:, :1], (2, w, crop.shape[2]))
        return np.concatenate([crop, strip]), np.concatenate([hole, np.zeros((2, w), bool)]), (slice(0, h), slice(0, w))
    if rows[0] > REACH - 1:  # top
        strip = np.broadcast_to(bands[:, :1], (2, w, crop.shape[2]))
        return np.concatenate([strip, crop]), np.concatenate([np.zeros((2, w), bool), hole]), (slice(2, h + 2), slice(0, w))
    side = np.broadcast_to(bands[:, :1].transpose(1, 0, 2), (h, 2, crop.shape[2]))
    if w - 1 - cols[-1] > REACH - 1:  # right
        return (np.concatenate([crop, side], axis=1), np.concatenate([hole, np.zeros((h, 2), bool)], axis=1),
                (slice(0, h), slice(0, w)))
    if cols[0] > REACH - 1:  # left
        return (np.concatenate([side, crop], axis=1), np.concatenate([np.zeros((h, 2), bool), hole], axis=1),
                (slice(0, h), slice(2, w + 2)))
    return crop, hole, (slice(0, h), slice(0, w))


class Biharmonic(Filler):
    """Biharmonic surface fill (Damelin and Hoang 2018) via ``skimage.restoration``.

    Holes more than the stencil's reach apart are independent linear systems, so each group of
    nearby holes is solved on a crop around it (:mod:`holefill.regions`) with the same result
    as on the whole photo: the cost follows the hole, not the photo (a 12-megapixel photo with
    a 5.6 % hole: see ``benchmarks/hole_cost.py``). ``split_into_regions`` solves each
    connected hole of a crop on its own instead of one sparse system for all of them;
    scikit-image says this uses less memory and is likely slower.
    """

    name = "biharmonic"
    options = (Option("split_into_regions", "bool", False, "solve each connected hole on its own (less memory,"
                      " likely slower)"),)

    def __init__(self, split_into_regions: bool = False) -> None:
        self.split_into_regions = checked(self.options, split_into_regions=split_into_regions)["split_into_regions"]

    def _fill(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        from skimage.restoration import inpaint_biharmonic  # imported here: it takes ~0.3 s

        known = image[~mask]
        lowest = known.min(axis=0)
        low, high = lowest / 255.0, known.max(axis=0) / 255.0
        # Holes of other regions inside a crop come as known pixels: give them a value inside the
        # known range, so that they do not widen the range the solution is clipped to.
        image = image.copy()
        image[mask] = lowest

        def solve(crop: np.ndarray, hole: np.ndarray) -> np.ndarray:
            padded, padded_hole, cut = _with_limits(crop.astype(np.float64) / 255.0, hole, low, high)
            out = inpaint_biharmonic(padded, padded_hole, channel_axis=-1, split_into_regions=self.split_into_regions)
            return np.clip(np.rint(out[cut] * 255.0), 0, 255).astype(np.uint8)

        return fill_by_regions(image, mask, REACH, solve)
