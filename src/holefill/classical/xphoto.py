"""Inpainting from OpenCV's contrib module ``cv2.xphoto``.

- Frequency selective reconstruction (FSR): each block around the hole is modelled as a
  sparse sum of Fourier basis functions fitted to its known pixels, block sizes refined
  where the content is textured. Seiler, Jonscher, Schöberl and Kaup, "Resampling Images to
  a Regular Grid From a Non-Regular Subset of Pixel Positions Using Frequency Selective
  Reconstruction", IEEE TIP 24(11), 2015. OpenCV implements the rapid FSR with the signal
  and loss geometry aware processing order of Genser, Seiler, Schilling and Kaup, "Signal
  and Loss Geometry Aware Frequency Selective Extrapolation for Error Concealment", PCS
  2018, in two quality profiles (FAST, BEST).
- Shift-map: every hole pixel takes the value at one of a few dominant offsets (the peaks
  of the statistics of similar-patch offsets in the known area), the labels chosen by a
  graph-cut. He and Sun, "Statistics of Patch Offsets for Image Completion", ECCV 2012.

OpenCV's conventions differ from holefill's and are converted here: the xphoto mask is
non-zero where the pixel is *known*; FSR takes BGR (it works in YCrCb internally); shift-map
expects CIE Lab (intensity first, then two colour axes), and its code zeroes the image
where the mask is not 255, so the known value must be 255.
"""

from __future__ import annotations

import warnings
from typing import Any

import cv2
import numpy as np

from holefill.errors import HolefillWarning, MissingDependencyError
from holefill.fillers import Filler, report_progress
from holefill.options import Option, checked
from holefill.regions import fill_by_regions


#: FSR's largest block side; OpenCV only fills whole blocks reliably.
_FSR_BLOCK = 16
#: How far FSR's fill of a block looks: the block's 8 neighbours decide its turn, and it is
#: extrapolated from a window of 8 (fast) or 24 (best) pixels around it. Four blocks of
#: margin, on crops aligned to the block grid, keep every group's blocks, windows and order
#: as on the whole photo (checked equal on real photos).
FSR_REACH = 4 * _FSR_BLOCK


def _xphoto() -> Any:
    """``cv2.xphoto``, or a one-line install hint when only the main OpenCV wheel is there."""
    module = getattr(cv2, "xphoto", None)
    if module is None or not hasattr(module, "inpaint"):
        raise MissingDependencyError(
            "this method needs OpenCV's contrib modules (cv2.xphoto): pip install opencv-contrib-python-headless"
        )
    return module


def _known_mask(mask: np.ndarray) -> np.ndarray:
    """holefill's mask (True = hole) as xphoto's: 255 = known, 0 = to fill."""
    return np.where(mask, 0, 255).astype(np.uint8)


class FSR(Filler):
    """Frequency selective reconstruction (Seiler et al. 2015) via ``cv2.xphoto.inpaint``.

    ``quality="fast"`` (default) uses ``INPAINT_FSR_FAST``; ``"best"`` uses
    ``INPAINT_FSR_BEST``: smaller blocks, a larger FFT and more iterations, a little
    sharper, about 15x slower (about 2 s vs 30 s for a 256x256 image with a 25 % hole).
    OpenCV works on a grid of 16-pixel blocks in an order set by each block's neighbours, so
    groups of holes far apart are filled on block-aligned crops around them with the same
    result (:mod:`holefill.regions`): the cost follows the hole, not the photo.
    """

    name = "fsr"
    options = (Option("quality", "choice", "fast", "OpenCV's profile: best is a little sharper and about 15x slower",
                      choices=("fast", "best")),)

    def __init__(self, quality: str = "fast") -> None:
        self.quality = checked(self.options, quality=quality)["quality"]

    def _fill(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return fill_by_regions(image, mask, FSR_REACH, self._fill_whole,
                               align=_FSR_BLOCK)

    def _fill_whole(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        xphoto = _xphoto()
        flag = xphoto.INPAINT_FSR_BEST if self.quality == "best" else xphoto.INPAINT_FSR_FAST
        # OpenCV leaves holes in a partial last block row or column unfilled, so the
        # image and mask are mirrored out to whole blocks first.
        h, w = mask.shape
        pad_h, pad_w = -h % _FSR_BLOCK, -w % _FSR_BLOCK
        bgr = cv2.copyMakeBorder(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), 0, pad_h, 0, pad_w, cv2.BORDER_REFLECT_101)
        hole = cv2.copyMakeBorder(mask.astype(np.uint8), 0, pad_h, 0, pad_w, cv2.BORDER_REFLECT_101).astype(bool)
        out = np.zeros_like(bgr)
        xphoto.inpaint(bgr, _known_mask(hole), out, flag)
        return cv2.cvtColor(out[:h, :w], cv2.COLOR_BGR2RGB)


class ShiftMap(Filler):
    """Shift-map completion from patch-offset statistics (He and Sun 2012) via ``cv2.xphoto``.

    OpenCV fixes its settings (60 dominant offsets, 8x8 patches for the offset statistics,
    work scaled down to at most 800x600); the Python binding exposes none of them.

    Where every offset of a hole pixel lands in the hole (scattered or thin holes, small
    known areas), OpenCV copies a hole pixel, i.e. black. A fourth channel that is 1 on
    known pixels tells those pixels apart; they are filled by further passes, and those
    that ``passes`` passes leave are filled by Telea's method, with a warning.
    """

    name = "shiftmap"
    options = (Option("passes", "int", 4, "shift-map passes over the pixels that found no source before telea fills"
                      " the rest", minimum=1, maximum=16),)

    def __init__(self, passes: int = 4) -> None:
        self.passes = checked(self.options, passes=passes)["passes"]

    def _fill(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        xphoto = _xphoto()
        lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
        hole = mask.copy()
        for done in range(self.passes):
            report_progress(done, self.passes)
            source = np.dstack([lab, (~hole).astype(np.uint8)])
            source[hole] = 0
            out = np.zeros_like(source)
            xphoto.inpaint(source, _known_mask(hole), out, xphoto.INPAINT_SHIFTMAP)
            missing = hole & (out[..., 3] == 0)
            done = hole & ~missing
            lab[done] = out[..., :3][done]
            hole = missing
            if not done.any() or not hole.any():
                break
        rgb = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
        if hole.any():
            warnings.warn(
                f"shiftmap found no known source for {int(hole.sum())} of {int(mask.sum())} hole pixels;"
                " they were filled by telea",
                HolefillWarning,
                stacklevel=3,
            )
            rgb = cv2.inpaint(rgb, hole.astype(np.uint8) * 255, 3.0, cv2.INPAINT_TELEA)
        return rgb
