"""``vcnet``: blind inpainting, the mask prediction and robust inpainting networks, then both.

Paper: Wang et al., "VCNet: A Robust Approach to Blind Image Inpainting", ECCV 2020, Sec. 3.
Official code (TensorFlow 1): github.com/shepnerd/blindinpainting_vcnet, ``tensorflow_version``:
``Blindinpaint_model.get_training_losses`` in ``net/model.py`` (lines 53-200), the losses in
``net/loss.py``, the options in ``options/train_options.py``, the schedule in ``train.sh``.

The data: every crop is damaged on the fly (:class:`~holefill.data.datasets.BlindDataset` with
the :class:`~holefill.masks.corruption.Corruption` of ``damage``): ``I = O (1 - M) + N M`` with
``N`` a crop of *another training photo*, half of the time with a smoothed alpha border
(official ``coin > 0.5``), plus the simpler damage kinds of holefill (``damage.weights``). The
stroke shapes ``M`` are ``data.masks`` (the configs use ``strokes``, the official
``free_form_mask_tf`` settings). The batch gains ``"corrupted"``; ``"mask"`` is the true damage.

The losses, with the official weights (``train_options.py`` line numbers):

- mask: :class:`~holefill.losses.WeightedMaskBCE`, class-balanced BCE of the MPN's logits
  against the true mask (``bce_weighted``), x ``mask_loss_alpha`` 2.0 (line 42);
- reconstruction: mean absolute error of the RIN's fill (before compositing, whole image)
  against the clean image, x ``pretrain_l1_alpha`` 1.2 (line 39) inside the term and
  x ``l1_loss_alpha`` 1.4 (line 40) outside it;
- semantic consistency: mean squared difference of VGG-19 ``conv3_2`` features of the fill
  and the clean image (``semantic_consistent_loss``), x ``semantic_loss_alpha`` 1e-4 (line 44);
- ID-MRF on ``conv3_2`` (style 0.5 + content 0.5, ``model.py`` lines 86-91; bandwidth 0.5,
  65x65 positions at most), x ``mrf_alpha`` 0.1 (line 46), when ``use_mrf`` is on: the
  released script turns it on for the joint phase, as here;
- adversarial: WGAN-GP (``gan_wgan_loss``) with the global critic and the hole-masked patch
  critic (:class:`~holefill.models.vcnet.VCNetDiscriminator`, ``d_cnum`` 64, line 75) on the
  composite ``fill * S + I * (1 - S)``, ``S`` the predicted mask with the smoothed border;
  G x ``gan_loss_alpha`` 1e-3 (line 37) x (global + patch); both critics' gradient penalties
  on the hole pixels of the same interpolates, x ``wgan_gp_lambda`` 10 (line 38); five critic
  updates per generator update (``d_iters``, line 77); Adam lr 1e-4, betas (0.5, 0.9)
  (``trainer/blindinpaint_trainer.py``). ``ae_loss`` and ``geometric_consistent_loss`` are
  zero in the official graph and left out.

Phases (``train.sh``): the official script first trains with ``--phase acc``, where the RIN is
given the *true* mask while the MPN learns to predict it ("trained separately", Sec. 3.3),
then with ``--phase tune``, where the RIN takes the MPN's prediction ("jointly"). Here:
``mpn`` (``mpn_steps``, default 0: the MPN alone, the RIN not even run, a cheap head start
for CPU runs), ``rin`` (``rin_steps``: official ``acc``, both learn, the RIN from the true
mask) and ``joint`` (the rest: official ``tune``, plus ID-MRF and, with ``gan_weight > 0``, the
critics). The released FFHQ script passes ``--pretrain_network`` to both phases, which
switches the critics off; the paper describes them, so the paper config keeps them.

VGG terms need VGG-19 weights from a local file (``vgg_weights`` or ``HOLEFILL_VGG19``); without
them they are skipped with one warning. Our VGG-19 takes torchvision's weights on
ImageNet-normalised [0, 1] input, where the official one takes MatConvNet's on [0, 255]
minus the mean; features differ in scale, so the official weight 1e-4 does not weigh exactly
the same here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from holefill.errors import ConfigError, HolefillError
from holefill.losses import IDMRFLoss, PerceptualLoss, WeightedMaskBCE, WGANGP
from holefill.masks.corruption import Corruption, SOFT_BORDER_KERNEL, make_corruption
from holefill.models.vcnet import VCNet, VCNetDiscriminator
from holefill.train.recipe import Batch, Phase, Recipe, StepResult, register_recipe

ID_MRF_LAYERS = {"conv3_2": 0.5}


@dataclass(frozen=True)
class VCNetRecipeConfig:
    """VCNet's loss weights, phases, critics and damage; defaults are the official ones."""

    #: ``mask_loss_alpha``: weight of the class-balanced mask BCE.
    mask_weight: float = 2.0
    #: ``l1_loss_alpha`` x ``pretrain_l1_alpha``: the L1 of the fill over the whole image.
    l1_weight: float = 1.4
    pretrain_l1_alpha: float = 1.2
    #: ``semantic_loss_alpha``: VGG-19 conv3_2 feature MSE.
    semantic_weight: float = 1e-4
    #: ``mrf_alpha``: ID-MRF on conv3_2, in the joint phase (0: off).
    mrf_weight: float = 0.1
    #: ``gan_loss_alpha``: WGAN generator term in the joint phase (0: no critics are built).
    gan_weight: float = 1e-3
    #: ``wgan_gp_lambda``.
    gp_weight: float = 10.0
    #: ``d_iters``: critic updates per generator update in the joint phase.
    d_updates: int = 5
    #: ``d_cnum``: the critics' base width.
    d_cnum: int = 64
    #: Side of the training crops, which the global critic sees (its dense layer fixes it).
    image_size: int = 256
    #: Steps of the MPN alone (not in the official schedule; 0: none).
    mpn_steps: int = 0
    #: Steps with the true mask given to the RIN (official ``--phase acc``); the rest is joint.
    rin_steps: int = 160_000
    #: A local VGG-19 weights file for the semantic and ID-MRF terms (or HOLEFILL_VGG19).
    vgg_weights: str | None = None
    #: The damage: :class:`~holefill.masks.corruption.Corruption` parameters (``weights`` of
    #: the kinds photo/graffiti/text/scratch, ``soft_border``, ``min_ratio``, ...).
    damage: dict[str, Any] = field(default_factory=dict)
    #: Start the generator from this weights folder (fine-tuning); None: from scratch.
    init_weights: str | None = None

    def _problems(self) -> list[tuple[str, str]]:
        out = []
        for key in ("mask_weight", "l1_weight", "pretrain_l1_alpha", "semantic_weight", "mrf_weight", "gan_weight",
                    "gp_weight"):
            if not getattr(self, key) >= 0:
                out.append((key, f"must be >= 0, got {getattr(self, key)}"))
        for key in ("mpn_steps", "rin_steps"):
            if getattr(self, key) < 0:
                out.append((key, f"must be >= 0, got {getattr(self, key)}"))
        if self.d_updates < 1:
            out.append(("d_updates", f"must be >= 1, got {self.d_updates}"))
        if self.d_cnum < 1:
            out.append(("d_cnum", f"must be >= 1, got {self.d_cnum}"))
        if self.image_size < 32:
            out.append(("image_size", f"must be >= 32, got {self.image_size}"))
        try:
            make_corruption(self.damage)
        except HolefillError as err:
            out.append(("damage", err.problem))
        return out


def soft_mask(mask: torch.Tensor, iters: int = 4) -> torch.Tensor:
    """The official ``min(priority_loss_mask(1 - M, hsize=15, iters=4) + M, 1)`` of an N1HW
    mask in [0, 1] (see :func:`holefill.masks.corruption.soft_border`), differentiable."""
    kernel = torch.from_numpy(SOFT_BORDER_KERNEL).to(mask.device, mask.dtype)[None, None]
    pad = kernel.shape[-1] // 2
    known = 1.0 - mask
    init = mask
    spread = torch.zeros_like(mask)
    for _ in range(iters):
        spread = F.conv2d(init, kernel, padding=pad) * known
        init = spread + mask
    return (spread + mask).clamp(max=1.0)


@register_recipe
class VCNetRecipe(Recipe):
    """Mask BCE + L1 + semantic VGG + ID-MRF + WGAN-GP; MPN and RIN first apart, then joint."""

    name = "vcnet"
    Config = VCNetRecipeConfig
    model_type = VCNet

    def __init__(self, config: VCNetRecipeConfig, model: Any) -> None:
        super().__init__(config, model)
        #: The damage the trainer's datasets make (a blind recipe: see BlindDataset).
        self.corruption: Corruption = make_corruption(config.damage)
        self.mask_loss = WeightedMaskBCE(weight=config.mask_weight)
        self.semantic = PerceptualLoss(config.vgg_weights, layers=("conv3_2",), criterion="l2",
                                       weight=config.semantic_weight)
        self.id_mrf = IDMRFLoss(config.vgg_weights, weight=config.mrf_weight, style_layers=ID_MRF_LAYERS,
                                content_layers=ID_MRF_LAYERS, extractor=self.semantic.extractor)
        self.wgan = WGANGP(weight=config.gan_weight, lambda_gp=config.gp_weight)
        if config.gan_weight > 0:
            self.discriminator = VCNetDiscriminator(config.image_size, config.d_cnum)

    def phases(self) -> list[Phase]:
        cfg: VCNetRecipeConfig = self.config
        phases = []
        if cfg.mpn_steps:
            phases.append(Phase("mpn", "generator", cfg.mpn_steps))
        if cfg.rin_steps:
            phases.append(Phase("rin", "generator", cfg.rin_steps))
        gan = self.discriminator is not None
        phases.append(Phase("joint", "both" if gan else "generator", d_updates=cfg.d_updates if gan else 1))
        return phases

    def _check_size(self, image: torch.Tensor) -> None:
        s = self.config.image_size
        if tuple(image.shape[-2:]) != (s, s):
            raise ConfigError(f"recipe.args.image_size: the global critic takes {s}x{s} images, but the training "
                              f"crops are {image.shape[-2]}x{image.shape[-1]}; set it to data.crop")

    @staticmethod
    def _corrupted(batch: Batch) -> torch.Tensor:
        if "corrupted" not in batch:
            raise ConfigError("recipe vcnet trains on damaged images: the batch has no 'corrupted' entry "
                              "(the trainer makes one for recipes with a corruption)")
        return batch["corrupted"]

    def _composite(self, fill: torch.Tensor, predicted: torch.Tensor, corrupted: torch.Tensor) -> torch.Tensor:
        soft = soft_mask(predicted)
        return fill * soft + corrupted * (1.0 - soft)

    def generator_step(self, batch: Batch, phase: Phase) -> StepResult:
        cfg: VCNetRecipeConfig = self.config
        image, mask, corrupted = batch["image"], batch["mask"], self._corrupted(batch)
        if phase.name == "mpn":
            logits, _ = self.generator.mpn(corrupted)
            bce = self.mask_loss(logits, mask)
            return bce, {"mask_bce": bce.detach(), "loss": bce.detach()}
        out = self.generator(corrupted, mask if phase.name == "rin" else None)
        fill = out.fill.float()
        bce = self.mask_loss(out.mask_logits, mask)
        l1 = cfg.l1_weight * cfg.pretrain_l1_alpha * (fill - image).abs().mean()
        semantic = self.semantic(fill, image)
        loss = bce + l1 + semantic
        logs = {"mask_bce": bce.detach(), "l1": l1.detach(), "semantic": semantic.detach()}
        if phase.name == "joint" and cfg.mrf_weight > 0:
            mrf = self.id_mrf(fill, image)
            loss = loss + mrf
            logs["id_mrf"] = mrf.detach()
        # The critics see the fill pasted with the MPN's own mask, smoothed (official batch_complete).
        complete = self._composite(fill, out.mask_logits.float().clamp(0.0, 1.0), corrupted)
        batch["_fake"] = complete.detach()
        if self.discriminator is not None and phase.trains_discriminator:
            self._check_size(image)
            scores = self.discriminator(complete, mask)
            adv = self.wgan.generator_loss(list(scores))
            loss = loss + adv
            logs["adv"] = adv.detach()
        logs["loss"] = loss.detach()
        return loss, logs

    def discriminator_step(self, batch: Batch, phase: Phase) -> StepResult:
        assert isinstance(self.discriminator, VCNetDiscriminator)
        image, mask, corrupted = batch["image"], batch["mask"], self._corrupted(batch)
        self._check_size(image)
        if "_fake" not in batch:
            with torch.no_grad():
                out = self.generator(corrupted)
                batch["_fake"] = self._composite(out.fill.float(), out.mask_logits.float().clamp(0.0, 1.0), corrupted)
        fake = batch["_fake"]
        real_g, real_p = self.discriminator(image, mask)
        fake_g, fake_p = self.discriminator(fake, mask)
        w = self.wgan.discriminator_loss([real_g, real_p], [fake_g, fake_p])
        seed = int(torch.randint(0, 2**62, (1,)))  # both penalties on the same interpolates, as official
        gp_g = self.wgan.gradient_penalty(self.discriminator.global_critic, image, fake, mask,
                                          generator=torch.Generator().manual_seed(seed))
        gp_p = self.wgan.gradient_penalty(lambda x: self.discriminator.patch_critic(x, mask), image, fake, mask,
                                          generator=torch.Generator().manual_seed(seed))
        loss = w + gp_g + gp_p
        return loss, {"wgan": w.detach(), "gp_global": gp_g.detach(), "gp_patch": gp_p.detach(),
                      "loss": loss.detach()}

    @torch.no_grad()
    def samples(self, batch: Batch) -> dict[str, torch.Tensor]:
        corrupted = self._corrupted(batch)
        out = self.generator(corrupted)
        return {"damaged": corrupted, "true mask": batch["mask"] * 2 - 1, "found mask": out.mask.float() * 2 - 1,
                "fill": out.fill.float(), "result": out.output.float().clamp(-1, 1), "target": batch["image"]}

    @torch.no_grad()
    def generator_samples(self, batch: Batch, generator: torch.nn.Module) -> dict[str, torch.Tensor]:
        """The exported generator's result on the damaged crops (it finds the damage itself)."""
        return {"ema result": generator(self._corrupted(batch)).output.float().clamp(-1, 1)}

    @torch.no_grad()
    def evaluate_batch(self, batch: Batch, generator: torch.nn.Module) -> dict[str, torch.Tensor]:
        """Blind scores: the generator gets the damaged crop alone; L1 (in [0, 1] units) over the
        true damage, PSNR of the whole result, and the IoU of the found mask (above 0.5) with
        the true one (1 where both are empty)."""
        image, mask = batch["image"], batch["mask"]
        result = generator(self._corrupted(batch))
        err = (result.output.float().clamp(-1, 1) - image).abs() / 2.0
        l1 = (err * mask).flatten(1).sum(1) / (mask.flatten(1).sum(1) * 3).clamp_min(1)
        mse = (err ** 2).flatten(1).mean(1).clamp_min(1e-10)
        pred, true = result.mask.float() > 0.5, mask > 0.5
        inter = (pred & true).flatten(1).sum(1).float()
        union = (pred | true).flatten(1).sum(1).float()
        iou = torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))
        return {"l1_hole": l1, "psnr": -10.0 * torch.log10(mse), "mask_iou": iou}


__all__ = ["VCNetRecipe", "VCNetRecipeConfig", "soft_mask"]
