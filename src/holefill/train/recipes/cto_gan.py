"""``cto_gan``: contextual outpainting with object-level contrastive learning (Li et al., CVPR 2022).

The data are image + label-map pairs in COCO-Stuff's layout (:mod:`holefill.data.layouts`;
``data.train`` is the root, its ``images/train`` and ``annotations/train`` are read, and
``images/val`` for validation when there is one). The foreground of a crop is its ``things``
pixels (COCO-Stuff's object classes), or, for label maps without object classes (the corpus's
unsupervised ones), the segments in a random central box; the background is the hole.

One step, both stages together (the paper trains them jointly, as we read it):

- semantic reasoning: cross-entropy of the predicted layout against the true one, every
  labelled pixel (``layout_weight``);
- the CMC loss (``cmc_weight``, temperature ``tau``): each foreground object's image embedding
  (its pixels) against the embedding of the *predicted* layout around it, across all the
  batch's objects (:class:`~holefill.losses.contrastive.CrossModalContrastive`); up to
  ``max_objects`` per image, the connected regions of equal label in the foreground;
- content generation, from the true layout (teacher forcing; inference uses the predicted
  one): L1 over the background (``l1_weight``), the context-aware discriminator's per-pixel
  loss on the generated background (``adversarial_weight``;
  :class:`~holefill.losses.contrastive.ContextAwareGAN`), and a VGG-19 perceptual loss
  (``perceptual_weight``; skipped with a warning without VGG weights);
- diversity (our addition, ``diversity_weight``): two noise draws per input and the
  mode-seeking term of Mao et al. (CVPR 2019) on the two layouts, ``1 / (mean|S1 - S2| /
  mean|z1 - z2| + 1e-5)``, so different ``z`` give different layouts.

The discriminator sees real images (every pixel real) and the composites (generated
background fake), both with the true layout. The weights are ours where the paper gives none
we could check (no official code was found); each is a recipe argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from holefill.data.layouts import COCO_STUFF_THINGS, UNLABELLED, LayoutDataset, cmc_objects, label_pairs
from holefill.errors import ConfigError
from holefill.losses import PerceptualLoss
from holefill.losses.contrastive import ContextAwareGAN, CrossModalContrastive
from holefill.models.cto_gan import CTOGAN, CMCEncoders, ContextDiscriminator, one_hot
from holefill.train.recipe import Batch, Phase, Recipe, StepResult, register_recipe


@dataclass(frozen=True)
class CTOGANRecipeConfig:
    """Loss weights, the CMC temperature, the foreground classes and the auxiliary networks."""

    layout_weight: float = 1.0
    cmc_weight: float = 1.0
    tau: float = 0.07
    l1_weight: float = 1.0
    adversarial_weight: float = 1.0
    perceptual_weight: float = 10.0
    diversity_weight: float = 0.01
    #: Foreground (object) class ids; COCO-Stuff's things by default, [] for label maps without.
    things: tuple[int, ...] = COCO_STUFF_THINGS
    max_objects: int = 4
    d_width: int = 64
    cmc_width: int = 64
    cmc_dim: int = 128
    vgg19_weights: str | None = None
    init_weights: str | None = None

    def __post_init__(self) -> None:
        for name in ("layout_weight", "cmc_weight", "l1_weight", "adversarial_weight", "perceptual_weight",
                     "diversity_weight"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"recipe cto_gan: {name} must be >= 0, got {getattr(self, name)}")
        if not self.tau > 0:
            raise ConfigError(f"recipe cto_gan: tau must be > 0, got {self.tau}")
        if self.max_objects < 1 or self.d_width < 1 or self.cmc_width < 1 or self.cmc_dim < 1:
            raise ConfigError("recipe cto_gan: max_objects, d_width, cmc_width and cmc_dim must be >= 1")


@register_recipe
class CTOGANRecipe(Recipe):
    """CTO-GAN: layout cross-entropy, CMC, per-pixel context-aware adversarial, L1, perceptual."""

    name = "cto_gan"
    Config = CTOGANRecipeConfig
    model_type = CTOGAN

    def __init__(self, config: CTOGANRecipeConfig, model) -> None:  # noqa: ANN001
        super().__init__(config, model)
        self.generator: CTOGAN
        classes = self.generator.config.classes
        bad = [t for t in config.things if not 0 <= t < classes]
        if bad:
            raise ConfigError(f"recipe cto_gan: things holds class {bad[0]}, but the model has {classes} classes")
        self.cmc_nets = CMCEncoders(classes, width=config.cmc_width, dim=config.cmc_dim)
        self.cmc = CrossModalContrastive(config.tau, config.cmc_weight)
        self.adversarial = ContextAwareGAN(config.adversarial_weight)
        if config.adversarial_weight > 0:
            self.discriminator = ContextDiscriminator(classes, config.d_width)
        self.perceptual = PerceptualLoss(config.vgg19_weights, weight=config.perceptual_weight, arch="vgg19") \
            if config.perceptual_weight > 0 else None

    # -- data --------------------------------------------------------------------------------
    def build_dataset(self, path: str, *, split: str, data: Any, seed: int, train: bool) -> LayoutDataset:
        return LayoutDataset(label_pairs(path, split), data.crop, seed=seed, scale=data.scale, hflip=data.hflip,
                             random_crop=train, things=self.config.things, classes=self.generator.config.classes)

    def has_split(self, path: str, split: str) -> bool:
        return (Path(path) / "images" / split).is_dir()

    # -- what trains -------------------------------------------------------------------------
    def networks(self) -> dict[str, torch.nn.Module]:
        return {**super().networks(), "cmc": self.cmc_nets}

    def generator_parameters(self):  # noqa: ANN201
        yield from self.generator.parameters()
        yield from self.cmc_nets.parameters()

    # -- steps -------------------------------------------------------------------------------
    def _noise(self, n: int, like: torch.Tensor) -> torch.Tensor:
        return torch.randn(n, self.generator.config.noise, device=like.device, dtype=like.dtype)

    def generator_step(self, batch: Batch, phase: Phase) -> StepResult:
        cfg: CTOGANRecipeConfig = self.config
        image, mask, seg = batch["image"], batch["mask"], batch["segmentation"]
        classes = self.generator.config.classes
        truth = one_hot(seg, classes).to(image.dtype)
        z = self._noise(image.shape[0], image)
        out = self.generator(image, mask, z=z, layout=truth)
        labels = seg[:, 0].long().masked_fill(seg[:, 0] >= classes, UNLABELLED)
        layout = F.cross_entropy(out.layout_logits.float(), labels, ignore_index=UNLABELLED)
        composite = self.composite(batch, out.output)
        batch["_cto"] = (composite.detach(), truth)
        hole = mask.expand_as(image)
        l1 = ((out.output - image).abs() * hole).sum() / hole.sum().clamp_min(1.0)
        loss = cfg.layout_weight * layout + cfg.l1_weight * l1
        logs: dict[str, Any] = {"layout_ce": layout.detach(), "l1_background": l1.detach()}
        objects = cmc_objects(seg, mask, max_objects=cfg.max_objects)
        if len(objects) >= 2 and cfg.cmc_weight > 0:
            u, v = self.cmc_nets(image * (1 - mask), out.layout_logits.softmax(1), mask, objects)
            cmc = self.cmc(u, v)
            loss = loss + cmc
            logs["cmc"] = cmc.detach()
        if cfg.diversity_weight > 0 and self.generator.config.noise > 0:
            z2 = self._noise(image.shape[0], image)
            other = self.generator.reasoner(image * (1 - mask), mask, z2)
            ratio = (out.layout_logits.softmax(1) - other.softmax(1)).abs().mean() / (z - z2).abs().mean()
            diversity = cfg.diversity_weight / (ratio + 1e-5)
            loss = loss + diversity
            logs["mode_seeking"] = ratio.detach()
        if self.perceptual is not None and self.perceptual.active:
            perceptual = self.perceptual(composite, image)
            loss = loss + perceptual
            logs["perceptual"] = perceptual.detach()
        if self.discriminator is not None and phase.trains_discriminator:
            adv = self.adversarial.generator_loss(self.discriminator(composite, truth), mask.expand(-1, 1, -1, -1))
            loss = loss + adv
            logs["adv"] = adv.detach()
        logs["loss"] = loss.detach()
        return loss, logs

    def discriminator_step(self, batch: Batch, phase: Phase) -> StepResult:
        assert self.discriminator is not None
        image, mask, seg = batch["image"], batch["mask"], batch["segmentation"]
        cached = batch.get("_cto")
        if cached is None:
            truth = one_hot(seg, self.generator.config.classes).to(image.dtype)
            with torch.no_grad():
                fake = self.composite(batch, self.generator(image, mask, layout=truth).output)
        else:
            fake, truth = cached
        real_logits = self.discriminator(image, truth)
        fake_logits = self.discriminator(fake, truth)
        loss = self.adversarial.discriminator_loss(real_logits, fake_logits, mask)
        return loss, {"loss": loss.detach(), "real": real_logits.mean().detach(), "fake": fake_logits.mean().detach()}

    @torch.no_grad()
    def samples(self, batch: Batch) -> dict[str, torch.Tensor]:
        image, mask = batch["image"], batch["mask"]
        out = self.generator(image * (1 - mask), mask)
        shown = torch.where(mask.expand_as(image) > 0.5, torch.ones_like(image), image)
        return {"input": shown, "layout": layout_colours(out.layout), "output": self.composite(batch, out.output),
                "true layout": layout_colours(one_hot(batch["segmentation"], self.generator.config.classes)),
                "target": image}


def layout_colours(layout: torch.Tensor) -> torch.Tensor:
    """A one-hot NKHW layout as N3HW colours in [-1, 1] (a fixed palette), for sample grids."""
    k = layout.shape[1]
    palette = torch.rand(k, 3, generator=torch.Generator().manual_seed(0)).to(layout.device, layout.dtype) * 2 - 1
    return torch.einsum("nkhw,kc->nchw", layout, palette)
