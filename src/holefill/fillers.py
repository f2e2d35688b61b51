"""The filler protocol: every method, classical or learned, is ``fill(image, mask) -> image``.

``image`` is HxWx3 uint8 RGB and ``mask`` HxW bool with True = hole. :meth:`Filler.fill`
validates both, hands the hole to the method's :meth:`Filler._fill`, and always composites
at the end, so known pixels come back unchanged whatever the method does.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Iterator

import numpy as np

from holefill.errors import InvalidArgumentError
from holefill.io import check_image, check_mask


def composite(image: np.ndarray, filled: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Known pixels from ``image``, hole pixels from ``filled``."""
    if filled.shape != image.shape:
        raise ValueError(f"filler returned shape {filled.shape}, expected {image.shape}")
    out = image.copy()
    out[mask] = filled[mask]
    return out


class Filler(abc.ABC):
    """A hole-filling method. Subclasses implement :meth:`_fill`; callers use :meth:`fill`."""

    #: The method's name in the table (``holefill methods``).
    name: str = "filler"
    #: Whether the method needs known pixels; an all-hole mask is then an error.
    needs_context: bool = True
    #: Whether the method has a source of randomness that :meth:`seeded` controls, so that
    #: :meth:`fill_samples` gives different plausible fills.
    stochastic: bool = False

    def fill(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Fill the holes of ``image`` marked by ``mask``; known pixels are returned unchanged."""
        image = check_image(image)
        mask = check_mask(mask, image.shape[:2], needs_context=self.needs_context)
        if not mask.any():
            return image.copy()
        # The hole's old pixels must not leak into the fill (it would flatter any benchmark).
        blanked = image.copy()
        blanked[mask] = 0
        filled = self._fill(blanked, mask)
        if filled.dtype != np.uint8:
            filled = np.clip(np.rint(filled), 0, 255).astype(np.uint8)
        return composite(image, filled, mask)

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.fill(image, mask)

    def fill_samples(self, image: np.ndarray, mask: np.ndarray, samples: int, seed: int = 0) -> list[np.ndarray]:
        """``samples`` fills of the same hole, the i-th drawn with seed ``seed + i``.

        An inpainting problem has many plausible answers; a stochastic method (a randomised
        search, stochastic attention) shows several. A deterministic one is an error.
        """
        if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
            raise InvalidArgumentError(f"samples must be a whole number >= 1, got {samples!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise InvalidArgumentError(f"seed must be a whole number >= 0, got {seed!r}")
        if samples > 1 and not self.stochastic:
            raise InvalidArgumentError(
                f"method {self.name!r} gives one answer per input (it has no noise input, dropout or stochastic"
                " attention); use a stochastic method for several samples, e.g. patchmatch or deepfill_v2")
        out = []
        for i in range(int(samples)):
            with self.seeded(int(seed) + i):
                out.append(self.fill(image, mask))
        return out

    @contextlib.contextmanager
    def seeded(self, seed: int) -> Iterator[None]:
        """Make the next fills use ``seed`` (stochastic methods override this)."""
        yield

    @abc.abstractmethod
    def _fill(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Return an HxWx3 image whose hole pixels hold the fill. Inputs are already valid
        and the mask has at least one hole pixel. Hole pixels of ``image`` are zeroed."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


#: Sides of a guide photo, in pixels, that a guided method accepts.
MIN_GUIDE_SIDE = 16


class GuidedFiller(abc.ABC):
    """A method that fills a hole with content pulled from another photo, the guide:
    ``fill(image, mask, guide) -> image``, with the guarantees of :class:`Filler`.

    :meth:`fill` validates all three (the guide is any RGB photo of at least
    :data:`MIN_GUIDE_SIDE` pixels a side), zeroes the hole's pixels before the method sees
    them, calls :meth:`_fill`, and composites, so known pixels come back unchanged.
    """

    #: The method's name in the table (``holefill methods``).
    name: str = "guided"
    needs_context: bool = True

    def fill(self, image: np.ndarray, mask: np.ndarray, guide: np.ndarray) -> np.ndarray:
        """Fill the holes of ``image`` marked by ``mask`` from ``guide``; known pixels are returned unchanged."""
        image = check_image(image)
        mask = check_mask(mask, image.shape[:2], needs_context=self.needs_context)
        guide = check_image(guide, "guide")
        if min(guide.shape[:2]) < MIN_GUIDE_SIDE:
            raise InvalidArgumentError(f"the guide is {guide.shape[1]}x{guide.shape[0]}; a guide photo needs at least"
                                       f" {MIN_GUIDE_SIDE} pixels a side", "guide")
        if not mask.any():
            return image.copy()
        blanked = image.copy()
        blanked[mask] = 0
        filled = self._fill(blanked, mask, guide)
        if filled.dtype != np.uint8:
            filled = np.clip(np.rint(filled), 0, 255).astype(np.uint8)
        return composite(image, filled, mask)

    def __call__(self, image: np.ndarray, mask: np.ndarray, guide: np.ndarray) -> np.ndarray:
        return self.fill(image, mask, guide)

    @abc.abstractmethod
    def _fill(self, image: np.ndarray, mask: np.ndarray, guide: np.ndarray) -> np.ndarray:
        """Return an HxWx3 image whose hole pixels hold the fill. Inputs are valid, the mask has
        a hole, and the hole's pixels of ``image`` are zeroed; ``guide`` is HgxWgx3 uint8."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
