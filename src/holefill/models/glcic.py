"""Globally and Locally Consistent Image Completion (GLCIC).

Paper: Satoshi Iizuka, Edgar Simo-Serra, Hiroshi Ishikawa, "Globally and Locally Consistent
Image Completion", ACM Transactions on Graphics 36(4) (Proc. SIGGRAPH 2017).
Official code: https://github.com/satoshiiizuka/siggraph2017_inpainting (Torch7; inference
only: ``inpaint.lua`` and the released ``completionnet_*.t7`` models; no training code).
The completion network follows the paper's Table 1, the discriminators its Table 2, and the
input/output conventions and post-processing follow ``inpaint.lua``.

Completion network (Table 1; BN + ReLU after every conv but the last, sigmoid output):
conv 5x5 64; conv 3x3 s2 128; conv 3x3 128; conv 3x3 s2 256; conv 3x3 256 x2; dilated
conv 3x3 256 with dilation 2, 4, 8, 16; conv 3x3 256 x2; deconv 4x4 s1/2 128; conv 3x3 128;
deconv 4x4 s1/2 64; conv 3x3 32; conv 3x3 3. Input: 4 channels (RGB, mean-subtracted, hole
set to 0, i.e. the mean pixel; plus the mask). Parameters: 6,072,131 (tests/test_glcic.py
checks it against a hand sum over Table 1: convs 6,066,179, BN layers 5,952), the figure
quoted for the paper's completion network and the released model.

Discriminators (Table 2, :class:`GLCICDiscriminator`): local branch on a 128x128 patch
centred on the hole, five 5x5 stride-2 convs (64, 128, 256, 512, 512) + FC 1024; global
branch on the 256x256 image, six 5x5 stride-2 convs (64, 128, 256, 512, 512, 512) + FC
1024; the two 1024-vectors are concatenated and an FC layer gives one value. BN + ReLU after
the convs (Sec. 3.4: BN everywhere but the last layers), ReLU after each FC-1024.
Parameters at the defaults: 45,063,681 (local 19,253,248, global 25,808,384, final FC 2,049).

Deviations from the official model:

- Our tensors are RGB in [-1, 1]. ``forward`` maps them to the official [0, 1] range,
  subtracts ``pixel_mean`` and zeroes the hole, so the first layer sees exactly what the
  official network sees; the sigmoid output is mapped back to [-1, 1].
- ``pixel_mean`` defaults to the ImageNet mean (0.485, 0.456, 0.406); the official models
  store their training set's mean in the ``.t7`` file (``data.mean``), and a converter must
  copy it into the config. The paper fills holes with "the mean pixel value of the
  training dataset".
- The discriminator returns a logit (the paper's sigmoid lives in the loss,
  :class:`holefill.losses.NonSaturatingGAN`). Whether the FC-1024 layers are followed by a
  ReLU is not stated in the tables; we apply one. Its input sizes are fixed (FC layers).
- Sizes: the network needs multiples of 4 (two stride-2 convs); ``inpaint.lua`` rescales
  the image to multiples of 4, :class:`~holefill.pipeline.ModelFiller` pads instead.
- Post-processing (off by default, as in ``inpaint.lua --postproc``):
  :func:`holefill.classical.poisson.poisson_blend` and
  :class:`~holefill.classical.poisson.PoissonBlendFiller` call OpenCV: Telea inpainting (radius 1) of the hole,
  then ``cv2.seamlessClone`` (normal clone) of the completed image into it, centred on the
  holes' bounding box. We composite known pixels back afterwards.
- The released ``.t7`` models load through ``holefill convert glcic`` (see
  :mod:`holefill.models.convert_torch7`), which copies their ``mean`` into ``pixel_mean``.

Training (paper Sec. 3 and 4; there is no official training code. The numbers below are
the paper's as quoted in our task notes; the PDF could not be re-read here, so check them
against Sec. 3.3-4 before a long run. Implemented by holefill.train.recipes.glcic and
configs/glcic.yaml):

- Losses: weighted MSE on the hole, ``||M_c * (C(x, M_c) - x)||^2``, plus the GAN loss
  ``alpha * [log D(x, M_d) + log(1 - D(C(x, M_c), M_c))]`` with ``alpha = 0.0004``.
  ``M_d`` is a random patch location for real images.
- Phases: ``T_C = 90,000`` iterations of the completion network with MSE only, then
  ``T_D = 10,000`` iterations of the discriminators only (completion frozen), then both
  jointly until ``T_train = 500,000`` iterations.
- Data and masks: images resized so the shorter side is random in [256, 384], random
  256x256 crops; one rectangular hole per image with random sides in [96, 128]; the local
  discriminator sees the 128x128 patch centred on the hole (the real branch a random
  128x128 patch). Holes filled with the dataset mean pixel. Places2 in the paper; batch 96.
- Optimiser: ADADELTA (its learning rate set to 1, the usual setting; ``optim.name: adadelta``).
- Inference: optional Poisson blending (``inpaint.lua --postproc``;
  :class:`~holefill.classical.poisson.PoissonBlendFiller`,
  or ``ModelFiller(..., postprocess="poisson")``, i.e. ``-O postprocess=poisson`` on the CLI).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from holefill.errors import ConfigError, InvalidArgumentError
from holefill.models.base import InpaintModel, InpaintOutput
from holefill.models.registry import build_config, register_model

IMAGENET_MEAN = (0.485, 0.456, 0.406)


@dataclass
class GLCICConfig:
    """Settings of the GLCIC completion network; defaults are the paper's."""

    #: Width of the first layer; the others follow Table 1 (cnum x 1, 2, 4, 2, 1, 1/2).
    cnum: int = 64
    #: Dilation of the four middle layers (Table 1: 2, 4, 8, 16).
    dilations: tuple[int, ...] = (2, 4, 8, 16)
    #: Training-set mean pixel in [0, 1] RGB, subtracted from the input (the hole becomes 0).
    pixel_mean: tuple[float, float, float] = IMAGENET_MEAN

    def __post_init__(self) -> None:
        if self.cnum < 2 or self.cnum % 2:
            raise ConfigError(f"glcic: cnum must be an even number >= 2, got {self.cnum}")
        if not self.dilations or any(int(d) < 1 for d in self.dilations):
            raise ConfigError(f"glcic: dilations must be a non-empty list of integers >= 1, got {self.dilations!r}")
        if len(tuple(self.pixel_mean)) != 3:
            raise ConfigError(f"glcic: pixel_mean needs 3 numbers (R, G, B) in [0, 1], got {self.pixel_mean!r}")
        self.dilations = tuple(int(d) for d in self.dilations)
        self.pixel_mean = tuple(float(v) for v in self.pixel_mean)  # type: ignore[assignment]


class ConvBlock(nn.Module):
    """Conv (or 4x4 stride-2 transposed conv) + BN + ReLU, one row of Table 1."""

    def __init__(self, in_ch: int, out_ch: int, k: int, stride: int = 1, dilation: int = 1,
                 transposed: bool = False) -> None:
        super().__init__()
        if transposed:
            self.conv: nn.Module = nn.ConvTranspose2d(in_ch, out_ch, 4, 2, 1)
        else:
            self.conv = nn.Conv2d(in_ch, out_ch, k, stride, dilation * (k - 1) // 2, dilation)
        self.bn = nn.BatchNorm2d(out_ch)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class GLCIC(InpaintModel):
    """The GLCIC completion network (Table 1): a dilated encoder-decoder at 1/4 resolution."""

    size_multiple = 4
    needs_context = True

    def __init__(self, config: GLCICConfig) -> None:
        super().__init__(config)
        c = config.cnum
        layers: list[nn.Module] = [
            ConvBlock(4, c, 5), ConvBlock(c, 2 * c, 3, 2), ConvBlock(2 * c, 2 * c, 3),
            ConvBlock(2 * c, 4 * c, 3, 2), ConvBlock(4 * c, 4 * c, 3), ConvBlock(4 * c, 4 * c, 3),
        ]
        layers += [ConvBlock(4 * c, 4 * c, 3, dilation=d) for d in config.dilations]
        layers += [
            ConvBlock(4 * c, 4 * c, 3), ConvBlock(4 * c, 4 * c, 3),
            ConvBlock(4 * c, 2 * c, 4, transposed=True), ConvBlock(2 * c, 2 * c, 3),
            ConvBlock(2 * c, c, 4, transposed=True), ConvBlock(c, c // 2, 3),
        ]
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv2d(c // 2, 3, 3, 1, 1)
        self.register_buffer("mean", torch.tensor(config.pixel_mean, dtype=torch.float32).view(1, 3, 1, 1),
                             persistent=False)

    def network_input(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The official input: [0, 1] RGB minus the mean pixel, 0 in the hole, plus the mask."""
        x = ((image + 1.0) * 0.5 - self.mean.to(image.dtype)) * (1.0 - mask)
        return torch.cat([x, mask], dim=1)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> InpaintOutput:
        y = torch.sigmoid(self.out(self.body(self.network_input(image, mask))))
        return InpaintOutput(output=y * 2.0 - 1.0)


def _branch(size: int, cnum: int) -> tuple[nn.Sequential, int]:
    """5x5 stride-2 convs (cnum x 1, 2, 4, 8, 8, ...) from ``size`` down to 4 px + BN + ReLU."""
    if size < 8 or size & (size - 1):
        raise ConfigError(f"glcic discriminator: input sizes must be powers of two >= 8, got {size}")
    layers: list[nn.Module] = []
    ch = 3
    s = size
    i = 0
    while s > 4:
        width = cnum * min(8, 2 ** i)
        layers += [nn.Conv2d(ch, width, 5, 2, 2), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        ch, s, i = width, s // 2, i + 1
    return nn.Sequential(*layers), ch * 4 * 4


class GLCICDiscriminator(nn.Module):
    """The global + local context discriminators and their concatenation layer (Table 2).

    ``forward(image, patch)`` takes the whole ``global_size`` image and the ``local_size``
    patch around the hole and returns logits of shape N x 1.
    """

    def __init__(self, global_size: int = 256, local_size: int = 128, cnum: int = 64, fc: int = 1024) -> None:
        super().__init__()
        self.global_size, self.local_size = global_size, local_size
        self.global_convs, g_feat = _branch(global_size, cnum)
        self.local_convs, l_feat = _branch(local_size, cnum)
        self.global_fc = nn.Sequential(nn.Linear(g_feat, fc), nn.ReLU(inplace=True))
        self.local_fc = nn.Sequential(nn.Linear(l_feat, fc), nn.ReLU(inplace=True))
        self.head = nn.Linear(2 * fc, 1)

    def forward(self, image: torch.Tensor, patch: torch.Tensor) -> torch.Tensor:
        if tuple(image.shape[-2:]) != (self.global_size,) * 2 or tuple(patch.shape[-2:]) != (self.local_size,) * 2:
            raise InvalidArgumentError(f"the discriminator takes a {self.global_size}^2 image and a {self.local_size}^2 patch, "
                             f"got {tuple(image.shape[-2:])} and {tuple(patch.shape[-2:])}")
        g = self.global_fc(self.global_convs(image).flatten(1))
        loc = self.local_fc(self.local_convs(patch).flatten(1))
        return self.head(torch.cat([g, loc], dim=1))


def local_patch_boxes(mask: torch.Tensor, size: int = 128) -> list[tuple[int, int]]:
    """Top-left corners of ``size`` x ``size`` patches centred on each image's hole (its
    bounding box), shifted to stay inside the image: where the local discriminator looks."""
    n, _, h, w = mask.shape
    if size > h or size > w:
        raise InvalidArgumentError(f"local patch {size} does not fit in a {h}x{w} image")
    corners = []
    for i in range(n):
        ys, xs = torch.nonzero(mask[i, 0] > 0.5, as_tuple=True)
        if ys.numel() == 0:
            cy, cx = h // 2, w // 2
        else:
            cy = (int(ys.min()) + int(ys.max()) + 1) // 2
            cx = (int(xs.min()) + int(xs.max()) + 1) // 2
        top = min(max(0, cy - size // 2), h - size)
        left = min(max(0, cx - size // 2), w - size)
        corners.append((top, left))
    return corners


def crop_patches(images: torch.Tensor, corners: list[tuple[int, int]], size: int = 128) -> torch.Tensor:
    """Stack the ``size`` x ``size`` crops of ``images`` at ``corners`` (one per image)."""
    return torch.stack([images[i, :, t:t + size, l:l + size] for i, (t, l) in enumerate(corners)])


@register_model(paper="Iizuka, Simo-Serra and Ishikawa, Globally and Locally Consistent Image Completion, "
                      "ACM TOG 36(4) (SIGGRAPH 2017)",
                code="https://github.com/satoshiiizuka/siggraph2017_inpainting",
                tiny={"cnum": 8})
def glcic(**cfg: Any) -> GLCIC:
    """GLCIC (Iizuka et al. 2017): dilated completion network with global and local discriminators."""
    return GLCIC(build_config(GLCICConfig, "glcic", cfg))
