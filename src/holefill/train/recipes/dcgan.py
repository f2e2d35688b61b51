"""``dcgan``: the GAN game of Goodfellow et al. (NeurIPS 2014) with DCGAN's networks and settings.

- The objective: D maximises ``log D(x) + log(1 - D(G(z)))`` over real images ``x`` and
  codes ``z`` from the prior; G either minimises ``log(1 - D(G(z)))`` (``objective:
  minimax``, the paper's Eq. 1) or maximises ``log D(G(z))`` (``objective: nsgan``, the
  non-saturating loss Goodfellow et al. recommend and both DCGAN codes use: Newmu's
  ``g_cost_d = bce(p_gen, 1)``, PyTorch's ``errG = criterion(output, real_label)``).
- Radford et al. (Section 4): Adam with lr 0.0002 and beta1 0.5, batches of 128, one D
  update per G update; Newmu's faces code adds an L2 weight decay of 1e-5 (``optim``
  section of the YAML).
- Each step draws ``z`` for the batch from the generator's prior; the discriminator sees a
  batch of real images and a batch of generated ones separately (BatchNorm statistics per
  kind, as both codes do). Real images are the data's crops at the model's image size;
  their masks are not used.

The discriminator is :class:`~holefill.models.dcgan.DCGANDiscriminator` with the generator
config's ``ndf`` and kernel size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from holefill.errors import ConfigError
from holefill.losses import make_adversarial
from holefill.models.dcgan import DCGANDiscriminator, DCGANGenerator
from holefill.train.recipe import Batch, Phase, Recipe, StepResult, register_recipe

OBJECTIVES = ("nsgan", "minimax")


@dataclass(frozen=True)
class DCGANRecipeConfig:
    """Which generator loss of the GAN game: non-saturating (default) or the original minimax."""

    objective: str = "nsgan"

    def _problems(self) -> list[tuple[str, str]]:
        if self.objective not in OBJECTIVES:
            return [("objective", f"must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}")]
        return []


@register_recipe
class DCGANRecipe(Recipe):
    """The GAN game: G makes images from the prior, D tells them from the data's crops."""

    name = "dcgan"
    Config = DCGANRecipeConfig
    model_type = DCGANGenerator

    def __init__(self, config: DCGANRecipeConfig, model: Any) -> None:
        super().__init__(config, model)
        g = self.generator.config
        self.discriminator = DCGANDiscriminator(g.ndf, g.image_size, g.kernel_size)
        self.adversarial = make_adversarial(config.objective)

    def real(self, batch: Batch) -> torch.Tensor:
        image = batch["image"]
        size = self.generator.image_size
        if tuple(image.shape[-2:]) != (size, size):
            raise ConfigError(f"data.crop: the generator makes {size}x{size} images, but the training crops are"
                              f" {image.shape[-1]}x{image.shape[-2]}; set data.crop to {size}")
        return image

    def generator_step(self, batch: Batch, phase: Phase) -> StepResult:
        n = self.real(batch).shape[0]
        fake = self.generator(self.generator.sample_latents(n)).float()
        batch["_fake"] = fake.detach()
        assert self.discriminator is not None
        loss = self.adversarial.generator_loss(self.discriminator(fake))
        return loss, {"loss": loss.detach()}

    def discriminator_step(self, batch: Batch, phase: Phase) -> StepResult:
        assert self.discriminator is not None
        real = self.real(batch)
        fake = batch.get("_fake")
        if fake is None:
            with torch.no_grad():
                fake = self.generator(self.generator.sample_latents(real.shape[0])).float()
        real_logits, fake_logits = self.discriminator(real), self.discriminator(fake)
        loss = self.adversarial.discriminator_loss(real_logits, fake_logits)
        return loss, {"loss": loss.detach(), "real_score": torch.sigmoid(real_logits.detach()).mean(),
                      "fake_score": torch.sigmoid(fake_logits.detach()).mean()}

    @torch.no_grad()
    def samples(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Real crops beside generated images (codes from a fixed seed)."""
        real = self.real(batch)
        z = self.generator.sample_latents(real.shape[0], torch.Generator().manual_seed(0))
        return {"real": real, "generated": self.generator(z).float().clamp(-1, 1)}

    @torch.no_grad()
    def generator_samples(self, batch: Batch, generator: torch.nn.Module) -> dict[str, torch.Tensor]:
        z = generator.sample_latents(batch["image"].shape[0], torch.Generator().manual_seed(0))
        return {"ema generated": generator(z).float().clamp(-1, 1)}

    def evaluate_batch(self, batch: Batch, generator: torch.nn.Module) -> dict[str, torch.Tensor]:
        """Nothing: an unconditional generator has no held-out target (FID needs Inception weights)."""
        return {}
