"""The metrics of layout-driven outpainting (CTO-GAN, Li et al., CVPR 2022): segmentation
scores of the result, FID and LPIPS diversity.

- :func:`segmentation_scores`: mean IoU and pixel accuracy of a label map against the truth
  (confusion matrix; classes that appear in neither are left out of the mean; 255 is ignored).
  The paper runs a segmenter on the generated images; here the segmenter is any TorchScript
  file the user names (N3HW in [0, 1] -> NKHW logits), and the same scores also judge the
  semantic reasoning stage's own layout, which needs no outside weights.
- :func:`frechet_distance`: FID between two sets of features (Heusel et al., 2017); the
  features come from a TorchScript backbone the user names (e.g. an Inception-v3 pool3
  export), never from a download.
- :class:`LPIPS`: the learned perceptual distance (Zhang et al., CVPR 2018) on VGG-16
  features (relu1_2 ... relu5_3, unit-normalised per channel, squared differences weighted by
  the 1x1 "lin" layers, averaged over space, summed), from a torchvision VGG-16 file and the
  LPIPS package's ``vgg.pth`` lin weights (keys ``lin0.model.1.weight`` ...). The paper's
  diversity score is the mean LPIPS between samples of one input.

Without the files these are skipped by the callers with a message saying which file is missing.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch

from holefill.errors import InputNotFoundError, InvalidArgumentError, WeightsError

__all__ = ["LPIPS", "frechet_distance", "load_torchscript", "segmentation_scores"]

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


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """FID between feature sets ``a`` (N x D) and ``b`` (M x D): ``|mu_a - mu_b|^2 + tr(Sa + Sb - 2 (Sa Sb)^1/2)``."""
    from scipy import linalg

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise InvalidArgumentError(f"FID needs two N x D feature sets (N >= 2), got {a.shape} and {b.shape}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b)
    if isinstance(root, tuple):  # older SciPy returns (root, error estimate) with disp=False only
        root = root[0]
    if np.iscomplexobj(root):
        root = root.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2.0 * root))


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


class LPIPS(torch.nn.Module):
    """LPIPS on VGG-16 (see the module docstring); inputs N3HW in [-1, 1]."""

    TAPS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
    CHANNELS = (64, 128, 256, 512, 512)

    def __init__(self, vgg16_weights: str | os.PathLike[str], lin_weights: str | os.PathLike[str]) -> None:
        from holefill.layers.vgg import load_vgg, read_state_dict

        super().__init__()
        self.vgg = load_vgg(vgg16_weights, "vgg16")
        state = read_state_dict(lin_weights)
        self.lins = []
        for i, c in enumerate(self.CHANNELS):
            key = f"lin{i}.model.1.weight"
            if key not in state or tuple(state[key].shape) != (1, c, 1, 1):
                raise WeightsError(f"is not LPIPS's vgg lin file (no {key} of shape (1, {c}, 1, 1))", lin_weights)
            self.lins.append(state[key].float())

    @torch.no_grad()
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        fx, fy = self.vgg(x, self.TAPS), self.vgg(y, self.TAPS)
        total = x.new_zeros(x.shape[0])
        for name, lin in zip(self.TAPS, self.lins):
            a = fx[name] / (fx[name].square().sum(1, keepdim=True).sqrt() + 1e-10)
            b = fy[name] / (fy[name].square().sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + ((a - b).square() * lin.to(a)).sum(1).mean((1, 2))
        return total
