"""Filling hole by hole, so that the cost of a fill follows the hole, not the photo.

For some methods the fill of a hole pixel depends on the image only within a known distance,
the method's *reach*: diffusion from the hole's border (Telea, Navier-Stokes) and the biharmonic
equation (a 5x5 stencil). For them, a hole far from every other hole can be filled on a crop
around it, with the same result as on the whole photo: a 12-megapixel photo with a few small
holes then costs a few small crops instead of a linear system over every pixel.

:func:`hole_regions` groups the holes: holes closer than twice the reach belong to one group
(the fill of one can see the other), and each group is filled on its bounding box grown by the
reach. Groups are gathered per tile of the photo so that thousands of specks cost a few calls,
and when the crops would cover most of the photo it is filled whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: Groups are gathered into one crop per tile of this side (pixels), bounding the calls.
TILE = 512
#: Above this share of the photo, the crops are not worth it: the photo is filled whole.
WHOLE_ABOVE = 0.5

#: ``fill(image_crop, hole_crop) -> filled_crop``: a crop and the holes of its region. Holes of
#: other regions inside the crop lie beyond the reach of these and come as known pixels with
#: whatever values the image holds there.
CropFill = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Region:
    """A crop of the photo (``box``) and the hole pixels in it that it fills (``own``)."""

    box: tuple[slice, slice]
    own: np.ndarray


def hole_regions(mask: np.ndarray, reach: int, *, tile: int | None = None, align: int = 1) -> list[Region]:
    """The crops that fill the holes of ``mask`` (HxW bool) for a method of ``reach`` pixels.

    Every hole pixel is in exactly one region's ``own``; a region's box holds every pixel within
    ``reach`` of its own pixels (cut at the photo's border); holes of two regions are more than
    ``reach`` pixels apart (Chebyshev distance). With ``align``, boxes start and end on multiples
    of it (or at the border): for methods that work on a fixed grid of blocks."""
    import cv2

    h, w = mask.shape
    if not mask.any():
        return []
    tile = tile or TILE
    size = 2 * int(reach) + 1
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((size, size), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    groups: dict[tuple[int, int], list[int]] = {}
    for label in range(1, count):
        x, y, bw, bh, _ = stats[label]
        groups.setdefault(((y + bh // 2) // tile, (x + bw // 2) // tile), []).append(label)
    regions = []
    for members in groups.values():
        x0 = min(int(stats[m][0]) for m in members)
        y0 = min(int(stats[m][1]) for m in members)
        x1 = max(int(stats[m][0] + stats[m][2]) for m in members)
        y1 = max(int(stats[m][1] + stats[m][3]) for m in members)
        if align > 1:
            y0, x0 = y0 - y0 % align, x0 - x0 % align
            y1, x1 = min(h, y1 + (-y1) % align), min(w, x1 + (-x1) % align)
        box = (slice(y0, y1), slice(x0, x1))
        own = np.isin(labels[box], members) & mask[box]
        regions.append(Region(box, own))
    return regions


def fill_by_regions(image: np.ndarray, mask: np.ndarray, reach: int, fill: CropFill, *, align: int = 1) -> np.ndarray:
    """``image`` with every hole filled by ``fill``, region by region on the crops of
    :func:`hole_regions` (each hole once), or the whole image in one call when the crops would
    cover more than :data:`WHOLE_ABOVE` of it."""
    h, w = mask.shape
    regions = hole_regions(mask, reach, align=align)
    area = sum((r.box[0].stop - r.box[0].start) * (r.box[1].stop - r.box[1].start) for r in regions)
    if area > WHOLE_ABOVE * h * w:
        return fill(image, mask)
    out = image.copy()
    for region in regions:
        crop = fill(image[region.box], region.own)
        out[region.box][region.own] = crop[region.own]
    return out
