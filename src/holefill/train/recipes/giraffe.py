"""``giraffe``: GIRAFFE's adversarial training (Niemeyer and Geiger, CVPR 2021).

From the official code (``im2scene/giraffe/training.py``, ``im2scene/training.py``,
``configs/default.yaml``; read, not copied):

- Generator: the non-saturating GAN loss ``BCE(D(G(z)), 1)`` on scenes drawn from the priors
  (codes, poses, camera), rendered in training mode (stratified depths, density noise).
- Discriminator: ``BCE(D(x), 1) + BCE(D(G(z)), 0)`` plus the R1 penalty on real images,
  ``10 * mean_i ||grad_x D(x_i)||^2`` (``compute_grad2``; Mescheder et al. 2018).
- The code's DC discriminator (:class:`~holefill.models.giraffe.DCDiscriminator`, 512
  features at the top for 64x64), one D update per G update, RMSprop with lr 5e-4 (G) and
  1e-4 (D), batches of 32, an EMA of the generator with decay 0.999 (the exported one).
  holefill's optimisers have no RMSprop: the configs use Adam with betas (0, 0.99), which is
  RMSprop with decay 0.99 plus Adam's bias correction. The shipped tiny config
  (``giraffe_shapes``) uses 1e-4 for both networks: its header says why.

Real images are the data's crops at the model's image size; their masks are not used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from holefill.models.giraffe import DCDiscriminator, Giraffe
from holefill.train.recipe import Batch, Phase, StepResult, register_recipe
from holefill.train.recipes.unconditional import UnconditionalGANRecipe


@dataclass(frozen=True)
class GiraffeRecipeConfig:
    """The R1 weight and the discriminator's width (the code's 10 and 512)."""

    r1_weight: float = 10.0
    d_features: int = 512

    def _problems(self) -> list[tuple[str, str]]:
        out = []
        if not self.r1_weight >= 0:
            out.append(("r1_weight", f"must be >= 0, got {self.r1_weight}"))
        if self.d_features < 8 or self.d_features & (self.d_features - 1):
            out.append(("d_features", f"must be a power of two >= 8, got {self.d_features}"))
        return out


def r1_penalty(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """``mean_i ||d logits_i / d images_i||^2`` (the code's ``compute_grad2``, averaged)."""
    (grad,) = torch.autograd.grad(logits.sum(), images, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


@register_recipe
class GiraffeRecipe(UnconditionalGANRecipe):
    """The non-saturating GAN game with the R1 penalty, on scenes drawn from GIRAFFE's priors."""

    name = "giraffe"
    Config = GiraffeRecipeConfig
    model_type = Giraffe

    def __init__(self, config: GiraffeRecipeConfig, model: Any) -> None:
        super().__init__(config, model)
        self.discriminator = DCDiscriminator(config.d_features, self.generator.image_size)

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.softplus(-fake_logits).mean()  # non-saturating: -log D(G(z))

    def discriminator_step(self, batch: Batch, phase: Phase) -> StepResult:
        assert self.discriminator is not None
        real = self.real(batch).detach().requires_grad_(True)
        fake = self.fakes_for(batch, real.shape[0])
        real_logits = self.discriminator(real)
        fake_logits = self.discriminator(fake)
        loss_real = F.softplus(-real_logits).mean()
        loss_fake = F.softplus(fake_logits).mean()
        r1 = r1_penalty(real_logits, real) if self.config.r1_weight > 0 else real_logits.new_zeros(())
        loss = loss_real + loss_fake + self.config.r1_weight * r1
        return loss, {"loss": (loss_real + loss_fake).detach(), "r1": r1.detach(),
                      "real_score": torch.sigmoid(real_logits.detach()).mean(),
                      "fake_score": torch.sigmoid(fake_logits.detach()).mean()}

    def extra_samples(self, latents: Any) -> dict[str, torch.Tensor]:
        """The backgrounds of the sample scenes alone."""
        return {"background": self.generator.render(latents, objects=False).float().clamp(-1, 1)}
