"""The filler protocols: one per task, each validating its input and keeping known pixels.

- Inpainting: every method, classical or learned, is ``fill(image, mask) -> image``.
  ``image`` is HxWx3 uint8 RGB and ``mask`` HxW bool with True = hole. :meth:`Filler.fill`
  validates both, hands the hole to the method's :meth:`Filler._fill`, and always composites
  at the end, so known pixels come back unchanged whatever the method does.
- Blind inpainting: ``fill_blind(image) -> (image, mask)``: the method finds the damage
  itself (:class:`BlindFiller`). :meth:`BlindFiller.fill_blind` validates the image and
  composites with the mask the method found, so every pixel it did not mark comes back
  unchanged; :meth:`BlindFiller.find_damage` gives the per-pixel damage probability.
  :class:`FoundMaskFiller` pairs a blind method's damage finder with any inpainting
  :class:`Filler` (``holefill inpaint --blind -m patchmatch``).
"""

from __future__ import annotations

import abc
import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import ClassVar

import cv2

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


# ----------------------------------------------------------------------------- blending

#: The widest gap ``blend`` accepts, in pixels (the panorama also obeys the pixel limit).
MAX_GAP = 16_384


def check_gap(gap: object) -> int:
    """``gap`` as a whole number of pixels in [1, MAX_GAP], or a one-line error."""
    if isinstance(gap, bool) or not isinstance(gap, (int, np.integer)):
        raise InvalidArgumentError(f"gap must be a whole number of pixels, got {gap!r}")
    if not 1 <= gap <= MAX_GAP:
        raise InvalidArgumentError(f"gap must be between 1 and {MAX_GAP} pixels, got {gap}")
    return int(gap)


def prepare_blend(left: np.ndarray, right: np.ndarray, gap: object,
                  max_pixels: int | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Validated blending inputs: both photos (``right`` resized to ``left``'s height when they
    differ, keeping its aspect ratio) and the gap. A panorama (or a resized ``right``) over
    ``max_pixels`` (default ``HOLEFILL_MAX_PIXELS`` or 100 M) is refused before it is made."""
    from holefill.errors import ImageTooLargeError
    from holefill.io import max_pixels_default

    left, right = check_image(left, "left"), check_image(right, "right")
    gap = check_gap(gap)
    h = left.shape[0]
    new_w = right.shape[1] if right.shape[0] == h else max(1, round(right.shape[1] * h / right.shape[0]))
    limit = max_pixels_default() if max_pixels is None else int(max_pixels)
    for what, width in (("panorama", left.shape[1] + gap + new_w), ("resized right", new_w)):
        if width * h > limit:
            raise ImageTooLargeError(f"the {what} canvas would be {width}x{h} = {width * h:,} pixels, over the "
                                     f"limit of {limit:,} (raise it with --max-pixels or HOLEFILL_MAX_PIXELS)")
    if right.shape[0] != h:
        import cv2

        right = cv2.resize(right, (new_w, h), interpolation=cv2.INTER_AREA if new_w < right.shape[1] else cv2.INTER_CUBIC)
    return left, right, gap


class Blender(abc.ABC):
    """A wide-range blending method: ``blend(left, right, gap) -> panorama``.

    The panorama is ``left | middle | right`` with ``gap`` generated columns between the two
    photos, which come back unchanged (``right`` resized to ``left``'s height when the
    heights differ). :meth:`blend` validates the input and assembles the panorama; methods
    implement :meth:`_blend`, which returns only the middle.
    """

    #: The method's name in the table.
    name: str = "blender"

    def blend(self, left: np.ndarray, right: np.ndarray, gap: int, *, max_pixels: int | None = None) -> np.ndarray:
        """Join ``left`` and ``right`` (HxWx3 uint8 RGB) with ``gap`` generated columns between them
        (a panorama over ``max_pixels`` is refused before any work, see :func:`prepare_blend`)."""
        left, right, gap = prepare_blend(left, right, gap, max_pixels)
        middle = self._blend(left, right, gap)
        h = left.shape[0]
        if middle.shape != (h, gap, 3):
            raise ValueError(f"blender {self.name!r} returned a middle of shape {middle.shape}, expected {(h, gap, 3)}")
        if middle.dtype != np.uint8:
            middle = np.clip(np.rint(middle), 0, 255).astype(np.uint8)
        return np.concatenate([left, middle, right], axis=1)

    def __call__(self, left: np.ndarray, right: np.ndarray, gap: int) -> np.ndarray:
        return self.blend(left, right, gap)

    @abc.abstractmethod
    def _blend(self, left: np.ndarray, right: np.ndarray, gap: int) -> np.ndarray:
        """The H x gap x 3 middle between valid photos of equal height."""


# ----------------------------------------------------------------------------- blind inpainting

def check_blind_options(threshold: float, dilate: int) -> tuple[float, int]:
    """A damage threshold in [0, 1) and a dilation of 0-64 pixels, or a one-line error."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)) \
            or not 0.0 <= float(threshold) < 1.0:
        raise InvalidArgumentError(f"threshold must be a probability in [0, 1), got {threshold!r}")
    if isinstance(dilate, bool) or not isinstance(dilate, (int, np.integer)) or not 0 <= int(dilate) <= 64:
        raise InvalidArgumentError(f"dilate must be a whole number of pixels in [0, 64], got {dilate!r}")
    return float(threshold), int(dilate)


#: The options that shape a blind filler's damage mask (the rest go to the method that fills it);
#: a blind model's weights may carry defaults for them.
BLIND_MASK_KEYS = ("threshold", "dilate", "scale", "seed", "seed_pixels", "second_scale")
#: The largest seed core a region can be asked for, in pixels.
MAX_SEED_PIXELS = 100_000


def check_seed_options(seed: float | None, seed_pixels: int, threshold: float) -> tuple[float | None, int]:
    """A seed probability above ``threshold`` (or None: off) and a core of 1 to
    :data:`MAX_SEED_PIXELS` pixels, or a one-line error."""
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, (int, float, np.floating)) or not 0.0 < float(seed) < 1.0:
            raise InvalidArgumentError(f"seed must be a probability in (0, 1) or none, got {seed!r}")
        if float(seed) <= threshold:
            raise InvalidArgumentError(f"seed ({float(seed):g}) must be above the threshold ({threshold:g}):"
                                       " a damaged region must hold pixels surer than the threshold"
                                       " (seed=none turns the hysteresis off)")
    if isinstance(seed_pixels, bool) or not isinstance(seed_pixels, (int, np.integer)) \
            or not 1 <= int(seed_pixels) <= MAX_SEED_PIXELS:
        raise InvalidArgumentError(f"seed_pixels must be a whole number of pixels in [1, {MAX_SEED_PIXELS}],"
                                   f" got {seed_pixels!r}")
    return (None if seed is None else float(seed)), int(seed_pixels)


def suppress_unseeded(probability: np.ndarray, threshold: float, seed: float, seed_pixels: int) -> np.ndarray:
    """Hysteresis on a damage map, as Canny's on edges: a connected region above ``threshold``
    (8-connected) stays damage only if at least ``seed_pixels`` of its pixels are above
    ``seed``; the probabilities of the other regions are lowered to just under
    ``threshold``. Strokes, text and scratches have sure cores and keep their
    full extent; the scattered doubts a finder has on busy natural texture do not.
    The result is a probability map like the input, so any lower threshold still reaches
    the suppressed regions (the web page's sensitivity slider)."""
    prob = np.asarray(probability, dtype=np.float32)
    above = prob > threshold
    if not above.any():
        return prob
    n, labels = cv2.connectedComponents(above.astype(np.uint8), connectivity=8)
    cores = np.bincount(labels[prob > seed], minlength=n)
    keep = cores >= seed_pixels
    keep[0] = True  # the background, below the threshold, is left as it is
    out = prob.copy()
    drop = ~keep[labels]
    # Just under the threshold, so the 8-bit map the web page gets (rounded) is not above it either.
    out[drop] = np.minimum(out[drop], np.nextafter(np.float32(threshold), np.float32(0)))
    return out


class BlindFiller(abc.ABC):
    """A blind inpainting method: it finds the damage and fills it. Subclasses implement
    :meth:`_find` and :meth:`_repair`; callers use :meth:`fill_blind` and :meth:`find_damage`.

    The damage mask is the damage probability above :attr:`threshold`, grown by
    :attr:`dilate` pixels (a disc); what was not marked comes back unchanged. With
    :attr:`seed` set, :meth:`find_damage` first lowers the regions without a sure core to the
    threshold (:func:`suppress_unseeded`).
    """

    #: The method's name in the table (``holefill methods``).
    name: str = "blind"
    #: A pixel is damage when its probability exceeds this.
    threshold: float = 0.5
    #: Grow the found mask by this many pixels before repairing (catches soft borders).
    dilate: int = 0
    #: Hysteresis: a region above the threshold is damage only if it holds pixels above this (None: off).
    seed: float | None = None
    #: ... at least this many of them (pixels of the image: a letter or a scratch does not grow with the photo).
    seed_pixels: int = 64

    def find_damage(self, image: np.ndarray) -> np.ndarray:
        """HxW float32 probabilities in [0, 1] that each pixel of ``image`` is damaged."""
        image = check_image(image)
        prob = np.asarray(self._find(image), dtype=np.float32)
        if prob.shape != image.shape[:2]:
            raise ValueError(f"{self.name}: damage map has shape {prob.shape}, expected {image.shape[:2]}")
        prob = np.clip(np.nan_to_num(prob, nan=0.0), 0.0, 1.0)
        if self.seed is not None:
            prob = suppress_unseeded(prob, self.threshold, self.seed, self.seed_pixels)
        return prob

    def mask_from(self, probability: np.ndarray) -> np.ndarray:
        """The HxW bool damage mask of a probability map (threshold, then the dilation)."""
        mask = np.asarray(probability) > self.threshold
        if self.dilate > 0 and mask.any():
            k = 2 * int(self.dilate) + 1
            disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
            mask = cv2.dilate(mask.astype(np.uint8), disc) > 0
        return mask

    def fill_blind(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(repaired image, damage mask)``: the damage found in ``image`` and filled."""
        repaired, mask, _ = self.run_blind(image)
        return repaired, mask

    def run_blind(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(repaired image, damage mask, damage probability)`` in one pass (benchmarks, the web page)."""
        image = check_image(image)
        prob = self.find_damage(image)
        mask = self.mask_from(prob)
        if not mask.any():
            return image.copy(), mask, prob
        repaired = self._repair(image, mask, prob)
        if repaired.dtype != np.uint8:
            repaired = np.clip(np.rint(repaired), 0, 255).astype(np.uint8)
        return composite(image, repaired, mask), mask, prob

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.fill_blind(image)

    @abc.abstractmethod
    def _find(self, image: np.ndarray) -> np.ndarray:
        """The damage probability map (HxW, [0, 1]) of a valid image."""

    @abc.abstractmethod
    def _repair(self, image: np.ndarray, mask: np.ndarray, probability: np.ndarray) -> np.ndarray:
        """An HxWx3 image whose pixels under ``mask`` (non-empty) hold the repair. ``image`` is
        the damaged input as given (a blind method reads its damaged pixels)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def blend_canvas(left: np.ndarray, right: np.ndarray, gap: int) -> tuple[np.ndarray, np.ndarray]:
    """``left | gap | right`` on one canvas (the gap black) and its mask (True on the gap).

    Inputs must already be valid and of equal height (see :func:`prepare_blend`).
    """
    h, wl, wr = left.shape[0], left.shape[1], right.shape[1]
    canvas = np.zeros((h, wl + gap + wr, 3), np.uint8)
    canvas[:, :wl] = left
    canvas[:, wl + gap:] = right
    mask = np.zeros((h, wl + gap + wr), bool)
    mask[:, wl:wl + gap] = True
    return canvas, mask


class CanvasBlender(Blender):
    """Blending by inpainting: any :class:`Filler` fills the gap of the ``left | gap | right`` canvas."""

    def __init__(self, filler: Filler) -> None:
        if not isinstance(filler, Filler):
            raise InvalidArgumentError(f"CanvasBlender needs a Filler, got {type(filler).__name__}")
        self.filler = filler
        self.name = filler.name

    def _blend(self, left: np.ndarray, right: np.ndarray, gap: int) -> np.ndarray:
        canvas, mask = blend_canvas(left, right, gap)
        filled = self.filler.fill(canvas, mask)
        wl = left.shape[1]
        return filled[:, wl:wl + gap]
class FoundMaskFiller(BlindFiller):
    """Blind inpainting with any inpainting method: ``finder`` finds the damage, ``filler`` fills it.

    The mask goes to ``filler.fill`` like a user's mask (its pixels are blanked first), so
    ``holefill inpaint photo.jpg --blind -m patchmatch`` is PatchMatch on VCNet's mask.
    """

    def __init__(self, finder: BlindFiller, filler: Filler, *, name: str | None = None,
                 threshold: float | None = None, dilate: int | None = None) -> None:
        self.finder = finder
        self.filler = filler
        self.name = name or f"{filler.name}+{finder.name}"
        self.threshold, self.dilate = check_blind_options(finder.threshold if threshold is None else threshold,
                                                          finder.dilate if dilate is None else dilate)

    def _find(self, image: np.ndarray) -> np.ndarray:
        return self.finder.find_damage(image)

    def _repair(self, image: np.ndarray, mask: np.ndarray, probability: np.ndarray) -> np.ndarray:
        return self.filler.fill(image, mask)
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
