"""Quality metrics for hole filling and the bucketed evaluator.

Pure functions on uint8 images and bool masks (True = hole) live in
:mod:`holefill.metrics.functional` and are re-exported here; :class:`Evaluator` collects
per-image scores and writes per-(method, bucket) tables that state the protocol.
"""

from holefill.metrics.evaluator import PROTOCOL, RECORD_FIELDS, Evaluator, Record
from holefill.metrics.functional import (
    MS_SSIM_MIN_SIZE,
    MS_SSIM_WEIGHTS,
    SCORE_KEYS,
    colour_outside,
    hole_tv_ratio,
    l1,
    l2,
    mask_bce,
    mask_scores,
    ms_ssim,
    psnr,
    relative_l1,
    relative_l2,
    relative_tv,
    score,
    seam_step,
    ssim,
    ssim_map,
    total_variation,
)

__all__ = [
    "MS_SSIM_MIN_SIZE",
    "MS_SSIM_WEIGHTS",
    "PROTOCOL",
    "RECORD_FIELDS",
    "SCORE_KEYS",
    "Evaluator",
    "Record",
    "colour_outside",
    "hole_tv_ratio",
    "l1",
    "l2",
    "mask_bce",
    "mask_scores",
    "ms_ssim",
    "psnr",
    "relative_l1",
    "relative_l2",
    "relative_tv",
    "score",
    "seam_step",
    "ssim",
    "ssim_map",
    "total_variation",
]
