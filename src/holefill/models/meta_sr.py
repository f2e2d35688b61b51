"""Meta-SR: super-resolution by any factor with a Meta-Upscale module (Meta-RDN).

Paper: Xuecai Hu, Haoyuan Mu, Xiangyu Zhang, Zilei Wang, Tieniu Tan, Jian Sun, "Meta-SR: A
Magnification-Arbitrary Network for Super-Resolution", CVPR 2019 (arXiv:1903.00875).
Official code: https://github.com/XuecaiHu/Meta-SR-Pytorch (no licence; read, not copied):
``model/metardn.py`` (the network), ``trainer.py`` (``input_matrix_wpn``: the positions the
weight-prediction network sees), ``option.py`` (widths, scales, optimiser).

The network (:class:`MetaRDN`):

- Feature learning: the Residual Dense Network of Zhang et al. (CVPR 2018) without its
  upsampler. Two 3x3 convolutions of ``g0`` channels (shallow features ``F_-1``, ``F_0``),
  ``blocks`` residual dense blocks (each ``layers`` 3x3 conv + ReLU layers of ``growth``
  channels, densely concatenated, a 1x1 local fusion back to ``g0`` and a local residual),
  global feature fusion (1x1 over the concatenated block outputs, then 3x3) and the global
  residual ``+ F_-1``. The paper's and the code's configuration is RDN's "B": ``g0 = 64``,
  ``blocks = 16``, ``layers = 8``, ``growth = 64`` (``option.py``: ``--G0 64``,
  ``--RDNconfig B``; ``metardn.py``: ``'B': (16, 8, 64)``).
- Meta-Upscale: output pixel ``(i, j)`` is projected to LR pixel ``(floor(i/r), floor(j/r))``
  (location projection); the weight-prediction network Pos2Weight, ``Linear(3, 256)``, ReLU,
  ``Linear(256, 3*3*g0*3)``, maps the pixel's position vector to a 3x3 kernel from ``g0``
  feature channels to 3 colours, which is applied to the 3x3 neighbourhood of the projected
  LR pixel (no bias). The position vector is ``(1/r, i/r - floor(i/r), j/r - floor(j/r))``:
  the paper writes the same three numbers in the order (offsets, 1/r); the code's order is
  kept here, so its trained Pos2Weight would read the same inputs.
- The output for an ``h x w`` input at scale ``r`` is ``floor(r h) x floor(r w)`` (the code's
  ``int(scale * inH)``).

Parameters: 22,419,072 for the paper configuration. The official module has 24 more, the
two ``MeanShift`` 1x1 convolutions: ``common.MeanShift`` sets ``self.requires_grad = False``
on the module, which freezes nothing, so they count as parameters (and are trained) there.
Here the mean shift is a constant. Derived from the layer list of ``metardn.py`` and checked
in ``tests/test_meta_sr.py``.

Deviations, and why:

- Images are RGB in [-1, 1] as everywhere in holefill (the code works on 0..255); the mean
  shift subtracts DIV2K's mean colour (0.4488, 0.4371, 0.4040), mapped to [-1, 1], and adds
  it back.
- The code computes all ``ceil(r)^2`` sub-pixel outputs of every LR pixel and then drops the
  invalid ones with a mask; here only the ``floor(r h) x floor(r w)`` valid outputs are
  computed: the projection and the kernels are the same. The kernels are predicted once per
  distinct position vector (a scale with one decimal has at most 10 x 10 per image; the code
  predicts one per output pixel) and the output is computed in chunks of rows, so memory
  stays bounded on large images.
- ``residual = "bicubic"`` (not in the paper; off in the paper configuration) adds the
  bicubic enlargement of the input to the output, so the network learns a correction to
  bicubic (a global residual, as VDSR does). The small variant trained on a CPU here uses it:
  with a few thousand steps it starts from bicubic instead of from zero. The last layer of
  Pos2Weight then starts at zero, so the untrained network gives bicubic exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from holefill.errors import ConfigError
from holefill.io import check_scale, upscaled_size
from holefill.models.base import UpscaleModel
from holefill.models.registry import build_config, register_model

#: DIV2K's mean colour, which the official code subtracts (``rgb_mean`` in metardn.py).
DIV2K_MEAN = (0.4488, 0.4371, 0.4040)
RESIDUALS = ("none", "bicubic")
#: Output positions per chunk of the Meta-Upscale (bounds its memory at inference).
CHUNK_POSITIONS = 16384


@dataclass
class MetaRDNConfig:
    """Widths of the RDN feature extractor and the Meta-Upscale module (paper: RDN config B)."""

    #: Channels of the shallow features and of every block's output (RDN's G0).
    g0: int = 64
    #: Residual dense blocks (RDN's D).
    blocks: int = 16
    #: Conv layers per block (RDN's C).
    layers: int = 8
    #: Growth rate: channels each layer adds (RDN's G).
    growth: int = 64
    #: Kernel size of the feature extractor's convolutions (RDN's kSize).
    kernel_size: int = 3
    #: Hidden units of the weight-prediction network Pos2Weight.
    hidden: int = 256
    #: "none" (paper) or "bicubic": add the bicubic enlargement of the input to the output.
    residual: str = "none"
    #: The largest factor the model accepts (the paper trains 1.1 ... 4.0).
    max_scale: float = 4.0

    def __post_init__(self) -> None:
        for key in ("g0", "blocks", "layers", "growth", "hidden"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise ConfigError(f"meta_rdn: {key} must be a positive integer, got {getattr(self, key)!r}")
        if self.kernel_size not in (1, 3, 5, 7):
            raise ConfigError(f"meta_rdn: kernel_size must be 1, 3, 5 or 7, got {self.kernel_size!r}")
        if self.residual not in RESIDUALS:
            raise ConfigError(f"meta_rdn: residual must be one of {', '.join(RESIDUALS)}, got {self.residual!r}")
        if not (isinstance(self.max_scale, (int, float)) and 1.0 < self.max_scale <= 16.0):
            raise ConfigError(f"meta_rdn: max_scale must lie in (1, 16], got {self.max_scale!r}")


class DenseLayer(nn.Module):
    """conv + ReLU whose output is concatenated to its input (RDN's RDB_Conv)."""

    def __init__(self, in_channels: int, growth: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, growth, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, F.relu(self.conv(x))], dim=1)


class ResidualDenseBlock(nn.Module):
    """``layers`` dense layers, a 1x1 local feature fusion back to ``g0``, and a local residual."""

    def __init__(self, g0: int, growth: int, layers: int, kernel_size: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(*[DenseLayer(g0 + i * growth, growth, kernel_size) for i in range(layers)])
        self.fuse = nn.Conv2d(g0 + layers * growth, g0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(self.layers(x)) + x


class Pos2Weight(nn.Module):
    """The weight-prediction network: a position vector -> a ``k x k`` kernel from ``in_channels`` to 3."""

    def __init__(self, in_channels: int, hidden: int = 256, kernel_size: int = 3, out_channels: int = 3) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.mlp = nn.Sequential(nn.Linear(3, hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, kernel_size * kernel_size * in_channels * out_channels))

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        """P x 3 position vectors -> P x (in_channels k k) x out_channels kernels (unfold order)."""
        return self.mlp(positions).view(positions.shape[0], -1, self.out_channels)


def projection(size: int, scale: float, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """For output indices 0..size-1: the LR index ``floor(i / r)`` and the offset ``i/r - floor(i/r)``.

    Computed in float64 and the offset rounded to 1e-6, so positions that repeat with the
    scale's period are recognised as the same (their kernels are predicted once).
    """
    coord = torch.arange(size, dtype=torch.float64, device=device) / scale
    index = torch.floor(coord + 1e-9)
    offset = torch.round((coord - index) * 1e6) / 1e6
    return index.long(), offset.clamp_min(0.0)


def as_fraction(scale: float, max_period: int) -> Fraction | None:
    """``scale`` as p/q with p <= ``max_period`` when it is one (2.5 = 5/2), else None."""
    frac = Fraction(scale).limit_denominator(max_period)
    if frac.numerator <= max_period and abs(float(frac) - scale) < 1e-9:
        return frac
    return None


def _classes(first: int, count: int, p: int, q: int, start: int) -> list[tuple[int, int, float]]:
    """The position classes of ``count`` output indices from ``first`` at scale p/q.

    Output index ``first + k + p t`` (t = 0, 1, ...) of class k projects to LR index
    ``floor((first + k) q / p) + q t`` and has the offset ``((first + k) q mod p) / p``.
    Returns (k, LR index relative to ``start``, offset) for k < min(p, count).
    """
    return [(k, ((first + k) * q) // p - start, (((first + k) * q) % p) / p) for k in range(min(p, count))]


def _groups(classes: list[tuple[int, int, float]]) -> list[tuple[list[int], int]]:
    """Runs of consecutive classes that project to the same first LR index (they share a window)."""
    groups: list[tuple[list[int], int]] = []
    for k, lr, _ in classes:
        if groups and groups[-1][1] == lr:
            groups[-1][0].append(k)
        else:
            groups.append(([k], lr))
    return groups


class MetaUpscale(nn.Module):
    """Location projection + weight prediction + feature mapping (Section 3 of the paper).

    Two ways to compute the same numbers:

    - a scale ``r = p/q`` with a short period ``p`` (every scale with one decimal has
      ``p <= 40``): output rows ``i = a (mod p)`` all have the offset ``(a q mod p) / p`` and
      project to every ``q``-th LR row, so each of the ``p x p`` position classes is one
      strided 3x3 convolution of the features with its predicted kernel;
    - any other scale: the kernel of every output pixel is gathered and applied to its
      projected 3x3 neighbourhood, in chunks of rows.
    """

    #: Scales whose period is at most this take the convolution path.
    MAX_PERIOD = 48

    def __init__(self, in_channels: int, hidden: int = 256) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.pos2weight = Pos2Weight(in_channels, hidden)

    def forward(self, features: torch.Tensor, scale: float, rows: tuple[int, int], cols: tuple[int, int],
                origin: tuple[int, int] = (0, 0)) -> torch.Tensor:
        """The output pixels ``rows[0] <= i < rows[1]``, ``cols[0] <= j < cols[1]`` (global indices).

        ``features`` (N x C x h x w) cover the LR pixels from ``origin`` on; every projected
        pixel must lie inside them (its 3x3 neighbourhood is zero-padded outside, as the
        official code's ``unfold(..., padding=1)`` does at the image's border).
        """
        h, w = features.shape[-2:]
        for (lo, hi), start, side in ((rows, origin[0], h), (cols, origin[1], w)):
            if hi > lo and (math.floor(lo / scale + 1e-9) < start or math.floor((hi - 1) / scale + 1e-9) >= start + side):
                raise ValueError("meta-upscale: the output region projects outside the given features")
        frac = as_fraction(scale, self.MAX_PERIOD)
        if frac is not None:
            return self._by_classes(features, frac, rows, cols, origin)
        return self._by_pixels(features, scale, rows, cols, origin)

    def _kernels(self, scale: float, dy: torch.Tensor, dx: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """Kernels for every (dy, dx) pair: (len(dy) len(dx)) x (C 9) x 3."""
        grid = torch.stack(torch.broadcast_tensors(torch.full_like(dy[:, None], 1.0 / scale).expand(-1, len(dx)),
                                                   dy[:, None].expand(-1, len(dx)), dx[None, :].expand(len(dy), -1)),
                           dim=-1)
        return self.pos2weight(grid.reshape(-1, 3).to(dtype))

    def _by_classes(self, features: torch.Tensor, frac: Fraction, rows: tuple[int, int], cols: tuple[int, int],
                    origin: tuple[int, int]) -> torch.Tensor:
        p, q = frac.numerator, frac.denominator
        scale = p / q
        n, c, h, w = features.shape
        out_h, out_w = rows[1] - rows[0], cols[1] - cols[0]
        if out_h <= 0 or out_w <= 0:
            return features.new_zeros(n, 3, max(0, out_h), max(0, out_w))
        row_classes = _classes(rows[0], out_h, p, q, origin[0])
        col_classes = _classes(cols[0], out_w, p, q, origin[1])
        offsets_y = torch.tensor([dy for _, _, dy in row_classes], dtype=torch.float64, device=features.device)
        offsets_x = torch.tensor([dx for _, _, dx in col_classes], dtype=torch.float64, device=features.device)
        kernels = self._kernels(scale, offsets_y, offsets_x, features.dtype)  # (ky kx) x K x 3
        kernels = kernels.view(len(row_classes), len(col_classes), c * 9, 3)
        t_all, s_all = -(-out_h // len(row_classes)), -(-out_w // len(col_classes))
        # The 3x3 neighbourhood of every LR pixel (zero outside), split into the q x q sub-lattices
        # of every q-th row and column: the LR pixels one position class uses are one of them.
        hq, wq = -(-h // q), -(-w // q)
        taps = F.unfold(features, 3, padding=1).view(n, c * 9, h, w)
        taps = F.pad(taps, (0, wq * q - w, 0, hq * q - h))
        lattices = taps.view(n, c * 9, hq, q, wq, q).permute(3, 5, 0, 2, 4, 1).reshape(q * q, n, hq, wq, c * 9)
        lattices = lattices.unbind(0)
        band_rows = []
        for ks, ly in _groups(row_classes):
            band = []
            for ls, lx in _groups(col_classes):
                t, s_ = max(len(range(k, out_h, p)) for k in ks), max(len(range(k, out_w, p)) for k in ls)
                lattice = lattices[(ly % q) * q + lx % q]
                x = lattice[:, ly // q:ly // q + t, lx // q:lx // q + s_]  # N x t x s x K
                weight = kernels[ks[0]:ks[-1] + 1, ls[0]:ls[-1] + 1].permute(2, 0, 1, 3).reshape(c * 9, -1)
                res = (x.reshape(-1, c * 9) @ weight).view(n, t, s_, len(ks), len(ls), 3)
                band.append(F.pad(res, (0, 0, 0, 0, 0, 0, 0, s_all - s_, 0, t_all - t)))
            band_rows.append(torch.cat(band, dim=4))
        grid = torch.cat(band_rows, dim=3)  # N x T x S x rows' classes x cols' classes x 3
        out = grid.permute(0, 5, 1, 3, 2, 4).reshape(n, 3, t_all * len(row_classes), s_all * len(col_classes))
        return out[:, :, :out_h, :out_w]

    def _by_pixels(self, features: torch.Tensor, scale: float, rows: tuple[int, int], cols: tuple[int, int],
                   origin: tuple[int, int]) -> torch.Tensor:
        n, c, h, w = features.shape
        device = features.device
        iy, dy = projection(rows[1], scale, device)
        ix, dx = projection(cols[1], scale, device)
        iy, dy = iy[rows[0]:] - origin[0], dy[rows[0]:]
        ix, dx = ix[cols[0]:] - origin[1], dx[cols[0]:]
        uy, inv_y = torch.unique(dy, return_inverse=True)
        ux, inv_x = torch.unique(dx, return_inverse=True)
        kernels = self._kernels(scale, uy, ux, features.dtype).view(len(uy) * len(ux), c * 9, 3)
        taps_all = F.unfold(features, 3, padding=1).view(n, c * 9, h, w)
        out_w = len(ix)
        step = max(1, CHUNK_POSITIONS // max(1, out_w))
        chunks = []
        for top in range(0, len(iy), step):
            ys = slice(top, top + step)
            taps = taps_all[:, :, iy[ys]][:, :, :, ix]  # N x K x hc x W
            weight = kernels[inv_y[ys, None] * len(ux) + inv_x[None, :]]  # hc x W x K x 3
            chunks.append(torch.einsum("nkhw,hwkc->nchw", taps, weight))
        return torch.cat(chunks, dim=2) if chunks else features.new_zeros(n, 3, 0, out_w)


def bicubic_region(image: torch.Tensor, scale: float, rows: tuple[int, int], cols: tuple[int, int],
                   origin: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """Bicubic enlargement of ``image`` by ``scale``, only the output pixels in ``rows`` x ``cols``.

    Output pixel ``i`` samples the input at ``(i + 0.5) / r - 0.5`` (pixel centres, as
    ``F.interpolate(..., align_corners=False)`` and MATLAB's imresize do), with PyTorch's
    cubic convolution (a = -0.75) and replicated borders. ``image`` holds the input pixels
    from ``origin`` on (a tile), so tiles give the same numbers as the whole image.
    """
    n, _, h, w = image.shape
    device = image.device
    y = (torch.arange(rows[0], rows[1], dtype=torch.float64, device=device) + 0.5) / scale - 0.5 - origin[0]
    x = (torch.arange(cols[0], cols[1], dtype=torch.float64, device=device) + 0.5) / scale - 0.5 - origin[1]
    gy = (2 * y + 1) / h - 1
    gx = (2 * x + 1) / w - 1
    grid = torch.stack(torch.meshgrid(gx, gy, indexing="xy"), dim=-1).to(image.dtype)
    return F.grid_sample(image, grid[None].expand(n, -1, -1, -1), mode="bicubic", padding_mode="border",
                         align_corners=False)


class MetaRDN(UpscaleModel):
    """Meta-RDN: RDN features + Meta-Upscale; ``forward(image, scale)`` enlarges by any ``scale``."""

    def __init__(self, config: MetaRDNConfig) -> None:
        super().__init__(config)
        g0, k = config.g0, config.kernel_size
        self.max_scale = float(config.max_scale)
        self.register_buffer("mean", torch.tensor([2 * m - 1 for m in DIV2K_MEAN]).view(1, 3, 1, 1), persistent=False)
        self.sfe1 = nn.Conv2d(3, g0, k, padding=k // 2)
        self.sfe2 = nn.Conv2d(g0, g0, k, padding=k // 2)
        self.blocks = nn.ModuleList(ResidualDenseBlock(g0, config.growth, config.layers, k)
                                    for _ in range(config.blocks))
        self.fusion = nn.Sequential(nn.Conv2d(config.blocks * g0, g0, 1), nn.Conv2d(g0, g0, k, padding=k // 2))
        self.upscale = MetaUpscale(g0, config.hidden)
        if config.residual == "bicubic":  # start exactly at bicubic: the correction begins at zero
            last = self.upscale.pos2weight.mlp[-1]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    @property
    def receptive_radius(self) -> int:
        """How far (in LR pixels) an output can see: tiles need this much margin to be exact."""
        cfg = self.config
        r = cfg.kernel_size // 2
        return r * (2 + cfg.blocks * cfg.layers + 1) + 1  # + the 3x3 neighbourhood of the upscale

    def features(self, image: torch.Tensor) -> torch.Tensor:
        """The RDN feature map (N x g0 x h x w) of an image in [-1, 1]."""
        f_1 = self.sfe1(image - self.mean)
        x = self.sfe2(f_1)
        outs = []
        for block in self.blocks:
            x = block(x)
            outs.append(x)
        return self.fusion(torch.cat(outs, dim=1)) + f_1

    def upscale_region(self, image: torch.Tensor, scale: float, rows: tuple[int, int], cols: tuple[int, int],
                       origin: tuple[int, int] = (0, 0)) -> torch.Tensor:
        """Output pixels ``rows`` x ``cols`` (global indices) from the input pixels from ``origin`` on."""
        out = self.upscale(self.features(image), scale, rows, cols, origin)
        if self.config.residual == "bicubic":
            return out + bicubic_region(image, scale, rows, cols, origin)
        return out + self.mean

    def forward(self, image: torch.Tensor, scale: float) -> torch.Tensor:
        scale = check_scale(scale, self.max_scale)
        out_h, out_w = upscaled_size(image.shape[-2], image.shape[-1], scale)
        return self.upscale_region(image, scale, (0, out_h), (0, out_w))


@register_model(paper="Hu et al., Meta-SR: A Magnification-Arbitrary Network for Super-Resolution, CVPR 2019",
                code="https://github.com/XuecaiHu/Meta-SR-Pytorch",
                tiny={"g0": 8, "blocks": 2, "layers": 2, "growth": 4, "hidden": 16}, tasks=("upscale",))
def meta_rdn(**cfg: Any) -> MetaRDN:
    """Meta-RDN (Hu et al. 2019): RDN features and a Meta-Upscale module; enlarges by any factor up to 4."""
    return MetaRDN(build_config(MetaRDNConfig, "meta_rdn", cfg))
