"""PatchMatch inpainting from the ``pypatchmatch`` package.

Barnes, Shechtman, Finkelstein and Goldman, "PatchMatch: A Randomized Correspondence
Algorithm for Structural Image Editing", ACM SIGGRAPH 2009: a nearest-neighbour field from
hole patches to known patches, found by random search and propagation, refined coarse to
fine; each hole pixel is a vote of the patches that cover it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import ModuleType

import numpy as np

from holefill.errors import MissingDependencyError
from holefill.fillers import Filler
from holefill.options import Option, checked

_INSTALL_HINT = "pip install pypatchmatch"


def _patch_match() -> ModuleType:
    """``patchmatch.patch_match`` with its native library loaded, or a one-line install hint."""
    try:
        from patchmatch import patch_match
    except ImportError:
        raise MissingDependencyError(f"method 'patchmatch' needs the pypatchmatch package: {_INSTALL_HINT}") from None
    if not getattr(patch_match, "patchmatch_available", False):
        raise MissingDependencyError(
            f"method 'patchmatch': pypatchmatch is installed but its native library failed to load; reinstall it: {_INSTALL_HINT}"
        )
    return patch_match


class PatchMatch(Filler):
    """PatchMatch inpainting (Barnes et al. 2009) via ``pypatchmatch``.

    ``patch_radius`` r compares (2r+1)x(2r+1) patches (the library's ``patch_size``):
    larger follows larger structures, much slower. ``seed`` seeds the randomised search
    before every fill, so equal inputs give equal outputs. The library keeps the seed
    globally, so fills from several threads at once are not reproducible.
    """

    name = "patchmatch"
    stochastic = True
    # The work grows with the patch area, (2r+1)^2: 10 is about 9x the default.
    options = (Option("patch_radius", "int", 3, "compares (2r+1)x(2r+1) patches; larger follows larger structures,"
                      " much slower", minimum=1, maximum=10),
               Option("seed", "int", 0, "seed of the randomised search", minimum=0, maximum=2**32 - 1))

    def __init__(self, patch_radius: int = 3, seed: int = 0) -> None:
        values = checked(self.options, patch_radius=patch_radius, seed=seed)
        self.patch_radius, self.seed = values["patch_radius"], values["seed"]

    @contextlib.contextmanager
    def seeded(self, seed: int) -> Iterator[None]:
        """Search with ``seed`` instead of the configured seed, for :meth:`fill_samples`."""
        saved, self.seed = self.seed, seed
        try:
            yield
        finally:
            self.seed = saved

    def _fill(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        pm = _patch_match()
        pm.set_random_seed(self.seed)
        return pm.inpaint(np.ascontiguousarray(image), mask.astype(np.uint8), patch_size=self.patch_radius)
