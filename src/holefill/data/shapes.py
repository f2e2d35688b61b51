"""A synthetic scene set: one coloured shape on a smooth background, for GIRAFFE on a CPU.

Each scene is a vertical two-colour gradient (the background) with one disc, square or
triangle (the object) of a saturated colour, placed, sized and turned at random. Every
scene is drawn from ``(seed, index)`` alone and antialiased (drawn at 4x, then shrunk), so a
set is reproducible image by image. Object and background colours differ clearly (a
minimum RGB distance), so the object is always visible.

``holefill data shapes -o DIR`` writes a set of PNGs (``00000.png`` ...) and a
``README.md`` that says how it was made; it is training data for ``configs/giraffe_shapes.yaml``.
"""

from __future__ import annotations

import colorsys
import math
from os import PathLike
from pathlib import Path

import cv2
import numpy as np

from holefill.errors import InvalidArgumentError, OutputExistsError

SHAPES = ("disc", "square", "triangle")
#: Smallest and largest scene side, and the most scenes one call may write.
MIN_SIZE, MAX_SIZE, MAX_COUNT = 16, 512, 100_000
SUPERSAMPLE = 4


def _colour(rng: np.random.Generator, saturated: bool) -> np.ndarray:
    h = rng.uniform(0, 1)
    s = rng.uniform(0.6, 1.0) if saturated else rng.uniform(0.05, 0.4)
    v = rng.uniform(0.6, 1.0) if saturated else rng.uniform(0.3, 0.9)
    return np.array(colorsys.hsv_to_rgb(h, s, v)) * 255.0


def scene(seed: int, index: int, size: int = 32) -> np.ndarray:
    """Scene ``index`` of the set with ``seed``: an HxWx3 uint8 image of side ``size``."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(index), 0x5CE2E]))
    big = size * SUPERSAMPLE
    top, bottom = _colour(rng, False), _colour(rng, False)
    ramp = np.linspace(0.0, 1.0, big)[:, None, None]
    canvas = np.ascontiguousarray(np.broadcast_to(top * (1 - ramp) + bottom * ramp, (big, big, 3)))
    colour = _colour(rng, True)
    while min(np.linalg.norm(colour - top), np.linalg.norm(colour - bottom)) < 90.0:
        colour = _colour(rng, True)
    kind = SHAPES[int(rng.integers(len(SHAPES)))]
    radius = rng.uniform(0.12, 0.2) * big
    cx, cy = rng.uniform(0.3, 0.7) * big, rng.uniform(0.4, 0.65) * big
    angle = rng.uniform(0, 2 * math.pi)
    if kind == "disc":
        cv2.circle(canvas, (int(round(cx)), int(round(cy))), int(round(radius)), colour.tolist(), -1)
    else:
        corners = 4 if kind == "square" else 3
        pts = [(cx + radius * math.cos(angle + 2 * math.pi * k / corners),
                cy + radius * math.sin(angle + 2 * math.pi * k / corners)) for k in range(corners)]
        cv2.fillPoly(canvas, [np.round(np.array(pts)).astype(np.int32)], colour.tolist())
    small = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    return np.clip(np.rint(small), 0, 255).astype(np.uint8)


def write_shapes(folder: str | PathLike[str], count: int = 4000, size: int = 32, seed: int = 0, *,
                 overwrite: bool = False) -> Path:
    """Write ``count`` scenes as ``folder/00000.png`` ... and a README; returns the folder."""
    from holefill.io import write_bytes_atomic, write_image

    for key, value, low, high in (("count", count, 1, MAX_COUNT), ("size", size, MIN_SIZE, MAX_SIZE)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidArgumentError(f"{key} must be a whole number from {low} to {high}, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidArgumentError(f"seed must be a whole number >= 0, got {seed!r}")
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise OutputExistsError("is a file; give a folder for the scenes", out)
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise OutputExistsError("is not empty; pass --overwrite to write the scenes into it", out)
    for i in range(count):
        write_image(out / f"{i:05d}.png", scene(seed, i, size), overwrite=overwrite)
    readme = (f"# Synthetic shapes ({count} scenes, {size}x{size}, seed {seed})\n\n"
              "Made by holefill (`holefill data shapes`, holefill.data.shapes): one disc, square or triangle of a\n"
              "saturated colour on a vertical two-colour gradient, drawn at random. No photos; free to use.\n")
    write_bytes_atomic(out / "README.md", readme.encode())
    return out
