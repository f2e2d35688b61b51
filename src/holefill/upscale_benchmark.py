"""The upscaling benchmark protocol: shrink a photo by bicubic interpolation, enlarge it back, score.

Stated in every report (:data:`UPSCALE_PROTOCOL`):

- each reference photo is cropped (at its bottom and right) to a multiple of the scale's
  numerator (2.5 = 5/2: multiples of 5), so the low-resolution size ``H q / p`` is whole and
  the enlargement lands exactly on the reference's grid ("modcrop", as SR papers do);
- the low-resolution image is the crop shrunk by Pillow's bicubic filter (Keys, a = -0.5,
  widened by the scale: the filter of MATLAB's ``imresize``, which SR papers use), 8 bits;
- each method enlarges it by the scale to the crop's size, and is scored against the crop:
  PSNR and SSIM of the luma (BT.601 Y) and of RGB, a ``ceil(scale)``-pixel border left out,
  and the texture ratio (the output's total variation over the reference's);
- the default scales are x2, x2.5, x3 and x4; the default photos are the corpus's test split.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from PIL import Image

from holefill.errors import InvalidArgumentError
from holefill.metrics.upscale import UPSCALE_KEYS, upscale_scores

DEFAULT_SCALES = (2.0, 2.5, 3.0, 4.0)
UPSCALE_PROTOCOL = ("reference cropped to a multiple of the scale's numerator; low resolution = Pillow bicubic "
                    "shrink (a = -0.5, antialiased, as MATLAB imresize), 8 bits; PSNR/SSIM on BT.601 luma and "
                    "on RGB, ceil(scale) px border shaved; tv_ratio = TV(output) / TV(reference)")


def degrade(reference: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """(the cropped reference, its low-resolution version) for ``scale`` (a fraction p/q, p <= 100)."""
    frac = Fraction(scale).limit_denominator(100)
    if abs(float(frac) - scale) > 1e-9 or frac <= 1:
        raise InvalidArgumentError(f"benchmark scales are fractions above 1 with a small numerator, got {scale!r}")
    p, q = frac.numerator, frac.denominator
    h, w = reference.shape[:2]
    hh, ww = h - h % p, w - w % p
    if hh < p * 4 or ww < p * 4:
        raise InvalidArgumentError(f"a {w}x{h} photo is too small for scale {scale:g}")
    crop = np.ascontiguousarray(reference[:hh, :ww])
    small = Image.fromarray(crop).resize((ww * q // p, hh * q // p), resample=Image.Resampling.BICUBIC)
    return crop, np.asarray(small)


@dataclass
class UpscaleRecord:
    """The scores of one method on one photo at one scale."""

    method: str
    image: str
    scale: float
    seconds: float
    scores: dict[str, float] = field(default_factory=dict)


def run_upscale_benchmark(methods: Mapping[str, Callable[[np.ndarray, float], np.ndarray]],
                          photos: Sequence[tuple[str, np.ndarray]], scales: Sequence[float] = DEFAULT_SCALES,
                          on_output: Callable[[str, str, float, np.ndarray, np.ndarray], None] | None = None,
                          ) -> list[UpscaleRecord]:
    """Score every method on every photo at every scale; ``on_output(method, image, scale, reference,
    output)`` sees each result (to save pictures)."""
    records = []
    for scale in scales:
        for name, photo in photos:
            reference, low = degrade(photo, scale)
            for method, upscale in methods.items():
                start = time.perf_counter()
                out = upscale(low, scale)
                seconds = time.perf_counter() - start
                if out.shape != reference.shape:
                    raise ValueError(f"{method} gave {out.shape} for {name} at x{scale:g}, expected {reference.shape}")
                records.append(UpscaleRecord(method, name, scale, seconds,
                                             upscale_scores(reference, out, shave=math.ceil(scale))))
                if on_output is not None:
                    on_output(method, name, scale, reference, out)
    return records


def summarise(records: Sequence[UpscaleRecord]) -> dict[tuple[str, float], dict[str, float]]:
    """Means over the photos per (method, scale): every score and the seconds per photo."""
    groups: dict[tuple[str, float], list[UpscaleRecord]] = {}
    for r in records:
        groups.setdefault((r.method, r.scale), []).append(r)
    return {key: {**{k: statistics.fmean(r.scores[k] for r in rs) for k in UPSCALE_KEYS},
                  "seconds": statistics.fmean(r.seconds for r in rs), "images": float(len(rs))}
            for key, rs in groups.items()}


def margins(summary: Mapping[tuple[str, float], Mapping[str, float]], method: str, references: Sequence[str],
            keys: Sequence[str] = ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb")) -> dict[float, dict[str, float]]:
    """Per scale: ``method``'s lead over the best of ``references`` on each key (> 0: it beats them all)."""
    out: dict[float, dict[str, float]] = {}
    for (m, scale), values in summary.items():
        if m != method:
            continue
        out[scale] = {k: values[k] - max(summary[(ref, scale)][k] for ref in references) for k in keys}
    return dict(sorted(out.items()))
