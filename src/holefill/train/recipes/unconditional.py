"""What the unconditional GAN recipes share (``dcgan``, ``giraffe``): a generator drawn from its
prior, a discriminator on the data's crops, the generator's step, fakes for the
discriminator's step, and the samples. Each recipe says how it scores logits
(:meth:`UnconditionalGANRecipe.generator_loss`) and builds its discriminator step from
:meth:`UnconditionalGANRecipe.fakes_for`.
"""

from __future__ import annotations

import torch

from holefill.errors import ConfigError
from holefill.train.recipe import Batch, Phase, Recipe, StepResult


class UnconditionalGANRecipe(Recipe):
    """The GAN game on images from a generator's prior; subclasses set ``discriminator``."""

    discriminator: torch.nn.Module | None

    def real(self, batch: Batch) -> torch.Tensor:
        """The batch's crops, which must be the generator's size (their masks are not used)."""
        image = batch["image"]
        size = self.generator.image_size
        if tuple(image.shape[-2:]) != (size, size):
            raise ConfigError(f"data.crop: the generator makes {size}x{size} images, but the training crops are"
                              f" {image.shape[-1]}x{image.shape[-2]}; set data.crop to {size}")
        return image

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """The generator's loss on the discriminator's logits for its images."""
        raise NotImplementedError

    def generator_step(self, batch: Batch, phase: Phase) -> StepResult:
        n = self.real(batch).shape[0]
        fake = self.generator(self.generator.sample_latents(n)).float()
        batch["_fake"] = fake.detach()  # the discriminator's step reuses them
        assert self.discriminator is not None
        loss = self.generator_loss(self.discriminator(fake))
        return loss, {"loss": loss.detach()}

    def fakes_for(self, batch: Batch, n: int) -> torch.Tensor:
        """The generator step's images, or ``n`` new ones when the step did not run."""
        fake = batch.get("_fake")
        if fake is None:
            with torch.no_grad():
                fake = self.generator(self.generator.sample_latents(n)).float()
        return fake

    @torch.no_grad()
    def samples(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Real crops beside generated images (codes from a fixed seed), and
        :meth:`extra_samples` of the same codes."""
        real = self.real(batch)
        latents = self.generator.sample_latents(real.shape[0], torch.Generator().manual_seed(0))
        return {"real": real, "generated": self.generator(latents).float().clamp(-1, 1),
                **self.extra_samples(latents)}

    def extra_samples(self, latents: object) -> dict[str, torch.Tensor]:
        """More pictures of the sample codes (none by default)."""
        return {}

    @torch.no_grad()
    def generator_samples(self, batch: Batch, generator: torch.nn.Module) -> dict[str, torch.Tensor]:
        latents = generator.sample_latents(batch["image"].shape[0], torch.Generator().manual_seed(0))
        return {"ema generated": generator(latents).float().clamp(-1, 1)}

    def evaluate_batch(self, batch: Batch, generator: torch.nn.Module) -> dict[str, torch.Tensor]:
        """Nothing: an unconditional generator has no held-out target (FID needs Inception weights)."""
        return {}
