"""VCNet: blind inpainting. One network finds the damage, a second one fills it.

Paper: Yi Wang, Ying-Cong Chen, Xin Tao, Jiaya Jia, "VCNet: A Robust Approach to Blind Image
Inpainting", ECCV 2020 (arXiv:2003.06816). Official code (TensorFlow 1, MIT):
https://github.com/shepnerd/blindinpainting_vcnet, ``tensorflow_version/``: the generator is
``VCNModel.build_net`` in ``net/generator.py`` (lines 31-99), its blocks ``resblock`` and
``context_resblock`` with the context normalisations in ``net/arsenal.py``, the critics in
``net/discriminator.py``, the losses in ``net/model.py`` and ``net/loss.py``, the options in
``options/train_options.py``. The PyTorch port xyfJASON/VCNet-pytorch was read to check
shapes only; where it differs from the official code (it feeds the MPN bottleneck into the
RIN's middle, uses a sigmoid mask and plain residual shortcuts), this follows the official code.

Layout (cnum = ``g_cnum`` = 32, ``train_options.py`` line 73; every conv is TF "SAME", ELU):

- Mask prediction network (MPN), on the corrupted image alone. ``resblock`` (``arsenal.py``
  lines 94-107) = conv k (stride s, dilation r) + ELU, conv k (dilation r), plus a 1x1 conv
  shortcut of stride s (always, even when the shapes match), ELU after the sum.
  ``mask_conv2`` 5x5 s2 2c; ``mask_conv3`` 3x3 s2 4c; ``mask_conv4_atrous`` 4c dilation 2;
  ``mask_conv5_atrous`` 4c dilation 4 (its output only feeds the RIN, see the fusion);
  ``mask_conv8`` a 3x3 conv 4c on ``mask_conv4_atrous``'s output; nearest resize to H/2
  (``align_corners=True``); ``mask_deconv9`` 2c; resize to H; ``mask_deconv10`` c;
  ``mask_compress_conv`` 3x3 c/2; ``mask_output`` 3x3 to one channel: the mask logits.
  The mask the rest uses is ``clip(logits, 0, 1)`` (not a sigmoid; ``generator.py`` line 63),
  while the mask loss applies a sigmoid to the logits.
- Robust inpainting network (RIN), on the corrupted image (the hole is *not* zeroed; the
  official ``embrace`` option, off by default, zeroes it), with the mask entering only
  through the context normalisation of every block. ``context_resblock``
  (``arsenal.py`` lines 60-91) = conv k (stride s, dilation r) + ELU, conv k (dilation r),
  context normalisation, plus a 1x1 stride-s conv shortcut, ELU after the sum.
  ``cmp_conv1`` 5x5 c; ``cmp_conv2`` s2 2c; ``cmp_conv21`` 2c; ``cmp_conv3`` s2 4c;
  ``cmp_conv31`` 4c; ``cmp_conv4_atrous`` 4c dilation 2; ``cmp_conv5_atrous`` dilation 2 and
  ``cmp_conv6_atrous`` dilation 4, both of the block's "old" form (lines 79-80 pass no
  ``debug``, so lines 64-72 run: two convs, context normalisation with the fixed ratio, ELU,
  *no* shortcut); ``cmp_conv7_atrous`` dilation 4; ``cmp_conv8``; resize to H/2;
  ``cmp_deconv9``, ``cmp_deconv91`` 2c; resize to H; ``cmp_deconv10``, ``cmp_deconv101`` c.
- Fusion (``generator.py`` lines 52 and 92-97): the MPN's ``mask_conv5_atrous`` features,
  resized bilinearly (``align_corners=True``) to H x W, are concatenated with the RIN's last
  features; ``cmp_compress_conv1`` 3x3 c, ``cmp_compress_conv2`` 3x3 c/2 and ``cmp_output``
  3x3 to RGB, clipped to [-1, 1]: the fill. The result is
  ``fill * mask + image * (1 - mask)`` with the predicted (or a given) mask.
- Probabilistic context normalisation (PCN; paper Sec. 3.2, ``context_normalization`` at
  ``arsenal.py`` lines 9-24): per channel, the hole's features are re-normalised to the mean
  and standard deviation of the known features, and mixed with themselves,
  ``beta * T(x_hole) + (1 - beta) * x_hole``; known features pass unchanged. The paper
  predicts ``beta`` per channel with a squeeze-and-excitation branch
  (``context_normalization_se``, lines 39-57: average pool, a dense layer to C/8 with ReLU,
  a dense layer to C with a sigmoid), ``pcn: se`` here (the default). The released training
  script runs ``--cn_type v1`` (the option's default), a fixed ``beta = rho = 0.5``, which is
  ``pcn: fixed``. The two "old" blocks use the fixed ratio in either case.

Parameters (trainable, computed from the official code; ``tests/test_vcnet.py`` checks them):
at cnum 32 the MPN has 1,261,825 and the RIN 2,528,067 with ``pcn: fixed``, 3,789,892 in all
(the official graph with its default ``cn_type v1``); with ``pcn: se`` the RIN has 2,554,527
and the generator 3,816,352. The two critics (``d_cnum`` 64, 256x256 input) add 2,733,441
(global, DeepFill v1's) and 4,352,577 (the masked patch critic).

Deviations from the official code:

- Each image in a batch has its own mask (the official graph shares one mask per batch).
- The known features' variance is computed as the official code does (over every pixel of
  ``x * known - mean``, so hole pixels add ``mean**2``); its square root is taken of the
  variance clamped at 1e-12, so a constant feature map gives a zero gradient, not NaN.
- Inputs need sides that are multiples of 4 (two stride-2 convs and the resizes to H/2 and
  H must meet); the official test script crops to multiples of 4 too.
- The SE branch of the official code calls ``tf.layers.fully_connected``, which TF1 does
  not have, so the released code cannot build ``--cn_type se``; the branch's variable names
  below are our reading (``.../cn_se/fc1/weights``).

Official checkpoints (``holefill convert vcnet``, :func:`holefill.models.convert_tf.load_official_vcnet`):
:func:`official_variable_map` maps every official TF variable
(``blind_inpaint_net/<layer>/<c1|c2|c3>/kernel|bias``, ``blind_inpaint_net/<layer>/kernel|bias``
for the plain convs) to our state-dict key and the transpose it needs (TF kernels are HWIO,
ours OIHW; dense kernels are (in, out), ours (out, in)). The official scripts feed RGB
(``test.py`` line 122 reverses OpenCV's BGR), so no channel flip is needed. Released
checkpoints were trained with ``cn_type v1``: the converter loads them with ``pcn: fixed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from holefill.errors import ConfigError, InvalidArgumentError
from holefill.layers.contextual_attention import resize_nearest_tf
from holefill.layers.gated_conv import SameConv2d
from holefill.models.base import InpaintModel, InpaintOutput
from holefill.models.deepfill_v1 import WGANCritic
from holefill.models.registry import build_config, register_model

PCN_MODES = ("se", "fixed")
#: Added to the known and hole pixel counts before dividing (``arsenal.py`` line 9, ``eps``).
COUNT_EPS = 1e-5


@dataclass
class VCNetConfig:
    """Settings of the VCNet generator; defaults are the paper's and the official code's."""

    #: ``g_cnum``: base width (official 32, ``train_options.py`` line 73).
    cnum: int = 32
    #: How PCN mixes the transferred and the raw hole features: "se" (the paper: a
    #: squeeze-and-excitation branch predicts beta per channel) or "fixed" (beta = rho, the
    #: released script's ``--cn_type v1``).
    pcn: str = "se"
    #: ``--rho`` (official 0.5): beta of the fixed-ratio normalisations.
    rho: float = 0.5
    #: Reduction of the SE branch (``squeeze_and_excitation(ratio=8)``, ``arsenal.py`` line 27).
    se_ratio: int = 8
    #: ``--use_cn`` (the training script passes 1): context normalisation in the RIN at all.
    use_cn: bool = True
    #: ``--embrace`` (official default 0): zero the (predicted) hole before the RIN.
    embrace: bool = False
    #: Not in the paper (None: ``cnum``, the official layout): a narrower RIN than MPN, for
    #: variants trained on a CPU, where the RIN's full-resolution blocks cost most.
    rin_cnum: int | None = None

    def __post_init__(self) -> None:
        if self.pcn not in PCN_MODES:
            raise ConfigError(f"vcnet: pcn must be one of {', '.join(PCN_MODES)}, got {self.pcn!r}")
        if isinstance(self.cnum, bool) or not isinstance(self.cnum, int) or self.cnum < 2 or self.cnum % 2:
            raise ConfigError(f"vcnet: cnum must be an even integer >= 2, got {self.cnum!r}")
        if not 0.0 <= float(self.rho) <= 1.0:
            raise ConfigError(f"vcnet: rho must lie in [0, 1], got {self.rho!r}")
        if self.rin_cnum is not None and (isinstance(self.rin_cnum, bool) or not isinstance(self.rin_cnum, int)
                                          or self.rin_cnum < 2 or self.rin_cnum % 2):
            raise ConfigError(f"vcnet: rin_cnum must be an even integer >= 2 (or null: cnum), got {self.rin_cnum!r}")
        width = self.cnum if self.rin_cnum is None else self.rin_cnum
        divides = self.pcn == "se" and self.use_cn  # only the SE branch divides the width by it
        if (isinstance(self.se_ratio, bool) or not isinstance(self.se_ratio, int) or self.se_ratio < 1
                or (divides and self.se_ratio > width)):
            raise ConfigError(f"vcnet: se_ratio must be an integer in [1, the RIN's width {width}], got {self.se_ratio!r}")


@dataclass
class VCNetOutput(InpaintOutput):
    """``output``: the fill composited with ``mask``; ``mask_logits``: the MPN's N1HW logits;
    ``mask``: the N1HW mask in [0, 1] the RIN used (``clip(logits, 0, 1)``, or the given
    one); ``fill``: the RIN's N3HW output before compositing."""

    mask_logits: torch.Tensor
    mask: torch.Tensor
    fill: torch.Tensor


def _elu(x: torch.Tensor) -> torch.Tensor:
    return F.elu(x)


class ResBlock(nn.Module):
    """The official ``resblock``: two k x k convs, a 1x1 shortcut of the same stride, ELU."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.c1 = SameConv2d(in_ch, out_ch, kernel, stride, dilation)
        self.c2 = SameConv2d(out_ch, out_ch, kernel, 1, dilation)
        self.c3 = SameConv2d(in_ch, out_ch, 1, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _elu(self.c3(x) + self.c2(_elu(self.c1(x))))


def _official_stats(xw_sum: torch.Tensor, xw_sq_sum: torch.Tensor, weight_sum: torch.Tensor,
                    pixels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and variance as ``context_normalization`` computes them, from sums.

    ``mean = sum(x w) / max(eps, sum(w))`` and ``var = sum((x w - mean)^2) / max(eps, sum(w))``,
    the latter over *every* pixel (so pixels outside ``w`` add ``mean^2`` each); expanded as
    ``sum((x w)^2) - 2 mean sum(x w) + pixels mean^2`` so the feature map is read once.
    """
    count = weight_sum.clamp_min(COUNT_EPS)
    mean = xw_sum / count
    var = (xw_sq_sum - 2.0 * mean * xw_sum + pixels * mean.square()).clamp_min(0.0) / count
    return mean, var


class ContextNorm(nn.Module):
    """Probabilistic context normalisation: hole features take the known features' statistics.

    ``beta`` is per channel from a squeeze-and-excitation branch (``se``) or the constant
    ``rho`` (``fixed``). ``mask`` is the full-resolution N1HW mask (1 = hole), resized to the
    features by nearest neighbour as the official ``resize_nearest_neighbor`` does.
    """

    def __init__(self, channels: int, mode: str, rho: float, ratio: int = 8) -> None:
        super().__init__()
        self.mode = mode
        self.rho = float(rho)
        if mode == "se":
            self.fc1 = nn.Linear(channels, max(1, channels // ratio))
            self.fc2 = nn.Linear(max(1, channels // ratio), channels)
            for fc in (self.fc1, self.fc2):  # tf.layers defaults: Glorot-uniform, zero bias
                nn.init.xavier_uniform_(fc.weight)
                nn.init.zeros_(fc.bias)

    def beta(self, x: torch.Tensor) -> torch.Tensor | float:
        if self.mode != "se":
            return self.rho
        squeezed = x.mean(dim=(2, 3))
        return torch.sigmoid(self.fc2(F.relu(self.fc1(squeezed))))[:, :, None, None]

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``mixed * hole + x * known`` with ``mixed = beta * T(x * hole) + (1 - beta) * x * hole``
        and ``T(v) = (v - mean_h) / sqrt(var_h + 1e-5) * sqrt(var_k) + mean_k`` (the official
        ``tf.nn.batch_normalization`` call), in a form that makes few full-size temporaries:
        ``x + hole * (x * (hole * C - 1) + B)`` with per-channel ``C = beta * a + 1 - beta``,
        ``B = beta * (mean_k - a * mean_h)`` and ``a = sqrt(var_k) / sqrt(var_h + 1e-5)``."""
        hole = F.interpolate(mask.to(x.dtype), size=x.shape[-2:], mode="nearest")
        dims = (2, 3)
        pixels = x.shape[-2] * x.shape[-1]
        x_hole = x * hole
        x_known = x - x_hole  # = x * (1 - hole)
        hole_sum = hole.sum(dim=dims, keepdim=True)
        mean_h, var_h = _official_stats(x_hole.sum(dim=dims, keepdim=True), x_hole.square().sum(dim=dims, keepdim=True),
                                        hole_sum, pixels)
        mean_k, var_k = _official_stats(x_known.sum(dim=dims, keepdim=True),
                                        x_known.square().sum(dim=dims, keepdim=True), pixels - hole_sum, pixels)
        a = var_k.clamp_min(1e-12).sqrt() * torch.rsqrt(var_h + 1e-5)
        beta = self.beta(x)
        c = beta * a + (1.0 - beta)
        b = beta * (mean_k - a * mean_h)
        return x + hole * (x * (hole * c - 1.0) + b)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}" + (f", rho={self.rho}" if self.mode == "fixed" else "")


class ContextResBlock(nn.Module):
    """The official ``context_resblock``: conv + ELU, conv, PCN, 1x1 shortcut, ELU.

    ``old=True`` is the block's first form, which two of the RIN's blocks use: conv + ELU,
    conv, context normalisation with the fixed ratio, ELU, no shortcut.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, dilation: int = 1, *,
                 pcn: str | None, rho: float, ratio: int, old: bool = False) -> None:
        super().__init__()
        self.old = old
        self.c1 = SameConv2d(in_ch, out_ch, kernel, stride, dilation)
        self.c2 = SameConv2d(out_ch, out_ch, kernel, 1, dilation)
        self.cn = None if pcn is None else ContextNorm(out_ch, "fixed" if old else pcn, rho, ratio)
        self.c3 = None if old else SameConv2d(in_ch, out_ch, 1, stride)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        branch = self.c2(_elu(self.c1(x)))
        if self.cn is not None:
            branch = self.cn(branch, mask)
        if self.c3 is None:
            return _elu(branch)
        return _elu(self.c3(x) + branch)


class MaskPredictionNetwork(nn.Module):
    """The MPN: residual encoder with dilations, decoder to one channel of mask logits."""

    def __init__(self, cnum: int) -> None:
        super().__init__()
        c = cnum
        self.mask_conv2 = ResBlock(3, 2 * c, 5, stride=2)
        self.mask_conv3 = ResBlock(2 * c, 4 * c, 3, stride=2)
        self.mask_conv4_atrous = ResBlock(4 * c, 4 * c, 3, dilation=2)
        self.mask_conv5_atrous = ResBlock(4 * c, 4 * c, 3, dilation=4)
        self.mask_conv8 = SameConv2d(4 * c, 4 * c, 3)
        self.mask_deconv9 = ResBlock(4 * c, 2 * c, 3)
        self.mask_deconv10 = ResBlock(2 * c, c, 3)
        self.mask_compress_conv = SameConv2d(c, c // 2, 3)
        self.mask_output = SameConv2d(c // 2, 1, 3)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mask logits N1HW, the ``mask_conv5_atrous`` features at H/4 for the fusion)."""
        h, w = image.shape[-2:]
        x = self.mask_conv3(self.mask_conv2(image))
        x = self.mask_conv4_atrous(x)
        features = self.mask_conv5_atrous(x)
        x = _elu(self.mask_conv8(x))
        x = self.mask_deconv9(resize_nearest_tf(x, (h // 2, w // 2)))
        x = self.mask_deconv10(resize_nearest_tf(x, (h, w)))
        return self.mask_output(_elu(self.mask_compress_conv(x))), features


#: The RIN's blocks in order: (name, in/out width multipliers of cnum, kernel, stride, dilation, old form).
RIN_BLOCKS: tuple[tuple[str, float, int, int, int, int, bool], ...] = (
    ("cmp_conv1", 0, 1, 5, 1, 1, False),
    ("cmp_conv2", 1, 2, 3, 2, 1, False),
    ("cmp_conv21", 2, 2, 3, 1, 1, False),
    ("cmp_conv3", 2, 4, 3, 2, 1, False),
    ("cmp_conv31", 4, 4, 3, 1, 1, False),
    ("cmp_conv4_atrous", 4, 4, 3, 1, 2, False),
    ("cmp_conv5_atrous", 4, 4, 3, 1, 2, True),
    ("cmp_conv6_atrous", 4, 4, 3, 1, 4, True),
    ("cmp_conv7_atrous", 4, 4, 3, 1, 4, False),
    ("cmp_conv8", 4, 4, 3, 1, 1, False),
    ("cmp_deconv9", 4, 2, 3, 1, 1, False),
    ("cmp_deconv91", 2, 2, 3, 1, 1, False),
    ("cmp_deconv10", 2, 1, 3, 1, 1, False),
    ("cmp_deconv101", 1, 1, 3, 1, 1, False),
)
#: Blocks after which the features are resized up: to H/2, then to H.
_UPSAMPLE_AFTER = {"cmp_conv8": 2, "cmp_deconv91": 1}


class RobustInpaintingNetwork(nn.Module):
    """The RIN: context residual blocks (PCN at every one), fused with the MPN's features."""

    def __init__(self, config: VCNetConfig) -> None:
        super().__init__()
        c = config.cnum if config.rin_cnum is None else config.rin_cnum
        pcn = config.pcn if config.use_cn else None
        self.blocks = nn.ModuleDict()
        for name, cin, cout, k, s, d, old in RIN_BLOCKS:
            in_ch = 3 if cin == 0 else int(cin * c)
            self.blocks[name] = ContextResBlock(in_ch, int(cout * c), k, s, d, pcn=pcn, rho=config.rho,
                                                ratio=config.se_ratio, old=old)
        self.cmp_compress_conv1 = SameConv2d(c + 4 * config.cnum, c, 3)  # + the MPN's mask_conv5_atrous
        self.cmp_compress_conv2 = SameConv2d(c, c // 2, 3)
        self.cmp_output = SameConv2d(c // 2, 3, 3)

    def forward(self, image: torch.Tensor, mask: torch.Tensor, mpn_features: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2:]
        x = image
        for name, block in self.blocks.items():
            x = block(x, mask)
            if name in _UPSAMPLE_AFTER:
                f = _UPSAMPLE_AFTER[name]
                x = resize_nearest_tf(x, (h // f, w // f))
        semantic = F.interpolate(mpn_features, size=(h, w), mode="bilinear", align_corners=True)
        x = _elu(self.cmp_compress_conv1(torch.cat([x, semantic], dim=1)))
        x = _elu(self.cmp_compress_conv2(x))
        return self.cmp_output(x).clamp(-1.0, 1.0)


def check_blind_input(name: str, image: torch.Tensor, mask: torch.Tensor | None, multiple: int) -> None:
    """Shapes a blind model takes: N3HW image, optional N1HW mask, sides multiples of ``multiple``."""
    if image.dim() != 4 or image.shape[1] != 3:
        raise InvalidArgumentError(f"{name}: image must be N3HW, got {tuple(image.shape)}")
    h, w = image.shape[-2:]
    if h % multiple or w % multiple or h < multiple or w < multiple:
        raise InvalidArgumentError(f"{name}: image sides must be multiples of {multiple}, got {h}x{w}")
    if mask is not None and (mask.dim() != 4 or mask.shape[1] != 1 or mask.shape[0] != image.shape[0]
                             or mask.shape[-2:] != image.shape[-2:]):
        raise InvalidArgumentError(f"{name}: mask must be N1HW like the image, got {tuple(mask.shape)}")


class VCNet(InpaintModel):
    """The VCNet generator (see the module docstring): MPN, RIN with PCN, and their fusion.

    ``forward(image)`` is blind: the MPN predicts the mask and the RIN fills it.
    ``forward(image, mask)`` uses the given mask instead (the official ``--phase acc`` and
    ``de_fence``), which is how training feeds the true mask to the RIN, and how VCNet serves
    as an ordinary inpainting filler; the MPN still runs, so its logits are in the output.
    """

    size_multiple = 4
    #: A blind model: it reads the damaged pixels to find them, so its output depends on them.
    blind = True

    def __init__(self, config: VCNetConfig) -> None:
        super().__init__(config)
        self.config: VCNetConfig = config
        self.mpn = MaskPredictionNetwork(config.cnum)
        self.rin = RobustInpaintingNetwork(config)

    def predict_mask(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mask logits, the MPN features the RIN fuses) of N3HW images in [-1, 1]."""
        check_blind_input("vcnet", image, None, self.size_multiple)
        return self.mpn(image)

    def forward(self, image: torch.Tensor, mask: torch.Tensor | None = None) -> VCNetOutput:
        check_blind_input("vcnet", image, mask, self.size_multiple)
        logits, features = self.mpn(image)
        used = logits.clamp(0.0, 1.0) if mask is None else mask.to(image.dtype)
        rin_input = image * (1.0 - used) if self.config.embrace else image
        fill = self.rin(rin_input, used, features)
        output = fill * used + image * (1.0 - used)
        return VCNetOutput(output=output, mask_logits=logits, mask=used, fill=fill)

    @torch.no_grad()
    def predict_blind(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(result N3HW in [-1, 1], predicted mask N1HW in [0, 1]) for inference."""
        out = self(image)
        return out.output, out.mask


# ----------------------------------------------------------------------------- critics


class PatchCritic(nn.Module):
    """The official ``wgan_patch_discriminator``: four 5x5 stride-2 convs with leaky ReLU and a
    fifth to one channel; its patch scores are averaged over the patches the hole touches
    (the mask max-pooled five times by 2)."""

    def __init__(self, cnum: int = 64, in_channels: int = 3, slope: float = 0.2) -> None:
        super().__init__()
        widths = (cnum, 2 * cnum, 4 * cnum, 8 * cnum)
        convs = []
        ch = in_channels
        for width in widths:
            convs.append(SameConv2d(ch, width, 5, stride=2))
            ch = width
        self.convs = nn.ModuleList(convs)
        self.out = SameConv2d(ch, 1, 5, stride=2)
        self.slope = slope

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = image
        for conv in self.convs:
            x = F.leaky_relu(conv(x), self.slope)
        x = self.out(x)
        m = mask.to(x.dtype)
        for _ in range(5):  # tf.contrib.layers.max_pool2d(mask, 2, padding='SAME')
            m = F.max_pool2d(m, 2, ceil_mode=True)
        m = m[..., :x.shape[-2], :x.shape[-1]]
        return (x * m).flatten(1).sum(1, keepdim=True) / m.flatten(1).sum(1, keepdim=True).clamp_min(1e-8)


class VCNetDiscriminator(nn.Module):
    """The official ``wgan_mask_discriminator`` (free-form masks): a global WGAN critic (the
    same as DeepFill v1's, four 5x5 convs cnum, 2c, 4c, 4c and a dense score) and the masked
    patch critic, both on the composited image."""

    def __init__(self, image_size: int = 256, cnum: int = 64) -> None:
        super().__init__()
        self.global_critic = WGANCritic(image_size, (cnum, 2 * cnum, 4 * cnum, 4 * cnum))
        self.patch_critic = PatchCritic(cnum)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores (N, 1): (global, patch)."""
        return self.global_critic(image), self.patch_critic(image, mask)


# ----------------------------------------------------------------------------- official names

_SCOPE = "blind_inpaint_net"


def official_variable_map(config: VCNetConfig | None = None) -> dict[str, tuple[str, str]]:
    """Official TF variable name -> (our state-dict key, transform) for the generator.

    ``transform`` is ``"conv"`` (kernel HWIO -> OIHW: ``permute(3, 2, 0, 1)``), ``"dense"``
    (kernel (in, out) -> (out, in): ``.T``) or ``"bias"`` (as is). Every key of
    ``VCNet(config).state_dict()`` appears exactly once.
    """
    cfg = config or VCNetConfig()
    names: dict[str, tuple[str, str]] = {}

    def conv(tf_name: str, key: str) -> None:
        names[f"{_SCOPE}/{tf_name}/kernel"] = (f"{key}.weight", "conv")
        names[f"{_SCOPE}/{tf_name}/bias"] = (f"{key}.bias", "bias")

    for layer in ("mask_conv2", "mask_conv3", "mask_conv4_atrous", "mask_conv5_atrous", "mask_deconv9",
                  "mask_deconv10"):
        for part in ("c1", "c2", "c3"):
            conv(f"{layer}/{part}", f"mpn.{layer}.{part}")
    for layer in ("mask_conv8", "mask_compress_conv", "mask_output"):
        conv(layer, f"mpn.{layer}")
    for name, *_rest, old in RIN_BLOCKS:
        for part in ("c1", "c2") if old else ("c1", "c2", "c3"):
            conv(f"{name}/{part}", f"rin.blocks.{name}.{part}")
        if cfg.use_cn and cfg.pcn == "se" and not old:
            for fc in ("fc1", "fc2"):
                names[f"{_SCOPE}/{name}/cn_se/{fc}/weights"] = (f"rin.blocks.{name}.cn.{fc}.weight", "dense")
                names[f"{_SCOPE}/{name}/cn_se/{fc}/biases"] = (f"rin.blocks.{name}.cn.{fc}.bias", "bias")
    for layer in ("cmp_compress_conv1", "cmp_compress_conv2", "cmp_output"):
        conv(layer, f"rin.{layer}")
    return names


def official_discriminator_map() -> dict[str, tuple[str, str]]:
    """Official TF variable name -> (key in :class:`VCNetDiscriminator`'s state dict, transform)."""
    names: dict[str, tuple[str, str]] = {}
    for i in range(4):
        names[f"discriminator/disc_global/conv{i + 1}/kernel"] = (f"global_critic.convs.{i}.weight", "conv")
        names[f"discriminator/disc_global/conv{i + 1}/bias"] = (f"global_critic.convs.{i}.bias", "bias")
        names[f"discriminator/discriminator_local/conv{i + 1}/kernel"] = (f"patch_critic.convs.{i}.weight", "conv")
        names[f"discriminator/discriminator_local/conv{i + 1}/bias"] = (f"patch_critic.convs.{i}.bias", "bias")
    names["discriminator/discriminator_local/conv5/kernel"] = ("patch_critic.out.weight", "conv")
    names["discriminator/discriminator_local/conv5/bias"] = ("patch_critic.out.bias", "bias")
    # The dense layer flattens NHWC features, as WGANCritic does: only a transpose is needed.
    names["discriminator/dout_global_fc/kernel"] = ("global_critic.fc.weight", "dense")
    names["discriminator/dout_global_fc/bias"] = ("global_critic.fc.bias", "bias")
    return names


@register_model(paper="Wang et al., VCNet: A Robust Approach to Blind Image Inpainting, ECCV 2020",
                code="https://github.com/shepnerd/blindinpainting_vcnet (tensorflow_version)",
                tiny={"cnum": 8}, tasks=("blind", "inpaint"))
def vcnet(**cfg: Any) -> VCNet:
    """VCNet (Wang et al., ECCV 2020): blind inpainting, a mask prediction network and a robust inpainting network."""
    return VCNet(build_config(VCNetConfig, "vcnet", cfg))


__all__ = ["ContextNorm", "ContextResBlock", "MaskPredictionNetwork", "PatchCritic", "ResBlock",
           "RobustInpaintingNetwork", "VCNet", "VCNetConfig", "VCNetDiscriminator", "VCNetOutput",
           "check_blind_input", "official_discriminator_map", "official_variable_map", "vcnet"]
