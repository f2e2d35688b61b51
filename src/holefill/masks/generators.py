"""Seeded mask generators: ``generator(h, w, rng) -> HxW bool`` (True = hole).

Each generator is a small dataclass whose fields are its parameters. The defaults are the
values of the paper (or of its official code) that introduced the mask type. Where the paper
gives lengths in pixels, the defaults are those lengths divided by 256, the training size of
the papers, and they are multiplied at call time by the *reference side* of the image,

    L = sqrt(h**2 + w**2) / sqrt(2)     (L = 256 for a 256x256 image),

so that a 256x256 image gets exactly the paper's pixels and other sizes get the same
geometry scaled. Box-like generators (CenterBox, RandomBox, Outpaint) scale each dimension
on its own instead, as fractions of the height and of the width.

All randomness comes from the ``numpy.random.Generator`` passed in, so the same generator,
size and seed always give the same mask.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, Union, runtime_checkable

import cv2
import numpy as np

from holefill.errors import InvalidArgumentError, UnknownMethodError

REFERENCE_SIDE = 256
"""The image side that the papers trained at; pixel defaults are given relative to it."""

SIDES = ("left", "right", "top", "bottom")


@runtime_checkable
class MaskGenerator(Protocol):
    """Anything that draws an HxW bool hole mask from a random generator."""

    def __call__(self, h: int, w: int, rng: np.random.Generator) -> np.ndarray: ...


def hole_ratio(mask: np.ndarray) -> float:
    """The fraction of pixels that are holes (True), in [0, 1]."""
    arr = np.asarray(mask)
    if arr.ndim != 2 or arr.size == 0:
        raise InvalidArgumentError(f"a mask is a non-empty HxW array, got shape {arr.shape}")
    return float(np.count_nonzero(arr)) / arr.size


def _check_size(h: int, w: int) -> tuple[int, int]:
    if isinstance(h, bool) or isinstance(w, bool) or int(h) != h or int(w) != w or h < 1 or w < 1:
        raise InvalidArgumentError(f"mask size must be positive integers, got {h}x{w} (h x w)")
    return int(h), int(w)


def _reference_side(h: int, w: int) -> float:
    """The side L of the square with the image's diagonal (256 for 256x256)."""
    return math.hypot(h, w) / math.sqrt(2.0)


def _check_fraction(name: str, value: float, *, allow_zero: bool = False, upper: float = 1.0) -> None:
    ok = (0.0 <= value if allow_zero else 0.0 < value) and value <= upper
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not ok:
        low = "0 <=" if allow_zero else "0 <"
        raise InvalidArgumentError(f"{name} must be a number with {low} {name} <= {upper:g}, got {value!r}")


def _check_count(name: str, value: int, minimum: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidArgumentError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_range(lo_name: str, lo: float, hi_name: str, hi: float) -> None:
    if lo > hi:
        raise InvalidArgumentError(f"{lo_name} ({lo!r}) must not exceed {hi_name} ({hi!r})")


@dataclass
class CenterBox:
    """The centre box of Context Encoders (Pathak et al., CVPR 2016).

    The hole is the central box whose sides are ``size`` times the image's (default 0.5:
    the 64x64 centre of a 128x128 image, as in the paper and in ``train.lua`` of the
    official code, pathak22/context-encoder, which cuts rows and columns fineSize/4 ..
    3*fineSize/4). ``overlap`` shrinks the hole on every side by that fraction of the image
    side, as the official ``overlapPred`` option does (its README uses 4 px of 128, i.e.
    1/32), so a ring of known pixels lies inside the predicted region. Default 0: the hole is
    the whole centre box.
    """

    size: float = 0.5
    overlap: float = 0.0

    def __post_init__(self) -> None:
        _check_fraction("size", self.size)
        _check_fraction("overlap", self.overlap, allow_zero=True, upper=0.5)

    def __call__(self, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
        h, w = _check_size(h, w)
        mask = np.zeros((h, w), dtype=bool)
        bh, bw = max(1, round(self.size * h)), max(1, round(self.size * w))
        top, left = (h - bh) // 2, (w - bw) // 2
        oy, ox = round(self.overlap * h), round(self.overlap * w)
        if bh - 2 * oy < 1 or bw - 2 * ox < 1:
            raise InvalidArgumentError(f"overlap {self.overlap} leaves no hole in a {w}x{h} image")
        mask[top + oy: top + bh - oy, left + ox: left + bw - ox] = True
        return mask


@dataclass
class RandomBox:
    """A random rectangle, as DeepFill v1 trains with (Yu et al., CVPR 2018).

    Defaults from the official config (JiahuiYu/generative_inpainting, ``inpaint.yml``):
    a 128x128 box in a 256x256 image (``height = width = 0.5``), ``MAX_DELTA_HEIGHT`` and
    ``MAX_DELTA_WIDTH`` 32 px (0.125), margins 0. As in the official ``random_bbox`` and
    ``bbox2mask``, the box's top-left corner is uniform over the positions that keep the
    full box inside the margins, then the box shrinks by the same random amount
    d ~ U{0, ..., delta // 2} on both of its opposite sides (independently for rows and
    columns), so a 256x256 image gets holes 96..128 px high and wide, in steps of 2.
    Sizes are fractions of the image's height (vertical) and width (horizontal).
    """

    height: float = 0.5
    width: float = 0.5
    max_delta_height: float = 32 / REFERENCE_SIDE
    max_delta_width: float = 32 / REFERENCE_SIDE
    vertical_margin: float = 0.0
    horizontal_margin: float = 0.0

    def __post_init__(self) -> None:
        _check_fraction("height", self.height)
        _check_fraction("width", self.width)
        _check_fraction("max_delta_height", self.max_delta_height, allow_zero=True)
        _check_fraction("max_delta_width", self.max_delta_width, allow_zero=True)
        _check_fraction("vertical_margin", self.vertical_margin, allow_zero=True, upper=0.5)
        _check_fraction("horizontal_margin", self.horizontal_margin, allow_zero=True, upper=0.5)
        if self.height + 2 * self.vertical_margin > 1 or self.width + 2 * self.horizontal_margin > 1:
            raise InvalidArgumentError("the box plus its margins must fit in the image (height + 2*margin <= 1)")

    @staticmethod
    def _axis(size: int, frac: float, delta_frac: float, margin_frac: float,
              rng: np.random.Generator) -> tuple[int, int]:
        box = max(1, round(frac * size))
        margin = round(margin_frac * size)
        box = min(box, max(1, size - 2 * margin))
        delta = round(delta_frac * size)
        start = int(rng.integers(margin, max(margin + 1, size - margin - box)))
        shrink = int(rng.integers(0, delta // 2 + 1))
        shrink = min(shrink, (box - 1) // 2)  # always leave at least one row/column
        return start + shrink, start + box - shrink

    def __call__(self, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
        h, w = _check_size(h, w)
        t, b = self._axis(h, self.height, self.max_delta_height, self.vertical_margin, rng)
        l, r = self._axis(w, self.width, self.max_delta_width, self.horizontal_margin, rng)
        mask = np.zeros((h, w), dtype=bool)
        mask[t:b, l:r] = True
        return mask


@dataclass
class RandomRegion:
    """Context Encoders' random-region masks (Pathak et al., CVPR 2016).

    The official ``train_random.lua`` (pathak22/context-encoder) fills a 600x600 grid with
    uniform noise (``res = 0.06`` of ``MAX_SIZE = 10000``), upsamples it bicubically to
    10000x10000, keeps the pixels below ``density = 0.25`` as holes, and cuts random
    128x128 crops until one has 20 % < hole area < 30 %. One noise cell thus spans 1/0.06 =
    16.7 px, i.e. 0.130 of the 128-px crop: ``cell`` (a fraction of the reference side L).
    Here each call makes fresh noise of the needed size, upsamples it with a random
    sub-cell offset, thresholds it and retries (up to ``max_tries``) until the hole ratio
    lies in ``accept``; if no try does, the try closest to the range is returned.
    ``accept=None`` returns the first try.
    """

    cell: float = (1 / 0.06) / 128
    density: float = 0.25
    accept: tuple[float, float] | None = (0.20, 0.30)
    max_tries: int = 50

    def __post_init__(self) -> None:
        _check_fraction("cell", self.cell, upper=4.0)
        _check_fraction("density", self.density)
        _check_count("max_tries", self.max_tries, 1)
        if self.accept is not None:
            if len(self.accept) != 2:
                raise InvalidArgumentError(f"accept must be (lo, hi), got {self.accept!r}")
            lo, hi = float(self.accept[0]), float(self.accept[1])
            if not 0.0 <= lo < hi <= 1.0:
                raise InvalidArgumentError(f"accept must satisfy 0 <= lo < hi <= 1, got {self.accept!r}")
            self.accept = (lo, hi)

    def _draw(self, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
        cell_px = max(1.0, self.cell * _reference_side(h, w))
        gh, gw = math.ceil(h / cell_px) + 4, math.ceil(w / cell_px) + 4
        noise = rng.random((gh, gw), dtype=np.float32)
        big = cv2.resize(noise, (round(gw * cell_px), round(gh * cell_px)), interpolation=cv2.INTER_CUBIC)
        # Crop away from the borders, where the bicubic kernel sees padding.
        y0 = int(rng.integers(round(cell_px), max(round(cell_px) + 1, big.shape[0] - h - round(cell_px))))
        x0 = int(rng.integers(round(cell_px), max(round(cell_px) + 1, big.shape[1] - w - round(cell_px))))
        return big[y0:y0 + h, x0:x0 + w] < self.density

    def __call__(self, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
        h, w = _check_size(h, w)
        if self.accept is None:
            return self._draw(h, w, rng)
        lo, hi = self.accept
        best, best_gap = None, math.inf
        for _ in range(self.max_tries):
            mask = self._draw(h, w, rng)
            r = hole_ratio(mask)
            if lo < r < hi:
                return mask
            gap = lo - r if r <= lo else r - hi
            if gap < best_gap:
                best, best_gap = mask, gap
        assert best is not None
        return best


@dataclass
class FreeForm:
    """Free-form brush strokes of DeepFill v2 (Yu et al., ICCV 2019).

    The paper's Algorithm 1 describes the procedure; the numbers are those of the released
    code (JiahuiYu/generative_inpainting, ``inpaint_ops.brush_stroke_mask``): 1-3 strokes
    (``randint(1, 4)``), each of 4-11 moves (``randint(4, 12)``) from a uniform start point;
    turning angles drawn around ``mean_angle = 2*pi/5`` within ``angle_range = 2*pi/15``
    (alternately turning one way and the other); move lengths ~ N(r, r/2) clipped to
    [0, 2r] with the average radius r = diagonal / 8; brush widths uniform in [12, 40) px at
    256x256 (fractions of the reference side L here); a disc of the brush's width at every
    vertex. Vertices are clipped to the image. The official code also asks for random
    flips, but discards their result, so none are made here.
    """

    min_strokes: int = 1
    max_strokes: int = 3
    min_vertices: int = 4
    max_vertices: int = 11
    mean_angle: float = 2 * math.pi / 5
    angle_range: float = 2 * math.pi / 15
    min_width: float = 12 / REFERENCE_SIDE
    max_width: float = 40 / REFERENCE_SIDE
    radius: float = 1 / 8

    def __post_init__(self) -> None:
        _check_count("min_strokes", self.min_strokes, 1)
        _check_count("max_strokes", self.max_strokes, 1)
        _check_range("min_strokes", self.min_strokes, "max_strokes", self.max_strokes)
        _check_count("min_vertices", self.min_vertices, 1)
        _check_count("max_vertices", self.max_vertices, 1)
        _check_range("min_vertices", self.min_vertices, "max_vertices", self.max_vertices)
        _check_fraction("min_width", self.min_width)
        _check_fraction("max_width", self.max_width)
        _check_range("min_width", self.min_width, "max_width", self.max_width)
        _check_fraction("radius", self.radius, allow_zero=True)
        _check_fraction("mean_angle", self.mean_angle, allow_zero=True, upper=2 * math.pi)
        _check_fraction("angle_range", self.angle_range, allow_zero=True, upper=2 * math.pi)

    def __call__(self, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
        h, w = _check_size(h, w)
        canvas = np.zeros((h, w), dtype=np.uint8)
        side = _reference_side(h, w)
        avg_r = self.radius * math.hypot(h, w)
        for _ in range(int(rng.integers(self.min_strokes, self.max_strokes + 1))):
            moves = int(rng.integers(self.min_vertices, self.max_vertices + 1))
            a_min = self.mean_angle - rng.uniform(0, self.angle_range)
            a_max = self.mean_angle + rng.uniform(0, self.angle_range)
            x, y = float(rng.integers(0, w)), float(rng.integers(0, h))
            points = [(int(x), int(y))]
            for i in range(moves):
                turn = rng.uniform(a_min, a_max)
                angle = 2 * math.pi - turn if i % 2 == 0 else turn
                r = float(np.clip(rng.normal(avg_r, avg_r / 2), 0, 2 * avg_r))
                x = float(np.clip(x + r * math.cos(angle), 0, w - 1))
                y = float(np.clip(y + r * math.sin(angle), 0, h - 1))
                points.append((int(x), int(y)))
            width = max(1, int(rng.uniform(self.min_width * side, self.max_width * side)))
            for p, q in zip(points[:-1], points[1:]):
                cv2.line(canvas, p, q, 1, thickness=width, lineType=cv2.LINE_8)
            for p in points:
                cv2.circle(canvas, p, width // 2, 1, thickness=-1, lineType=cv2.LINE_8)
        return canvas.astype(bool)


@dataclass
class Strokes:
    """Free-form strokes of GMCNN and VCNet (Wang et al., NeurIPS 2018 and ECCV 2020).

    The numbers are those of VCNet's released code (shepnerd/blindinpainting_vcnet,
    ``tensorflow_version``: ``np_free_form_mask`` and ``free_form_mask_tf`` in ``net/ops.py``,
    with ``--parts 8 --vertex 16 --brush_length 80 --brush_width 20`` from
    ``options/train_options.py``): the union of ``parts`` strokes, each of ``randint(0,
    max_vertices)`` moves from a uniform start point; each move turns to an angle uniform in
    0-360 degrees (mirrored on every other move), goes a length uniform in 0-80 px and is
    drawn with a brush whose width is even and uniform in 10-20 px at 256x256 (each move its
    own width; lengths and widths are fractions of the reference side L here); a one-pixel
    ring of half the brush width marks each vertex, as the official ``cv2.circle`` call draws.
    Deviation: the official code hands OpenCV ``(y, x)`` where it expects ``(x, y)``, which
    transposes the strokes; here they are drawn the right way round (the same distribution on
    square images).
    """

    parts: int = 8
    max_vertices: int = 16
    max_length: float = 80 / REFERENCE_SIDE
    min_width: float = 10 / REFERENCE_SIDE
    max_width: float = 20 / REFERENCE_SIDE

    def __post_init__(self) -> None:
        _check_count("parts", self.parts, 1)
        _check_count("max_vertices", self.max_vertices, 0)
        _check_fraction("max_length", self.max_length, allow_zero=True)
        _check_fraction("min_width", self.min_width)
        _check_fraction("max_width", self.max_width)
        _check_range("min_width", self.min_width, "max_width", self.max_width)

    def __call__(self, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
        h, w = _check_size(h, w)
        canvas = np.zeros((h, w), dtype=np.uint8)
        side = _reference_side(h, w)
        max_len = round(self.max_length * side)
        lo, hi = max(1, round(self.min_width * side)), max(1, round(self.max_width * side))
        for _ in range(self.parts):
            y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
            width = 0
            for i in range(int(rng.integers(0, self.max_vertices + 1))):
                angle = math.radians(int(rng.integers(0, 361)))
                if i % 2 == 0:
                    angle = 2 * math.pi - angle
                length = int(rng.integers(0, max_len + 1))
                width = max(1, int(rng.integers(lo, hi + 1)) // 2 * 2)
                ny = int(np.clip(y + length * math.cos(angle), 0, h - 1))
                nx = int(np.clip(x + length * math.sin(angle), 0, w - 1))
                cv2.line(canvas, (x, y), (nx, ny), 1, width)
                cv2.circle(canvas, (x, y), width // 2, 1, 1)
                y, x = ny, nx
            cv2.circle(canvas, (x, y), width // 2, 1, 1)
        return canvas.astype(bool)


@dataclass
class Irregular:
    """Irregular masks in the style of partial convolutions (Liu et al., ECCV 2018).

    Liu et al. trained and tested on NVIDIA's irregular mask set, made from occlusion and
    dis-occlusion masks between consecutive video frames, and grouped its test masks by
    hole ratio into six buckets (0-10 % ... 50-60 %), which :mod:`holefill.masks.protocol`
    follows. That mask set cannot be downloaded on this project's machines and its
    generation code is not public, so this is our own generator in the same spirit: each
    call draws ``min_shapes``..``max_shapes`` shapes, each chosen evenly among a thick
    straight line between two random points, a filled circle, and a thick elliptic arc at a
    random angle. Thicknesses and radii are fractions of the reference side L.
    """

    min_shapes: int = 1
    max_shapes: int = 6
    min_thickness: float = 4 / REFERENCE_SIDE
    max_thickness: float = 20 / REFERENCE_SIDE
    min_radius: float = 6 / REFERENCE_SIDE
    max_radius: float = 36 / REFERENCE_SIDE
    min_arc: float = 90.0
    """Smallest arc of an ellipse, in degrees (up to 360: a closed ring)."""

    def __post_init__(self) -> None:
        _check_count("min_shapes", self.min_shapes, 1)
        _check_count("max_shapes", self.max_shapes, 1)
        _check_range("min_shapes", self.min_shapes, "max_shapes", self.max_shapes)
        _check_fraction("min_thickness", self.min_thickness)
        _check_fraction("max_thickness", self.max_thickness)
        _check_range("min_thickness", self.min_thickness, "max_thickness", self.max_thickness)
        _check_fraction("min_radius", self.min_radius)
        _check_fraction("max_radius", self.max_radius)
        _check_range("min_radius", self.min_radius, "max_radius", self.max_radius)
        _check_fraction("min_arc", self.min_arc, upper=360.0)

    def __call__(self, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
        h, w = _check_size(h, w)
        canvas = np.zeros((h, w), dtype=np.uint8)
        side = _reference_side(h, w)

        def thickness() -> int:
            return max(1, round(rng.uniform(self.min_thickness, self.max_thickness) * side))

        def radius() -> int:
            return max(1, round(rng.uniform(self.min_radius, self.max_radius) * side))

        def point() -> tuple[int, int]:
            return int(rng.integers(0, w)), int(rng.integers(0, h))

        for _ in range(int(rng.integers(self.min_shapes, self.max_shapes + 1))):
            shape = int(rng.integers(0, 3))
            if shape == 0:
                cv2.line(canvas, point(), point(), 1, thickness=thickness(), lineType=cv2.LINE_8)
            elif shape == 1:
                cv2.circle(canvas, point(), radius(), 1, thickness=-1, lineType=cv2.LINE_8)
            else:
                centre, axes = point(), (radius(), radius())
                angle = float(rng.uniform(0, 360))
                start = float(rng.uniform(0, 360))
                arc = float(rng.uniform(self.min_arc, 360))
                cv2.ellipse(canvas, centre, axes, angle, start, start + arc, 1,
                            thickness=thickness(), lineType=cv2.LINE_8)
        return canvas.astype(bool)


Width = Union[int, float]


def _side_pixels(width: Width, size: int, name: str) -> int:
    """A strip width as pixels: an int counts pixels, a float is a fraction of ``size``."""
    if isinstance(width, bool) or not isinstance(width, (int, float, np.integer, np.floating)):
        raise InvalidArgumentError(f"{name}: a strip width is a fraction (0.25) or pixels (64), got {width!r}")
    if isinstance(width, (int, np.integer)):
        if width < 0:
            raise InvalidArgumentError(f"{name}: strip width in pixels must be >= 0, got {width}")
        return min(int(width), size)
    if not 0.0 <= width <= 1.0:
        raise InvalidArgumentError(f"{name}: a strip width given as a fraction must be in [0, 1], got {width}")
    return round(width * size)


@dataclass
class Outpaint:
    """Outpainting strips: the hole is a band along one or more sides of the image.

    ``sides`` is one side name, several, or a mapping from side to its own width. A width
    that is a float is a fraction of the dimension across the strip (of the width for
    left/right, of the height for top/bottom); an int is pixels. ``width`` (default 0.25, a
    quarter of the image, the setting of our standard benchmark) applies to the sides given
    without one. With ``random_side`` each call makes one strip on a side drawn uniformly
    from ``sides``. By default ``sides`` is "right", or all four sides with ``random_side``.
    """

    sides: str | Sequence[str] | Mapping[str, Width] | None = None
    width: Width = 0.25
    random_side: bool = False
    _widths: dict[str, Width] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.sides is None:
            self.sides = SIDES if self.random_side else "right"
        if isinstance(self.sides, str):
            widths: dict[str, Width] = {self.sides: self.width}
        elif isinstance(self.sides, Mapping):
            widths = dict(self.sides)
        else:
            widths = {s: self.width for s in self.sides}
        if not widths:
            raise InvalidArgumentError("outpaint needs at least one side (left, right, top, bottom)")
        for side, wd in widths.items():
            if side not in SIDES:
                raise InvalidArgumentError(f"unknown side {side!r}; sides: {', '.join(SIDES)}")
            _side_pixels(wd, 1_000_000, side)  # validate now, not at call time
        self._widths = widths

    def __call__(self, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
        h, w = _check_size(h, w)
        names = list(self._widths)
        chosen = [names[int(rng.integers(0, len(names)))]] if self.random_side else names
        mask = np.zeros((h, w), dtype=bool)
        for side in chosen:
            across = w if side in ("left", "right") else h
            px = _side_pixels(self._widths[side], across, side)
            if px == 0:
                continue
            if side == "left":
                mask[:, :px] = True
            elif side == "right":
                mask[:, w - px:] = True
            elif side == "top":
                mask[:px, :] = True
            else:
                mask[h - px:, :] = True
        return mask


@dataclass
class Band:
    """The gap of wide-range blending: one full-height band of columns between two photos.

    ``width`` is a fraction of the image width (default 1/3: ``left | gap | right`` of equal
    widths, the geometry of Lu et al.'s 256 | 256 | 256 training panoramas) or pixels. The
    band is centred, or at a random position with ``random_position``; ``multiple`` snaps its
    width and both side widths to multiples of a model's stride (e.g. 64 for ``bct_blend``).
    A band wider than the image allows shrinks to leave a unit on each side (pixels, in images
    narrower than three strides).
    """

    width: Width = 1.0 / 3.0
    random_position: bool = False
    multiple: int = 1

    def __post_init__(self) -> None:
        _side_pixels(self.width, 1_000_000, "width")
        _check_count("multiple", self.multiple, 1)

    def __call__(self, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
        h, w = _check_size(h, w)
        k = self.multiple if w >= 3 * self.multiple else 1  # too narrow for whole strides: pixels
        units = w // k
        # The band leaves at least one unit on each side when the image is wide enough.
        gap = min(max(1, round(_side_pixels(self.width, w, "width") / k)), max(1, units - 2))
        room = units - gap
        left = int(rng.integers(1, room)) if self.random_position and room >= 2 else room // 2
        mask = np.zeros((h, w), dtype=bool)
        mask[:, left * k:(left + gap) * k] = True
        return mask


@dataclass
class Mixture:
    """One of several generators per call, picked by weight; optionally the union of k draws.

    ``generators`` are generator objects or kind names from :data:`GENERATORS`. The default,
    free-form strokes and irregular shapes with equal weights, is the mixture of the
    standard benchmark (see :mod:`holefill.masks.protocol`). With ``union = k`` every call
    returns the union of k independent draws.
    """

    generators: Sequence[MaskGenerator | str] = ("freeform", "irregular")
    weights: Sequence[float] | None = None
    union: int = 1

    def __post_init__(self) -> None:
        gens = [make_generator(g) if isinstance(g, str) else g for g in self.generators]
        if not gens:
            raise InvalidArgumentError("a mixture needs at least one generator")
        for g in gens:
            if not callable(g):
                raise InvalidArgumentError(f"not a mask generator: {g!r}")
        self.generators = tuple(gens)
        if self.weights is None:
            p = np.full(len(gens), 1.0 / len(gens))
        else:
            p = np.asarray(self.weights, dtype=float)
            if p.shape != (len(gens),) or not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
                raise InvalidArgumentError(
                    f"weights must be {len(gens)} non-negative numbers with a positive sum, got {self.weights!r}")
            p = p / p.sum()
        self.weights = tuple(float(x) for x in p)
        _check_count("union", self.union, 1)

    def __call__(self, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
        h, w = _check_size(h, w)
        mask = np.zeros((h, w), dtype=bool)
        for _ in range(self.union):
            g = self.generators[int(rng.choice(len(self.generators), p=self.weights))]
            mask |= np.asarray(g(h, w, rng), dtype=bool)
        return mask


@dataclass
class Union:
    """The union of one draw from each of several generators, every call.

    DeepFill v2's training masks are a random box OR free-form strokes (official code,
    branch v2.0.0, ``build_graph_with_losses``: ``logical_or(irregular_mask, regular_mask)``),
    which is ``Union(("box", "freeform"))``.
    """

    generators: Sequence[MaskGenerator | str] = ("box", "freeform")

    def __post_init__(self) -> None:
        gens = [make_generator(g) if isinstance(g, str) else g for g in self.generators]
        if not gens:
            raise InvalidArgumentError("a union needs at least one generator")
        for g in gens:
            if not callable(g):
                raise InvalidArgumentError(f"not a mask generator: {g!r}")
        self.generators = tuple(gens)

    def __call__(self, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
        h, w = _check_size(h, w)
        mask = np.zeros((h, w), dtype=bool)
        for g in self.generators:
            mask |= np.asarray(g(h, w, rng), dtype=bool)
        return mask


GENERATORS: dict[str, type] = {
    "center": CenterBox,
    "box": RandomBox,
    "region": RandomRegion,
    "freeform": FreeForm,
    "strokes": Strokes,
    "irregular": Irregular,
    "outpaint": Outpaint,
    "band": Band,
    "mixture": Mixture,
    "union": Union,
}
"""Mask kinds by name, for configs and the CLI."""


def make_generator(kind: str, **params: object) -> MaskGenerator:
    """Build the generator named ``kind`` (see :data:`GENERATORS`) with ``params``."""
    cls = GENERATORS.get(str(kind).strip().lower())
    if cls is None:
        raise UnknownMethodError(f"unknown mask kind {kind!r}; kinds: {', '.join(GENERATORS)}")
    accepted = [p for p in inspect.signature(cls).parameters]
    unknown = [k for k in params if k not in accepted]
    if unknown:
        raise InvalidArgumentError(
            f"mask kind {kind!r} takes no parameter {unknown[0]!r}; it takes: {', '.join(accepted)}")
    return cls(**params)


def generator_name(generator: MaskGenerator | str) -> str:
    """The kind name of a generator (its table name, else its class name), for seeding and logs."""
    if isinstance(generator, str):
        return generator.strip().lower()
    for name, cls in GENERATORS.items():
        if type(generator) is cls:
            return name
    return type(generator).__name__
