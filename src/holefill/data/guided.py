"""Self-supervised training data for guided inpainting, drawn on the fly from any photo folder.

Each sample is an :class:`~holefill.data.datasets.InpaintDataset` sample (a crop of a photo
and a hole) plus a *guide* that holds the hole's original content, transformed, next to
irrelevant content (:func:`holefill.masks.guidance.make_guide`), as Zhao et al. (WACV 2019)
build their training data. With probability ``isolated`` the guide is made from the crop
alone, so everything around the hole's content is irrelevant (as in the guided benchmark
protocol); otherwise from the whole photo, so the guide also shows the hole's real
surroundings at the new pose. Irrelevant content comes from another photo of the folder.

A sample adds ``"guide"`` (3HW in [-1, 1], the crop's size), ``"guide_affine"`` (2x3, the
exact map from the crop to the guide in long-side units) and ``"guide_truth"`` (1HW, 1 where
the hole's content is in the guide). Every draw comes from (seed, epoch, index), so the data
is reproducible and resumable like the plain dataset's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from holefill.data.datasets import InpaintDataset, ImageSource, MaskFn, sample_rng, to_tensor
from holefill.errors import InvalidArgumentError
from holefill.masks.guidance import GuideSettings, make_guide

#: The guides the shipped model trained on (wider than the benchmark protocol's, with gaps).
TRAINING_SETTINGS = GuideSettings(rotation=15.0, scale=(0.75, 1.33), brightness=(0.55, 1.5), colour=0.1,
                                  gamma=(0.75, 1.33), patches=(0, 3), gap=0.25)


class GuidedDataset(InpaintDataset):
    """Crops, holes and guides; see the module docstring."""

    def __init__(self, source: ImageSource, crop: int, mask_fn: MaskFn, *, settings: GuideSettings = TRAINING_SETTINGS,
                 isolated: float = 0.5, **kwargs: Any) -> None:
        super().__init__(source, crop, mask_fn, **kwargs)
        if not 0 <= isolated <= 1:
            raise InvalidArgumentError(f"isolated must be a probability in [0, 1], got {isolated}")
        self.settings = settings
        self.isolated = float(isolated)

    def sample(self, epoch: int, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self.paths):
            raise IndexError(f"sample {index} of a dataset of {len(self.paths)}")
        scaled, top, left = self.place(self.load(index), sample_rng(self.seed, epoch, index, 0))
        c = self.crop
        crop = np.ascontiguousarray(scaled[top:top + c, left:left + c])
        mask = np.asarray(self.mask_fn(c, c, sample_rng(self.seed, epoch, index, 1)), dtype=bool)
        if mask.shape != (c, c):
            raise InvalidArgumentError(f"the mask generator returned {mask.shape}, expected {(c, c)}")
        if not mask.any():  # a guide needs a hole to carry; a mask generator may draw none
            mask[c // 2 - c // 8: c // 2 + c // 8, c // 2 - c // 8: c // 2 + c // 8] = True
        rng = sample_rng(self.seed, epoch, index, 2)
        n = len(self.paths)
        other = (index + 1 + int(rng.integers(n - 1))) % n if n > 1 else index
        distractor = self.load(other)
        if rng.random() < self.isolated:
            source, offset = crop, (0, 0)
        else:
            source, offset = scaled, (left, top)
        guide = make_guide(source, offset, mask, rng, distractor, (c, c), self.settings)
        return {"image": to_tensor(crop), "mask": torch.from_numpy(mask)[None].float(),
                "guide": to_tensor(guide.image), "guide_affine": torch.from_numpy(guide.frames.astype(np.float32)),
                "guide_truth": torch.from_numpy(guide.truth)[None].float()}


__all__ = ["TRAINING_SETTINGS", "GuidedDataset"]
