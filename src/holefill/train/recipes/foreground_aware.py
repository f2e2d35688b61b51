"""``foreground_aware``: train the contour completion module, then the image module, then both.

Paper: Xiong, Yu, Lin, Yang, Lu, Barnes, Luo, "Foreground-aware Image Inpainting", CVPR 2019.
No official code was released. **The paper's full text could not be opened from this
project's machines**, so no number below is quoted from it: each setting says whether it is
our reading of the paper (to be checked against Sec. 3-4 before a long run) or our choice.

Contour completion module (:meth:`ForegroundAware.complete_contour`):

- Target: the contour of the foreground segmentation when the batch carries
  ``"segmentation"`` (N1HW in {0, 1}; :func:`~holefill.models.foreground_aware.segmentation_contour`),
  otherwise the Canny edges (sigma ``edge_sigma`` of the model) of the whole ground-truth
  image, the fallback documented in :mod:`holefill.models.foreground_aware`. Its input is the
  same contour outside the hole (segmentation) or the Canny edges of the known region.
- Content loss (:class:`HoleWeightedContourLoss`): a per-pixel binary focal loss (Lin et al.,
  ICCV 2017; ``(1 - p_t) ** focal_gamma * BCE``, gamma 2 as Lin et al.), because contour pixels
  are few *(our reading: a loss that handles the imbalance, focused on the hole)*; ``bce``
  gives plain binary cross-entropy. Pixels are weighted ``contour_hole_weight`` in the hole and
  ``contour_valid_weight`` outside (1 and 0: the hole only, since the known contour is an
  input), and averaged with those weights. The coarse contour gets the same loss, weighted
  ``coarse_contour_weight`` (1, as DeepFill v1 weights both stages alike; our choice).
- Adversarial loss: a contour discriminator, SN-PatchGAN (:class:`~holefill.models.
  discriminators.SNPatchGANDiscriminator` on the completed contour and the mask, hinge loss)
  *(our choice of critic; the paper's is not checked here)*.
- Curriculum *(our reading: the content loss alone first, the adversarial loss added later)*:
  stage ``k`` runs ``contour_stage_steps[k]`` steps with adversarial weight
  ``contour_adv_weights[k]`` (defaults (100k, 100k) steps with weights (0, 0.01); our numbers).

Image completion module (:meth:`ForegroundAware.complete_image`): DeepFill v1's objective, the
same code as :mod:`holefill.train.recipes.deepfill_v1` with its official weights
(spatially discounted L1 with gamma 0.99 on the coarse and refined outputs, coarse x1.2, L1 x1.2,
known-pixel L1 x1.2, WGAN-GP 0.001 with global and local critics and the hole-masked gradient
penalty, lambda 10, 5 critic updates per generator update). *(Our reading: the image module is
DeepFill v1's network and training.)* The local critic's patch is centred on the hole's bounding
box, which also works for non-box holes.

Phases: ``contour1``, ``contour2``, ... (contour generators, plus the contour discriminator
where the stage's weight is positive), ``image`` (``image_steps``, 300k by default: the image
module guided by the ground-truth contour, teacher forcing, or by the contour module's
prediction with ``image_contour: predicted``), then ``joint`` (everything, until
``train.steps``: the image module reads the predicted contour and its losses reach the contour
module too; the contour losses keep their last curriculum weight, times ``joint_contour_weight``).
The order contour -> image -> joint is our reading; the lengths are our choice.
Optimiser and data (``configs/foreground_aware.yaml``; our choice, taken from DeepFill v1):
Adam (1e-4, betas 0.5 / 0.9), batch 16, 256x256 crops, no EMA, fp32. Masks: the paper simulates object removal with object-shaped
and free-form holes *(our reading)*; without a mask set of object shapes we use a mixture of
free-form strokes, irregular blobs and boxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from holefill.errors import InvalidArgumentError
from holefill.losses import HingeGAN
from holefill.models.deepfill_v1 import DeepFillV1Discriminator
from holefill.models.discriminators import SNPatchGANDiscriminator
from holefill.models.edgeconnect import canny_edges, to_gray
from holefill.models.foreground_aware import ForegroundAware, segmentation_contour
from holefill.train.recipe import Batch, Phase, Recipe, StepResult, register_recipe
from holefill.train.recipes.deepfill_v1 import DeepFillV1LossConfig, DeepFillV1Losses, flow_column

Logs = dict[str, Any]


class HoleWeightedContourLoss(nn.Module):
    """Binary focal (or plain BCE) loss of a contour probability map, weighted by the hole.

    ``loss = sum(w * l) / sum(w)`` with ``w = hole_weight * M + valid_weight * (1 - M)`` and
    ``l = (1 - p_t) ** gamma * BCE(p, y)`` (focal, Lin et al. 2017) or ``BCE(p, y)``; ``p_t`` is
    the probability given to the true label. Sums run over the whole batch.
    """

    name = "contour"

    def __init__(self, kind: str = "focal", gamma: float = 2.0, hole_weight: float = 1.0,
                 valid_weight: float = 0.0) -> None:
        super().__init__()
        if kind not in ("focal", "bce"):
            raise InvalidArgumentError(f"contour loss kind must be 'focal' or 'bce', got {kind!r}")
        if not (gamma >= 0 and hole_weight >= 0 and valid_weight >= 0) or hole_weight + valid_weight <= 0:
            raise InvalidArgumentError("contour loss: gamma and the weights must be >= 0, and one weight positive")
        self.kind, self.gamma = kind, float(gamma)
        self.hole_weight, self.valid_weight = float(hole_weight), float(valid_weight)

    def forward(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape or pred.shape[1] != 1 or mask.shape[-2:] != pred.shape[-2:]:
            raise InvalidArgumentError(f"contour loss needs N1HW pred, target and mask alike, got "
                                       f"{tuple(pred.shape)}, {tuple(target.shape)}, {tuple(mask.shape)}")
        p = pred.float().clamp(1e-6, 1.0 - 1e-6)
        y = target.float()
        loss = -(y * torch.log(p) + (1.0 - y) * torch.log1p(-p))
        if self.kind == "focal":
            p_true = y * p + (1.0 - y) * (1.0 - p)
            loss = (1.0 - p_true).pow(self.gamma) * loss
        m = mask.float().expand_as(loss)
        w = self.hole_weight * m + self.valid_weight * (1.0 - m)
        return (w * loss).sum() / w.sum().clamp_min(1e-8)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, gamma={self.gamma}, hole_weight={self.hole_weight}, valid_weight={self.valid_weight}"


@dataclass(frozen=True)
class ForegroundAwareRecipeConfig(DeepFillV1LossConfig):
    """Contour curriculum, contour loss, and DeepFill v1's image-module weights (inherited from
    :class:`~holefill.train.recipes.deepfill_v1.DeepFillV1LossConfig`; see the module docstring)."""

    # -- contour completion module
    contour_loss: Literal["focal", "bce"] = "focal"
    focal_gamma: float = 2.0
    contour_hole_weight: float = 1.0
    contour_valid_weight: float = 0.0
    coarse_contour_weight: float = 1.0
    #: Steps of each curriculum stage of the contour module, and its adversarial weight.
    contour_stage_steps: tuple[int, ...] = (100_000, 100_000)
    contour_adv_weights: tuple[float, ...] = (0.0, 0.01)
    contour_d_cnum: int = 64
    # -- image completion module (its loss weights are DeepFill v1's)
    image_steps: int = 300_000
    image_contour: Literal["ground_truth", "predicted"] = "ground_truth"
    joint_contour_weight: float = 1.0

    def _problems(self) -> list[tuple[str, str]]:
        out = super()._problems()
        if len(self.contour_stage_steps) != len(self.contour_adv_weights):
            out.append(("contour_adv_weights", f"needs one weight per stage of contour_stage_steps "
                                               f"({len(self.contour_stage_steps)}), got {len(self.contour_adv_weights)}"))
        if any(s < 0 for s in self.contour_stage_steps) or self.image_steps < 0:
            out.append(("contour_stage_steps", "contour_stage_steps and image_steps must be >= 0"))
        for key in ("focal_gamma", "contour_hole_weight", "contour_valid_weight", "coarse_contour_weight",
                    "joint_contour_weight"):
            if not getattr(self, key) >= 0:
                out.append((key, f"must be >= 0, got {getattr(self, key)}"))
        if self.contour_hole_weight + self.contour_valid_weight <= 0:
            out.append(("contour_hole_weight", "contour_hole_weight or contour_valid_weight must be positive"))
        if any(not w >= 0 for w in self.contour_adv_weights):
            out.append(("contour_adv_weights", f"must all be >= 0, got {list(self.contour_adv_weights)}"))
        if self.contour_d_cnum < 1:
            out.append(("contour_d_cnum", f"must be >= 1, got {self.contour_d_cnum}"))
        return out


@register_recipe
class ForegroundAwareRecipe(Recipe):
    """Contour module (content loss, then + adversarial), image module (DeepFill v1's losses), then joint."""

    name = "foreground_aware"
    Config = ForegroundAwareRecipeConfig
    model_type = ForegroundAware

    def __init__(self, config: ForegroundAwareRecipeConfig, model: Any) -> None:
        super().__init__(config, model)
        self.discriminator = nn.ModuleDict({
            "contour": SNPatchGANDiscriminator(in_channels=2, cnum=config.contour_d_cnum),
            "image": DeepFillV1Discriminator(config.image_size, config.local_size, config.d_cnum),
        })
        self.contour_loss = HoleWeightedContourLoss(config.contour_loss, config.focal_gamma,
                                                    config.contour_hole_weight, config.contour_valid_weight)
        self.contour_gan = HingeGAN()
        self.image_losses = DeepFillV1Losses(config)
        # Adversarial weight of the contour loss in each phase, by phase name.
        self._contour_adv = {f"contour{i + 1}": w for i, w in enumerate(config.contour_adv_weights)}
        self._contour_adv["joint"] = config.contour_adv_weights[-1] if config.contour_adv_weights else 0.0

    # -- phases ------------------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        cfg: ForegroundAwareRecipeConfig = self.config
        phases = []
        for i, (steps, weight) in enumerate(zip(cfg.contour_stage_steps, cfg.contour_adv_weights)):
            if steps:
                phases.append(Phase(f"contour{i + 1}", "both" if weight > 0 else "generator", steps))
        if cfg.image_steps:
            phases.append(Phase("image", "both", cfg.image_steps, d_updates=cfg.d_updates))
        phases.append(Phase("joint", "both", d_updates=cfg.d_updates))
        return phases

    @staticmethod
    def kind(phase: Phase) -> str:
        """"contour", "image" or "joint"."""
        return "contour" if phase.name.startswith("contour") else phase.name

    def contour_adv_weight(self, phase: Phase) -> float:
        """The contour module's adversarial weight in ``phase`` (0 in the image phase)."""
        return self._contour_adv.get(phase.name, 0.0)

    # -- contours ----------------------------------------------------------------------------
    def target_contour(self, batch: Batch) -> torch.Tensor:
        """The complete contour: of the segmentation when the batch has one, else Canny edges."""
        cached = batch.get("_target_contour")
        if cached is not None:
            return cached
        seg = batch.get("segmentation")
        if seg is not None:
            target = segmentation_contour(seg.to(batch["image"].dtype))
        else:
            gray = to_gray((batch["image"].float() + 1.0) * 0.5)
            target = canny_edges(gray, None, self.generator.config.edge_sigma).to(batch["image"].dtype)
        batch["_target_contour"] = target
        return target

    def input_contour(self, batch: Batch) -> torch.Tensor:
        cached = batch.get("_input_contour")
        if cached is None:
            cached = self.generator.detect_contour(self.masked(batch), batch["mask"], batch.get("segmentation"))
            batch["_input_contour"] = cached
        return cached

    def completed(self, batch: Batch, contour: torch.Tensor) -> torch.Tensor:
        """``contour`` in the hole, the input contour outside it."""
        m = batch["mask"]
        return contour * m + self.input_contour(batch) * (1.0 - m)

    def guide(self, batch: Batch, phase: Phase) -> torch.Tensor:
        """The contour the image module reads in the ``image`` phase (no gradient)."""
        if self.config.image_contour == "ground_truth":
            return self.completed(batch, self.target_contour(batch))
        with torch.no_grad():
            _, refined = self.generator.complete_contour(self.masked(batch), batch["mask"], self.input_contour(batch))
        return self.completed(batch, refined)

    # -- losses ------------------------------------------------------------------------------
    def _contour_terms(self, batch: Batch, coarse: torch.Tensor, refined: torch.Tensor, adv_weight: float,
                       logs: Logs) -> torch.Tensor:
        cfg: ForegroundAwareRecipeConfig = self.config
        target, mask = self.target_contour(batch), batch["mask"]
        c_coarse = self.contour_loss(coarse, target, mask)
        c_refined = self.contour_loss(refined, target, mask)
        total = cfg.coarse_contour_weight * c_coarse + c_refined
        logs.update(contour_coarse=c_coarse.detach(), contour_refined=c_refined.detach())
        if adv_weight > 0:
            fake = self.completed(batch, refined.float())
            adv = adv_weight * self.contour_gan.generator_loss(self.discriminator["contour"](fake, mask))
            total = total + adv
            logs["contour_adv"] = adv.detach()
        return total

    def _image_terms(self, batch: Batch, coarse: torch.Tensor, fine: torch.Tensor, logs: Logs) -> torch.Tensor:
        image, mask = batch["image"], batch["mask"]
        total, rec_logs = self.image_losses.reconstruction(image, mask, coarse.float(), fine.float())
        self.image_losses.check_size(image)
        adv, adv_logs = self.image_losses.generator_adversarial(self.discriminator["image"], image, mask, fine.float())
        logs.update(rec_logs)
        logs.update(adv_logs)
        return total + adv

    def generator_step(self, batch: Batch, phase: Phase) -> StepResult:
        cfg: ForegroundAwareRecipeConfig = self.config
        g: ForegroundAware = self.generator  # type: ignore[assignment]
        kind = self.kind(phase)
        x, mask = self.masked(batch), batch["mask"]
        logs: Logs = {}
        if kind == "contour":
            coarse_c, refined_c = g.complete_contour(x, mask, self.input_contour(batch))
            total = self._contour_terms(batch, coarse_c, refined_c, self.contour_adv_weight(phase), logs)
            batch["_fake_contour"] = self.completed(batch, refined_c.detach())
        elif kind == "image":
            coarse, fine, _ = g.complete_image(x, mask, self.guide(batch, phase))
            total = self._image_terms(batch, coarse, fine, logs)
            batch["_fake"] = fine.detach()
        else:
            out = g(x, mask, contour=self.input_contour(batch))
            contour_total = self._contour_terms(batch, out.coarse_contour, out.contour, self.contour_adv_weight(phase),
                                                logs)
            total = cfg.joint_contour_weight * contour_total + self._image_terms(batch, out.coarse, out.output, logs)
            batch["_fake"] = out.output.detach()
            batch["_fake_contour"] = self.completed(batch, out.contour.detach())
        logs["loss"] = total.detach()
        return total, logs

    @torch.no_grad()
    def _fakes(self, batch: Batch, phase: Phase) -> None:
        """Fill the batch's cached fakes for a critic step on a batch the generator did not see."""
        g: ForegroundAware = self.generator  # type: ignore[assignment]
        x, mask = self.masked(batch), batch["mask"]
        kind = self.kind(phase)
        if kind == "image":
            batch["_fake"] = g.complete_image(x, mask, self.guide(batch, phase))[1]
            return
        coarse_c, refined_c = g.complete_contour(x, mask, self.input_contour(batch))
        batch["_fake_contour"] = self.completed(batch, refined_c)
        if kind == "joint":
            batch["_fake"] = g.complete_image(x, mask, batch["_fake_contour"])[1]

    def discriminator_step(self, batch: Batch, phase: Phase) -> StepResult:
        kind = self.kind(phase)
        image, mask = batch["image"], batch["mask"]
        needs_contour = kind in ("contour", "joint") and self.contour_adv_weight(phase) > 0
        needs_image = kind in ("image", "joint")
        if (needs_contour and "_fake_contour" not in batch) or (needs_image and batch.get("_fake") is None):
            self._fakes(batch, phase)
        total = image.new_zeros(())
        logs: Logs = {}
        if needs_contour:
            d = self.discriminator["contour"]
            real, fake = self.target_contour(batch), batch["_fake_contour"].float()
            loss_c = self.contour_gan.discriminator_loss(d(real, mask), d(fake, mask))
            total = total + loss_c
            logs["contour_d"] = loss_c.detach()
        if needs_image:
            self.image_losses.check_size(image)
            loss_i, image_logs = self.image_losses.critic_loss(self.discriminator["image"], image, mask,
                                                               batch["_fake"].float())
            total = total + loss_i
            logs.update(image_logs)
        logs["loss"] = total.detach()
        return total, logs

    # -- sample grids ------------------------------------------------------------------------
    @torch.no_grad()
    def samples(self, batch: Batch) -> dict[str, torch.Tensor]:
        g: ForegroundAware = self.generator  # type: ignore[assignment]
        out = g(self.masked(batch), batch["mask"], contour=self.input_contour(batch), return_flow=True)
        image = batch["image"]
        hole = batch["mask"].expand_as(image)
        shown = torch.where(hole > 0.5, torch.ones_like(image), image)

        def gray(c: torch.Tensor) -> torch.Tensor:  # contours: white lines on black
            return (c.float() * 2.0 - 1.0).expand_as(image)

        columns = {"input": shown, "input contour": gray(out.input_contour),
                   "contour": gray(self.completed(batch, out.contour)), "target contour": gray(self.target_contour(batch)),
                   "output": out.output.float(), "composite": self.composite(batch, out.output.float()),
                   "target": image}
        flow = flow_column(out.offsets, image)
        if flow is not None:
            columns["attention"] = flow
        return columns


__all__ = ["ForegroundAwareRecipe", "ForegroundAwareRecipeConfig", "HoleWeightedContourLoss"]
