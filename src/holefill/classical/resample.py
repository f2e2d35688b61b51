"""Classical enlargement: bicubic and Lanczos interpolation (Pillow), the references for Meta-SR.

Pillow's kernels are the ones super-resolution papers compare with: its bicubic is Keys'
cubic convolution with a = -0.5, the kernel of MATLAB's ``imresize`` (which made the
benchmarks' low-resolution images, and makes ours); its Lanczos is the windowed sinc with
a = 3. (OpenCV's INTER_CUBIC uses a = -0.75 and is a little sharper and more ringing.)
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from holefill.upscalers import Upscaler


def resize(image: np.ndarray, size: tuple[int, int], resample: Image.Resampling) -> np.ndarray:
    """``image`` (HxWx3 uint8) resized to ``size`` (h, w) with a Pillow filter."""
    return np.asarray(Image.fromarray(image).resize((size[1], size[0]), resample=resample))


class Bicubic(Upscaler):
    """Bicubic interpolation (Keys 1981, a = -0.5), as MATLAB's imresize and Pillow compute it."""

    name = "bicubic"
    max_scale = 16.0

    def _upscale(self, image: np.ndarray, scale: float, size: tuple[int, int]) -> np.ndarray:
        return resize(image, size, Image.Resampling.BICUBIC)


class Lanczos(Upscaler):
    """Lanczos interpolation (windowed sinc, a = 3), as Pillow computes it."""

    name = "lanczos"
    max_scale = 16.0

    def _upscale(self, image: np.ndarray, scale: float, size: tuple[int, int]) -> np.ndarray:
        return resize(image, size, Image.Resampling.LANCZOS)
