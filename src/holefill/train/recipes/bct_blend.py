"""``bct_blend``: the two training stages of wide-range image blending (Lu et al., CVPR 2021).

Paper: Lu, Chang and Chiu, "Bridging the Visual Gap: Wide-Range Image Blending", CVPR 2021,
Sec. 3.3. Official code (PyTorch, read, not copied): github.com/julia0607/Wide-Range-Image-Blending,
``train_SR.py`` (stage 1, self-reconstruction) and ``train_FT.py`` (stage 2, fine-tuning).

Data: each crop from the data section (``data.crop`` = the panorama width, e.g. 768) with a
``band`` mask (the gap, e.g. the middle third) gives a training panorama: ``height`` rows
cut at a random offset, ``left | middle | right`` split at the band. A batch is one tensor,
so the first crop's band is the gap of the whole micro-batch (with a mixture of band kinds
each micro-batch draws one).

- Stage 1, ``reconstruction``: both photos and the middle come from one wide crop.
- Stage 2, ``finetune``: half of each batch as in stage 1, the other half pairs the left of
  one crop with the right of another (different photos: the data stream never repeats a
  photo within a batch), which have no true middle. The discriminator sees every generated
  panorama against every real wide crop of the batch (the official ``I_gt`` and ``I_rand``).

Losses, on images in [0, 1] as in the official code, each the mean over its items times the
number of items when ``batch_scale`` (the official ``.mean() * batchSize``):

- pixel: MSE of both reconstructed sides (every item) + MSE of the middle (items with a
  truth), weighted per column by ``g(i) + g(G - 1 - i)``, ``g(i) = exp(-i^2 / (2 (G/4)^2))``
  (the official ``gaussian_weight``), which stresses the columns next to the photos; x1;
- ID-MRF on the middle (items with a truth): VGG-19 relu3_2 + relu4_2 (style) and relu4_2
  (content), x0.01; needs VGG-19 weights (``vgg19_weights`` or ``HOLEFILL_VGG19``), skipped
  with a warning without;
- feature reconstruction: MSE between the BCT's middle features and the encoder's features
  of the true middle (detached), x1;
- feature consistency: MSE between what the two directions saw or predicted, column block
  by block (left side, middle, right side), x1;
- adversarial, the official "RaLSGAN" (:class:`BlendRaLSGAN`) with the global
  discriminator, x0.002 x 0.9 for G.

Optimiser in the paper configs: Adam, betas (0.5, 0.9), weight decay 2e-5, G lr 1e-3 (stage
1; 2e-3 with a step decay in stage 2), D lr 0.1 x G's.

Deviations:

- One D update per G update on the same batch; the official loop updates G on two batches
  of three and D on the third.
- One learning rate across both stages (the trainer's schedule), where the official code
  restarts with 2e-3 and halves it every 50 epochs in stage 2.
- Stage 2 pairs photos at random (the official ``--rand_pair`` option); its default picks
  each photo's 3 most similar photos by LPIPS, which needs weights we cannot ship.
- ID-MRF's VGG input is normalised with ImageNet's mean and std (holefill's VGG); the
  official layer subtracts the mean only, and maps its [0, 1] images through (x + 1) / 2
  first (to [0.5, 1]), which we read as a slip and do not repeat.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from holefill.errors import ConfigError, InvalidArgumentError
from holefill.losses import IDMRFLoss
from holefill.losses.adversarial import AdversarialLoss
from holefill.models.bct_blend import STRIDE, BCTBlend, BCTDiscriminator, band_columns
from holefill.train.recipe import Batch, Phase, Recipe, StepResult, register_recipe

#: The official loss weights (train_SR.py / train_FT.py).
MRF_WEIGHT = 0.01
ADVERSARIAL_WEIGHT = 0.002 * 0.9


class BlendRaLSGAN(AdversarialLoss):
    """The adversarial objective of Lu et al.'s code, a one-sided relativistic LSGAN.

    With ``r = D(real) - mean D(fake)`` and ``f = D(fake) - mean D(real)``: D minimises
    ``mean (r - 1)^2 + mean (f + 1)^2`` (RaLSGAN's), G minimises ``mean f^2`` (the official
    ``(fake - real.mean() - fake_label) ** 2`` with ``fake_label = 0``), i.e. it pulls its
    scores to the mean real score rather than RaLSGAN's symmetric pair of terms.
    """

    name = "adv_blend_ralsgan"
    needs_real_for_generator = True

    def _g(self, fake: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:
        assert real is not None
        return (fake - real.mean()).square().mean()

    def _d(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return (real - fake.mean() - 1.0).square().mean() + (fake - real.mean() + 1.0).square().mean()


def gap_weight(gap: int, *, device: torch.device | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Per-column weights of the middle's pixel loss, (1, 1, 1, gap): ``g(i) + g(gap - 1 - i)``."""
    i = torch.arange(gap, device=device, dtype=torch.float64)
    g = torch.exp(-i.square() / (2.0 * (gap / 4.0) ** 2))
    return (g + g.flip(0)).to(dtype).view(1, 1, 1, gap)


@dataclass(frozen=True)
class BCTBlendRecipeConfig:
    """Stages, loss weights, the panorama size and the discriminator; defaults are the official ones."""

    #: Steps of stage 1 (self-reconstruction) before stage 2 (fine-tuning) runs to the end;
    #: None: the whole run is stage 1; 0: stage 2 only (e.g. from ``init_weights``).
    reconstruction_steps: int | None = None
    pixel_weight: float = 1.0
    mrf_weight: float = MRF_WEIGHT
    feature_reconstruction_weight: float = 1.0
    feature_consistency_weight: float = 1.0
    #: G's adversarial weight (official 0.002 x 0.9); 0 builds no discriminator.
    adversarial_weight: float = ADVERSARIAL_WEIGHT
    #: Multiply each term by its number of items (the official ``.mean() * batchSize``).
    batch_scale: bool = True
    #: Training panoramas: ``height`` rows of each crop, ``width`` (= data.crop) columns.
    height: int = 256
    width: int = 768
    #: Width of the discriminator's first conv (official 64).
    d_base: int = 64
    #: VGG-19 weights for ID-MRF (a torchvision state dict); None: HOLEFILL_VGG19, else skipped.
    vgg19_weights: str | None = None
    #: Start the generator from this weights folder; None: from scratch.
    init_weights: str | None = None

    def __post_init__(self) -> None:
        for name in ("pixel_weight", "mrf_weight", "feature_reconstruction_weight", "feature_consistency_weight",
                     "adversarial_weight"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"recipe bct_blend: {name} must be >= 0, got {getattr(self, name)}")
        if self.reconstruction_steps is not None and self.reconstruction_steps < 0:
            raise ConfigError(f"recipe bct_blend: reconstruction_steps must be >= 0 or null, "
                              f"got {self.reconstruction_steps}")
        for name in ("height", "width"):
            value = getattr(self, name)
            if value < STRIDE or value % STRIDE:
                raise ConfigError(f"recipe bct_blend: {name} must be a multiple of {STRIDE}, got {value}")
        if self.width < 3 * STRIDE:
            raise ConfigError(f"recipe bct_blend: width must hold two sides and a gap (>= {3 * STRIDE}), got {self.width}")
        if self.d_base < 1:
            raise ConfigError(f"recipe bct_blend: d_base must be >= 1, got {self.d_base}")


@register_recipe
class BCTBlendRecipe(Recipe):
    """Wide-range blending: self-reconstruction, then fine-tuning on pairs of photos (Lu et al., CVPR 2021)."""

    name = "bct_blend"
    Config = BCTBlendRecipeConfig
    model_type = BCTBlend

    def __init__(self, config: BCTBlendRecipeConfig, model) -> None:  # noqa: ANN001
        super().__init__(config, model)
        self.generator: BCTBlend
        self.adversarial = BlendRaLSGAN(weight=config.adversarial_weight)
        if config.adversarial_weight > 0:
            self.discriminator = BCTDiscriminator(config.height, config.width, base=config.d_base)
        self.mrf = IDMRFLoss(config.vgg19_weights, weight=config.mrf_weight,
                             style_layers={"relu3_2": 1.0, "relu4_2": 1.0}, content_layers={"relu4_2": 1.0})

    def phases(self) -> list[Phase]:
        trains = "both" if self.discriminator is not None else "generator"
        k = self.config.reconstruction_steps
        if k is None:
            return [Phase("reconstruction", trains)]
        if k == 0:
            return [Phase("finetune", trains)]
        return [Phase("reconstruction", trains, steps=k), Phase("finetune", trains)]

    # -- data --------------------------------------------------------------------------------
    def panoramas(self, batch: Batch) -> tuple[torch.Tensor, int, int]:
        """The batch's training panoramas (N3hw, [-1, 1]) and the gap's columns ``[a, b)``.

        Cut once per micro-batch (the D step reuses the G step's): ``height`` rows at a random
        offset in training, the middle rows otherwise.
        """
        cached = batch.get("_panoramas")
        if cached is not None:
            return cached
        cfg: BCTBlendRecipeConfig = self.config
        image = batch["image"]
        h, w = image.shape[-2:]
        if w != cfg.width or h < cfg.height:
            raise ConfigError(f"recipe bct_blend: the crops are {h}x{w}, but the recipe trains on {cfg.height}x"
                              f"{cfg.width} panoramas; set data.crop to {cfg.width} (recipe.args.width)")
        a, b = band_columns(batch["mask"], image.shape)[0]  # the first crop's gap is the batch's
        if any(v % STRIDE for v in (a, b - a, w - b)):
            raise ConfigError(f"recipe bct_blend: the gap (columns {a}-{b} of {w}) and both sides must be multiples "
                              f"of {STRIDE}; use a band mask with multiple: {STRIDE}")
        top = int(torch.randint(0, h - cfg.height + 1, ())) if self.training else (h - cfg.height) // 2
        batch["_panoramas"] = (image[:, :, top:top + cfg.height], a, b)
        return batch["_panoramas"]

    @staticmethod
    def _pairs(strip: torch.Tensor, a: int, b: int, finetune: bool) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Left photos, right photos, and how many leading items are self-reconstructions."""
        left, right = strip[..., :a], strip[..., b:]
        n = strip.shape[0]
        if not finetune:
            return left, right, n
        rec = n // 2
        if n - rec < 2:
            raise InvalidArgumentError(f"bct_blend fine-tuning pairs photos within a batch and needs data.batch_size "
                                       f">= 4, got {n}")
        return left, torch.cat([right[:rec], right[rec:].roll(1, dims=0)]), rec

    # -- steps -------------------------------------------------------------------------------
    def _scale(self, count: int) -> float:
        return float(count) if self.config.batch_scale else 1.0

    def generator_step(self, batch: Batch, phase: Phase) -> StepResult:
        cfg: BCTBlendRecipeConfig = self.config
        strip, a, b = self.panoramas(batch)
        left, right, rec = self._pairs(strip, a, b, phase.name == "finetune")
        n, gap = strip.shape[0], b - a
        out = self.generator.blend(left, right, gap, sides=True)
        pred = out.output.float()
        batch["_blend_fake"] = pred.detach()
        unit = (pred + 1.0) * 0.5  # the official losses see [0, 1] images
        left01, right01, mid01 = ((x.float() + 1.0) * 0.5 for x in (left, right, strip[..., a:b]))
        p_left, p_mid, p_right = unit[..., :a], unit[..., a:b], unit[..., b:]

        sides = F.mse_loss(p_left, left01) + F.mse_loss(p_right, right01)
        middle = (gap_weight(gap, device=pred.device) * (p_mid[:rec] - mid01[:rec]).square()).mean()
        pixel = sides * self._scale(n) + middle * self._scale(rec)
        mrf = self.mrf(p_mid[:rec], mid01[:rec]) * self._scale(rec)
        with torch.no_grad():
            truth, _ = self.generator.encode(strip[:rec, :, :, a:b])
        feat_rec = F.mse_loss(out.middle[:rec].float(), truth.float()) * self._scale(rec)
        feat_cons = sum(F.mse_loss(x.float(), y.float()) for x, y in zip(out.from_left, out.from_right))
        feat_cons = feat_cons * self._scale(n)
        loss = (cfg.pixel_weight * pixel + mrf + cfg.feature_reconstruction_weight * feat_rec
                + cfg.feature_consistency_weight * feat_cons)
        logs = {"pixel": pixel.detach(), "feat_rec": feat_rec.detach(), "feat_cons": feat_cons.detach()}
        if self.mrf.active:
            logs["mrf"] = mrf.detach()
        if self.discriminator is not None and phase.trains_discriminator:
            with torch.no_grad():
                real_logits = self.discriminator(strip)
            adv = self.adversarial.generator_loss(self.discriminator(out.output), real_logits) * self._scale(n)
            loss = loss + adv
            logs["adv"] = adv.detach()
        logs["loss"] = loss.detach()
        return loss, logs

    def discriminator_step(self, batch: Batch, phase: Phase) -> StepResult:
        assert self.discriminator is not None
        strip, a, b = self.panoramas(batch)
        fake = batch.get("_blend_fake")
        if fake is None:
            left, right, _ = self._pairs(strip, a, b, phase.name == "finetune")
            with torch.no_grad():
                fake = self.generator.blend(left, right, b - a).output.float()
        real_logits = self.discriminator(strip)
        fake_logits = self.discriminator(fake.to(strip.dtype))
        loss = self.adversarial.discriminator_loss(real_logits, fake_logits) * self._scale(strip.shape[0])
        return loss, {"loss": loss.detach(), "real": real_logits.mean().detach(), "fake": fake_logits.mean().detach()}

    @torch.no_grad()
    def samples(self, batch: Batch) -> dict[str, torch.Tensor]:
        strip, a, b = self.panoramas(batch)
        out = self.generator.blend(strip[..., :a], strip[..., b:], b - a).output.float().clamp(-1, 1)
        shown = strip.clone()
        shown[..., a:b] = 1.0
        composite = strip.clone()
        composite[..., a:b] = out[..., a:b]
        return {"input": shown, "output": out, "composite": composite, "target": strip}
