"""``meta_sr``: Meta-SR's training (Hu et al., CVPR 2019): one random scale per batch, L1.

Official code: XuecaiHu/Meta-SR-Pytorch (read, not copied). What it does and this recipe
follows:

- Scales 1.1, 1.2, ..., 4.0 (``option.py``: the 30 values); every batch is made at one scale
  drawn at random from them (``data/multiscalesrdata.py``: ``idx_scale`` per batch).
- Inputs are the high-resolution patches shrunk by bicubic interpolation (the authors' MATLAB
  ``imresize``, which filters when it shrinks): here ``F.interpolate(..., mode="bicubic",
  antialias=True)``, the same kernel (Keys, a = -0.5) widened by the scale. The low-resolution
  patch is rounded to 8 bits, as a saved image would be.
- Patch geometry: the LR patch is ``l x l`` (``lr_patch``: the code's ``--patch_size 50``;
  40 in the CPU config) and the HR target exactly ``r l x r l`` pixels, cut at a random place
  in the data's crop (which must hold ``max_scale * lr_patch`` pixels). ``l`` is the largest
  multiple of the scale's denominator up to ``lr_patch`` (1.1 = 11/10: l in 10, 20, ...), so
  the two grids line up exactly (the code's ``get_patch`` picks positions on such a step for
  the same reason).
- Loss: L1 between the output and the HR patch (``--loss 1*L1``); Adam (lr 1e-4, halved every
  200 epochs in the code; the YAML configs say what they use).

Batches come from the usual image data (``data.crop`` is the HR crop side); their hole masks
are not used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import torch
import torch.nn.functional as F

from holefill.errors import ConfigError
from holefill.models.meta_sr import MetaRDN
from holefill.train.recipe import Batch, Phase, Recipe, StepResult, register_recipe


def training_scales(low: float, high: float, step: float) -> tuple[float, ...]:
    """``low, low + step, ..., high`` (both ends included), rounded to 6 decimals."""
    count = int(round((high - low) / step)) + 1
    return tuple(round(low + i * step, 6) for i in range(count))


def lr_side(patch: int, scale: float) -> int:
    """The largest LR side ``l <= patch`` with ``scale * l`` a whole number of pixels."""
    q = Fraction(scale).limit_denominator(1000).denominator
    return patch // q * q


def shrink(hr: torch.Tensor, side: int, quantize: bool = True) -> torch.Tensor:
    """Bicubic shrink (with MATLAB-style filtering) of N3HW images in [-1, 1] to ``side x side``."""
    lr = F.interpolate(hr, size=(side, side), mode="bicubic", antialias=True, align_corners=False).clamp(-1, 1)
    if quantize:
        lr = torch.round((lr + 1) * 127.5) / 127.5 - 1
    return lr


@dataclass(frozen=True)
class MetaSRRecipeConfig:
    """The scales drawn during training (the paper's 1.1 ... 4.0 in steps of 0.1)."""

    min_scale: float = 1.1
    max_scale: float = 4.0
    scale_step: float = 0.1
    #: Side of the low-resolution training patches (the code's --patch_size).
    lr_patch: int = 50
    #: Round the shrunk inputs to 8 bits, as a saved low-resolution image is.
    quantize: bool = True

    def _problems(self) -> list[tuple[str, str]]:
        out = []
        if not 1.0 < self.min_scale <= self.max_scale:
            out.append(("min_scale", f"must be > 1 and <= max_scale, got {self.min_scale}"))
        if self.lr_patch < 10:
            out.append(("lr_patch", f"must be >= 10 pixels, got {self.lr_patch}"))
        if not self.scale_step > 0:
            out.append(("scale_step", f"must be > 0, got {self.scale_step}"))
        elif abs((self.max_scale - self.min_scale) / self.scale_step - round((self.max_scale - self.min_scale)
                                                                            / self.scale_step)) > 1e-6:
            out.append(("scale_step", "must divide max_scale - min_scale into whole steps"))
        return out


@register_recipe
class MetaSRRecipe(Recipe):
    """L1 at one random scale per batch; the LR input is the bicubic-shrunk HR crop."""

    name = "meta_sr"
    Config = MetaSRRecipeConfig
    model_type = MetaRDN

    def __init__(self, config: MetaSRRecipeConfig, model: Any) -> None:
        super().__init__(config, model)
        self.scales = training_scales(config.min_scale, config.max_scale, config.scale_step)
        if max(self.scales) > self.generator.max_scale:
            raise ConfigError(f"recipe.args.max_scale {max(self.scales):g} is above the model's max_scale "
                              f"{self.generator.max_scale:g}")

    def pair(self, batch: Batch, scale: float, random_place: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """(LR input, HR target) of ``batch`` at ``scale``: an HR patch of ``r l`` pixels and its shrunk copy."""
        hr = batch["image"]
        side = lr_side(self.config.lr_patch, scale)
        hr_side = int(round(scale * side))
        h, w = hr.shape[-2:]
        if min(h, w) < hr_side:
            need = int(math.ceil(max(self.scales) * self.config.lr_patch))
            raise ConfigError(f"data.crop: the {h}x{w} crops are too small for scale {scale:g} with lr_patch"
                              f" {self.config.lr_patch}; use a crop of at least {need}")
        top = left = 0
        if random_place:
            top = int(torch.randint(h - hr_side + 1, (1,)))
            left = int(torch.randint(w - hr_side + 1, (1,)))
        hr = hr[:, :, top:top + hr_side, left:left + hr_side]
        return shrink(hr, side, self.config.quantize), hr

    def draw_scale(self) -> float:
        """One of the training scales, from torch's random stream (restored when a run resumes)."""
        return self.scales[int(torch.randint(len(self.scales), (1,)))]

    def generator_step(self, batch: Batch, phase: Phase) -> StepResult:
        scale = self.draw_scale()
        lr, hr = self.pair(batch, scale)
        sr = self.generator(lr, scale).float()
        loss = (sr - hr).abs().mean()
        with torch.no_grad():
            psnr = psnr_per_image(sr.clamp(-1, 1), hr).mean()
        return loss, {"l1": loss.detach(), "psnr": psnr, "scale": scale}

    @torch.no_grad()
    def samples(self, batch: Batch) -> dict[str, torch.Tensor]:
        """At x3: the bicubic enlargement of the shrunk crop, the network's, and the original."""
        scale = 3.0
        lr, hr = self.pair(batch, scale, random_place=False)
        size = hr.shape[-2:]
        bicubic = F.interpolate(lr, size=size, mode="bicubic", align_corners=False).clamp(-1, 1)
        return {"bicubic": bicubic, "output": self.generator(lr, scale).float().clamp(-1, 1), "target": hr}

    @torch.no_grad()
    def generator_samples(self, batch: Batch, generator: torch.nn.Module) -> dict[str, torch.Tensor]:
        lr, _ = self.pair(batch, 3.0, random_place=False)
        return {"ema output": generator(lr, 3.0).float().clamp(-1, 1)}

    @torch.no_grad()
    def evaluate_batch(self, batch: Batch, generator: torch.nn.Module) -> dict[str, torch.Tensor]:
        """PSNR (RGB, [0, 1] units) at x2, x3 and x4 on held-out crops, and the gain over bicubic."""
        scores = {}
        for scale in (2.0, 3.0, 4.0):
            lr, hr = self.pair(batch, scale, random_place=False)
            out = generator(lr, scale).float().clamp(-1, 1)
            bicubic = F.interpolate(lr, size=hr.shape[-2:], mode="bicubic", align_corners=False).clamp(-1, 1)
            psnr = psnr_per_image(out, hr)
            scores[f"psnr_x{scale:g}"] = psnr
            scores[f"gain_x{scale:g}"] = psnr - psnr_per_image(bicubic, hr)
        return scores


def psnr_per_image(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """PSNR (dB) of each image pair of N3HW tensors in [-1, 1]."""
    mse = ((a - b) / 2).pow(2).flatten(1).mean(1).clamp_min(1e-10)
    return -10 * torch.log10(mse)
