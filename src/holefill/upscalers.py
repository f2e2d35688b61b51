"""The upscaler protocol: ``upscale(image, scale) -> image``, beside the filler protocol.

``image`` is HxWx3 uint8 RGB and ``scale`` a factor above 1 (2.5 is fine); the result is
``floor(scale H) x floor(scale W)`` (:func:`holefill.io.upscaled_size`). :meth:`Upscaler.upscale`
checks the image, the factor (above 1, at most the method's ``max_scale``) and the output's
size (at most ``max_pixels``) before any work, so bad input is a one-line error, then calls
the method's :meth:`Upscaler._upscale`.

Classical upscalers live in :mod:`holefill.classical.resample`; a learned one (Meta-SR) is
wrapped by :class:`holefill.model_tasks.ModelUpscaler`.
"""

from __future__ import annotations

import abc

import numpy as np

from holefill.io import check_image, check_output_pixels, check_scale, upscaled_size


class Upscaler(abc.ABC):
    """An image enlarger. Subclasses implement :meth:`_upscale`; callers use :meth:`upscale`."""

    #: The method's name in the table (``holefill methods --task upscale``).
    name: str = "upscaler"
    #: The largest factor the method accepts.
    max_scale: float = 8.0

    def output_size(self, height: int, width: int, scale: float) -> tuple[int, int]:
        """The size of the result, checked: an image of at least one pixel."""
        scale = check_scale(scale, self.max_scale, method=self.name)
        return upscaled_size(height, width, scale)

    def upscale(self, image: np.ndarray, scale: float, *, max_pixels: int | None = None) -> np.ndarray:
        """Enlarge ``image`` by ``scale``; the result is ``floor(scale H) x floor(scale W)``."""
        image = check_image(image)
        scale = check_scale(scale, self.max_scale, method=self.name)
        size = upscaled_size(image.shape[0], image.shape[1], scale)
        check_output_pixels(size[0], size[1], max_pixels)
        out = self._upscale(image, scale, size)
        if out.shape != (size[0], size[1], 3) or out.dtype != np.uint8:
            raise ValueError(f"{self.name} returned {out.shape} {out.dtype}, expected {(size[0], size[1], 3)} uint8")
        return out

    def __call__(self, image: np.ndarray, scale: float) -> np.ndarray:
        return self.upscale(image, scale)

    @abc.abstractmethod
    def _upscale(self, image: np.ndarray, scale: float, size: tuple[int, int]) -> np.ndarray:
        """Return the HxWx3 uint8 enlargement of size ``size`` (h, w); inputs are already valid."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
