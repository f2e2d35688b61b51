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

from holefill.losses import make_adversarial
from holefill.models.dcgan import DCGANDiscriminator, DCGANGenerator
from holefill.train.recipe import Batch, Phase, StepResult, register_recipe
from holefill.train.recipes.unconditional import UnconditionalGANRecipe

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
class DCGANRecipe(UnconditionalGANRecipe):
    """The GAN game: G makes images from the prior, D tells them from the data's crops."""

    name = "dcgan"
    Config = DCGANRecipeConfig
    model_type = DCGANGenerator

    def __init__(self, config: DCGANRecipeConfig, model: Any) -> None:
        super().__init__(config, model)
        g = self.generator.config
        self.discriminator = DCGANDiscriminator(g.ndf, g.image_size, g.kernel_size)
        self.adversarial = make_adversarial(config.objective)

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return self.adversarial.generator_loss(fake_logits)

    def discriminator_step(self, batch: Batch, phase: Phase) -> StepResult:
        assert self.discriminator is not None
        real = self.real(batch)
        fake = self.fakes_for(batch, real.shape[0])
        real_logits, fake_logits = self.discriminator(real), self.discriminator(fake)
        loss = self.adversarial.discriminator_loss(real_logits, fake_logits)
        return loss, {"loss": loss.detach(), "real_score": torch.sigmoid(real_logits.detach()).mean(),
                      "fake_score": torch.sigmoid(fake_logits.detach()).mean()}
