"""Segmentation scores for layout-driven outpainting (CTO-GAN, Li et al., CVPR 2022).

- :func:`segmentation_scores`: mean IoU and pixel accuracy of a label map against the truth
  (a confusion matrix; classes that appear in neither are left out of the mean; 255 is
  ignored). The paper runs a segmenter on the generated images; here the segmenter is any
  TorchScript file the user names (:func:`load_torchscript`: N3HW in [0, 1] -> NKHW logits),
  never a download. The same scores also judge the semantic reasoning stage's own layout,
  which needs no outside weights.

The paper's other metrics, FID and LPIPS, are :mod:`holefill.metrics.fid` and
:mod:`holefill.metrics.lpips` (weights from files the user names, too).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch

from holefill.errors import InputNotFoundError, InvalidArgumentError, WeightsError

__all__ = ["load_torchscript", "segmentation_scores"]

IGNORE = 255


def segmentation_scores(pred: np.ndarray, truth: np.ndarray, classes: int) -> dict[str, float]:
    """``{"miou", "accuracy"}`` of ``pred`` against ``truth`` (same-shape integer label maps)."""
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape:
        raise InvalidArgumentError(f"label maps differ in shape: {pred.shape} and {truth.shape}")
    keep = truth != IGNORE
    p, t = pred[keep].astype(np.int64), truth[keep].astype(np.int64)
    if t.size == 0:
        raise InvalidArgumentError("the truth has no labelled pixel")
    if p.min(initial=0) < 0 or p.max(initial=0) >= classes or t.max(initial=0) >= classes:
        raise InvalidArgumentError(f"labels must lie in 0..{classes - 1}")
    confusion = np.bincount(t * classes + p, minlength=classes * classes).reshape(classes, classes)
    inter = np.diag(confusion).astype(np.float64)
    union = confusion.sum(0) + confusion.sum(1) - inter
    present = union > 0
    return {"miou": float((inter[present] / union[present]).mean()), "accuracy": float(inter.sum() / t.size)}


def load_torchscript(path: str | os.PathLike[str] | None, what: str) -> torch.jit.ScriptModule:
    """A TorchScript module from a file the user names (``what`` says what it is for)."""
    if path is None:
        raise InputNotFoundError(f"no {what} file was given")
    p = Path(path)
    if not p.is_file():
        raise InputNotFoundError(f"no such {what} file", p)
    try:
        with warnings.catch_warnings():  # TorchScript is deprecated in favour of torch.export, but it is the format
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(p), map_location="cpu").eval()
    except Exception as exc:  # noqa: BLE001 (torch raises many kinds)
        raise WeightsError(f"cannot be loaded as a TorchScript {what} ({type(exc).__name__})", p) from None
