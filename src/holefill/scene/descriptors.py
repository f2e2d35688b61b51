"""Scene descriptors for nearest-neighbour scene completion (Hays and Efros, SIGGRAPH 2007).

Hays and Efros find semantically similar scenes with the *gist* descriptor of Oliva and
Torralba (IJCV 2001): oriented band-pass energies at several scales, averaged over a coarse
spatial grid, computed with the query's hole masked, plus a small colour layout of the
image. Ours, in NumPy:

- gist: the grey image resized to 128 x 128 (aspect ignored, as gist does), prefiltered
  (log intensity, high-pass, local contrast normalisation), filtered by a bank of 4 scales x
  6 orientations of frequency-domain Gabor filters, and the response magnitudes averaged
  over a 4 x 4 grid: 384 numbers, L2-normalised per image;
- colour layout: the image in CIE L*a*b* averaged over the same 4 x 4 grid (48 numbers, /100);
- for a query, the hole is filled with the mean known colour before filtering, and each
  grid cell gets a weight: the share of its pixels that are known and far enough from the
  hole that the filters did not see it (colour: the share of known pixels). The distance of
  a database scene is the weighted sum of squared differences, so cells the hole covers do
  not count (Hays and Efros weight the descriptor by the hole mask the same way).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

GIST_SIZE = 128
GRID = 4
SCALES = (0.25, 0.125, 0.0625, 0.03125)  # centre frequencies, cycles per pixel at GIST_SIZE
ORIENTATIONS = 6
GIST_DIMS = GRID * GRID * len(SCALES) * ORIENTATIONS
COLOUR_DIMS = GRID * GRID * 3
DIMS = GIST_DIMS + COLOUR_DIMS
#: Changes whenever the descriptor changes, so that a cached index is rebuilt.
DESCRIPTOR_VERSION = "gist128-s4o6-g4+lab4-v1"


@dataclass(frozen=True)
class Descriptor:
    """A scene descriptor and the weight of each of its numbers (all 1 for a whole image)."""

    vector: np.ndarray  # (DIMS,) float32
    weights: np.ndarray  # (DIMS,) float32


@lru_cache(maxsize=1)
def _bank() -> np.ndarray:
    """(filters, GIST_SIZE, GIST_SIZE) frequency responses of the Gabor bank."""
    n = GIST_SIZE
    fy = np.fft.fftfreq(n)[:, None]
    fx = np.fft.fftfreq(n)[None, :]
    radius = np.sqrt(fx ** 2 + fy ** 2)
    angle = np.arctan2(fy, fx)
    filters = []
    for f0 in SCALES:
        for k in range(ORIENTATIONS):
            theta = np.pi * k / ORIENTATIONS
            # angular distance modulo pi (a filter and its mirror respond alike)
            d = np.angle(np.exp(1j * 2 * (angle - theta))) / 2
            radial = np.exp(-((np.log(np.maximum(radius, 1e-9) / f0)) ** 2) / (2 * 0.55 ** 2))
            angular = np.exp(-(d ** 2) / (2 * (np.pi / ORIENTATIONS / 1.5) ** 2))
            filters.append(radial * angular)
    bank = np.stack(filters).astype(np.float32)
    bank[:, 0, 0] = 0
    return bank


def _prefilter(grey: np.ndarray) -> np.ndarray:
    """Log intensity, high-pass and local contrast normalisation (as gist implementations do)."""
    x = np.log1p(grey.astype(np.float32))
    x = x - cv2.GaussianBlur(x, (0, 0), 4.0)
    contrast = np.sqrt(cv2.GaussianBlur(x * x, (0, 0), 4.0)) + 0.2
    return x / contrast


def _cells(values: np.ndarray) -> np.ndarray:
    """Mean of (..., H, W) over a GRID x GRID grid: (..., GRID, GRID)."""
    h, w = values.shape[-2:]
    return values.reshape(*values.shape[:-2], GRID, h // GRID, GRID, w // GRID).mean(axis=(-3, -1))


def describe(image: np.ndarray, hole: np.ndarray | None = None) -> Descriptor:
    """The descriptor of an HxWx3 uint8 RGB image; ``hole`` (HxW bool) marks pixels to ignore."""
    n = GIST_SIZE
    small = cv2.resize(image, (n, n), interpolation=cv2.INTER_AREA)
    if hole is None:
        known = np.ones((n, n), np.float32)
    else:
        known = cv2.resize((~hole).astype(np.float32), (n, n), interpolation=cv2.INTER_AREA)
    solid = known > 0.999
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    lab = cv2.cvtColor(small.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    if not solid.all():
        fill = grey[solid].mean() if solid.any() else 128.0
        grey = np.where(solid, grey, fill)
    response = np.abs(np.fft.ifft2(np.fft.fft2(_prefilter(grey))[None] * _bank()))
    gist = _cells(response).reshape(-1)  # (filters * GRID * GRID,) ordered filter-major
    gist = gist / (np.linalg.norm(gist) + 1e-6)
    lab_known = lab * known[..., None]
    colour_sum = _cells(np.moveaxis(lab_known, -1, 0))
    known_cells = _cells(known)
    colour = (colour_sum / np.maximum(known_cells, 1e-6)).reshape(-1) / 100.0
    vector = np.concatenate([gist, colour]).astype(np.float32)
    if hole is None:
        return Descriptor(vector, np.ones(DIMS, np.float32))
    # gist cells count only where the filters (support about 8 px here) saw known pixels
    far = cv2.erode(solid.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(np.float32)
    gist_w = np.tile(_cells(far).reshape(-1), len(SCALES) * ORIENTATIONS)
    colour_w = np.repeat(known_cells.reshape(1, -1), 3, axis=0).reshape(-1)
    return Descriptor(vector, np.concatenate([gist_w, colour_w]).astype(np.float32))


def weighted_distances(database: np.ndarray, query: Descriptor, colour_weight: float = 1.0,
                       chunk: int = 16384) -> np.ndarray:
    """Weighted squared distances of every row of ``database`` (N x DIMS float32) to ``query``.

    ``d_i = sum_k w_k (x_ik - q_k)^2``, computed as ``sum w q^2 - 2 X (w q) + X^2 w`` in chunks
    (matrix-vector products, no N x DIMS temporary larger than a chunk)."""
    w = query.weights.astype(np.float32).copy()
    w[GIST_DIMS:] *= np.float32(colour_weight)
    q = query.vector.astype(np.float32)
    wq = w * q
    const = float(np.dot(wq, q))
    out = np.empty(len(database), np.float32)
    for start in range(0, len(database), chunk):
        block = database[start:start + chunk]
        out[start:start + chunk] = const - 2.0 * (block @ wq) + (block * block) @ w
    return np.maximum(out, 0.0)


__all__ = ["DESCRIPTOR_VERSION", "DIMS", "Descriptor", "describe", "weighted_distances"]
