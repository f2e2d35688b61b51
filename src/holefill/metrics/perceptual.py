"""FID, KID and LPIPS for the benchmark: collected per (method, mask set) while it runs.

:func:`perceptual_scorer` loads whichever backbones the user has files for (arguments, or the
environment variables ``HOLEFILL_FID_WEIGHTS``, ``HOLEFILL_LPIPS_WEIGHTS`` and
``HOLEFILL_LPIPS_TRUNK``); a metric without its file is left out and the scorer keeps the
reason, which the report prints instead of a number. Per cell:

- FID and KID between the Inception features of the cell's composited fills and those of the
  original images (the same images for every set, computed once);
- LPIPS: the mean over the cell's (original, fill) pairs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from holefill.metrics.fid import FID_ENV, fid_from_features, inception_features, kid_from_features
from holefill.metrics.lpips import LPIPS_ENV, LPIPS_TRUNK_ENV

__all__ = ["PERCEPTUAL_FIELDS", "PerceptualScorer", "perceptual_scorer"]

PERCEPTUAL_FIELDS = ("method", "bucket", "images", "lpips", "fid", "kid_mean", "kid_std", "kid_subset_size")


@dataclass
class PerceptualScorer:
    """Backbones (None when absent, with the reason in ``missing``) and what they have seen."""

    inception: Any = None
    lpips: Any = None
    missing: dict[str, str] = field(default_factory=dict)
    device: str = "cpu"
    real: dict[int, np.ndarray] = field(default_factory=dict)
    fake: dict[tuple[str, str], list[np.ndarray]] = field(default_factory=dict)
    distances: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    cells: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.inception is not None or self.lpips is not None

    def add(self, method: str, bucket: str, image_index: int, original: np.ndarray, filled: np.ndarray) -> None:
        """Score one composited fill of image ``image_index``."""
        key = (method, bucket)
        self.cells.setdefault(key, []).append(image_index)
        if self.inception is not None:
            if image_index not in self.real:
                self.real[image_index] = inception_features([original], model=self.inception, device=self.device)[0]
            feats = inception_features([filled], model=self.inception, device=self.device)[0]
            self.fake.setdefault(key, []).append(feats)
        if self.lpips is not None:
            from holefill.metrics.lpips import lpips_distance

            self.distances.setdefault(key, []).append(lpips_distance(self.lpips, original, filled, self.device))

    def rows(self) -> list[dict[str, object]]:
        """One row per (method, bucket) with the fields of :data:`PERCEPTUAL_FIELDS` (NaN when absent)."""
        out = []
        for (method, bucket), indices in self.cells.items():
            row: dict[str, object] = {"method": method, "bucket": bucket, "images": len(indices), "lpips": math.nan,
                                      "fid": math.nan, "kid_mean": math.nan, "kid_std": math.nan,
                                      "kid_subset_size": 0}
            if self.lpips is not None:
                row["lpips"] = float(np.mean(self.distances[(method, bucket)]))
            if self.inception is not None and len(indices) >= 2:
                real = np.stack([self.real[i] for i in indices])
                fake = np.stack(self.fake[(method, bucket)])
                row["fid"] = fid_from_features(real, fake)
                kid = kid_from_features(real, fake)
                row.update(kid_mean=kid.mean, kid_std=kid.std, kid_subset_size=kid.subset_size)
            out.append(row)
        return out

    def notes(self) -> list[str]:
        """What the report says about these metrics: how they were made, and what is missing and why."""
        lines = []
        if self.inception is not None:
            lines.append("FID and KID compare the Inception-v3 pool3 features (the PyTorch FID port's weights, "
                         f"{self.inception.source}) of each cell's composited fills with those of the original images;"
                         " KID is the unbiased cubic-kernel MMD, mean (std) over 100 subsets. FID is biased at small "
                         "sizes: compare it only between cells of equal size.")
        if self.lpips is not None:
            lines.append(f"LPIPS (v0.1, {self.lpips.net}) is the mean over a cell's (original, composited fill) pairs.")
        for metric, why in self.missing.items():
            lines.append(f"{metric}: not computed: {why}.")
        return lines


def perceptual_scorer(fid_weights: str | os.PathLike[str] | None = None,
                      lpips_weights: str | os.PathLike[str] | None = None,
                      lpips_trunk: str | os.PathLike[str] | None = None, *, device: str = "cpu",
                      environ: Mapping[str, str] | None = None) -> PerceptualScorer:
    """A scorer with the backbones whose files are given or named in the environment.

    A file that is named but does not fit is an error (a typo should not silently drop a column).
    """
    env = os.environ if environ is None else environ
    scorer = PerceptualScorer(device=device)
    fid_path = fid_weights or env.get(FID_ENV)
    if fid_path:
        from holefill.layers.inception import load_fid_inception

        scorer.inception = load_fid_inception(fid_path)
    else:
        scorer.missing["FID, KID"] = f"no Inception weights (give --fid-weights FILE or set {FID_ENV})"
    lpips_path = lpips_weights or env.get(LPIPS_ENV)
    if lpips_path:
        from holefill.metrics.lpips import load_lpips

        trunk = lpips_trunk or env.get(LPIPS_TRUNK_ENV)
        scorer.lpips = load_lpips(lpips_path, trunk)
    else:
        scorer.missing["LPIPS"] = f"no LPIPS weights (give --lpips-weights FILE, and --lpips-trunk FILE, or set {LPIPS_ENV})"
    return scorer
