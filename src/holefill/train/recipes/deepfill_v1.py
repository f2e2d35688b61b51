"""``deepfill_v1``: Yu et al.'s coarse-to-fine training with global and local WGAN-GP critics.

Paper: Yu, Lin, Yang, Shen, Lu, Huang, "Generative Image Inpainting with Contextual
Attention", CVPR 2018, Sec. 3.1 (losses) and Sec. 4 (training). Official code: JiahuiYu/
generative_inpainting, tag v1.0.0 (``inpaint.yml``, ``inpaint_model.build_graph_with_losses``,
``train.py``). Defaults are the official config's numbers, except ``gamma`` (see below).

Generator loss (per step, ``x1`` coarse output, ``x2`` refined output, ``C`` the composite of
``x2`` into the known pixels)::

    l1  = coarse_l1_alpha * L1d(x1) + L1d(x2)            # spatially discounted, over the hole
    ae  = coarse_l1_alpha * L1k(x1) + L1k(x2)            # plain L1 over the known pixels
    adv = -(global_wgan_loss_alpha * D_g(C) + D_l(patch(C)))
    G   = l1_loss_alpha * l1 + ae_loss_alpha * ae + gan_loss_alpha * adv

- ``L1d``: each hole pixel weighted ``gamma ** l``, ``l`` its distance to the nearest known
  pixel. ``gamma``: the paper's 0.99 (Sec. 3.1); the official
  ``inpaint.yml`` has ``SPATIAL_DISCOUNTING_GAMMA: 0.9`` (set ``gamma: 0.9`` to match it).
  ``discount: mask`` (default) computes the map from each mask and averages over the hole, as
  the paper describes it; ``discount: box`` reproduces the official code: the fixed map of
  ``inpaint_ops.spatial_discounting_mask`` over the ``local_size`` box patch around the hole,
  averaged over every entry of the patch (the box's known rim included).
- ``L1k``: ``mean(|x - y| * (1 - M)) / mean(1 - M)``, the official ``ae_loss``.
- Weights (``inpaint.yml``): ``COARSE_L1_ALPHA 1.2``, ``L1_LOSS_ALPHA 1.2``,
  ``AE_LOSS_ALPHA 1.2``, ``GAN_LOSS_ALPHA 0.001``, ``GLOBAL_WGAN_LOSS_ALPHA 1``.

Critic loss: ``D_g(C) - D_g(X) + D_l(patch(C)) - D_l(patch(X)) + wgan_gp_lambda * (GP_g + GP_l)``
(``WGAN_GP_LAMBDA 10``) with the gradient penalty on random interpolates of real and
composited images (and patches), its gradient norm taken over the hole only (the paper's
masked penalty; :meth:`holefill.losses.WGANGP.gradient_penalty` with ``mask``).

Phases: optionally ``coarse`` (``PRETRAIN_COARSE_NETWORK``: the coarse network alone with its
L1 terms, no GAN; 0 steps by default as officially), then ``train`` with ``d_updates``
critic updates per generator update (5: neuralgym ``SecondaryTrainer(max_iters=5)``).
Optimiser (``train.py``): Adam, lr 1e-4, betas (0.5, 0.9) for both networks; batch 16; masks:
``RandomBox`` defaults (128x128 in 256 minus up to 32 px). See ``configs/deepfill_v1.yaml``.

The local patch is the ``local_size`` square centred on each hole's bounding box (shifted to
stay in the image); for a RandomBox hole it is exactly the official ``local_patch(x, bbox)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from holefill.errors import ConfigError
from holefill.losses import WGANGP, MaskedL1, SpatiallyDiscountedL1, box_discount_map
from holefill.models.deepfill_v1 import DeepFillV1, DeepFillV1Discriminator
from holefill.models.glcic import crop_patches, local_patch_boxes
from holefill.train.recipe import Batch, Phase, Recipe, StepResult, register_recipe

Logs = dict[str, Any]


@dataclass(frozen=True)
class DeepFillV1LossConfig:
    """DeepFill v1's loss weights and critic sizes; defaults from the official ``inpaint.yml``.

    Shared by the DeepFill v1 recipe and foreground-aware inpainting's image module, which
    trains the same way (:class:`DeepFillV1Losses`).
    """

    #: Spatial discount per pixel of distance (paper 0.99; official config 0.9).
    gamma: float = 0.99
    #: "mask": discount map from each mask, mean over the hole (paper); "box": the official fixed
    #: map over the local box patch, mean over the patch.
    discount: Literal["mask", "box"] = "mask"
    coarse_l1_alpha: float = 1.2
    l1_loss_alpha: float = 1.2
    ae_loss_alpha: float = 1.2
    gan_loss_alpha: float = 0.001
    global_wgan_loss_alpha: float = 1.0
    wgan_gp_lambda: float = 10.0
    #: Critic updates per generator update (official 5).
    d_updates: int = 5
    #: Side of the training crops, which the global critic sees (its dense layer fixes it).
    image_size: int = 256
    #: Side of the local critic's patch around the hole (official HEIGHT = WIDTH = 128).
    local_size: int = 128
    #: Width of the critics' first convolution (official 64).
    d_cnum: int = 64

    def _problems(self) -> list[tuple[str, str]]:
        out = []
        if not 0.0 < self.gamma <= 1.0:
            out.append(("gamma", f"must lie in (0, 1], got {self.gamma}"))
        for key in ("coarse_l1_alpha", "l1_loss_alpha", "ae_loss_alpha", "gan_loss_alpha", "global_wgan_loss_alpha",
                    "wgan_gp_lambda"):
            if not getattr(self, key) >= 0:
                out.append((key, f"must be >= 0, got {getattr(self, key)}"))
        if self.d_updates < 1:
            out.append(("d_updates", f"must be >= 1, got {self.d_updates}"))
        if self.image_size < 16 or self.local_size < 16:
            out.append(("image_size", f"image_size and local_size must be >= 16, got {self.image_size}, {self.local_size}"))
        elif self.local_size > self.image_size:
            out.append(("local_size", f"must not exceed image_size ({self.image_size}), got {self.local_size}"))
        if self.d_cnum < 1:
            out.append(("d_cnum", f"must be >= 1, got {self.d_cnum}"))
        return out


@dataclass(frozen=True)
class DeepFillV1RecipeConfig(DeepFillV1LossConfig):
    """DeepFill v1's recipe: its losses, plus optional coarse-network pre-training."""

    #: Steps of coarse-network pre-training (official PRETRAIN_COARSE_NETWORK, off: 0).
    pretrain_coarse_steps: int = 0

    def _problems(self) -> list[tuple[str, str]]:
        out = super()._problems()
        if self.pretrain_coarse_steps < 0:
            out.append(("pretrain_coarse_steps", f"must be >= 0, got {self.pretrain_coarse_steps}"))
        return out


class DeepFillV1Losses(nn.Module):
    """DeepFill v1's generator and critic objectives on (image, mask, coarse, refined) tensors.

    Shared with :mod:`holefill.train.recipes.foreground_aware`, whose image module trains the
    same way. ``critics`` is a :class:`~holefill.models.deepfill_v1.DeepFillV1Discriminator`.
    """

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        self.cfg = cfg
        self.discounted = SpatiallyDiscountedL1(cfg.gamma, normalize="hole")
        self.known_l1 = MaskedL1(hole_weight=0.0, valid_weight=1.0, normalize="region")
        self.wgan_global = WGANGP(weight=cfg.gan_loss_alpha * cfg.global_wgan_loss_alpha, lambda_gp=cfg.wgan_gp_lambda)
        self.wgan_local = WGANGP(weight=cfg.gan_loss_alpha, lambda_gp=cfg.wgan_gp_lambda)
        self.register_buffer("box_map", box_discount_map(cfg.local_size, cfg.local_size, cfg.gamma), persistent=False)

    def check_size(self, image: torch.Tensor) -> None:
        s = self.cfg.image_size
        h, w = image.shape[-2:]
        if (h, w) != (s, s):
            raise ConfigError(f"recipe.args.image_size: the global critic takes {s}x{s} images, but the training crops "
                              f"are {h}x{w}; set it to data.crop")

    def patches(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The ``local_size`` patch around each hole (the official ``local_patch`` for boxes)."""
        size = self.cfg.local_size
        return crop_patches(images, local_patch_boxes(mask, size), size)

    def discounted_l1(self, pred: torch.Tensor, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.cfg.discount == "mask":
            return self.discounted(pred, image, mask)
        diff = (self.patches(pred, mask) - self.patches(image, mask)).abs()
        return (diff * self.box_map.to(diff.dtype)).mean()

    def reconstruction(self, image: torch.Tensor, mask: torch.Tensor, coarse: torch.Tensor,
                       fine: torch.Tensor | None) -> tuple[torch.Tensor, Logs]:
        """``l1_loss_alpha * l1 + ae_loss_alpha * ae`` (``fine`` None: coarse terms only, for pre-training)."""
        cfg = self.cfg
        l1_c = self.discounted_l1(coarse, image, mask)
        ae_c = self.known_l1(coarse, image, mask)
        l1, ae = cfg.coarse_l1_alpha * l1_c, cfg.coarse_l1_alpha * ae_c
        logs: Logs = {"l1_coarse": l1_c.detach(), "ae_coarse": ae_c.detach()}
        if fine is not None:
            l1_f = self.discounted_l1(fine, image, mask)
            ae_f = self.known_l1(fine, image, mask)
            l1, ae = l1 + l1_f, ae + ae_f
            logs.update(l1_fine=l1_f.detach(), ae_fine=ae_f.detach())
        return cfg.l1_loss_alpha * l1 + cfg.ae_loss_alpha * ae, logs

    def generator_adversarial(self, critics: DeepFillV1Discriminator, image: torch.Tensor, mask: torch.Tensor,
                              fine: torch.Tensor) -> tuple[torch.Tensor, Logs]:
        """``gan_loss_alpha * -(global_alpha * D_g(C) + D_l(patch(C)))`` on the composite ``C``."""
        completed = fine * mask + image * (1.0 - mask)
        g_score, l_score = critics(completed, self.patches(completed, mask))
        adv_g = self.wgan_global.generator_loss(g_score)
        adv_l = self.wgan_local.generator_loss(l_score)
        return adv_g + adv_l, {"adv_global": adv_g.detach(), "adv_local": adv_l.detach()}

    def critic_loss(self, critics: DeepFillV1Discriminator, image: torch.Tensor, mask: torch.Tensor,
                    fine: torch.Tensor) -> tuple[torch.Tensor, Logs]:
        """WGAN critic losses of both critics plus the hole-masked gradient penalties."""
        completed = (fine * mask + image * (1.0 - mask)).detach()
        real_patch, fake_patch = self.patches(image, mask), self.patches(completed, mask)
        real_g, real_l = critics(image, real_patch)
        fake_g, fake_l = critics(completed, fake_patch)
        w_g = self.wgan_global.discriminator_loss(real_g, fake_g)
        w_l = self.wgan_local.discriminator_loss(real_l, fake_l)
        gp_g = self.wgan_global.gradient_penalty(critics.global_critic, image, completed, mask)
        gp_l = self.wgan_local.gradient_penalty(critics.local_critic, real_patch, fake_patch,
                                                self.patches(mask, mask))
        loss = w_g + w_l + gp_g + gp_l
        return loss, {"wgan_global": w_g.detach(), "wgan_local": w_l.detach(), "gp_global": gp_g.detach(),
                      "gp_local": gp_l.detach()}


def flow_column(offsets: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor | None:
    """Attention offsets as colour-coded flow pictures, N3HW in [-1, 1] at ``like``'s size."""
    if offsets is None:
        return None
    from holefill.layers.contextual_attention import flow_to_image

    pics = flow_to_image(offsets, size=tuple(like.shape[-2:]))
    return torch.from_numpy(pics).to(like.device).permute(0, 3, 1, 2).float() / 127.5 - 1.0


@register_recipe
class DeepFillV1Recipe(Recipe):
    """Discounted L1 + known-pixel L1 + WGAN-GP with global and local critics (5 critic steps per G step)."""

    name = "deepfill_v1"
    Config = DeepFillV1RecipeConfig
    model_type = DeepFillV1

    def __init__(self, config: DeepFillV1RecipeConfig, model: Any) -> None:
        super().__init__(config, model)
        self.discriminator = DeepFillV1Discriminator(config.image_size, config.local_size, config.d_cnum)
        self.losses = DeepFillV1Losses(config)

    def phases(self) -> list[Phase]:
        cfg: DeepFillV1RecipeConfig = self.config
        phases = []
        if cfg.pretrain_coarse_steps:
            phases.append(Phase("coarse", "generator", cfg.pretrain_coarse_steps))
        phases.append(Phase("train", "both", d_updates=cfg.d_updates))
        return phases

    def generator_step(self, batch: Batch, phase: Phase) -> StepResult:
        image, mask = batch["image"], batch["mask"]
        out = self.forward_generator(batch)
        coarse_only = phase.name == "coarse"
        total, logs = self.losses.reconstruction(image, mask, out.coarse.float(),
                                                 None if coarse_only else out.output.float())
        if phase.trains_discriminator:
            self.losses.check_size(image)
            assert isinstance(self.discriminator, DeepFillV1Discriminator)
            adv, adv_logs = self.losses.generator_adversarial(self.discriminator, image, mask, out.output.float())
            total = total + adv
            logs.update(adv_logs)
        logs["loss"] = total.detach()
        return total, logs

    def discriminator_step(self, batch: Batch, phase: Phase) -> StepResult:
        image, mask = batch["image"], batch["mask"]
        self.losses.check_size(image)
        assert isinstance(self.discriminator, DeepFillV1Discriminator)
        loss, logs = self.losses.critic_loss(self.discriminator, image, mask, self.fake(batch).float())
        logs["loss"] = loss.detach()
        return loss, logs

    @torch.no_grad()
    def samples(self, batch: Batch) -> dict[str, torch.Tensor]:
        out = self.generator(self.masked(batch), batch["mask"], return_flow=True)
        hole = batch["mask"].expand_as(batch["image"])
        shown = torch.where(hole > 0.5, torch.ones_like(batch["image"]), batch["image"])
        columns = {"input": shown, "coarse": out.coarse.float(), "output": out.output.float(),
                   "composite": self.composite(batch, out.output.float()), "target": batch["image"]}
        flow = flow_column(out.offsets, batch["image"])
        if flow is not None:
            columns["attention"] = flow
        return columns


__all__ = ["DeepFillV1LossConfig", "DeepFillV1Losses", "DeepFillV1Recipe", "DeepFillV1RecipeConfig"]
