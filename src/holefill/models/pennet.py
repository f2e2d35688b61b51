"""PEN-Net: a pyramid-context encoder whose attention transfer fills each level from the next.

Paper: Y. Zeng, J. Fu, H. Chao and B. Guo, "Learning Pyramid-Context Encoder Network for
High-Quality Image Inpainting", CVPR 2019 (arXiv:1904.07475). Official code:
https://github.com/researchmm/PEN-Net-for-Inpainting, branch ``pytorch`` (``model/pennet.py``:
``InpaintGenerator``, ``Discriminator``, ``AtnConv``; ``core/trainer.py``; ``configs/*.json``).
The authors note that this PyTorch re-implementation differs slightly from the TensorFlow
code of the paper; we follow the PyTorch branch, whose checkpoints are public.

Architecture (checked against ``model/pennet.py``), with ``c = 32``:

- Input: ``cat(image * (1 - mask) + mask, mask)``, the image in [-1, 1] with the hole set to
  1, as ``core/trainer.py`` and ``test.py`` build it.
- Encoder: six 3x3 stride-2 convs, widths c, 2c, 4c, 8c, 16c, 16c, LeakyReLU(0.2) after the
  first five and ReLU after the sixth; features x1 (H/2) ... x6 (H/64). No normalisation.
- Attention Transfer Network, deepest level first: ``x5 = ATN(x5, x6)``, then
  ``x4 = ATN(x4, x5)`` with the *updated* x5, down to ``x1 = ATN(x1, x2)``. Each ATN
  (:func:`attention_transfer`) matches patches of the deeper map (3x3 patches, zero padded,
  stride 1; 1x1 at the top level) by cosine similarity: the deeper map's unnormalised patch at
  each query position dotted with every L2-normalised key patch (norm floored at 1e-4). Keys
  are the valid ones when their patch of the mask, resized bilinearly (``align_corners=True``)
  to the deeper level, is all zero. Scores of hole keys are set to 0 (not -inf) before a
  softmax with scale 10 over all keys, the softmax is then multiplied by the key validity and
  clamped below at 1e-8. The shallower level is rebuilt everywhere (not only in the hole) as
  the attention-weighted sum of its 4x4 patches around each key (stride 2, padding 1: a
  transposed convolution with the patches as filters), divided by 4. On levels 1-4 four
  3x3 convs with dilations 1, 2, 4, 8, each giving a quarter of the channels, plus ReLU, fuse
  the result ("fuse"); the top level has no fusion convs.
- Decoder: ``u5 = ReLU(conv(up(x6)))``; ``u_i = ReLU(conv(up(cat(u_{i+1}, x_{i+1}))))`` for
  i = 4..1 (3x3 convs, widths 16c, 8c, 4c, 2c, c; ``up`` is 2x bilinear with
  ``align_corners=True``). To-RGB heads ``tanh(conv1x1(cat(u_i, x_i)))`` give the pyramid of
  outputs at H/2 ... H/32; the final output is ``tanh(conv3x3(ReLU(conv3x3(up(cat(u1, x1))))))``.
- Sizes must be multiples of 64 (six stride-2 levels whose 2x upsamplings must line up).

Parameters: 10,231,538 (the official ``InpaintGenerator`` instantiated, and ours, exactly);
discriminator 4,318,401 (official and ours).

Memory. The level-1 attention compares every position of x2 (H/4 x W/4) with every other:
(HW/16)^2 scores, 16384^2 at 512^2 (1 GiB in float32, held several times over by the softmax
and the transposed convolution), 65536^2 at 1024^2 (16 GiB each): the official code needs
about 3.6 GB at 512^2 and runs out of memory at 1024^2. :func:`attention_transfer` computes
the scores for a chunk of query positions at a time (at most ``max_attention_entries``
scores), turns each chunk into its reconstructed patches and folds them back at the end.
Each query's softmax only needs its own row, so the chunked result equals the unchunked one
(up to float summation order). ``benchmarks/pennet_memory.py`` measures it; on a 2-core
CPU shared with other jobs (torch 2.13, 2 threads, default budget of 2^24 scores) the peak
RSS of a whole forward pass was 704 MiB at 512^2 (3486 MiB unchunked, identical output) and
1199 MiB at 1024^2 (382 s; the unchunked pass would need 16 GiB per score matrix).

Deviations from the official code:

1. Attention is computed in chunks of query positions (``max_attention_entries``; 0 = all at
   once), batched per image with matrix products and ``F.fold`` instead of per-image
   ``conv2d`` / ``conv_transpose2d`` with patches as filters. Same numbers, far less memory.
2. Layer names are ours (``down.i``, ``atn.i.fuse.g``, ``up.i``, ``to_rgb.i``, ``final.0/1``
   with i = level - 1); :func:`load_official_pennet` maps the official names.
3. The pyramid is returned finest first, like the official list ``[img1, ..., img5]``: index
   i is at 1/2^(i+1) of the input size.
4. The discriminator returns logits by default (``use_sigmoid=False``), because
   :mod:`holefill.losses` takes logits; the official one applies a sigmoid for non-hinge GANs.

Every parameter gets a gradient from ``output`` plus the ``pyramid`` images: the to-RGB heads
are trained only through the pyramid loss.

Training (for the recipe; ``core/trainer.py`` and ``configs/{celebahq,places2,dtd,facade}.json``):

- Generator loss: ``hole_weight`` 6 x L1 over the hole (``l1(pred*m, img*m) / mean(m)``),
  ``valid_weight`` 1 x L1 over the known pixels (``l1(pred*(1-m), img*(1-m)) / mean(1-m)``;
  both :class:`holefill.losses.MaskedL1` with ``normalize="region"``), ``pyramid_weight``
  0.5 x the sum over the five pyramid images of the plain L1 (every pixel) against the target
  resized bilinearly (``align_corners=True``) to that image's size, ``adversarial_weight`` 0.1
  x the generator's adversarial loss on the *composited* image ``(1-m)*img + m*pred``.
- Discriminator (:class:`PENNetDiscriminator`, RGB): real images vs the detached composited
  image; loss ``(real + fake) / 2`` (``d_weight=0.5``). ``gan_type`` hinge for CelebA-HQ and
  Places2, nsgan for DTD and Facade.
- Optimiser: Adam for both, lr 1e-4, betas (0.5, 0.999), discriminator lr = 1 x (``d2glr``);
  both lrs multiplied by ``0.1 ** (min(it, niter_steady) // niter)``: with ``niter`` 1e5,
  Places2 (``niter_steady`` 1.5e5) drops to 1e-5 at 100k iterations, DTD (3.1e5) at 100k,
  200k and 300k, CelebA-HQ (1e4) never. Batch 16, 256x256, 1e6 iterations (Places2),
  3.3e5 (CelebA-HQ, DTD), 2e5 (Facade); one D step then one G step per iteration.
- Masks: ``"square"`` in every config, a w/2 x h/2 square at a random top-left corner in
  [0, h/2] x [0, w/2] (the centred square at test time); ``-m pconv`` uses the Partial
  Convolutions irregular masks (Liu et al. 2018). Augmentation: horizontal flip and
  ColorJitter(0.05, 0.05, 0.05, 0.05) of the image; the mask is flipped, rotated by a random
  0-45 degrees (``expand=True``), dilated by a 3x3 max filter and resized (nearest) to the
  image size. Weights are initialised N(0, 0.02), biases 0.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from holefill.errors import ConfigError, InvalidArgumentError, WeightsError
from holefill.models.base import InpaintModel, InpaintOutput, load_state_strict, read_official_checkpoint
from holefill.models.registry import build_config, register_model

__all__ = [
    "AttentionTransfer",
    "PENNet",
    "PENNetConfig",
    "PENNetDiscriminator",
    "PENNetOutput",
    "attention_transfer",
    "load_official_pennet",
    "pennet",
    "remap_official_pennet",
]


@dataclass
class PENNetConfig:
    """PEN-Net's options; the defaults are the official network."""

    #: Width of the first encoder conv (``cnum``); the levels use 1, 2, 4, 8, 16, 16 times it.
    channels: int = 32
    #: Scale of the cosine similarities before the softmax.
    softmax_scale: float = 10.0
    #: Dilations of the fusion convs after the ATN of levels 1-4 (each gets channels / count).
    fuse_dilations: tuple[int, ...] = (1, 2, 4, 8)
    #: Most attention scores held at once (query chunk = this // keys); 0 = no chunking.
    max_attention_entries: int = 1 << 24

    def __post_init__(self) -> None:
        if self.channels < 1 or self.max_attention_entries < 0 or self.softmax_scale <= 0:
            raise ConfigError("pennet: channels must be >= 1, softmax_scale > 0, max_attention_entries >= 0")
        if not self.fuse_dilations or any(d < 1 for d in self.fuse_dilations):
            raise ConfigError(f"pennet: fuse_dilations must be positive, got {self.fuse_dilations}")
        if self.channels % len(self.fuse_dilations):
            raise ConfigError(f"pennet: channels ({self.channels}) must divide by the "
                              f"{len(self.fuse_dilations)} fusion groups")


@dataclass
class PENNetOutput(InpaintOutput):
    """``output``: the filled image in [-1, 1]; ``pyramid``: the to-RGB images of levels 1-5,
    finest first (index i at 1/2^(i+1) of the input size), each in [-1, 1]."""

    pyramid: tuple[torch.Tensor, ...]


def attention_transfer(low: torch.Tensor, high: torch.Tensor, mask: torch.Tensor, *, match_kernel: int = 3,
                       softmax_scale: float = 10.0, max_entries: int = 1 << 24, row_groups: int | None = None,
                       ) -> torch.Tensor:
    """PEN-Net's attention transfer: rebuild ``low`` (N C1 2h 2w) from its own 4x4 patches,
    weighted by the attention that ``high`` (N C2 h w) computes between its patches.

    ``mask`` is N1HW at any size (1 = hole); a key is valid when its ``match_kernel`` patch
    of the mask, resized bilinearly to h x w, is all zero. At most ``max_entries`` scores are
    held at once (0: all); the result does not depend on it.

    ``row_groups`` (K) is the traceable form, for export and compilation: the whole batch
    at once, queries in K groups of ``h / K`` rows (K must divide h; the sizes may be
    symbolic), so one group's scores are held at a time. None picks it with K = 1 while
    ``torch.compile`` or ``torch.export`` traces the layer.
    """
    n, c1, h1, w1 = low.shape
    _, c2, h, w = high.shape
    if (h1, w1) != (2 * h, 2 * w) or high.shape[0] != n:
        raise InvalidArgumentError(f"attention_transfer: low must be twice high's size, got {tuple(low.shape)} "
                                   f"and {tuple(high.shape)}")
    if match_kernel not in (1, 3):
        raise InvalidArgumentError(f"attention_transfer: match_kernel must be 1 or 3, got {match_kernel}")
    pad = match_kernel // 2
    m = F.interpolate(mask.to(high.dtype), size=(h, w), mode="bilinear", align_corners=True)
    valid = (F.unfold(m, match_kernel, padding=pad).sum(dim=1) == 0).to(high.dtype)  # N x L
    keys = F.unfold(high, match_kernel, padding=pad)  # N x (C2 k k) x L; queries are the same patches
    key_scale = valid / keys.norm(dim=1).clamp_min(1e-4)  # cosine normalisation; hole keys score 0
    patches = F.unfold(low, 4, stride=2, padding=1)  # N x (C1 16) x L
    if row_groups is None and torch.compiler.is_compiling():
        row_groups = 1
    if row_groups is not None:
        return F.fold(_grouped_transfer(keys, key_scale, valid, patches, softmax_scale, row_groups, h, w), (h1, w1), 4,
                      stride=2, padding=1) / 4.0
    length = h * w
    chunk = length if max_entries <= 0 else max(1, min(length, max_entries // length))
    cols = low.new_empty(n, c1 * 16, length)
    for b in range(n):
        keys_t = keys[b].t()
        for q0 in range(0, length, chunk):
            q1 = min(length, q0 + chunk)
            scores = (keys_t[q0:q1] @ keys[b]) * key_scale[b]
            attn = (torch.softmax(scores * softmax_scale, dim=1) * valid[b]).clamp_min(1e-8)
            cols[b, :, q0:q1] = patches[b] @ attn.t()
    return F.fold(cols, (h1, w1), 4, stride=2, padding=1) / 4.0


def _grouped_transfer(keys: torch.Tensor, key_scale: torch.Tensor, valid: torch.Tensor, patches: torch.Tensor,
                      softmax_scale: float, groups: int, h: int, w: int) -> torch.Tensor:
    """The pasted columns (N, C1*16, L) of :func:`attention_transfer`, the batch at once and the
    queries in ``groups`` runs of whole rows: plain tensor operations with static loop counts."""
    if groups < 1 or h % groups:
        raise InvalidArgumentError(f"attention_transfer: row_groups ({groups}) must divide the height ({h})")
    n, ck = keys.shape[0], keys.shape[1]
    queries = keys.transpose(1, 2).reshape(n, groups, (h // groups) * w, ck)
    scale, keep = key_scale.unsqueeze(1), valid.unsqueeze(1)  # N x 1 x L
    cols = []
    for g in range(groups):
        scores = torch.matmul(queries[:, g], keys) * scale
        attn = (torch.softmax(scores * softmax_scale, dim=-1) * keep).clamp_min(1e-8)
        cols.append(torch.matmul(patches, attn.transpose(1, 2)))
    return cols[0] if groups == 1 else torch.cat(cols, dim=-1)


class AttentionTransfer(nn.Module):
    """One ATN level: :func:`attention_transfer`, then the optional dilated fusion convs."""

    def __init__(self, channels: int, match_kernel: int = 3, softmax_scale: float = 10.0,
                 fuse_dilations: Sequence[int] | None = (1, 2, 4, 8), max_entries: int = 1 << 24) -> None:
        super().__init__()
        self.match_kernel = match_kernel
        self.softmax_scale = softmax_scale
        self.max_entries = max_entries
        #: Row groups of the traceable form (see :func:`attention_transfer`); None = the
        #: chunked form, or one group while traced.
        self.row_groups: int | None = None
        groups = len(fuse_dilations) if fuse_dilations else 0
        self.fuse = nn.ModuleList(
            nn.Conv2d(channels, channels // groups, 3, padding=d, dilation=d) for d in (fuse_dilations or ()))

    def forward(self, low: torch.Tensor, high: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        y = attention_transfer(low, high, mask, match_kernel=self.match_kernel, softmax_scale=self.softmax_scale,
                               max_entries=self.max_entries, row_groups=self.row_groups)
        if len(self.fuse):
            y = torch.cat([F.relu(conv(y)) for conv in self.fuse], dim=1)
        return y


def _up(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)


class PENNet(InpaintModel):
    """Pyramid-context encoder with attention transfer at five levels and a multi-scale decoder."""

    size_multiple = 64
    needs_context = True

    def __init__(self, config: PENNetConfig) -> None:
        super().__init__(config)
        c = config.channels
        widths = [c, 2 * c, 4 * c, 8 * c, 16 * c, 16 * c]
        ins = [4] + widths[:-1]
        self.down = nn.ModuleList(nn.Conv2d(i, o, 3, stride=2, padding=1) for i, o in zip(ins, widths))
        self.atn = nn.ModuleList(
            AttentionTransfer(widths[i], 3 if i < 4 else 1, config.softmax_scale,
                              config.fuse_dilations if i < 4 else None, config.max_attention_entries)
            for i in range(5))
        # up[i] produces level i+1's decoder feature; level 5 reads x6, the others cat(u, x).
        self.up = nn.ModuleList(
            nn.Conv2d(widths[5] if i == 4 else 2 * widths[i + 1], widths[i], 3, padding=1) for i in range(5))
        self.to_rgb = nn.ModuleList(nn.Conv2d(2 * widths[i], 3, 1) for i in range(5))
        self.final = nn.ModuleList([nn.Conv2d(2 * c, c, 3, padding=1), nn.Conv2d(c, 3, 3, padding=1)])
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.normal_(module.weight, 0.0, 0.02)
                nn.init.zeros_(module.bias)

    def set_attention_budget(self, max_entries: int) -> None:
        """Change how many attention scores each ATN holds at once (0 = no chunking)."""
        if max_entries < 0:
            raise InvalidArgumentError(f"max_entries must be >= 0, got {max_entries}")
        self.config.max_attention_entries = int(max_entries)
        for atn in self.atn:
            atn.max_entries = int(max_entries)

    def traceable(self) -> None:
        """Traced attention in row groups: level i's keys are H/2^(i+2) rows high, a multiple
        of 2^(4-i) for any input the model takes, so that many groups bound the scores held
        at once (1/16 of the full matrix at the finest level) for every size."""
        for i, atn in enumerate(self.atn):
            atn.row_groups = 2 ** (4 - i)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> PENNetOutput:
        """Fill ``image`` (N3HW, [-1, 1]) where ``mask`` (N1HW) is 1; sides multiples of 64."""
        if image.shape[-1] % 64 or image.shape[-2] % 64:
            raise InvalidArgumentError(f"pennet needs sides that are multiples of 64, got {tuple(image.shape[-2:])}")
        h = torch.cat([image * (1.0 - mask) + mask, mask], dim=1)
        feats = []
        for i, conv in enumerate(self.down):
            h = conv(h)
            h = F.relu(h) if i == 5 else F.leaky_relu(h, 0.2)
            feats.append(h)
        x = feats[:5]
        deeper = feats[5]
        for i in range(4, -1, -1):
            x[i] = self.atn[i](x[i], deeper, mask)
            deeper = x[i]
        coarse_to_fine = []
        u = F.relu(self.up[4](_up(feats[5])))
        for i in range(4, -1, -1):
            if i < 4:
                u = F.relu(self.up[i](_up(torch.cat([u, x[i + 1]], dim=1))))
            coarse_to_fine.append(torch.tanh(self.to_rgb[i](torch.cat([u, x[i]], dim=1))))
        y = _up(torch.cat([u, x[0]], dim=1))
        out = torch.tanh(self.final[1](F.relu(self.final[0](y))))
        return PENNetOutput(output=out, pyramid=tuple(reversed(coarse_to_fine)))


class PENNetDiscriminator(nn.Module):
    """PEN-Net's PatchGAN: four 5x5 convs without bias (strides 2, 2, 2, 1; widths 64-512;
    padding 1; spectral norm by default) with LeakyReLU(0.2), then a 5x5 conv with bias and
    no spectral norm to one channel. Returns N1hw logits (probabilities if ``use_sigmoid``)."""

    def __init__(self, in_channels: int = 3, channels: int = 64, spectral_norm: bool = True,
                 use_sigmoid: bool = False) -> None:
        super().__init__()
        self.use_sigmoid = use_sigmoid
        widths = [in_channels, channels, 2 * channels, 4 * channels, 8 * channels]
        convs = []
        for i, stride in enumerate((2, 2, 2, 1)):
            conv = nn.Conv2d(widths[i], widths[i + 1], 5, stride=stride, padding=1, bias=False)
            nn.init.normal_(conv.weight, 0.0, 0.02)
            convs.append(nn.utils.parametrizations.spectral_norm(conv) if spectral_norm else conv)
        self.convs = nn.ModuleList(convs)
        self.classifier = nn.Conv2d(widths[4], 1, 5, stride=1, padding=1)
        nn.init.normal_(self.classifier.weight, 0.0, 0.02)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.2)
        x = self.classifier(x)
        return torch.sigmoid(x) if self.use_sigmoid else x


@register_model(paper="Zeng et al., Learning Pyramid-Context Encoder Network for High-Quality Image Inpainting, "
                      "CVPR 2019",
                code="https://github.com/researchmm/PEN-Net-for-Inpainting/tree/pytorch",
                tiny={"channels": 8})
def pennet(**cfg: Any) -> PENNet:
    """PEN-Net (2019): pyramid-context encoder with attention transfer across levels."""
    return PENNet(build_config(PENNetConfig, "pennet", cfg))


# -- official checkpoints ------------------------------------------------------------------

_OFFICIAL_RULES = [
    (re.compile(r"^dw_conv0([1-6])\.0\.(weight|bias)$"), lambda g: f"down.{int(g[1]) - 1}.{g[2]}"),
    (re.compile(r"^at_conv0([1-4])\.conv0([0-9])\.0\.(weight|bias)$"),
     lambda g: f"atn.{int(g[1]) - 1}.fuse.{int(g[2])}.{g[3]}"),
    (re.compile(r"^up_conv0([1-5])\.0\.(weight|bias)$"), lambda g: f"up.{int(g[1]) - 1}.{g[2]}"),
    (re.compile(r"^torgb([1-5])\.0\.(weight|bias)$"), lambda g: f"to_rgb.{int(g[1]) - 1}.{g[2]}"),
    (re.compile(r"^decoder\.([02])\.(weight|bias)$"), lambda g: f"final.{int(g[1]) // 2}.{g[2]}"),
]


def remap_official_pennet(state: Mapping[str, torch.Tensor], source: str = "<state dict>") -> dict[str, torch.Tensor]:
    """Official ``InpaintGenerator`` keys (``module.``-prefixed or not) to :class:`PENNet`'s.
    A key that matches no layer is a :class:`WeightsError` naming ``source``."""
    out: dict[str, torch.Tensor] = {}
    leftovers = []
    for key, tensor in state.items():
        k = key[len("module."):] if key.startswith("module.") else key
        for pattern, rename in _OFFICIAL_RULES:
            found = pattern.match(k)
            if found:
                out[rename(found)] = tensor
                break
        else:
            leftovers.append(key)
    if leftovers:
        raise WeightsError(f"{len(leftovers)} keys match no PEN-Net layer (e.g. {', '.join(leftovers[:3])})", source)
    return out


def load_official_pennet(source: str | os.PathLike[str] | Mapping[str, Any], **config: Any) -> PENNet:
    """Build :class:`PENNet` from the authors' ``gen_XXXXX.pth`` (``torch.save({'netG': ...})``)
    or a state dict, and load it strictly; unmapped, missing or misshapen tensors are a
    :class:`WeightsError`. Returned in eval mode with the registry name set."""
    data, name = read_official_checkpoint(source, "netG")
    model = pennet(**config)
    model.architecture = "pennet"
    load_state_strict(model, remap_official_pennet(data, name), source=name)
    return model.eval()
