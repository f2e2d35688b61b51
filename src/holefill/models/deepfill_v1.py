"""DeepFill v1: coarse-to-fine inpainting with contextual attention, and its WGAN-GP critics.

Paper: Jiahui Yu, Zhe Lin, Jimei Yang, Xiaohui Shen, Xin Lu, Thomas S. Huang, "Generative
Image Inpainting with Contextual Attention", CVPR 2018 (arXiv:1801.07892).
Official code (TensorFlow 1 + neuralgym): https://github.com/JiahuiYu/generative_inpainting,
tag v1.0.0: ``InpaintCAModel`` in ``inpaint_model.py`` (``build_inpaint_net``,
``build_wgan_*_discriminator``, ``build_graph_with_losses``), the layers in ``inpaint_ops.py``
and the settings in ``inpaint.yml``; ``train.py`` for the optimiser. This is a fresh PyTorch
implementation checked against that code (read, not copied).

Generator layout (cnum = 32; every layer a TF-"SAME" conv followed by ELU unless noted):

- Input: the image with the hole zeroed, a channel of ones and the mask (5 channels).
- Coarse: 5x5 cnum; 3x3 stride-2 2cnum; 3x3 2cnum; 3x3 stride-2 4cnum; two 3x3 4cnum; four
  3x3 4cnum dilated 2, 4, 8, 16; two 3x3 4cnum; nearest-2x + 3x3 2cnum; 3x3 2cnum;
  nearest-2x + 3x3 cnum; 3x3 cnum/2; a 3x3 conv to 3 channels without activation; the
  result clipped to [-1, 1] (``tf.clip_by_value``, not tanh).
- Refinement, on the coarse output pasted into the hole, again with the ones and mask channels
  (5 channels; DeepFill v2 drops them here): a dilated branch (5x5 cnum; 3x3 s2 cnum; 3x3 2cnum;
  3x3 s2 2cnum; two 3x3 4cnum; four dilated 4cnum) and an attention branch (5x5 cnum; 3x3 s2
  cnum; 3x3 2cnum; 3x3 s2 4cnum; 3x3 4cnum; 3x3 4cnum with ReLU; contextual attention of the
  features with themselves, avoiding the hole: ksize 3, stride 1, rate 2, fuse 3, softmax
  scale 10; two 3x3 4cnum), concatenated and decoded as the coarse network's second half;
  clipped to [-1, 1].
- Parameters: 3,601,542 at cnum 32 (coarse 1,448,227, refinement 2,153,315). The official TF
  graph has the same trainable variables (same layers, kernels HWIO, one bias each), and so
  does the faithful PyTorch port's generator, so both references give 3,601,542.
  Layer names follow the official ones (``conv1`` ... ``conv17``, ``xconv*``, ``pmconv*``,
  ``allconv*``); a converter is a name map plus kernel transposes (HWIO -> OIHW) and the
  BGR -> RGB flips listed below.

Critics (:class:`DeepFillV1Discriminator`, ``GAN: wgan_gp`` in ``inpaint.yml``): a local critic
on the hole's bounding-box patch (128x128 in 256x256) with four 5x5 stride-2 convs (64, 128,
256, 512) and a global critic on the whole image with four (64, 128, 256, 256); each is
followed by a leaky ReLU (slope 0.2), flattened (NHWC order, as TF) and mapped to one score by
a dense layer. No normalisation. Parameters: 4,339,329 (local) + 2,733,441 (global) =
7,072,770 at the official sizes. Inputs are RGB only (``GAN_WITH_MASK: False``).

Deviations from the official code:

- RGB in and out. The official scripts read images with OpenCV (BGR), so released
  checkpoints expect BGR; a converter must reverse the input channels of ``conv1``, ``xconv1``
  and ``pmconv1`` and the output channels of ``conv17`` and ``allconv17``.
- Each image in a batch has its own mask (the official graph shares one box per batch).
- The hole is zeroed inside ``forward`` (officially the caller does it).
- Contextual attention is the exact, chunked formulation of
  :mod:`holefill.layers.contextual_attention`: the same result as the official layer with
  bounded memory. Offsets are returned only when asked (``return_flow=True``), as
  ``(dy, dx)`` on the attention grid; the official layer always returns a colour picture,
  :func:`~holefill.layers.contextual_attention.flow_to_image` draws one from the offsets.
- Convolutions run on channels_last tensors internally (same numbers, faster on oneDNN).
- Weights start as TF's defaults (Glorot-uniform kernels, zero biases). Untrained outputs are
  small, so tests of untrained models compare exactly or relative to the output's scale.
- Sizes: the network needs multiples of 4; :attr:`DeepFillV1.size_multiple` is 8 so the
  attention's rate-2 grid is even (the official graph needs that too).

Training (the recipe is :mod:`holefill.train.recipes.deepfill_v1`; numbers from ``inpaint.yml``
and ``train.py`` at v1.0.0 unless the paper is named):

- Reconstruction: spatially discounted L1 over the hole for the coarse and the refined output,
  ``gamma ** l`` with ``l`` the distance to the nearest known pixel (paper Sec. 3.1:
  gamma = 0.99; ``SPATIAL_DISCOUNTING_GAMMA: 0.9`` in the official config, which also
  applies a fixed map to the whole 128x128 box patch), weighted ``COARSE_L1_ALPHA = 1.2`` for
  the coarse term; the sum weighted ``L1_LOSS_ALPHA = 1.2``. An "autoencoder" L1 over the known
  pixels of both outputs (coarse again x1.2), weighted ``AE_LOSS_ALPHA = 1.2``.
- Adversarial: WGAN-GP (Gulrajani et al. 2017) with the global and the local critic,
  ``GAN_LOSS_ALPHA = 0.001`` x (``GLOBAL_WGAN_LOSS_ALPHA = 1`` x global + local) for G; the
  critics see the composited output. Gradient penalty ``WGAN_GP_LAMBDA = 10``, restricted to
  the hole (paper Sec. 3.1; neuralgym ``gradients_penalty(x, y, mask)``), on random
  interpolates of real and composited images (and of their local patches).
- Optimiser: Adam, lr 1e-4, betas (0.5, 0.9) for both; five critic updates per generator update
  (``SecondaryTrainer(max_iters=5)``); batch 16; 256x256 images; up to 1,000,000 iterations.
- Masks: one random box per batch, 128x128 in 256x256 shrunk by up to 32 px
  (``HEIGHT/WIDTH/MAX_DELTA_*``): :class:`holefill.masks.RandomBox`'s defaults.
- ``PRETRAIN_COARSE_NETWORK`` (off by default) trains the coarse network alone with the L1
  terms and no GAN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from holefill.errors import ConfigError, InvalidArgumentError
from holefill.layers.contextual_attention import ContextualAttention, resize_nearest_tf
from holefill.layers.gated_conv import Activation, SameConv2d, UpConv2d, gen_conv
from holefill.models.base import CoarseToFineOutput, InpaintModel, check_inputs
from holefill.models.registry import build_config, register_model

LayerSpec = tuple[str, int, int, int, int, Activation]


@dataclass
class DeepFillV1Config:
    """Settings of the DeepFill v1 generator; defaults are the official ones."""

    #: Base width; the official model uses 32.
    cnum: int = 32
    attention_ksize: int = 3
    attention_stride: int = 1
    attention_rate: int = 2
    attention_fuse_k: int = 3
    attention_softmax_scale: float = 10.0
    attention_fuse: bool = True
    #: Score entries (batch x queries x keys) held at once by the attention; bounds memory.
    attention_chunk: int = 2**24

    def __post_init__(self) -> None:
        check_v1_settings("deepfill_v1", self.cnum, self.attention_ksize, self.attention_stride,
                          self.attention_rate, self.attention_fuse_k, self.attention_chunk)


def check_v1_settings(name: str, cnum: int, ksize: int, stride: int, rate: int, fuse_k: int, chunk: int) -> None:
    """ConfigErrors for widths and attention settings the layout cannot take."""
    if cnum < 2 or cnum % 2:
        raise ConfigError(f"{name}: cnum must be an even number >= 2, got {cnum}")
    if stride != 1 or ksize < 1 or ksize % 2 == 0:
        raise ConfigError(f"{name}: attention needs stride 1 and an odd ksize, got stride={stride}, ksize={ksize}")
    if rate < 1 or fuse_k < 1 or chunk < 1:
        raise ConfigError(f"{name}: attention_rate, attention_fuse_k and attention_chunk must be >= 1")


# -- building blocks (shared with holefill.models.foreground_aware) -------------------------------

def build_layers(specs: list[LayerSpec], in_ch: int) -> tuple[nn.ModuleDict, int]:
    """Named plain (ungated) generator layers (name, filters, ksize, stride, dilation, activation)."""
    layers = nn.ModuleDict()
    ch = in_ch
    for name, filters, k, s, d, act in specs:
        if name.endswith("_upsample"):
            layer: nn.Module = UpConv2d(ch, filters, activation=act, gated=False)
        else:
            layer = gen_conv(ch, filters, k, s, d, activation=act, gated=False)
        layers[name] = layer
        ch = layer.out_features  # type: ignore[assignment]
    return layers, ch


def run_layers(layers: nn.ModuleDict, x: torch.Tensor) -> torch.Tensor:
    for layer in layers.values():
        x = layer(x)
    return x


def encoder_specs(prefix: str, c: int, *, second: int, fourth: int) -> list[LayerSpec]:
    """The 1/4-resolution encoder with four dilated layers (coarse net and dilated branch).

    ``second`` and ``fourth`` are the widths of the 2nd and 4th layers (the coarse network
    uses 2c and 4c, the refinement's dilated branch c and 2c, as the official code).
    """
    return [(f"{prefix}1", c, 5, 1, 1, "elu"), (f"{prefix}2_downsample", second, 3, 2, 1, "elu"),
            (f"{prefix}3", 2 * c, 3, 1, 1, "elu"), (f"{prefix}4_downsample", fourth, 3, 2, 1, "elu"),
            (f"{prefix}5", 4 * c, 3, 1, 1, "elu"), (f"{prefix}6", 4 * c, 3, 1, 1, "elu"),
            (f"{prefix}7_atrous", 4 * c, 3, 1, 2, "elu"), (f"{prefix}8_atrous", 4 * c, 3, 1, 4, "elu"),
            (f"{prefix}9_atrous", 4 * c, 3, 1, 8, "elu"), (f"{prefix}10_atrous", 4 * c, 3, 1, 16, "elu")]


def decoder_specs(prefix: str, c: int, out_channels: int) -> list[LayerSpec]:
    """The shared second half: two 3x3 convs at 1/4, up, conv, up, conv, output conv."""
    return [(f"{prefix}11", 4 * c, 3, 1, 1, "elu"), (f"{prefix}12", 4 * c, 3, 1, 1, "elu"),
            (f"{prefix}13_upsample", 2 * c, 3, 1, 1, "elu"), (f"{prefix}14", 2 * c, 3, 1, 1, "elu"),
            (f"{prefix}15_upsample", c, 3, 1, 1, "elu"), (f"{prefix}16", c // 2, 3, 1, 1, "elu"),
            (f"{prefix}17", out_channels, 3, 1, 1, "none")]


class CoarseNetworkV1(nn.Module):
    """Stage 1: encoder, four dilated layers, decoder; raw output (the caller clips or squashes)."""

    def __init__(self, in_channels: int, cnum: int, out_channels: int = 3) -> None:
        super().__init__()
        c = cnum
        self.encoder, ch = build_layers(encoder_specs("conv", c, second=2 * c, fourth=4 * c), in_channels)
        self.decoder, _ = build_layers(decoder_specs("conv", c, out_channels), ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return run_layers(self.decoder, run_layers(self.encoder, x))


class RefineNetworkV1(nn.Module):
    """Stage 2: a dilated branch and (with ``attention``) a contextual-attention branch.

    Without ``attention`` the attention branch is left out entirely and the decoder reads the
    dilated branch alone (the contour networks of :mod:`holefill.models.foreground_aware`).
    """

    def __init__(self, in_channels: int, cnum: int, attention: ContextualAttention | None,
                 out_channels: int = 3) -> None:
        super().__init__()
        c = cnum
        self.hallucination, ch = build_layers(encoder_specs("xconv", c, second=c, fourth=2 * c), in_channels)
        self.attention = attention
        if attention is not None:
            self.attention_encoder, ch_a = build_layers([
                ("pmconv1", c, 5, 1, 1, "elu"), ("pmconv2_downsample", c, 3, 2, 1, "elu"),
                ("pmconv3", 2 * c, 3, 1, 1, "elu"), ("pmconv4_downsample", 4 * c, 3, 2, 1, "elu"),
                ("pmconv5", 4 * c, 3, 1, 1, "elu"), ("pmconv6", 4 * c, 3, 1, 1, "relu"),
            ], in_channels)
            self.attention_decoder, ch_a = build_layers([
                ("pmconv9", 4 * c, 3, 1, 1, "elu"), ("pmconv10", 4 * c, 3, 1, 1, "elu"),
            ], ch_a)
            ch += ch_a
        self.decoder, _ = build_layers(decoder_specs("allconv", c, out_channels), ch)

    def forward(self, x: torch.Tensor, mask_small: torch.Tensor, return_flow: bool = False,
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Raw output and, with attention and ``return_flow``, its offsets."""
        feats = run_layers(self.hallucination, x)
        offsets = None
        if self.attention is not None:
            att = run_layers(self.attention_encoder, x)
            att, offsets = self.attention(att, att, mask_small, return_flow=return_flow)
            feats = torch.cat([feats, run_layers(self.attention_decoder, att)], dim=1)
        return run_layers(self.decoder, feats), offsets


def make_attention(ksize: int, stride: int, rate: int, fuse_k: int, softmax_scale: float, fuse: bool,
                   chunk: int) -> ContextualAttention:
    return ContextualAttention(ksize=ksize, stride=stride, rate=rate, fuse_k=fuse_k, softmax_scale=softmax_scale,
                               fuse=fuse, chunk_size=chunk)


def channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last)


class DeepFillV1(InpaintModel):
    """The DeepFill v1 generator (see the module docstring for the layout and deviations)."""

    size_multiple = 8

    def __init__(self, config: DeepFillV1Config) -> None:
        super().__init__(config)
        self.config: DeepFillV1Config = config
        c = config
        attention = make_attention(c.attention_ksize, c.attention_stride, c.attention_rate, c.attention_fuse_k,
                                   c.attention_softmax_scale, c.attention_fuse, c.attention_chunk)
        self.coarse = CoarseNetworkV1(5, c.cnum)
        self.refine = RefineNetworkV1(5, c.cnum, attention)

    def forward(self, image: torch.Tensor, mask: torch.Tensor, *, return_flow: bool = False) -> CoarseToFineOutput:
        """Fill ``image`` (N3HW, [-1, 1]) where ``mask`` (N1HW, 1 = hole) is set; H, W multiples of 4."""
        check_inputs("deepfill_v1", image, mask)
        n, _, h, w = image.shape
        mask = mask.to(image.dtype).expand(n, 1, h, w)
        known = 1.0 - mask
        image = image * known
        ones = torch.ones_like(mask)
        coarse = self.coarse(channels_last(torch.cat([image, ones, mask], dim=1))).clamp(-1.0, 1.0)
        composite = coarse * mask + image * known
        mask_small = resize_nearest_tf(mask, (h // 4, w // 4))  # at the attention features' size
        fine, offsets = self.refine(channels_last(torch.cat([composite, ones, mask], dim=1)), mask_small, return_flow)
        return CoarseToFineOutput(output=fine.clamp(-1.0, 1.0).contiguous(), coarse=coarse.contiguous(), offsets=offsets)


# -- the critics --------------------------------------------------------------------------------

class WGANCritic(nn.Module):
    """Four 5x5 stride-2 SAME convs with leaky ReLU, flattened (NHWC), one dense score."""

    def __init__(self, size: int, widths: tuple[int, ...], in_channels: int = 3, slope: float = 0.2) -> None:
        super().__init__()
        if size < 1:
            raise InvalidArgumentError(f"critic input size must be positive, got {size}")
        convs = []
        ch, side = in_channels, size
        for width in widths:
            convs.append(SameConv2d(ch, width, 5, stride=2))
            ch, side = width, -(-side // 2)
        self.convs = nn.ModuleList(convs)
        self.size = size
        self.fc = nn.Linear(side * side * ch, 1)
        nn.init.xavier_uniform_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)
        self.slope = slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != (self.size, self.size):
            raise InvalidArgumentError(f"this critic takes {self.size}x{self.size} inputs (its dense layer fixes it), "
                                       f"got {x.shape[-2]}x{x.shape[-1]}")
        for conv in self.convs:
            x = F.leaky_relu(conv(x), self.slope)
        return self.fc(x.permute(0, 2, 3, 1).flatten(1))


class DeepFillV1Discriminator(nn.Module):
    """DeepFill v1's global and local WGAN critics (official sizes: 256 image, 128 patch, cnum 64)."""

    def __init__(self, image_size: int = 256, local_size: int = 128, cnum: int = 64, in_channels: int = 3) -> None:
        super().__init__()
        if local_size > image_size:
            raise InvalidArgumentError(f"the local patch ({local_size}) cannot exceed the image ({image_size})")
        self.local_critic = WGANCritic(local_size, (cnum, 2 * cnum, 4 * cnum, 8 * cnum), in_channels)
        self.global_critic = WGANCritic(image_size, (cnum, 2 * cnum, 4 * cnum, 4 * cnum), in_channels)
        self.image_size, self.local_size = image_size, local_size

    def forward(self, image: torch.Tensor, patch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores (N, 1) of the whole images and of their local patches: (global, local)."""
        return self.global_critic(image), self.local_critic(patch)


@register_model(paper="Yu et al., Generative Image Inpainting with Contextual Attention, CVPR 2018",
                code="https://github.com/JiahuiYu/generative_inpainting (tag v1.0.0)",
                tiny={"cnum": 8})
def deepfill_v1(**cfg: Any) -> DeepFillV1:
    """DeepFill v1 (Yu et al., CVPR 2018): coarse-to-fine with contextual attention, WGAN-GP trained."""
    return DeepFillV1(build_config(DeepFillV1Config, "deepfill_v1", cfg))


__all__ = ["CoarseNetworkV1", "DeepFillV1", "DeepFillV1Config", "DeepFillV1Discriminator", "CoarseToFineOutput",
           "RefineNetworkV1", "WGANCritic", "deepfill_v1"]
