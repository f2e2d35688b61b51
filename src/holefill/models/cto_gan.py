"""CTO-GAN: contextual outpainting through a semantic layout, with object-level contrastive learning.

Paper: Jiacheng Li, Chang Chen, Zhiwei Xiong, "Contextual Outpainting With Object-Level
Contrastive Learning", CVPR 2022. A foreground (objects) is given and its missing background is
hallucinated through a semantic layout.

No official code was found (searched by title, method name and the paper's terms), so this is
built from the paper: the two stages, the cross-modal contrastive loss and the context-aware
discriminator are the paper's; the layer-level layout below (widths, depths, normalisations,
where the noise enters, the contrastive encoders) is **our design**, as are the parameter
counts (tests/test_cto_gan.py pins ours; there is no official count to meet).

- :class:`SemanticReasoner` (the semantic reasoning stage): foreground image (background
  zeroed), its mask and a noise vector ``z`` (spatially broadcast, at the input and again at
  the bottleneck) -> class logits for every pixel: the scene's layout. An encoder-decoder
  (7x7 conv, three stride-2 4x4 convs, residual blocks, nearest upsampling with skips;
  instance norm, ReLU). Different ``z`` give different layouts, so several plausible
  backgrounds per input (``--samples K``).
- :class:`ContentGenerator` (the content generation stage): the layout (one-hot), the
  foreground and its mask -> the image. An encoder of the foreground, and a decoder of
  SPADE residual blocks (Park et al., CVPR 2019: instance norm modulated per pixel by the
  layout, the foreground and the mask) that adds the encoder's features at each scale; tanh.
- :class:`ContextDiscriminator`: the context-aware discriminator, a U-Net that scores every
  pixel real or generated, conditioned on the layout (so it judges content against layout).
  The recipe trains it to find the generated context: all pixels of a real image are real,
  only the foreground of a generated one.
- :class:`CMCEncoders`: the two encoders and projection heads of the cross-modal contrastive
  (CMC) loss: object embeddings from the image (the object's pixels) and from the layout (the
  layout around the object), contrasted across the batch with temperature tau
  (:mod:`holefill.losses.contrastive`).

At inference ``z`` is 0 (the mean) for one fill; :attr:`CTOGAN.noise_generator` (set by the
filler's ``seeded``) draws it for samples. Inputs and output in [-1, 1]; the mask is 1 on the
background (the hole); sizes must be multiples of 8.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from holefill.errors import ConfigError, InvalidArgumentError
from holefill.models.base import InpaintModel, InpaintOutput
from holefill.models.registry import build_config, register_model

DOWN = 3  # stride-2 levels of every encoder: sizes are multiples of 8


@dataclass
class CTOGANConfig:
    """Settings of the two stages (defaults: the COCO-Stuff setting at our widths)."""

    #: Label classes of the layout (COCO-Stuff: 182 ids; 255 in label maps = unlabelled).
    classes: int = 182
    #: Length of the noise vector of the semantic reasoning stage.
    noise: int = 32
    reasoner_width: int = 64
    reasoner_blocks: int = 6
    generator_width: int = 64
    #: Hidden width of each SPADE modulation.
    spade_hidden: int = 128

    def __post_init__(self) -> None:
        if not 2 <= self.classes <= 255:
            raise ConfigError(f"cto_gan: classes must be between 2 and 255, got {self.classes}")
        for name in ("reasoner_width", "generator_width", "spade_hidden"):
            if getattr(self, name) < 2:
                raise ConfigError(f"cto_gan: {name} must be >= 2, got {getattr(self, name)}")
        if self.noise < 0 or self.reasoner_blocks < 0:
            raise ConfigError("cto_gan: noise and reasoner_blocks must be >= 0")


def _conv(cin: int, cout: int, k: int, s: int = 1, norm: bool = True, act: bool = True) -> nn.Sequential:
    parts: list[nn.Module] = [nn.Conv2d(cin, cout, k, s, (k - 1) // 2 if s == 1 else 1)]
    if norm:
        parts.append(nn.InstanceNorm2d(cout, affine=True))
    if act:
        parts.append(nn.ReLU())
    return nn.Sequential(*parts)


class ResBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(channels, channels, 3), _conv(channels, channels, 3, act=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Encoder(nn.Module):
    """7x7 conv, then three stride-2 4x4 convs doubling the width; returns every scale."""

    def __init__(self, cin: int, width: int) -> None:
        super().__init__()
        self.stem = _conv(cin, width, 7)
        self.downs = nn.ModuleList(_conv(width * 2 ** i, width * 2 ** (i + 1), 4, 2) for i in range(DOWN))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = [self.stem(x)]
        for down in self.downs:
            feats.append(down(feats[-1]))
        return feats


def _noise_map(z: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return z[:, :, None, None].to(like.dtype).expand(-1, -1, *like.shape[-2:])


class SemanticReasoner(nn.Module):
    """Foreground, mask and noise -> class logits of the whole scene's layout."""

    def __init__(self, config: CTOGANConfig) -> None:
        super().__init__()
        w, nz = config.reasoner_width, config.noise
        top = w * 2 ** DOWN
        self.encoder = Encoder(3 + 1 + nz, w)
        self.bottleneck = nn.Sequential(_conv(top + nz, top, 3), *[ResBlock(top) for _ in range(config.reasoner_blocks)])
        self.ups = nn.ModuleList(_conv(w * 2 ** (i + 1), w * 2 ** i, 3) for i in reversed(range(DOWN)))
        self.merges = nn.ModuleList(_conv(w * 2 ** (i + 1), w * 2 ** i, 3) for i in reversed(range(DOWN)))
        self.head = nn.Conv2d(w, config.classes, 1)

    def forward(self, foreground: torch.Tensor, mask: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        x = torch.cat([foreground, mask, _noise_map(z, foreground)], 1)
        feats = self.encoder(x)
        x = self.bottleneck(torch.cat([feats[-1], _noise_map(z, feats[-1])], 1))
        for up, merge, skip in zip(self.ups, self.merges, reversed(feats[:-1])):
            x = merge(torch.cat([up(F.interpolate(x, scale_factor=2.0, mode="nearest")), skip], 1))
        return self.head(x)


class SPADE(nn.Module):
    """Instance norm whose scale and shift come per pixel from a conditioning map (Park et al. 2019)."""

    def __init__(self, channels: int, cond: int, hidden: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.shared = nn.Sequential(nn.Conv2d(cond, hidden, 3, padding=1), nn.ReLU())
        self.gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.beta = nn.Conv2d(hidden, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        a = self.shared(F.interpolate(cond, size=x.shape[-2:], mode="nearest"))
        return self.norm(x) * (1 + self.gamma(a)) + self.beta(a)


class SPADEResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, cond: int, hidden: int) -> None:
        super().__init__()
        mid = min(cin, cout)
        self.norm1, self.conv1 = SPADE(cin, cond, hidden), nn.Conv2d(cin, mid, 3, padding=1)
        self.norm2, self.conv2 = SPADE(mid, cond, hidden), nn.Conv2d(mid, cout, 3, padding=1)
        if cin != cout:
            self.norm_s, self.conv_s = SPADE(cin, cond, hidden), nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        shortcut = self.conv_s(self.norm_s(x, cond)) if hasattr(self, "conv_s") else x
        y = self.conv1(F.leaky_relu(self.norm1(x, cond), 0.2))
        return shortcut + self.conv2(F.leaky_relu(self.norm2(y, cond), 0.2))


class ContentGenerator(nn.Module):
    """Layout (one-hot), foreground and mask -> the image, through SPADE residual blocks."""

    def __init__(self, config: CTOGANConfig) -> None:
        super().__init__()
        w, h = config.generator_width, config.spade_hidden
        cond = config.classes + 3 + 1
        self.encoder = Encoder(3 + 1, w)
        top = w * 2 ** DOWN
        self.head = SPADEResBlock(top, top, cond, h)
        self.blocks = nn.ModuleList(SPADEResBlock(w * 2 ** (i + 1), w * 2 ** i, cond, h) for i in reversed(range(DOWN)))
        self.out = nn.Conv2d(w, 3, 3, padding=1)

    def forward(self, layout: torch.Tensor, foreground: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        cond = torch.cat([layout, foreground, mask], 1)
        feats = self.encoder(torch.cat([foreground, mask], 1))
        x = self.head(feats[-1], cond)
        for block, skip in zip(self.blocks, reversed(feats[:-1])):
            x = block(F.interpolate(x, scale_factor=2.0, mode="nearest"), cond) + skip
        return torch.tanh(self.out(F.leaky_relu(x, 0.2)))


@dataclass
class CTOGANOutput(InpaintOutput):
    """The image (``output``), the layout's logits and the one-hot layout it was drawn from."""

    layout_logits: torch.Tensor
    layout: torch.Tensor


def one_hot(labels: torch.Tensor, classes: int) -> torch.Tensor:
    """N1HW class ids (255 = unlabelled: all zeros) -> NKHW one-hot."""
    ids = labels[:, 0].long()
    valid = (ids >= 0) & (ids < classes)
    out = F.one_hot(ids.clamp(0, classes - 1), classes).permute(0, 3, 1, 2).float()
    return out * valid[:, None].float()


class CTOGAN(InpaintModel):
    """The two stages as one generator (see the module docstring)."""

    size_multiple = 2 ** DOWN

    def __init__(self, config: CTOGANConfig) -> None:
        super().__init__(config)
        self.config: CTOGANConfig = config
        self.reasoner = SemanticReasoner(config)
        self.generator = ContentGenerator(config)
        #: Draws ``z`` when set (samples); None: ``z`` = 0 (one deterministic fill).
        self.noise_generator: torch.Generator | None = None

    def draw_noise(self, n: int, device: torch.device) -> torch.Tensor:
        """``z`` for ``n`` inputs: zeros, or normal draws from :attr:`noise_generator`."""
        if self.noise_generator is None:
            return torch.zeros(n, self.config.noise, device=device)
        return torch.randn(n, self.config.noise, generator=self.noise_generator,
                           device=self.noise_generator.device).to(device)

    def forward(self, image: torch.Tensor, mask: torch.Tensor, *, z: torch.Tensor | None = None,
                layout: torch.Tensor | None = None) -> CTOGANOutput:
        """Fill the background (``mask`` 1) of ``image``. ``layout`` (NKHW one-hot) replaces the
        predicted one (training feeds the true layout); ``z`` (N x noise) the drawn noise."""
        if image.dim() != 4 or image.shape[1] != 3:
            raise InvalidArgumentError(f"cto_gan: image must be N3HW, got shape {tuple(image.shape)}")
        n, _, h, w = image.shape
        if mask.dim() != 4 or mask.shape[1] != 1 or mask.shape[0] not in (1, n) or tuple(mask.shape[-2:]) != (h, w):
            raise InvalidArgumentError(f"cto_gan: mask must be N1HW matching the image, got {tuple(mask.shape)}")
        if h % self.size_multiple or w % self.size_multiple:
            raise InvalidArgumentError(f"cto_gan: height and width must be multiples of {self.size_multiple}, "
                                       f"got {h}x{w} (the pipeline pads)")
        mask = mask.to(image.dtype).expand(n, 1, h, w)
        foreground = image * (1 - mask)
        if z is None:
            z = self.draw_noise(n, image.device)
        logits = self.reasoner(foreground, mask, z)
        if layout is None:
            layout = one_hot(logits.argmax(1, keepdim=True), self.config.classes).to(image.dtype)
        out = self.generator(layout, foreground, mask)
        return CTOGANOutput(output=out, layout_logits=logits, layout=layout)


class ContextDiscriminator(nn.Module):
    """A U-Net that scores every pixel real (high) or generated (low), given the layout."""

    def __init__(self, classes: int, width: int = 64) -> None:
        super().__init__()
        sn = nn.utils.spectral_norm
        w = width
        chans = [w, 2 * w, 4 * w, 8 * w]
        self.downs = nn.ModuleList()
        cin = 3 + classes
        for c in chans:
            self.downs.append(nn.Sequential(sn(nn.Conv2d(cin, c, 4, 2, 1)), nn.LeakyReLU(0.2)))
            cin = c
        self.ups = nn.ModuleList()
        for i in reversed(range(len(chans) - 1)):
            self.ups.append(nn.Sequential(sn(nn.Conv2d(chans[i + 1] + chans[i], chans[i], 3, padding=1)),
                                          nn.LeakyReLU(0.2)))
        self.out = sn(nn.Conv2d(chans[0], 1, 3, padding=1))

    def forward(self, image: torch.Tensor, layout: torch.Tensor) -> torch.Tensor:
        """N1HW per-pixel logits (the input's size) for N3HW images and their NKHW layouts."""
        x = torch.cat([image, layout], 1)
        feats = []
        for down in self.downs:
            x = down(x)
            feats.append(x)
        for up, skip in zip(self.ups, reversed(feats[:-1])):
            x = up(torch.cat([F.interpolate(x, size=skip.shape[-2:], mode="nearest"), skip], 1))
        return F.interpolate(self.out(x), size=image.shape[-2:], mode="bilinear", align_corners=False)


class CMCEncoders(nn.Module):
    """Object embeddings of the two modalities for the cross-modal contrastive loss.

    ``image``: the object's own pixels (features of the foreground, averaged over the object);
    ``layout``: the layout around it (features of the soft layout, averaged over a ring around
    the object outside it, or the whole background when the ring is empty). Each through a
    two-layer projection head to ``dim``, L2-normalised.
    """

    def __init__(self, classes: int, width: int = 64, dim: int = 128, ring: float = 0.125) -> None:
        super().__init__()
        self.ring = ring

        def encoder(cin: int) -> nn.Sequential:
            return nn.Sequential(_conv(cin, width, 3, norm=False), _conv(width, 2 * width, 4, 2, norm=False),
                                 _conv(2 * width, 4 * width, 4, 2, norm=False))

        def head() -> nn.Sequential:
            return nn.Sequential(nn.Linear(4 * width, 4 * width), nn.ReLU(), nn.Linear(4 * width, dim))

        self.image_encoder, self.layout_encoder = encoder(3), encoder(classes)
        self.image_head, self.layout_head = head(), head()

    @staticmethod
    def _pool(feats: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        small = F.adaptive_avg_pool2d(masks, feats.shape[-2:])
        return (feats * small).flatten(2).sum(-1) / small.flatten(2).sum(-1).clamp_min(1e-6)

    def forward(self, foreground: torch.Tensor, layout: torch.Tensor, background: torch.Tensor,
                objects: list[tuple[int, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        """(image embeddings, layout embeddings), one row per object (index into the batch, HxW mask)."""
        index = torch.tensor([i for i, _ in objects], device=foreground.device)
        obj = torch.stack([m for _, m in objects])[:, None].to(foreground.dtype)  # M1HW
        k = max(3, int(self.ring * max(obj.shape[-2:])) * 2 + 1)
        grown = F.max_pool2d(F.max_pool2d(obj, (k, 1), stride=1, padding=(k // 2, 0)), (1, k), stride=1,
                             padding=(0, k // 2))  # a k x k square dilation, separably
        around = (grown - obj).clamp_min(0) * background[index]
        empty = around.flatten(1).sum(1) == 0
        around = torch.where(empty[:, None, None, None], background[index], around)
        u = self.image_head(self._pool(self.image_encoder(foreground)[index], obj))
        v = self.layout_head(self._pool(self.layout_encoder(layout)[index], around))
        return F.normalize(u, dim=1), F.normalize(v, dim=1)


@register_model(paper="Li, Chen and Xiong, Contextual Outpainting With Object-Level Contrastive Learning, CVPR 2022",
                code="none found; built from the paper (see the module docstring)",
                tiny={"classes": 6, "noise": 4, "reasoner_width": 4, "reasoner_blocks": 1, "generator_width": 4,
                      "spade_hidden": 8},
                tasks=("outpaint", "inpaint"))
def cto_gan(**cfg: Any) -> CTOGAN:
    """CTO-GAN (Li et al., CVPR 2022): foreground -> background layout -> background, several per input."""
    return CTOGAN(build_config(CTOGANConfig, "cto_gan", cfg))


__all__ = ["CMCEncoders", "CTOGAN", "CTOGANConfig", "CTOGANOutput", "ContentGenerator", "ContextDiscriminator",
           "SPADE", "SemanticReasoner", "cto_gan", "one_hot"]
