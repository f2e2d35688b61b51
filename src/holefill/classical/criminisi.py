"""Exemplar-based inpainting after Criminisi, Pérez and Toyama.

Criminisi, Pérez and Toyama, "Region Filling and Object Removal by Exemplar-Based Image
Inpainting", IEEE Transactions on Image Processing 13(9), 2004.

No well-kept library implements it, so it is written here. The fill front is the set of
hole pixels next to known (or already filled) ones. Each step:

1. gives every front pixel p the priority P(p) = C(p) * D(p), where the confidence C(p) is
   the mean confidence over p's patch (known pixels start at 1, the hole at 0), and the
   data term D(p) = |isophote(p) . n(p)| / alpha, with n(p) the unit normal of the front and
   alpha = 255, so that linear structures reaching the hole are continued first;
2. takes the front pixel of highest priority and finds the source patch, lying wholly in the
   original known region, with the least sum of squared differences (in CIE Lab, as in the
   paper) over the patch's known pixels;
3. copies the source pixels into the patch's unknown pixels only, and gives them C(p).

Choices the paper leaves open, made here: the isophote at p is the image gradient of
largest magnitude among the patch's known pixels whose 3x3 neighbourhood is known (p
itself has no gradient); D gets a floor of 1e-3 so that the order falls back to confidence
where the image is flat; a patch that crosses the image border is clipped to the image, and
matched with source patches of the clipped shape; equal priorities go to the first pixel in
raster order, equal SSDs to the source nearest the target. The whole-image search computes
the SSD of every source position at once as correlations (``cv2.filter2D``); nothing is
random, so the result is deterministic.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from holefill.errors import HolefillWarning
from holefill.fillers import Filler, report_progress
from holefill.options import Option, checked

#: Normalisation of the data term (the paper's alpha for 8-bit images).
ALPHA = 255.0
#: Floor added to the data term so that flat regions are still ordered by confidence.
DATA_FLOOR = 1e-3

_KERNEL3 = np.ones((3, 3), np.uint8)


def _crop_op(op: Callable[[np.ndarray], np.ndarray], src: np.ndarray, y0: int, y1: int, x0: int,
             x1: int, context: int) -> np.ndarray:
    """``op(src)[y0:y1, x0:x1]`` computed on a crop with ``context`` pixels around the rectangle.

    Exact for operators whose reach is at most ``context``: where the crop meets the image
    border the operator sees the image border, and elsewhere the context is discarded.
    """
    h, w = src.shape[:2]
    cy0, cy1, cx0, cx1 = max(0, y0 - context), min(h, y1 + context), max(0, x0 - context), min(w, x1 + context)
    return op(src[cy0:cy1, cx0:cx1])[y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0]


def _sobel(img: np.ndarray, dx: int, dy: int, scale: float = 1.0) -> np.ndarray:
    return cv2.Sobel(img, cv2.CV_32F, dx, dy, ksize=3, scale=scale, borderType=cv2.BORDER_REPLICATE)


class FrontPriorities:
    """The fill front's priorities, kept up to date as patches are filled.

    ``luminance`` (HxW float; its unfilled pixels are ignored), ``unfilled`` (HxW bool) and
    ``confidence`` (HxW float, 0 where unfilled) are shared with the caller, who changes
    them and then calls :meth:`update` with the changed rectangle; only the maps that
    rectangle can reach are recomputed. :attr:`priority` is -inf off the front, and
    :attr:`confidence_term` and :attr:`data_term` hold C(p) and D(p) on the front.
    """

    def __init__(self, luminance: np.ndarray, unfilled: np.ndarray, confidence: np.ndarray, radius: int) -> None:
        self.luminance, self.unfilled, self.confidence, self.radius = luminance, unfilled, confidence, radius
        h, w = unfilled.shape
        self.shape = (h, w)
        self.gx = np.zeros((h, w), np.float32)
        self.gy = np.zeros((h, w), np.float32)
        self.magnitude = np.zeros((h + 2 * radius, w + 2 * radius), np.float32)  # padded by radius
        self.priority = np.full((h, w), -np.inf)
        self.confidence_term = np.zeros((h, w), np.float32)
        self.data_term = np.zeros((h, w), np.float32)
        self.update(0, h, 0, w)

    def best(self) -> tuple[int, int]:
        """The front pixel of highest priority (the first in raster order on ties)."""
        i = int(np.argmax(self.priority))
        if self.priority.flat[i] == -np.inf:
            raise RuntimeError("the fill front is empty")
        y, x = divmod(i, self.shape[1])
        return y, x

    def update(self, y0: int, y1: int, x0: int, x1: int) -> None:
        """Recompute everything that pixels in [y0, y1) x [x0, x1) influence."""
        h, w = self.shape
        r, k = self.radius, 2 * self.radius + 1

        # Gradients (valid only where the 3x3 neighbourhood is known) reach one pixel.
        gy0, gy1, gx0, gx1 = max(0, y0 - 1), min(h, y1 + 1), max(0, x0 - 1), min(w, x1 + 1)
        lum = self.luminance
        known = (~self.unfilled).astype(np.uint8)
        valid = _crop_op(lambda a: cv2.erode(a, _KERNEL3, borderType=cv2.BORDER_REPLICATE),
                         known, gy0, gy1, gx0, gx1, 1).astype(bool)
        gx = _crop_op(lambda a: _sobel(a, 1, 0, 1 / 8), lum, gy0, gy1, gx0, gx1, 1)
        gy = _crop_op(lambda a: _sobel(a, 0, 1, 1 / 8), lum, gy0, gy1, gx0, gx1, 1)
        gx[~valid] = 0
        gy[~valid] = 0
        self.gx[gy0:gy1, gx0:gx1] = gx
        self.gy[gy0:gy1, gx0:gx1] = gy
        self.magnitude[gy0 + r:gy1 + r, gx0 + r:gx1 + r] = gx * gx + gy * gy

        # Priorities reach a patch radius further (confidence sums, isophote search).
        py0, py1, px0, px1 = max(0, gy0 - r), min(h, gy1 + r), max(0, gx0 - r), min(w, gx1 + r)
        dilated = _crop_op(lambda a: cv2.dilate(a, _KERNEL3, borderType=cv2.BORDER_CONSTANT, borderValue=0),
                           known, py0, py1, px0, px1, 1).astype(bool)
        front = self.unfilled[py0:py1, px0:px1] & dilated
        self.priority[py0:py1, px0:px1] = -np.inf
        self.confidence_term[py0:py1, px0:px1] = 0
        self.data_term[py0:py1, px0:px1] = 0
        ly, lx = np.nonzero(front)
        if len(ly) == 0:
            return
        ys, xs = ly + py0, lx + px0

        def box_sum(a: np.ndarray) -> np.ndarray:
            return cv2.boxFilter(a, -1, (k, k), normalize=False, borderType=cv2.BORDER_CONSTANT)

        csum = _crop_op(box_sum, self.confidence, py0, py1, px0, px1, r)[ly, lx]
        area = ((np.minimum(ys + r, h - 1) - np.maximum(ys - r, 0) + 1)
                * (np.minimum(xs + r, w - 1) - np.maximum(xs - r, 0) + 1))
        conf = csum / area

        # Isophote: the strongest valid gradient in the patch, turned by 90 degrees.
        windows = sliding_window_view(self.magnitude, (k, k))[ys, xs].reshape(len(ys), k * k)
        best = windows.argmax(axis=1)
        by = np.clip(ys + best // k - r, 0, h - 1)
        bx = np.clip(xs + best % k - r, 0, w - 1)
        iso_x, iso_y = -self.gy[by, bx], self.gx[by, bx]

        # Front normal: the gradient of the hole indicator, normalised.
        hole = self.unfilled.astype(np.float32)
        nx = _crop_op(lambda a: _sobel(a, 1, 0), hole, py0, py1, px0, px1, 1)[ly, lx]
        ny = _crop_op(lambda a: _sobel(a, 0, 1), hole, py0, py1, px0, px1, 1)[ly, lx]
        norm = np.hypot(nx, ny)
        data = np.abs(iso_x * nx + iso_y * ny) / np.where(norm > 0, norm, np.inf) / ALPHA

        self.confidence_term[ys, xs] = conf
        self.data_term[ys, xs] = data
        self.priority[ys, xs] = conf * (data + DATA_FLOOR)


class _SourceIndex:
    """The SSD search over source patches that lie wholly in the original known region."""

    def __init__(self, lab: np.ndarray, hole: np.ndarray) -> None:
        self.h, self.w = hole.shape
        self.channels = [np.ascontiguousarray(lab[..., c]) for c in range(lab.shape[2])]
        self.sq = np.ascontiguousarray((lab * lab).sum(axis=2))
        self.hole_sum = cv2.integral(hole.astype(np.uint8))
        self._valid: dict[tuple[int, int], np.ndarray] = {}

    def valid(self, th: int, tw: int) -> np.ndarray:
        """Top-left corners (y, x) whose th x tw window holds no hole pixel."""
        key = (th, tw)
        if key not in self._valid:
            s = self.hole_sum
            count = s[th:, tw:] - s[:-th, tw:] - s[th:, :-tw] + s[:-th, :-tw]
            self._valid[key] = count == 0
        return self._valid[key]

    def has_source(self, size: int) -> bool:
        return size <= min(self.h, self.w) and bool(self.valid(size, size).any())

    def best(self, template: np.ndarray, weight: np.ndarray, top: int, left: int,
             search_radius: int | None) -> tuple[int, int]:
        """Top-left corner of the source patch nearest to ``template`` over ``weight`` > 0."""
        th, tw = weight.shape
        if search_radius is not None:
            y0, x0 = max(0, top - search_radius), max(0, left - search_radius)
            y1, x1 = min(self.h, top + th + search_radius), min(self.w, left + tw + search_radius)
            found = self._search(template, weight, top, left, y0, y1, x0, x1)
            if found is not None:
                return found
        found = self._search(template, weight, top, left, 0, self.h, 0, self.w)
        if found is None:  # has_source() was checked for a patch at least this large
            raise RuntimeError("no source patch of the template's shape")
        return found

    def _search(self, template: np.ndarray, weight: np.ndarray, top: int, left: int, y0: int, y1: int,
                x0: int, x1: int) -> tuple[int, int] | None:
        th, tw = weight.shape
        if y1 - y0 < th or x1 - x0 < tw:
            return None
        valid = self.valid(th, tw)[y0:y1 - th + 1, x0:x1 - tw + 1]
        if not valid.any():
            return None
        # SSD = sum(w * I^2) - 2 * sum(w * T * I) + sum(w * T^2); the last term is the
        # same everywhere, so it is left out of the argmin.
        def corr(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
            return cv2.filter2D(img[y0:y1, x0:x1], cv2.CV_32F, kernel, anchor=(0, 0),
                                borderType=cv2.BORDER_CONSTANT)

        ssd = corr(self.sq, weight)
        for c, channel in enumerate(self.channels):
            ssd -= 2.0 * corr(channel, weight * template[..., c])
        ssd = ssd[: y1 - y0 - th + 1, : x1 - x0 - tw + 1]
        ssd[~valid] = np.inf
        # Ties (common where the known part of the target is flat) go to the source nearest
        # the target: the paper leaves them open, and a far source more often brings in
        # structure that does not belong there. Integer data makes the SSD exact for patches
        # up to 9x9, so "tied" means within rounding of the minimum.
        ty, tx = np.nonzero(ssd <= ssd.min() + 0.5)
        ty, tx = ty + y0, tx + x0
        i = int(np.argmin((ty - top) ** 2 + (tx - left) ** 2))
        return int(ty[i]), int(tx[i])


def criminisi_inpaint(image: np.ndarray, mask: np.ndarray, *, patch_size: int = 9,
                      search_radius: int | None = None) -> np.ndarray:
    """Fill ``mask`` (True = hole) in ``image`` (HxWx3 uint8 RGB) by exemplar copying.

    ``patch_size`` is the odd side of the square patch (9 in the paper). It shrinks (to odd
    sizes down to 3) when no source patch that large lies wholly in the known region; if not
    even a 3x3 one does, the hole is filled by Telea's method instead, with a warning. ``search_radius``
    bounds the search to that many pixels around the target patch (None: whole image; a
    window without any source patch falls back to the whole image).
    """
    hole = np.asarray(mask, bool)
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32) - 128.0
    index = _SourceIndex(lab, hole)
    radius = (patch_size - 1) // 2
    while radius >= 1 and not index.has_source(2 * radius + 1):
        radius -= 1
    if radius < 1:
        warnings.warn("criminisi: no 3x3 patch of known pixels to copy from; the hole was filled by telea",
                      HolefillWarning, stacklevel=4)
        return cv2.inpaint(image, hole.astype(np.uint8) * 255, 3.0, cv2.INPAINT_TELEA)

    h, w = hole.shape
    out = image.copy()
    work_lab = lab.copy()
    unfilled = hole.copy()
    confidence = (~hole).astype(np.float32)
    front = FrontPriorities(work_lab[..., 0], unfilled, confidence, radius)
    total = left = int(hole.sum())
    while left > 0:
        py, px = front.best()
        y0, y1 = max(0, py - radius), min(h, py + radius + 1)
        x0, x1 = max(0, px - radius), min(w, px + radius + 1)
        todo = unfilled[y0:y1, x0:x1].copy()
        weight = (~todo).astype(np.float32)
        sy, sx = index.best(work_lab[y0:y1, x0:x1], weight, y0, x0, search_radius)
        th, tw = todo.shape
        out[y0:y1, x0:x1][todo] = image[sy:sy + th, sx:sx + tw][todo]
        work_lab[y0:y1, x0:x1][todo] = lab[sy:sy + th, sx:sx + tw][todo]
        confidence[y0:y1, x0:x1][todo] = front.confidence_term[py, px]
        unfilled[y0:y1, x0:x1][todo] = False
        left -= int(todo.sum())
        report_progress(total - left, total)
        front.update(y0, y1, x0, x1)
    return out


class Criminisi(Filler):
    """Exemplar-based inpainting (Criminisi, Pérez and Toyama 2004).

    ``patch_size``: odd side of the square patch, 9 as in the paper. ``search_radius``:
    search source patches only within this many pixels of the target patch (faster on
    large images; None searches the whole image, as in the paper).
    """

    name = "criminisi"
    options = (Option("patch_size", "int", 9, "side of the square patch, 9 in the paper", minimum=3, maximum=31,
                      odd=True),
               Option("search_radius", "int", None, "search source patches only this many pixels around the target"
                      " (none: the whole image, as in the paper)", minimum=1, maximum=100_000, nullable=True))

    def __init__(self, patch_size: int = 9, search_radius: int | None = None) -> None:
        values = checked(self.options, patch_size=patch_size, search_radius=search_radius)
        self.patch_size, self.search_radius = values["patch_size"], values["search_radius"]

    def _fill(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return criminisi_inpaint(image, mask, patch_size=self.patch_size, search_radius=self.search_radius)
