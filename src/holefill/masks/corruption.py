"""Seeded damage for blind inpainting, and the blind benchmark protocol.

A blind inpainting model gets a damaged photo and no mask. To train and to measure one, the
damage is made here, with its true mask: ``Corruption()(image, rng, source)`` returns
``(corrupted HxWx3 uint8, mask HxW bool)``, True where the damage is. Every random choice
comes from ``rng``, so the same image, source and seed always give the same pair.

Kinds of damage (one per call, drawn by ``weights``):

- ``photo``: the training data of VCNet (Wang et al., ECCV 2020, Sec. 3 and the official
  ``net/model.py``): ``I = O (1 - M) + N M`` with ``M`` the free-form strokes of
  :class:`~holefill.masks.generators.Strokes` and ``N`` *another real photo* (``source``),
  flipped upside down with probability 1/2 as the official loader does. With probability
  ``soft_border`` (official: 1/2, ``tf.cond(coin > 0.5, ...)``) the pasted strokes get a
  smoothed alpha border: the official ``priority_loss_mask(1 - M, hsize=15, iters=4) + M``,
  four rounds of a 15x15 Gaussian (``sigma = 1/40``, so nearly a box) restricted to the
  known pixels, reproduced by :func:`soft_border`. The true mask is ``M`` either way.
- ``graffiti``: the same strokes in one to three solid colours (by connected part), like
  paint or a marker, with the same smoothed border half of the time.
- ``text``: words in OpenCV's Hershey fonts, one solid colour, sometimes with an outline of
  another colour (captions, watermarks, dates); the mask is every pixel the glyphs or
  their outline cover.
- ``scratch``: thin curved lines, near white or near black, nearly opaque, as on an old print.

The last three are not in the paper: they are the simpler damage users meet, added so the
model also removes it. Sizes (brush widths, text heights, scratch widths) are fractions of
the reference side L (256 px for a 256x256 image; see :mod:`holefill.masks.generators`).

The blind benchmark (:func:`blind_items`, ``BLIND_PROTOCOL_NAME``) damages each benchmark
crop once per kind, seeded by (seed, kind, index), with the ``photo`` kind's source drawn
from the benchmark crops of *other* photos, so no photo from outside the set enters.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from holefill.errors import InvalidArgumentError
from holefill.masks.generators import REFERENCE_SIDE, MaskGenerator, Strokes

CORRUPTION_KINDS = ("photo", "graffiti", "text", "scratch")
#: The mix of training and of the ``all`` benchmark view: the paper's damage half the time.
DEFAULT_WEIGHTS = {"photo": 0.4, "graffiti": 0.2, "text": 0.2, "scratch": 0.2}

#: v2: the ``photo`` damage comes from another *photo*, not only another crop (v1 could paste
#: a crop's neighbour from the same photo, which no finder can see).
BLIND_PROTOCOL_NAME = "holefill-blind-v2"
BLIND_SEED = 0

_WORDS = ("holiday", "2019", "summer", "SAMPLE", "draft", "copyright", "photo", "Anna & Tom", "12/08/1998",
          "do not copy", "PROOF", "lorem ipsum", "beach", "we were here", "No. 7", "FOR SALE", "hello",
          "memories", "1975", "wedding", "STOCK", "preview", "kodak", "Paris")
_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX,
          cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_COMPLEX_SMALL)


def _gauss_kernel_1d(size: int = 15, sigma: float = 1.0 / 40) -> np.ndarray:
    """The separable factor of the official ``gauss_kernel(size, sigma)`` (``net/ops.py``): that
    kernel is ``sqrt(outer(k, k))`` of normal-CDF differences ``k`` over ``+-(sigma + interval / 2)``,
    normalised to sum 1, i.e. ``outer(s, s)`` with ``s = sqrt(k) / sum(sqrt(k))``."""
    interval = (2 * sigma + 1.0) / size
    xs = np.linspace(-sigma - interval / 2, sigma + interval / 2, size + 1)
    cdf = np.array([0.5 * (1.0 + math.erf(v / math.sqrt(2.0))) for v in xs])
    root = np.sqrt(np.diff(cdf))
    return (root / root.sum()).astype(np.float32)


SOFT_BORDER_KERNEL_1D = _gauss_kernel_1d()
#: The official 15x15 smoothing kernel of the soft border (``sigma = 1/40``: nearly a box).
SOFT_BORDER_KERNEL = np.outer(SOFT_BORDER_KERNEL_1D, SOFT_BORDER_KERNEL_1D).astype(np.float32)


def soft_border(mask: np.ndarray, iters: int = 4) -> np.ndarray:
    """Alpha in [0, 1]: 1 on ``mask`` and a smooth fall-off around it (official
    ``priority_loss_mask(1 - M, hsize=15, iters=4) + M``, zero padding as TF's "SAME")."""
    hole = np.asarray(mask, dtype=np.float32)
    known = 1.0 - hole
    init = hole
    spread = np.zeros_like(hole)
    k = SOFT_BORDER_KERNEL_1D
    for _ in range(iters):
        spread = cv2.sepFilter2D(init, -1, k, k, borderType=cv2.BORDER_CONSTANT) * known
        init = spread + hole
    return np.clip(spread + hole, 0.0, 1.0)


def _blend(image: np.ndarray, paint: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha[..., None].astype(np.float32)
    out = image.astype(np.float32) * (1.0 - a) + paint.astype(np.float32) * a
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def _vivid_colour(rng: np.random.Generator) -> np.ndarray:
    """A saturated, bright or dark paint colour (RGB uint8)."""
    hue = int(rng.integers(0, 180))
    sat = int(rng.integers(120, 256))
    val = int(rng.choice([int(rng.integers(20, 80)), int(rng.integers(160, 256))]))
    hsv = np.array([[[hue, sat, val]]], dtype=np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0]


def _text_colour(rng: np.random.Generator) -> np.ndarray:
    choice = int(rng.integers(0, 4))
    if choice == 0:
        return np.full(3, int(rng.integers(230, 256)), np.uint8)  # white
    if choice == 1:
        return np.full(3, int(rng.integers(0, 30)), np.uint8)  # black
    if choice == 2:
        return np.array([int(rng.integers(220, 256)), int(rng.integers(180, 230)), int(rng.integers(0, 60))], np.uint8)
    return _vivid_colour(rng)


@dataclass
class Corruption:
    """Damage an image and say where: ``(image, rng, source) -> (corrupted, mask)``.

    ``weights`` picks the kind per call (see the module docstring); ``strokes`` (any mask
    generator, by default VCNet's :class:`~holefill.masks.generators.Strokes`) draws the
    stroke masks of ``photo`` and ``graffiti``; ``soft_border`` is the probability of the
    smoothed alpha border on them; ``min_ratio`` is the least damaged fraction accepted
    (strokes are redrawn, up to ``max_tries`` times, when they cover less).
    ``source`` (an HxWx3 uint8 photo, or a callable ``rng -> photo``) is needed by ``photo``.
    """

    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    strokes: MaskGenerator = field(default_factory=Strokes)
    soft_border: float = 0.5
    min_ratio: float = 0.005
    max_tries: int = 20
    text_height: tuple[float, float] = (12 / REFERENCE_SIDE, 48 / REFERENCE_SIDE)
    scratch_width: tuple[float, float] = (1 / REFERENCE_SIDE, 3 / REFERENCE_SIDE)

    def __post_init__(self) -> None:
        if not isinstance(self.weights, Mapping) or not self.weights:
            raise InvalidArgumentError(f"weights must map damage kinds ({', '.join(CORRUPTION_KINDS)}) to weights")
        bad = [k for k in self.weights if k not in CORRUPTION_KINDS]
        if bad:
            raise InvalidArgumentError(f"unknown damage kind {bad[0]!r}; kinds: {', '.join(CORRUPTION_KINDS)}")
        w = np.array([float(v) for v in self.weights.values()])
        if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise InvalidArgumentError(f"damage weights must be >= 0 with a positive sum, got {dict(self.weights)}")
        self.weights = {k: float(v) for k, v in self.weights.items()}
        self._kinds = list(self.weights)
        self._p = w / w.sum()
        if isinstance(self.strokes, Mapping):
            self.strokes = Strokes(**self.strokes)
        if not callable(self.strokes):
            raise InvalidArgumentError(f"strokes must be a mask generator, got {self.strokes!r}")
        if not 0.0 <= self.soft_border <= 1.0:
            raise InvalidArgumentError(f"soft_border is a probability in [0, 1], got {self.soft_border!r}")
        if not 0.0 <= self.min_ratio < 0.5:
            raise InvalidArgumentError(f"min_ratio must lie in [0, 0.5), got {self.min_ratio!r}")
        if isinstance(self.max_tries, bool) or not isinstance(self.max_tries, int) or self.max_tries < 1:
            raise InvalidArgumentError(f"max_tries must be a positive integer, got {self.max_tries!r}")
        for name in ("text_height", "scratch_width"):
            lo, hi = (float(v) for v in getattr(self, name))
            if not 0 < lo <= hi <= 1:
                raise InvalidArgumentError(f"{name} must be (low, high) fractions with 0 < low <= high <= 1")
            setattr(self, name, (lo, hi))

    @property
    def needs_source(self) -> bool:
        """Whether some kind needs another photo (``photo`` with a positive weight)."""
        return self.weights.get("photo", 0.0) > 0

    def pick_kind(self, rng: np.random.Generator) -> str:
        return self._kinds[int(rng.choice(len(self._kinds), p=self._p))] if len(self._kinds) > 1 else self._kinds[0]

    def __call__(self, image: np.ndarray, rng: np.random.Generator,
                 source: np.ndarray | Callable[[np.random.Generator], np.ndarray] | None = None,
                 kind: str | None = None, strokes: MaskGenerator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Damage ``image`` (HxWx3 uint8) with one kind (``kind``, else drawn by weight);
        ``strokes`` replaces the stroke generator of ``photo`` and ``graffiti`` for this call."""
        img = np.asarray(image)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8 or img.shape[0] < 1 or img.shape[1] < 1:
            raise InvalidArgumentError(f"an image to damage is HxWx3 uint8, got {img.dtype} {img.shape}")
        chosen = self.pick_kind(rng) if kind is None else kind
        if chosen not in CORRUPTION_KINDS:
            raise InvalidArgumentError(f"unknown damage kind {chosen!r}; kinds: {', '.join(CORRUPTION_KINDS)}")
        h, w = img.shape[:2]
        gen = strokes if strokes is not None else self.strokes
        if chosen == "photo":
            return self._photo(img, rng, self._source(source, rng, h, w), gen)
        if chosen == "graffiti":
            return self._graffiti(img, rng, gen)
        if chosen == "text":
            return self._text(img, rng)
        return self._scratch(img, rng)

    # -- kinds ---------------------------------------------------------------------------------
    def _source(self, source: np.ndarray | Callable[[np.random.Generator], np.ndarray] | None,
                rng: np.random.Generator, h: int, w: int) -> np.ndarray:
        if source is None:
            raise InvalidArgumentError("the 'photo' damage pastes another photo: give a source image")
        src = np.asarray(source(rng) if callable(source) else source)
        if src.ndim != 3 or src.shape[2] != 3 or src.dtype != np.uint8:
            raise InvalidArgumentError(f"a damage source is an HxWx3 uint8 photo, got {src.dtype} {src.shape}")
        if src.shape[:2] != (h, w):
            src = cv2.resize(src, (w, h), interpolation=cv2.INTER_AREA if src.shape[0] * src.shape[1] > h * w
                             else cv2.INTER_CUBIC)
        if rng.random() < 0.5:  # the official loader's random_flip_up_down of the noise image
            src = src[::-1]
        return np.ascontiguousarray(src)

    def _stroke_mask(self, h: int, w: int, rng: np.random.Generator, strokes: MaskGenerator) -> np.ndarray:
        best = np.zeros((h, w), bool)
        for _ in range(self.max_tries):
            m = np.asarray(strokes(h, w, rng), dtype=bool)
            if m.shape != (h, w):
                raise InvalidArgumentError(f"the stroke generator returned {m.shape}, expected {(h, w)}")
            if m.mean() >= self.min_ratio:
                return m
            if m.sum() > best.sum():
                best = m
        return best

    def _alpha(self, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return soft_border(mask) if rng.random() < self.soft_border else mask.astype(np.float32)

    def _photo(self, image: np.ndarray, rng: np.random.Generator, source: np.ndarray,
               strokes: MaskGenerator) -> tuple[np.ndarray, np.ndarray]:
        mask = self._stroke_mask(*image.shape[:2], rng, strokes)
        return _blend(image, source, self._alpha(mask, rng)), mask

    def _graffiti(self, image: np.ndarray, rng: np.random.Generator,
                  strokes: MaskGenerator) -> tuple[np.ndarray, np.ndarray]:
        h, w = image.shape[:2]
        mask = self._stroke_mask(h, w, rng, strokes)
        count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
        colours = [_vivid_colour(rng) for _ in range(int(rng.integers(1, 4)))]
        soft = rng.random() < self.soft_border
        out = image
        for k, colour in enumerate(colours):  # each paint colour its own strokes, painted one after another
            part = (labels > 0) & ((labels - 1) % len(colours) == k)
            if part.any():
                alpha = soft_border(part) if soft else part.astype(np.float32)
                out = _blend(out, np.broadcast_to(colour, image.shape), alpha)
        return out, mask

    def _text(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        h, w = image.shape[:2]
        side = math.hypot(h, w) / math.sqrt(2.0)
        glyphs = np.zeros((h, w), np.uint8)
        outline = np.zeros((h, w), np.uint8)
        paint = np.zeros_like(image)
        colour, edge = _text_colour(rng), _text_colour(rng)
        outlined = rng.random() < 0.3
        lines = int(rng.integers(1, 5))
        top = int(rng.integers(0, max(1, h // 4)))
        for _ in range(lines):  # one line below the other, each at its own size and font
            words = " ".join(_WORDS[int(i)] for i in rng.integers(0, len(_WORDS), int(rng.integers(1, 4))))
            font = _FONTS[int(rng.integers(0, len(_FONTS)))]
            target = rng.uniform(*self.text_height) * side
            (_, base_h), _ = cv2.getTextSize("Hg", font, 1.0, 1)
            scale = max(0.2, target / max(base_h, 1))
            thickness = max(1, int(round(scale * float(rng.uniform(1.0, 2.5)))))
            (tw, th), base = cv2.getTextSize(words, font, scale, thickness)
            x = int(rng.integers(0, max(1, w - tw))) if tw < w else -int(rng.integers(0, tw - w + 1))
            y = top + th
            top = y + base + int(rng.integers(0, max(1, h // 6)))
            if y >= h:
                break
            if outlined:
                cv2.putText(outline, words, (x, y), font, scale, 1, thickness + 2 * max(1, thickness // 2 + 1),
                            cv2.LINE_8)
            cv2.putText(glyphs, words, (x, y), font, scale, 1, thickness, cv2.LINE_8)
        mask = (glyphs > 0) | (outline > 0)
        if mask.mean() < self.min_ratio / 4:  # text that fell off the image: draw it centred
            cv2.putText(glyphs, "SAMPLE", (w // 8, h // 2), cv2.FONT_HERSHEY_DUPLEX, max(0.3, side / 160), 1,
                        max(1, round(side / 128)), cv2.LINE_8)
            mask = (glyphs > 0) | (outline > 0)
        paint[outline > 0] = edge
        paint[glyphs > 0] = colour
        return _blend(image, paint, mask.astype(np.float32)), mask

    def _scratch(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        h, w = image.shape[:2]
        side = math.hypot(h, w) / math.sqrt(2.0)
        canvas = np.zeros((h, w), np.uint8)
        light = rng.random() < 0.6
        for _ in range(int(rng.integers(3, 16))):
            x, y = float(rng.uniform(0, w)), float(rng.uniform(0, h))
            heading = float(rng.uniform(0, 2 * math.pi))
            length = float(rng.uniform(0.2, 1.0)) * side
            width = max(1, int(round(rng.uniform(*self.scratch_width) * side)))
            points = [(x, y)]
            steps = int(rng.integers(4, 12))
            for _ in range(steps):
                heading += float(rng.normal(0.0, 0.25))
                x += math.cos(heading) * length / steps
                y += math.sin(heading) * length / steps
                points.append((x, y))
            pts = np.round(np.array(points)).astype(np.int32)[None]
            cv2.polylines(canvas, pts, False, 1, width, cv2.LINE_8)
        mask = canvas > 0
        level = int(rng.integers(215, 256)) if light else int(rng.integers(0, 40))
        paint = np.empty_like(image)
        paint[...] = level
        paint = np.clip(paint.astype(np.int16) + rng.integers(-12, 13, size=(h, w, 1)), 0, 255).astype(np.uint8)
        opacity = float(rng.uniform(0.75, 1.0))
        return _blend(image, paint, mask.astype(np.float32) * opacity), mask


def make_corruption(params: Mapping[str, object] | None = None) -> Corruption:
    """A :class:`Corruption` from config-style parameters (lists become tuples)."""
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in dict(params or {}).items()}
    allowed = {f for f in Corruption.__dataclass_fields__}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise InvalidArgumentError(f"damage takes no parameter {unknown[0]!r}; it takes: {', '.join(sorted(allowed))}")
    return Corruption(**values)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- the protocol


def item_rng(seed: int, kind: str, index: int) -> np.random.Generator:
    """The random stream of benchmark item ``index`` of ``kind``."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(zlib.crc32(kind.encode()), int(index))))


@dataclass(frozen=True)
class BlindItem:
    """One benchmark item: the clean image's index, the damage kind, and the damaged pair."""

    index: int
    kind: str
    corrupted: np.ndarray
    mask: np.ndarray


def blind_items(images: Sequence[np.ndarray], kinds: Sequence[str] = CORRUPTION_KINDS, seed: int = BLIND_SEED,
                corruption: Corruption | None = None, photos: Sequence[str] | None = None) -> list[BlindItem]:
    """Every image damaged once per kind, each from ``(seed, kind, index)`` alone.

    The ``photo`` kind pastes another image of the same set, and never one of the same photo:
    ``photos`` names each image's photo (crops of one photo share it; see
    :func:`holefill.benchmark.photo_of`), and None makes every image its own photo. A crop's
    neighbour from the same photo is damage no one could see, which VCNet's premise (noise from
    *other* photos) excludes. Images must be HxWx3 uint8; sizes may differ (a source is resized
    to the image).
    """
    if len(images) == 0:
        raise InvalidArgumentError("the blind benchmark needs at least one image")
    bad = [k for k in kinds if k not in CORRUPTION_KINDS]
    if bad or not kinds:
        raise InvalidArgumentError(f"unknown damage kind {bad[0] if bad else '(none)'!r}; kinds: "
                                   f"{', '.join(CORRUPTION_KINDS)}")
    n = len(images)
    names = list(range(n)) if photos is None else list(photos)
    if len(names) != n:
        raise InvalidArgumentError(f"photos names {len(names)} photos for {n} images")
    if "photo" in kinds and len(set(names)) < 2:
        raise InvalidArgumentError("the 'photo' damage pastes another photo of the set: give images of at least "
                                   "two photos")
    corr = corruption or Corruption()
    items = []
    for kind in kinds:
        for i, image in enumerate(images):
            rng = item_rng(seed, kind, i)
            source = None
            if kind == "photo":
                others = [j % n for j in range(i + 1, i + n) if names[j % n] != names[i]]
                source = images[others[int(rng.integers(0, len(others)))]]
            corrupted, mask = corr(image, rng, source, kind=kind)
            items.append(BlindItem(i, kind, corrupted, mask))
    return items


def describe_blind_protocol(count: int, seed: int = BLIND_SEED, kinds: Sequence[str] = CORRUPTION_KINDS) -> str:
    """One line naming the blind protocol and its settings, for the top of every report."""
    return (f"{BLIND_PROTOCOL_NAME}: {count} images x damage kinds {', '.join(kinds)}, seed {seed}"
            " (photo: strokes of an image of another photo of the set, half with a smoothed border;"
            " graffiti: solid-colour strokes; text: Hershey-font words; scratch: thin light or dark curves)")


__all__ = ["BLIND_PROTOCOL_NAME", "BLIND_SEED", "BlindItem", "CORRUPTION_KINDS", "Corruption", "DEFAULT_WEIGHTS",
           "blind_items", "describe_blind_protocol", "item_rng", "make_corruption", "soft_border"]
