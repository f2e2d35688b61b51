"""DeepFill v2: gated convolutions, contextual attention, coarse-to-fine.

Paper: Jiahui Yu, Zhe Lin, Jimei Yang, Xiaohui Shen, Xin Lu, Thomas Huang, "Free-Form Image
Inpainting with Gated Convolution", ICCV 2019 (arXiv:1806.03589).
Official code (TensorFlow): https://github.com/JiahuiYu/generative_inpainting, branch
v2.0.0, ``InpaintCAModel.build_inpaint_net`` in ``inpaint_model.py`` and the layers in
``inpaint_ops.py``. This is a fresh PyTorch implementation checked against that code.

Layout (cnum = 48; a gated layer with F filters hands on F/2 channels):

- Input: the image with the hole zeroed, a channel of ones, the mask, (the guidance
  sketch, zeroed outside the hole, with ``use_guidance``): 5 or 6 channels.
- Coarse: conv 5x5 cnum; 3x3 stride-2 2cnum; 3x3 2cnum; 3x3 stride-2 4cnum; two 3x3 4cnum;
  four 3x3 4cnum dilated 2, 4, 8, 16; two 3x3 4cnum; nearest-2x + 3x3 2cnum; 3x3 2cnum;
  nearest-2x + 3x3 cnum; 3x3 cnum/2; a plain (ungated) 3x3 conv to 3 channels; tanh.
- Refinement, on the coarse output pasted into the hole (``x * mask + image * (1 - mask)``,
  3 channels only: the official code does not append the ones and mask channels here):
  a dilated branch (5x5 cnum; 3x3 s2 cnum; 3x3 2cnum; 3x3 s2 2cnum; two 3x3 4cnum; four
  dilated 4cnum) and an attention branch (5x5 cnum; 3x3 s2 cnum; 3x3 2cnum; 3x3 s2 4cnum;
  3x3 4cnum; 3x3 4cnum with ReLU instead of ELU; contextual attention of the features with
  themselves, ksize 3, rate 2, fuse 3, scale 10; two 3x3 4cnum). The branches are
  concatenated and decoded like the coarse network's second half; tanh.
- Parameters: 4,052,478 at cnum 48 (coarse 1,631,151, refinement 2,421,327), the same as
  the official graph's trainable variables. Layer names follow the official ones
  (``conv1`` ... ``conv17``, ``xconv*``, ``pmconv*``, ``allconv*``) and a gated layer's
  first half of filters are the features, second half the gate, as in the official split,
  so a checkpoint converter is a name map plus kernel transposes (HWIO -> OIHW).

Deviations from the official code:

- RGB in and out. The official scripts read images with OpenCV, so the released checkpoints
  expect BGR; a converter must reverse the input channels of ``conv1``, ``xconv1`` and
  ``pmconv1`` and the output channels of ``conv17`` and ``allconv17``.
- Each image in a batch has its own mask (the official graph shares one mask per batch).
- The image's hole is zeroed inside ``forward`` (officially the caller does it), and the
  guidance channel is multiplied by the mask inside ``forward`` too.
- Contextual attention is the exact, chunked formulation of
  :mod:`holefill.layers.contextual_attention` (same result as the official layer, bounded
  memory); its flow is returned as offsets only when asked (``return_flow=True``), and
  :func:`~holefill.layers.contextual_attention.flow_to_image` draws them.
- Internally the convolutions run on channels_last tensors (a storage detail: the same
  numbers, but oneDNN then needs no reorder copies, which halves CPU time and memory).
- Weights start as TF's defaults (Glorot-uniform, zero bias), as the official training
  did. With them an untrained network's outputs are tiny (around 1e-7): the signal shrinks
  about 3x per gated layer, so tests of untrained models must compare exactly or
  relative to the output's scale. Training details (losses, SN-PatchGAN in
  :mod:`holefill.models.discriminators`) live in the recipes.
- ``prefill`` (off by default, so the default model is the paper's): the hole starts from
  OpenCV's Navier-Stokes or Telea fill instead of zeros, and both stages become residual,
  ``tanh(x + atanh(input))``, so the untrained network returns the classical fill and
  training learns a correction to it. This is holefill's addition for the variant it trains
  on a CPU (``deepfill_v2_lite``), where a from-scratch network has too few steps to learn
  smooth interpolation; its model card says so.
- ``init: stable`` (off by default): weights drawn so that activations keep their scale
  through the gated stacks, instead of TF's Glorot default, with which the signal (and the
  gradient reaching the first layers) shrinks about 3x per layer; used by the same variant.
- Sizes: the network needs multiples of 4 (two stride-2 convs and two 2x upsamplings must
  give back the input size); the official test script crops to multiples of 8 so that the
  attention's rate-2 grid is even, and :attr:`DeepFillV2.size_multiple` is 8 accordingly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from holefill.errors import ConfigError, InvalidArgumentError
from holefill.layers.contextual_attention import ContextualAttention, resize_nearest_tf
from holefill.layers.gated_conv import Activation, UpConv2d, gen_conv
from holefill.models.base import CoarseToFineOutput, InpaintModel, check_inputs
from holefill.models.registry import build_config, register_model


@dataclass
class DeepFillV2Config:
    """Settings of the DeepFill v2 generator; defaults are the official ones."""

    #: Base width; the official model uses 48.
    cnum: int = 48
    #: Input channels of the coarse network: image 3 + ones 1 + mask 1 (+ 1 guidance).
    #: None means "derive from use_guidance"; any other value must match it.
    in_channels: int | None = None
    #: Take a sketch/edge channel (N1HW, used inside the hole) as the official "guided" mode.
    use_guidance: bool = False
    attention_ksize: int = 3
    attention_stride: int = 1
    attention_rate: int = 2
    attention_fuse_k: int = 3
    attention_softmax_scale: float = 10.0
    attention_fuse: bool = True
    #: Score entries (batch x queries x keys) held at once by the attention; bounds memory.
    attention_chunk: int = 2**24
    #: Not in the paper (default off): start the hole from a classical fill ("ns" or "telea",
    #: OpenCV's diffusion inpainting) instead of zeros, and make both stages residual, so an
    #: untrained network returns that fill and training learns the correction. See
    #: :func:`diffusion_prefill`; the shipped CPU-trained variant uses it.
    prefill: str = "none"
    #: Weight initialisation: "tf" (the official TF defaults, Glorot-uniform; with them the
    #: signal shrinks about 3x per gated layer, so gradients reaching the first layers are
    #: ~1e-9 and Adam's epsilon swallows them) or "stable" (not in the paper: normal with std
    #: 2.3 / sqrt(fan_in), which keeps activations at a steady scale through the gated
    #: stacks, and the output convs start at zero, so a prefilled model starts as its fill).
    init: str = "tf"

    def __post_init__(self) -> None:
        if self.init not in ("tf", "stable"):
            raise ConfigError(f"deepfill_v2: init must be 'tf' or 'stable', got {self.init!r}")
        if self.prefill not in PREFILLS:
            raise ConfigError(f"deepfill_v2: prefill must be one of {', '.join(PREFILLS)}, got {self.prefill!r}")
        expected = 5 + int(bool(self.use_guidance))
        if self.in_channels is None:
            self.in_channels = expected
        if self.in_channels != expected:
            raise ConfigError(f"deepfill_v2: in_channels must be {expected} with use_guidance={self.use_guidance}, "
                              f"got {self.in_channels}")
        if self.cnum < 4 or self.cnum % 4:
            raise ConfigError(f"deepfill_v2: cnum must be a multiple of 4 (>= 4), got {self.cnum}")
        if self.attention_stride != 1 or self.attention_ksize < 1 or self.attention_ksize % 2 == 0:
            raise ConfigError("deepfill_v2: attention needs stride 1 and an odd ksize, got "
                              f"stride={self.attention_stride}, ksize={self.attention_ksize}")
        if self.attention_rate < 1 or self.attention_fuse_k < 1 or self.attention_chunk < 1:
            raise ConfigError("deepfill_v2: attention_rate, attention_fuse_k and attention_chunk must be >= 1")


PREFILLS = ("none", "ns", "telea")


def diffusion_prefill(image: torch.Tensor, mask: torch.Tensor, method: str, radius: float = 3.0) -> torch.Tensor:
    """The hole of each image filled by OpenCV's diffusion inpainting (N3HW in [-1, 1]).

    Runs on the CPU in uint8 (the inputs are not differentiated); known pixels are returned
    as they were. ``method`` is ``"ns"`` (Bertalmio et al. 2001) or ``"telea"`` (Telea 2004).
    """
    import cv2

    flag = cv2.INPAINT_NS if method == "ns" else cv2.INPAINT_TELEA
    pixels = ((image.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    pixels = pixels.permute(0, 2, 3, 1).cpu().numpy()
    holes = (mask.detach()[:, 0] > 0.5).cpu().numpy().astype("uint8") * 255
    filled = []
    for img, hole in zip(pixels, holes):
        filled.append(cv2.inpaint(img, hole, radius, flag) if hole.any() and not hole.all() else img)
    out = torch.from_numpy(np.stack(filled)).to(image.device).permute(0, 3, 1, 2)
    out = out.to(image.dtype) / 127.5 - 1.0
    return out * mask + image * (1 - mask)


#: Gain of the "stable" initialisation: measured to keep the activations' scale steady through
#: the 17 gated layers of either stage (1.0 shrinks them ~2.3x per layer, 3.0 grows them).
STABLE_GAIN = 2.3


def stable_init(model: nn.Module, *, zero_output: bool) -> None:
    """Normal(0, STABLE_GAIN / sqrt(fan_in)) weights, zero biases; output convs zero if asked."""
    from holefill.layers.gated_conv import SameConv2d

    for name, module in model.named_modules():
        if isinstance(module, SameConv2d):
            fan_in = module.weight[0].numel()
            nn.init.normal_(module.weight, 0.0, STABLE_GAIN / fan_in ** 0.5)
            nn.init.zeros_(module.bias)
            if zero_output and name.endswith("17"):
                nn.init.zeros_(module.weight)


def _residual_tanh(x: torch.Tensor, base: torch.Tensor | None) -> torch.Tensor:
    """``tanh(x)``, or ``tanh(x + atanh(base))`` so that x = 0 returns ``base``."""
    if base is None:
        return torch.tanh(x)
    return torch.tanh(x + torch.atanh(base.clamp(-0.999, 0.999)))


def _stack(names_specs: list[tuple[str, int, int, int, int, Activation]], in_ch: int) -> tuple[nn.ModuleDict, int]:
    """Build named generator layers (name, filters, ksize, stride, dilation, activation) in order."""
    layers = nn.ModuleDict()
    ch = in_ch
    for name, filters, k, s, d, act in names_specs:
        if name.endswith("_upsample"):
            layer: nn.Module = UpConv2d(ch, filters, activation=act)
        else:
            layer = gen_conv(ch, filters, k, s, d, activation=act)
        layers[name] = layer
        ch = layer.out_features  # type: ignore[assignment]
    return layers, ch


def _decoder(prefix: str, c: int) -> list[tuple[str, int, int, int, int, Activation]]:
    """The shared second half: two 3x3 convs at 1/4, up, conv, up, conv, output conv."""
    return [(f"{prefix}11", 4 * c, 3, 1, 1, "elu"), (f"{prefix}12", 4 * c, 3, 1, 1, "elu"),
            (f"{prefix}13_upsample", 2 * c, 3, 1, 1, "elu"), (f"{prefix}14", 2 * c, 3, 1, 1, "elu"),
            (f"{prefix}15_upsample", c, 3, 1, 1, "elu"), (f"{prefix}16", c // 2, 3, 1, 1, "elu"),
            (f"{prefix}17", 3, 3, 1, 1, "none")]


def _run(layers: nn.ModuleDict, x: torch.Tensor) -> torch.Tensor:
    for layer in layers.values():
        x = layer(x)
    return x


class CoarseNetwork(nn.Module):
    """Stage 1: a gated encoder, four dilated layers and a gated decoder, tanh output."""

    def __init__(self, in_channels: int, cnum: int) -> None:
        super().__init__()
        c = cnum
        self.encoder, ch = _stack([
            ("conv1", c, 5, 1, 1, "elu"), ("conv2_downsample", 2 * c, 3, 2, 1, "elu"),
            ("conv3", 2 * c, 3, 1, 1, "elu"), ("conv4_downsample", 4 * c, 3, 2, 1, "elu"),
            ("conv5", 4 * c, 3, 1, 1, "elu"), ("conv6", 4 * c, 3, 1, 1, "elu"),
            ("conv7_atrous", 4 * c, 3, 1, 2, "elu"), ("conv8_atrous", 4 * c, 3, 1, 4, "elu"),
            ("conv9_atrous", 4 * c, 3, 1, 8, "elu"), ("conv10_atrous", 4 * c, 3, 1, 16, "elu"),
        ], in_channels)
        self.decoder, _ = _stack(_decoder("conv", c), ch)

    def forward(self, x: torch.Tensor, base: torch.Tensor | None = None) -> torch.Tensor:
        return _residual_tanh(_run(self.decoder, _run(self.encoder, x)), base)


class RefineNetwork(nn.Module):
    """Stage 2: a dilated branch and a contextual-attention branch, concatenated and decoded."""

    def __init__(self, cnum: int, attention: ContextualAttention) -> None:
        super().__init__()
        c = cnum
        self.hallucination, ch_h = _stack([
            ("xconv1", c, 5, 1, 1, "elu"), ("xconv2_downsample", c, 3, 2, 1, "elu"),
            ("xconv3", 2 * c, 3, 1, 1, "elu"), ("xconv4_downsample", 2 * c, 3, 2, 1, "elu"),
            ("xconv5", 4 * c, 3, 1, 1, "elu"), ("xconv6", 4 * c, 3, 1, 1, "elu"),
            ("xconv7_atrous", 4 * c, 3, 1, 2, "elu"), ("xconv8_atrous", 4 * c, 3, 1, 4, "elu"),
            ("xconv9_atrous", 4 * c, 3, 1, 8, "elu"), ("xconv10_atrous", 4 * c, 3, 1, 16, "elu"),
        ], 3)
        self.attention_encoder, ch_a = _stack([
            ("pmconv1", c, 5, 1, 1, "elu"), ("pmconv2_downsample", c, 3, 2, 1, "elu"),
            ("pmconv3", 2 * c, 3, 1, 1, "elu"), ("pmconv4_downsample", 4 * c, 3, 2, 1, "elu"),
            ("pmconv5", 4 * c, 3, 1, 1, "elu"), ("pmconv6", 4 * c, 3, 1, 1, "relu"),
        ], 3)
        self.attention = attention
        self.attention_decoder, ch_a = _stack([
            ("pmconv9", 4 * c, 3, 1, 1, "elu"), ("pmconv10", 4 * c, 3, 1, 1, "elu"),
        ], ch_a)
        self.decoder, _ = _stack(_decoder("allconv", c), ch_h + ch_a)

    def forward(self, x: torch.Tensor, mask_small: torch.Tensor, return_flow: bool = False,
                residual: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        hallucinated = _run(self.hallucination, x)
        feats = _run(self.attention_encoder, x)
        feats, offsets = self.attention(feats, feats, mask_small, return_flow=return_flow)
        feats = _run(self.attention_decoder, feats)
        out = _run(self.decoder, torch.cat([hallucinated, feats], dim=1))
        return _residual_tanh(out, x if residual else None), offsets


class DeepFillV2(InpaintModel):
    """The DeepFill v2 generator (see the module docstring for the layout and deviations)."""

    size_multiple = 8

    def __init__(self, config: DeepFillV2Config) -> None:
        super().__init__(config)
        self.config: DeepFillV2Config = config
        attention = ContextualAttention(ksize=config.attention_ksize, stride=config.attention_stride,
                                        rate=config.attention_rate, fuse_k=config.attention_fuse_k,
                                        softmax_scale=config.attention_softmax_scale, fuse=config.attention_fuse,
                                        chunk_size=config.attention_chunk)
        assert config.in_channels is not None
        self.coarse = CoarseNetwork(config.in_channels, config.cnum)
        self.refine = RefineNetwork(config.cnum, attention)
        if config.init == "stable":
            stable_init(self, zero_output=config.prefill != "none")

    def graph_inputs(self, image: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """With ``prefill``, OpenCV's classical fill of the hole (``prefilled``), computed outside
        an exported graph."""
        if self.config.prefill == "none":
            return {}
        mask = mask.to(image.dtype).expand(image.shape[0], 1, *image.shape[-2:])
        return {"prefilled": diffusion_prefill(image * (1.0 - mask), mask, self.config.prefill)}

    def forward(self, image: torch.Tensor, mask: torch.Tensor, guidance: torch.Tensor | None = None, *,
                return_flow: bool = False, prefilled: torch.Tensor | None = None) -> CoarseToFineOutput:
        """Fill ``image`` (N3HW, [-1, 1]) where ``mask`` (N1HW, 1 = hole) is set.

        ``guidance`` (N1HW, e.g. edges in [0, 1]) is required with ``use_guidance`` and only
        read inside the hole. H and W must be multiples of 4.
        """
        check_inputs("deepfill_v2", image, mask)
        n, _, h, w = image.shape
        mask = mask.to(image.dtype).expand(n, 1, h, w)
        known = 1.0 - mask
        image = image * known
        base = None
        if self.config.prefill != "none":
            # ``prefilled`` (from :meth:`graph_inputs`) is that fill computed beforehand.
            image = base = diffusion_prefill(image, mask, self.config.prefill) if prefilled is None else prefilled
        parts = [image, torch.ones_like(mask), mask]
        if self.config.use_guidance:
            if guidance is None or tuple(guidance.shape) not in ((n, 1, h, w), (1, 1, h, w)):
                got = "none" if guidance is None else tuple(guidance.shape)
                raise InvalidArgumentError(f"deepfill_v2 with use_guidance needs guidance of shape ({n}, 1, {h}, {w}), "
                                           f"got {got}")
            parts.insert(1, guidance.to(image.dtype).expand(n, 1, h, w) * mask)
        elif guidance is not None:
            raise InvalidArgumentError("deepfill_v2 was built without use_guidance, but guidance was given")

        # channels_last: oneDNN convolves it without reorder copies (about half the time and memory).
        coarse = self.coarse(torch.cat(parts, dim=1).contiguous(memory_format=torch.channels_last), base)
        composite = coarse * mask + image * known
        mask_small = resize_nearest_tf(mask, (h // 4, w // 4))  # at the attention features' size
        fine, offsets = self.refine(composite.contiguous(memory_format=torch.channels_last), mask_small, return_flow,
                                    residual=base is not None)
        return CoarseToFineOutput(output=fine.contiguous(), coarse=coarse.contiguous(), offsets=offsets)


@register_model(paper="Yu et al., Free-Form Image Inpainting with Gated Convolution, ICCV 2019",
                code="https://github.com/JiahuiYu/generative_inpainting (branch v2.0.0)",
                tiny={"cnum": 8})
def deepfill_v2(**cfg: Any) -> DeepFillV2:
    """DeepFill v2 (Yu et al., ICCV 2019): gated convolutions and contextual attention, coarse-to-fine."""
    return DeepFillV2(build_config(DeepFillV2Config, "deepfill_v2", cfg))


__all__ = ["CoarseNetwork", "DeepFillV2", "DeepFillV2Config", "RefineNetwork", "deepfill_v2"]
