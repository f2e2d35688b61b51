"""The filler protocol: every method, classical or learned, is ``fill(image, mask) -> image``.

``image`` is HxWx3 uint8 RGB and ``mask`` HxW bool with True = hole. :meth:`Filler.fill`
validates both, hands the hole to the method's :meth:`Filler._fill`, and always composites
at the end, so known pixels come back unchanged whatever the method does.
"""

from __future__ import annotations

import abc
import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import ClassVar

import numpy as np

from holefill.errors import InvalidArgumentError
from holefill.io import check_image, check_mask
from holefill.options import Option


#: Who listens to the progress of the fills running in this context (see :func:`progress_to`).
_progress_listener: contextvars.ContextVar[Callable[[float], None] | None] = contextvars.ContextVar(
    "holefill_progress_listener", default=None)


@contextlib.contextmanager
def progress_to(listener: Callable[[float], None]) -> Iterator[None]:
    """Tell ``listener(fraction)`` (0 to 1) how far the fills inside have come.

    Methods with a natural loop report through :func:`report_progress` (criminisi per
    patch, shift-map per pass, a learned model per crop or batch); the others run as one
    library call and report nothing, so a listener should show elapsed time as well. The
    listener may raise to stop the fill (the exception passes out of ``fill``).
    """
    token = _progress_listener.set(listener)
    try:
        yield
    finally:
        _progress_listener.reset(token)


def report_progress(done: float, total: float) -> None:
    """Called from a method's loop: ``done`` of ``total`` units of work are finished."""
    listener = _progress_listener.get()
    if listener is not None and total > 0:
        listener(min(1.0, max(0.0, done / total)))


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
    #: The keyword options the constructor takes, with their valid ranges; the method table
    #: checks a request's options against these before any work (:mod:`holefill.options`).
    options: ClassVar[tuple[Option, ...]] = ()

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
