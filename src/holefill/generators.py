"""The generator protocol: ``generate(n, seed) -> images``, beside the filler protocol.

A generator draws ``n`` images (HxWx3 uint8 RGB) from seed ``seed``: the same seed gives
the same images. Some generators take controls (GIRAFFE moves, turns and re-colours the
objects of its scenes); :attr:`Generator.controls` names them, and an unknown one is an
error. :meth:`Generator.generate` checks the count, the seed, the controls and the size of
what would be made before any work.

Learned generators are wrapped by :class:`holefill.model_tasks.ModelGenerator`.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from holefill.errors import InvalidArgumentError
from holefill.io import check_output_pixels

#: The most images one call may make.
MAX_IMAGES = 256


def check_count(n: object, limit: int = MAX_IMAGES) -> int:
    """A number of images: a whole number from 1 to ``limit``."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= limit:
        raise InvalidArgumentError(f"the number of images must be a whole number from 1 to {limit}, got {n!r}")
    return int(n)


def check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise InvalidArgumentError(f"seed must be a whole number >= 0, got {seed!r}")
    return int(seed)


class Generator(abc.ABC):
    """An image generator. Subclasses implement :meth:`_generate`; callers use :meth:`generate`."""

    #: The method's name in the table.
    name: str = "generator"
    #: The controls :meth:`generate` accepts (keyword arguments), if any.
    controls: tuple[str, ...] = ()

    @property
    @abc.abstractmethod
    def image_size(self) -> tuple[int, int]:
        """(h, w) of every image this generator makes."""

    def generate(self, n: int, seed: int = 0, *, max_pixels: int | None = None, **controls: Any) -> list[np.ndarray]:
        """``n`` images drawn with ``seed``; ``controls`` edit them (see :attr:`controls`)."""
        n, seed = check_count(n), check_seed(seed)
        unknown = sorted(set(controls) - set(self.controls))
        if unknown:
            allowed = ", ".join(self.controls) or "none"
            raise InvalidArgumentError(f"{self.name} has no control {', '.join(unknown)}; its controls: {allowed}")
        h, w = self.image_size
        check_output_pixels(h, w * n, max_pixels, what=f"{n} images of {w}x{h}")
        images = self._generate(n, seed, {k: v for k, v in controls.items() if v is not None})
        if len(images) != n or any(im.shape != (h, w, 3) or im.dtype != np.uint8 for im in images):
            raise ValueError(f"{self.name} returned images of the wrong number, size or type")
        return images

    @abc.abstractmethod
    def _generate(self, n: int, seed: int, controls: dict[str, Any]) -> list[np.ndarray]:
        """``n`` HxWx3 uint8 images; the arguments are already valid."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def image_grid(images: list[np.ndarray], columns: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile same-size images row by row on a white background (``columns`` default: about square)."""
    if not images:
        raise InvalidArgumentError("no images to tile")
    h, w = images[0].shape[:2]
    cols = columns or int(np.ceil(np.sqrt(len(images))))
    rows = -(-len(images) // cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = im
    return grid
