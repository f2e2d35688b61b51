"""``guided``: train guided inpainting (Zhao, Price, Cohen and Gurari, WACV 2019) on self-made guides.

The data is the paper's kind of self-supervision (:mod:`holefill.data.guided`: the guide
holds the hole's content, transformed, next to irrelevant content); the trainer builds it
for any model whose ``extra_inputs`` name ``"guide"``. The paper's exact losses and weights
are not reproduced (no code was released); this recipe's are ours:

- L1 on the fill inside the hole, over the hole's pixels (``hole_weight``);
- L1 on the decoder's synthesis where the guide lacks the hole's content (the gaps the data
  cuts into the guide), so the network learns to synthesise there (``synthesis_weight``);
- an alignment loss: for every localisation stage, the mean distance between points of the
  hole's neighbourhood mapped by the predicted and by the true image-to-guide similarity
  (the data knows it), in long-side units (``align_weight``). It supervises the spatial
  transformer directly, which a CPU-sized run needs to learn alignment in a few thousand
  steps; the paper trains its network end to end.
- ``colour_dropout``: the share of steps run with the lighting match off, so the model is
  valid in both settings and the benchmark's ablation compares like with like.
No discriminator: the CPU-trained variant optimises reconstruction only (its model card says so).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from holefill.errors import ConfigError
from holefill.models.guided import GuidedInpainting, GuidedOutput, apply_affine, cell_positions
from holefill.train.recipe import Batch, Phase, Recipe, StepResult, register_recipe


@dataclass(frozen=True)
class GuidedRecipeConfig:
    """Loss weights of the guided recipe (ours; see the module docstring)."""

    hole_weight: float = 1.0
    valid_weight: float = 0.0
    synthesis_weight: float = 0.5
    align_weight: float = 1.0
    colour_dropout: float = 0.25
    #: Start the generator from this weights folder (fine-tuning); None: from scratch.
    init_weights: str | None = None

    def __post_init__(self) -> None:
        for name in ("hole_weight", "valid_weight", "synthesis_weight", "align_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"recipe guided: {name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.colour_dropout <= 1:
            raise ConfigError(f"recipe guided: colour_dropout must lie in [0, 1], got {self.colour_dropout}")


def masked_l1(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Per-sample mean absolute error where ``weight`` (N1HW) is 1, averaged over the batch."""
    diff = ((pred - target).abs() * weight).flatten(1).sum(1)
    return (diff / (weight.flatten(1).sum(1) * pred.shape[1]).clamp_min(1.0)).mean()


def alignment_error(predicted: torch.Tensor, true: torch.Tensor, mask: torch.Tensor, cells: int = 16) -> torch.Tensor:
    """Mean distance (long-side units of the guide) between hole points mapped by two similarities.

    Points are the centres of a ``cells x cells`` grid over the image's long-side frame,
    weighted by how much of each cell is hole; one number per sample."""
    h, w = mask.shape[-2:]
    s = max(h, w)
    weight = F.adaptive_avg_pool2d(F.pad(mask, (0, s - w, 0, s - h)), cells).flatten(1)
    # the padded square's cells, in the image's long-side frame (padding sits right and below)
    pos = cell_positions(cells, mask.device, mask.dtype)
    pos = pos + torch.tensor([(s - w) / s, (s - h) / s], device=mask.device, dtype=mask.dtype)
    pos = pos.expand(mask.shape[0], -1, -1)
    dist = (apply_affine(predicted, pos) - apply_affine(true, pos)).norm(dim=-1)
    return (dist * weight).sum(1) / weight.sum(1).clamp_min(1e-6)


@register_recipe
class GuidedRecipe(Recipe):
    """Guided inpainting: fill L1, synthesis L1 in the guide's gaps, and direct alignment supervision."""

    name = "guided"
    Config = GuidedRecipeConfig
    model_type = GuidedInpainting

    def _run(self, batch: Batch) -> GuidedOutput:
        cfg: GuidedRecipeConfig = self.config
        colour = None
        if self.training and cfg.colour_dropout > 0 and float(torch.rand(())) < cfg.colour_dropout:
            colour = False
        out = self.generator(self.masked(batch), batch["mask"], batch["guide"], colour_match=colour)
        batch["_fake"] = out.output.detach()
        return out

    def generator_step(self, batch: Batch, phase: Phase) -> StepResult:
        cfg: GuidedRecipeConfig = self.config
        image, mask = batch["image"], batch["mask"]
        out = self._run(batch)
        hole = masked_l1(out.output.float(), image, mask)
        valid = masked_l1(out.output.float(), image, 1.0 - mask)
        gaps = mask * (1.0 - batch["guide_truth"])
        synth = masked_l1(out.synthesis.float(), image, gaps)
        align = torch.stack([alignment_error(a.float(), batch["guide_affine"], mask).mean() for a in out.affines])
        loss = cfg.hole_weight * hole + cfg.valid_weight * valid + cfg.synthesis_weight * synth \
            + cfg.align_weight * align.sum()
        logs = {"l1_hole": hole.detach(), "l1_gap_synthesis": synth.detach(), "align_last": align[-1].detach(),
                "align_first": align[0].detach(), "attention": out.attention.detach().mean(), "loss": loss.detach()}
        return loss, logs

    @torch.no_grad()
    def samples(self, batch: Batch) -> dict[str, torch.Tensor]:
        out = self.generator(self.masked(batch), batch["mask"], batch["guide"])
        hole = batch["mask"].expand_as(batch["image"])
        shown = torch.where(hole > 0.5, torch.ones_like(batch["image"]), batch["image"])
        return {"input": shown, "guide": batch["guide"], "aligned": out.aligned.float().clamp(-1, 1),
                "attention": (out.attention.float() * 2 - 1).expand_as(batch["image"]),
                "output": self.composite(batch, out.output.float()).clamp(-1, 1), "target": batch["image"]}


__all__ = ["GuidedRecipe", "GuidedRecipeConfig", "alignment_error"]
