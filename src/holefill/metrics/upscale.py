"""Quality of an enlargement, as super-resolution papers measure it.

- PSNR and SSIM on the luma (Y of ITU-R BT.601 YCbCr, as MATLAB's ``rgb2ycbcr``: 16..235)
  and on RGB, in 0..255 units, with a border of ``shave`` pixels left out on every side (the
  border is where every method guesses; papers shave the scale, rounded up);
- a texture number beside them: :func:`tv_ratio`, the output's total variation over the
  reference's (1 = as much fine detail as the original; a blur scores below 1, noise and
  ringing above), since PSNR and SSIM reward blur.

Images are HxWx3 uint8 of the same size.
"""

from __future__ import annotations

import math

import numpy as np

from holefill.errors import InvalidArgumentError
from holefill.metrics.functional import _check_pair, _check_ssim_size, _ssim_terms, total_variation

#: The keys of :func:`upscale_scores`, in table order.
UPSCALE_KEYS = ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb", "tv_ratio")


def luma(image: np.ndarray) -> np.ndarray:
    """The BT.601 luma of an HxWx3 uint8 image as float64 in 16..235 (MATLAB's ``rgb2ycbcr``)."""
    x = image.astype(np.float64) / 255.0
    return 16.0 + 65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]


def _shaved(a: np.ndarray, b: np.ndarray, shave: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = _check_pair(a, b, ("reference", "output"))
    if isinstance(shave, bool) or not isinstance(shave, (int, np.integer)) or shave < 0:
        raise InvalidArgumentError(f"shave must be a whole number of pixels >= 0, got {shave!r}")
    if shave and 2 * shave >= min(a.shape[:2]):
        raise InvalidArgumentError(f"shaving {shave} px leaves nothing of a {a.shape[1]}x{a.shape[0]} image")
    if shave:
        a, b = a[shave:-shave, shave:-shave], b[shave:-shave, shave:-shave]
    return a, b


def _psnr(x: np.ndarray, y: np.ndarray) -> float:
    mse = float(np.mean((x - y) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(255.0 ** 2 / mse)


def _ssim(x: np.ndarray, y: np.ndarray) -> float:
    """SSIM of two CxHxW float stacks in 0..255 (the same window and constants as metrics.ssim)."""
    _check_ssim_size(x.shape[1:])
    s, _ = _ssim_terms(x, y, 255.0)
    return float(s.mean(axis=(1, 2)).mean())


def psnr_y(reference: np.ndarray, output: np.ndarray, shave: int = 0) -> float:
    """PSNR (dB) of the luma channel, ``shave`` border pixels left out."""
    a, b = _shaved(reference, output, shave)
    return _psnr(luma(a), luma(b))


def ssim_y(reference: np.ndarray, output: np.ndarray, shave: int = 0) -> float:
    """SSIM of the luma channel, ``shave`` border pixels left out."""
    a, b = _shaved(reference, output, shave)
    return _ssim(luma(a)[None], luma(b)[None])


def tv_ratio(reference: np.ndarray, output: np.ndarray, shave: int = 0) -> float:
    """Total variation of ``output`` over that of ``reference`` (1 = as detailed)."""
    a, b = _shaved(reference, output, shave)
    ref = total_variation(np.ascontiguousarray(a))
    return math.inf if ref == 0 else total_variation(np.ascontiguousarray(b)) / ref


def upscale_scores(reference: np.ndarray, output: np.ndarray, shave: int = 0) -> dict[str, float]:
    """Every number of :data:`UPSCALE_KEYS` for one image."""
    a, b = _shaved(reference, output, shave)
    fa, fb = a.astype(np.float64).transpose(2, 0, 1), b.astype(np.float64).transpose(2, 0, 1)
    ya, yb = luma(a), luma(b)
    return {"psnr_y": _psnr(ya, yb), "ssim_y": _ssim(ya[None], yb[None]), "psnr_rgb": _psnr(fa, fb),
            "ssim_rgb": _ssim(fa, fb), "tv_ratio": tv_ratio(a, b)}
