"""DCGAN: deep convolutional generative adversarial networks at 64x64.

Paper: Alec Radford, Luke Metz, Soumith Chintala, "Unsupervised Representation Learning with
Deep Convolutional Generative Adversarial Networks", ICLR 2016 (arXiv:1511.06434).
Official code: https://github.com/Newmu/dcgan_code (Theano, MIT; read, not copied):
``faces/train_uncond_dcgan.py`` (the 64x64 model). The widely used PyTorch reference is
https://github.com/pytorch/examples ``dcgan/main.py`` (BSD).

The architecture guidelines of the paper (Section 3), which both codes follow:

- Generator: ``z`` (100-d) is projected to a 4x4 map of ``8 ngf`` channels, then
  fractionally-strided (transposed) convolutions double the side and halve the channels
  (``4 ngf``, ``2 ngf``, ``ngf``) up to 64x64x3; BatchNorm after every layer but the last;
  ReLU, and tanh at the output. No pooling, no fully connected hidden layers.
- Discriminator: strided convolutions halve the side and double the channels (``ndf``,
  ``2 ndf``, ``4 ndf``, ``8 ndf`` at 4x4), BatchNorm on all but the first layer, LeakyReLU
  (slope 0.2), one logit from the last 4x4 map (a dense layer in the Theano code, a 4x4
  valid convolution in PyTorch's: the same function and count).
- Every weight from N(0, 0.02); BatchNorm scales from N(1, 0.02) (the Theano code's
  ``gain_ifn``, PyTorch's ``weights_init``), shifts 0; no biases (BatchNorm's shift replaces them).

Two reference configurations, both buildable, with their parameter counts checked in
``tests/test_dcgan.py``:

- the paper's (Fig. 1: 4x4x1024 projection, 5x5 kernels) = the Theano faces code:
  ``ngf = ndf = 128``, ``kernel_size = 5``, ``projection = "dense"`` (a linear layer to
  4x4x1024 with a BatchNorm over its 16,384 units), ``latent = "uniform"`` (z ~ U(-1, 1));
  generator 18,885,760 and discriminator 17,232,768 parameters. This is the default.
- PyTorch's example: ``ngf = ndf = 64``, ``kernel_size = 4``, ``projection = "conv"`` (a 4x4
  transposed convolution from 1x1 with a per-channel BatchNorm), ``latent = "normal"``;
  generator 3,576,704 and discriminator 2,765,568.

Deviations: ``image_size`` may also be 32 (one stage fewer, for tiny tests) or 128; at
inference BatchNorm uses its running statistics (the Theano code normalises every generated
batch by its own statistics). The discriminator returns logits; the sigmoid lives in the loss
(:mod:`holefill.losses.adversarial`: ``minimax`` and ``nsgan``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from holefill.errors import ConfigError, InvalidArgumentError
from holefill.models.base import GenerativeModel
from holefill.models.registry import build_config, register_model

PROJECTIONS = ("dense", "conv")
LATENTS = ("uniform", "normal")


@dataclass
class DCGANConfig:
    """Widths and layout of the generator (and of the discriminator its recipe trains)."""

    #: Dimension of the latent code z.
    nz: int = 100
    #: Channels of the generator's last hidden layer (8 ngf at 4x4).
    ngf: int = 128
    #: Channels of the discriminator's first layer.
    ndf: int = 128
    #: Side of the square images: 32, 64 or 128 (one stage per doubling from 4x4).
    image_size: int = 64
    #: 5 (the paper and the Theano code) or 4 (PyTorch's example).
    kernel_size: int = 5
    #: How z becomes the 4x4 map: "dense" (linear + BatchNorm1d) or "conv" (4x4 transposed conv).
    projection: str = "dense"
    #: The prior of z: "uniform" on [-1, 1] (the paper) or "normal".
    latent: str = "uniform"

    def __post_init__(self) -> None:
        for key in ("nz", "ngf", "ndf"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise ConfigError(f"dcgan: {key} must be a positive integer, got {getattr(self, key)!r}")
        if self.image_size not in (32, 64, 128):
            raise ConfigError(f"dcgan: image_size must be 32, 64 or 128, got {self.image_size!r}")
        if self.kernel_size not in (4, 5):
            raise ConfigError(f"dcgan: kernel_size must be 4 or 5, got {self.kernel_size!r}")
        if self.projection not in PROJECTIONS:
            raise ConfigError(f"dcgan: projection must be one of {', '.join(PROJECTIONS)}, got {self.projection!r}")
        if self.latent not in LATENTS:
            raise ConfigError(f"dcgan: latent must be one of {', '.join(LATENTS)}, got {self.latent!r}")

    @property
    def stages(self) -> int:
        """Doublings from 4x4 to the image size."""
        return int(math.log2(self.image_size)) - 2


def _up(cin: int, cout: int, k: int) -> nn.ConvTranspose2d:
    """A transposed convolution that doubles the side exactly (k = 4: pad 1; k = 5: pad 2, output pad 1)."""
    if k == 4:
        return nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False)
    return nn.ConvTranspose2d(cin, cout, 5, 2, 2, output_padding=1, bias=False)


def _down(cin: int, cout: int, k: int) -> nn.Conv2d:
    """A strided convolution that halves the side exactly."""
    return nn.Conv2d(cin, cout, k, 2, 1 if k == 4 else 2, bias=False)


def init_dcgan(module: nn.Module, std: float = 0.02) -> None:
    """Weights N(0, 0.02); BatchNorm scales N(1, 0.02) and shifts 0 (both reference codes)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


class DCGANGenerator(GenerativeModel):
    """z (N x nz) -> N x 3 x S x S in [-1, 1]: projection, transposed convolutions, BatchNorm, ReLU, tanh."""

    searchable = True

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__(config)
        self.image_size = config.image_size
        k, n = config.kernel_size, config.stages
        width = config.ngf * 2 ** (n - 1)
        self.width = width
        if config.projection == "dense":
            self.project = nn.Sequential(nn.Linear(config.nz, width * 16, bias=False), nn.BatchNorm1d(width * 16),
                                         nn.ReLU(True))
        else:
            self.project = nn.Sequential(nn.Unflatten(1, (config.nz, 1, 1)),
                                         nn.ConvTranspose2d(config.nz, width, 4, 1, 0, bias=False),
                                         nn.BatchNorm2d(width), nn.ReLU(True))
        layers: list[nn.Module] = []
        for i in range(n - 1):
            layers += [_up(width >> i, width >> (i + 1), k), nn.BatchNorm2d(width >> (i + 1)), nn.ReLU(True)]
        layers += [_up(config.ngf, 3, k), nn.Tanh()]
        self.body = nn.Sequential(*layers)
        init_dcgan(self)

    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` codes from the prior (U(-1, 1) or N(0, 1)), on the model's device."""
        device = next(self.parameters()).device
        if self.config.latent == "uniform":
            z = torch.rand(n, self.config.nz, generator=generator) * 2 - 1
        else:
            z = torch.randn(n, self.config.nz, generator=generator)
        return z.to(device)

    def clamp_latents(self, z: torch.Tensor) -> torch.Tensor:
        """Keep searched codes inside the prior's support (the uniform prior's box, as Yeh et al. clip)."""
        return z.clamp(-1, 1) if self.config.latent == "uniform" else z

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        h = self.project(latents)
        if h.dim() == 2:
            h = h.view(-1, self.width, 4, 4)
        return self.body(h)


class DCGANDiscriminator(nn.Module):
    """N x 3 x S x S -> N x 1 logits: strided convolutions, BatchNorm (not on the first), LeakyReLU(0.2)."""

    def __init__(self, ndf: int = 128, image_size: int = 64, kernel_size: int = 5) -> None:
        super().__init__()
        if image_size not in (32, 64, 128):
            raise ConfigError(f"dcgan discriminator: image_size must be 32, 64 or 128, got {image_size!r}")
        self.image_size = image_size
        n = int(math.log2(image_size)) - 2
        layers: list[nn.Module] = [_down(3, ndf, kernel_size), nn.LeakyReLU(0.2, True)]
        for i in range(n - 1):
            layers += [_down(ndf << i, ndf << (i + 1), kernel_size), nn.BatchNorm2d(ndf << (i + 1)),
                       nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(ndf << (n - 1), 1, 4, 1, 0, bias=False))  # the dense layer on the 4x4 map
        self.body = nn.Sequential(*layers)
        init_dcgan(self)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if tuple(image.shape[-2:]) != (self.image_size, self.image_size):
            raise InvalidArgumentError(f"the discriminator takes {self.image_size}x{self.image_size} images, got "
                                       f"{image.shape[-1]}x{image.shape[-2]}")
        return self.body(image).flatten(1)


@register_model(paper="Radford, Metz and Chintala, Unsupervised Representation Learning with Deep Convolutional "
                      "Generative Adversarial Networks, ICLR 2016",
                code="https://github.com/Newmu/dcgan_code",
                tiny={"ngf": 8, "ndf": 8, "nz": 16, "image_size": 32}, tasks=("generate", "inpaint"))
def dcgan(**cfg: Any) -> DCGANGenerator:
    """DCGAN (Radford et al. 2016): an unconditional 64x64 image generator; fills by latent search."""
    return DCGANGenerator(build_config(DCGANConfig, "dcgan", cfg))
