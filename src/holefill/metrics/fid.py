"""FID and KID: distances between the Inception features of two sets of images.

- FID (Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
  Equilibrium", NeurIPS 2017): fit a Gaussian to each set's 2048-d pool3 features and take the
  Frechet distance ``|mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))``, with the matrix square root
  by ``scipy.linalg.sqrtm`` and the same safeguards as the PyTorch FID port's
  ``calculate_frechet_distance`` (an ``eps`` offset on the diagonals when the product is
  singular, the real part when rounding leaves a tiny imaginary one).
- KID (Binkowski et al., "Demystifying MMD GANs", ICLR 2018): the unbiased estimate of the
  squared MMD with the polynomial kernel ``k(x, y) = (x.y / d + 1)^3``, averaged over random
  subsets (100 subsets of 1000 by default, the usual setting; smaller sets use subsets of their
  size), reported as mean and standard deviation. Unbiased: it can be negative, and its
  expectation for two samples of one distribution is 0.

Features come from :class:`holefill.layers.inception.FIDInceptionV3` with the port's weight
file (``pt_inception-2015-12-05-6726825d.pth``), which holefill never downloads:
:func:`inception_features` takes its path, or ``HOLEFILL_FID_WEIGHTS``.

FID is biased for small sets (its reference values use 10,000 or more images; with fewer
images than 2048 feature dimensions the covariances are singular): compare FIDs only at equal
set sizes. KID is the better choice for the few hundred images of a benchmark.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import linalg

from holefill.errors import InvalidArgumentError

__all__ = ["FID_ENV", "KIDResult", "feature_stats", "fid_from_features", "frechet_distance", "inception_features",
           "kid_from_features", "polynomial_mmd_unbiased"]

#: The environment variable naming the FID weights file when no path is given.
FID_ENV = "HOLEFILL_FID_WEIGHTS"
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000


def _features(f: np.ndarray, name: str) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2 or not np.isfinite(f).all():
        raise InvalidArgumentError(f"{name}: need an N x D array of finite features with N >= 2, got shape {f.shape}")
    return f


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (rows are samples, unbiased N-1 normalisation) of ``features``."""
    f = _features(features, "features")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
    """``scipy.linalg.sqrtm`` without its warnings (singular products are handled by the caller)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = linalg.sqrtm(matrix)
    return root[0] if isinstance(root, tuple) else root


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """The Frechet distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise InvalidArgumentError(f"means {mu1.shape}, {mu2.shape} and covariances {sigma1.shape}, "
                                   f"{sigma2.shape} do not fit together")
    diff = mu1 - mu2
    covmean = _sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = _sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"imaginary component {np.max(np.abs(covmean.imag))} in the matrix square root")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid_from_features(real: np.ndarray, fake: np.ndarray) -> float:
    """FID between two feature sets (N x D each)."""
    mu1, s1 = feature_stats(real)
    mu2, s2 = feature_stats(fake)
    return frechet_distance(mu1, s1, mu2, s2)


def polynomial_mmd_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased MMD^2 estimate between samples ``x`` and ``y`` (m x d each) with the cubic
    polynomial kernel ``(a.b / d + 1)^3``: within-set sums leave out the diagonal."""
    x, y = _features(x, "x"), _features(y, "y")
    if x.shape != y.shape:
        raise InvalidArgumentError(f"x and y need the same shape, got {x.shape} and {y.shape}")
    m, d = x.shape
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within - 2 * kxy.sum() / (m * m))


@dataclass(frozen=True)
class KIDResult:
    mean: float
    std: float
    subsets: int
    subset_size: int


def kid_from_features(real: np.ndarray, fake: np.ndarray, *, subsets: int = KID_SUBSETS,
                      subset_size: int = KID_SUBSET_SIZE, seed: int = 0) -> KIDResult:
    """KID: the unbiased polynomial MMD^2 over ``subsets`` random subsets (without replacement)."""
    real, fake = _features(real, "real"), _features(fake, "fake")
    if real.shape[1] != fake.shape[1]:
        raise InvalidArgumentError(f"feature sizes differ: {real.shape[1]} and {fake.shape[1]}")
    if subsets < 1 or subset_size < 2:
        raise InvalidArgumentError(f"KID needs subsets >= 1 and subset_size >= 2, got {subsets} and {subset_size}")
    m = min(subset_size, real.shape[0], fake.shape[0])
    rng = np.random.default_rng(seed)
    values = np.array([polynomial_mmd_unbiased(real[rng.choice(real.shape[0], m, replace=False)],
                                               fake[rng.choice(fake.shape[0], m, replace=False)])
                       for _ in range(subsets)])
    return KIDResult(float(values.mean()), float(values.std()), subsets, m)


def inception_features(images: Sequence[np.ndarray], weights: str | os.PathLike[str] | None = None, *,
                       batch_size: int = 16, device: str = "cpu", model: object | None = None) -> np.ndarray:
    """The N x 2048 pool3 features of HxWx3 uint8 RGB ``images`` (each may have its own size).

    ``weights`` is the FID port's weight file (default: ``$HOLEFILL_FID_WEIGHTS``); ``model`` a
    loaded :class:`~holefill.layers.inception.FIDInceptionV3` to reuse instead.
    """
    import torch

    from holefill.errors import WeightsError
    from holefill.layers.inception import FID_WEIGHTS_NAME, FIDInceptionV3, load_fid_inception

    if model is None:
        path = weights or os.environ.get(FID_ENV)
        if not path:
            raise WeightsError(f"FID and KID need the Inception weights ({FID_WEIGHTS_NAME}); give their path "
                               f"(--fid-weights) or set {FID_ENV}")
        model = load_fid_inception(path)
    assert isinstance(model, FIDInceptionV3)
    net = model.to(device)
    for img in images:
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise InvalidArgumentError(f"images must be HxWx3 uint8 arrays, got {getattr(img, 'dtype', type(img))} "
                                       f"{getattr(img, 'shape', '')}")
    out = []
    start = 0
    with torch.inference_mode():
        while start < len(images):  # runs of equal-sized images, in order, at most batch_size long
            end = start + 1
            while end < len(images) and end - start < batch_size and images[end].shape == images[start].shape:
                end += 1
            batch = torch.from_numpy(np.stack(images[start:end])).permute(0, 3, 1, 2).float().div(255).to(device)
            out.append(net(batch).double().cpu().numpy())
            start = end
    if not out:
        raise InvalidArgumentError("no images to compute features of")
    return np.concatenate(out)
