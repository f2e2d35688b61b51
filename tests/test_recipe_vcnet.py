"""The vcnet recipe: official loss weights, configs, phases, the loss terms by hand, the damaged
batches it trains on, the critics' step, and the tiny overfit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from holefill.errors import ConfigError
from holefill.losses import mask_bce
from holefill.masks.corruption import soft_border
from holefill.models import load_model
from holefill.models.registry import model_entry
from holefill.models.vcnet import VCNet, VCNetDiscriminator
from holefill.train.config import load_config
from holefill.train.recipes import build_recipe
from holefill.train.recipes.vcnet import VCNetRecipe, soft_mask
from holefill.train.trainer import Trainer
from overfit import assert_hole_l1_halves, overfit_config, write_images

MODEL = RECIPE = "vcnet"
CONFIGS = Path(__file__).resolve().parents[1] / "src" / "holefill" / "configs"
SMALL = {"image_size": 32, "d_cnum": 8, "mpn_steps": 0, "rin_steps": 0, "gan_weight": 0.0,
         "damage": {"weights": {"graffiti": 1.0}, "soft_border": 0.0}}


@pytest.mark.slow
def test_tiny_overfit(tmp_path: Path) -> None:
    # Solid-colour damage in the overfit's boxes: the MPN must find it and the RIN fill it,
    # blind (Trainer.evaluate gives the damaged crops alone and scores the hole). Half the
    # tiny width and 60 steps keep it short; it halves the hole L1 with room to spare.
    assert_hole_l1_halves(tmp_path, MODEL, {"cnum": 4, "se_ratio": 4}, RECIPE, SMALL, steps=60)


def test_official_weights_in_the_paper_config() -> None:
    # options/train_options.py: gan_loss_alpha 1e-3 (l.37), wgan_gp_lambda 10 (l.38),
    # pretrain_l1_alpha 1.2 (l.39), l1_loss_alpha 1.4 (l.40), mask_loss_alpha 2.0 (l.42),
    # rho 0.5 (l.43), semantic_loss_alpha 1e-4 (l.44), mrf_alpha 0.1 (l.46), g_cnum 32 (l.73),
    # d_cnum 64 (l.75), d_iters 5 (l.77); train.sh: --batch_size 12, --lr 1e-4, 160000 iters of acc;
    # trainer/blindinpaint_trainer.py: Adam(beta1=0.5, beta2=0.9).
    paper = load_config(CONFIGS / "vcnet.yaml")
    recipe = build_recipe(paper)
    assert isinstance(recipe, VCNetRecipe) and recipe.generator.num_parameters() == 3_816_352
    cfg = recipe.config
    assert (cfg.gan_weight, cfg.gp_weight, cfg.pretrain_l1_alpha, cfg.l1_weight) == (1e-3, 10.0, 1.2, 1.4)
    assert (cfg.mask_weight, cfg.semantic_weight, cfg.mrf_weight, cfg.d_cnum, cfg.d_updates) == (2.0, 1e-4, 0.1, 64, 5)
    assert recipe.generator.config.rho == 0.5 and recipe.generator.config.cnum == 32
    assert recipe.mask_loss.weight == 2.0 and recipe.semantic.weight == 1e-4 and recipe.semantic.layers == ("conv3_2",)
    assert recipe.id_mrf.weight == 0.1 and recipe.id_mrf.style_layers == recipe.id_mrf.content_layers == {"conv3_2": 0.5}
    assert recipe.wgan.weight == 1e-3 and recipe.wgan.lambda_gp == 10.0
    assert isinstance(recipe.discriminator, VCNetDiscriminator)
    assert [(p.name, p.trains, p.steps, p.d_updates) for p in recipe.phases()] == [
        ("rin", "generator", 160_000, 1), ("joint", "both", None, 5)]
    assert paper.optim.betas == (0.5, 0.9) and paper.optim.lr_g == 1e-4 and paper.data.batch_size == 12
    assert paper.data.crop == 256 and paper.data.masks[0].kind == "strokes"
    assert recipe.corruption.weights == {"photo": 1.0} and recipe.corruption.soft_border == 0.5
    for name, width in (("vcnet_cpu", 16), ("vcnet_lite", 32)):  # vcnet_lite: the shipped model's widths
        cpu = load_config(CONFIGS / f"{name}.yaml")
        built = build_recipe(cpu)
        assert built.config.image_size == cpu.data.crop and built.generator.config.cnum == width
        assert [p.name for p in built.phases()] == ["mpn", "rin", "joint"]


def test_loss_terms_by_hand() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 1, 8, 8)
    mask = torch.zeros(2, 1, 8, 8)
    mask[0, :, :2, :] = 1  # 25 % hole
    mask[1, :, :4, :] = 1  # 50 % hole
    # bce_weighted: weighted_cross_entropy_with_logits with pos_weight = known / unknown
    r = torch.tensor([0.25, 0.5]).view(2, 1, 1, 1)
    q = (1 - r) / (r + 1e-5)
    expected = (q * mask * -F.logsigmoid(logits) + (1 - mask) * -F.logsigmoid(-logits)).mean()
    torch.testing.assert_close(mask_bce(logits, mask), expected)
    plain = F.binary_cross_entropy_with_logits(logits, mask)
    torch.testing.assert_close(mask_bce(logits, mask, balanced=False), plain)
    # the composite's smoothed border is the same as the damage generator's (official priority_loss_mask)
    m = np.zeros((32, 32), bool)
    m[10:20, 12:16] = True
    torch.testing.assert_close(soft_mask(torch.from_numpy(m).float()[None, None])[0, 0],
                               torch.from_numpy(soft_border(m)), rtol=1e-5, atol=1e-5)


def _batch(recipe: VCNetRecipe, n: int = 2, size: int = 32) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    image = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    mask = torch.zeros(n, 1, size, size)
    mask[:, :, 8:20, 6:26] = 1
    corrupted = image * (1 - mask) + mask * 0.9
    return {"image": image, "mask": mask, "corrupted": corrupted}


def test_generator_step_terms_and_phases(tmp_path: Path) -> None:
    cfg = overfit_config(tmp_path, MODEL, model_entry(MODEL).tiny, RECIPE, {**SMALL, "gan_weight": 1e-3})
    recipe = build_recipe(cfg)
    batch = _batch(recipe)
    phases = {p.name: p for p in recipe.phases()}
    torch.manual_seed(0)
    loss, logs = recipe.generator_step(dict(batch), phases["joint"])
    out = recipe.generator(batch["corrupted"])
    l1 = 1.4 * 1.2 * (out.fill - batch["image"]).abs().mean()
    bce = 2.0 * mask_bce(out.mask_logits, batch["mask"])
    torch.testing.assert_close(logs["l1"], l1.detach())
    torch.testing.assert_close(logs["mask_bce"], bce.detach())
    assert logs["semantic"] == 0 and logs["id_mrf"] == 0  # no VGG weights here: skipped, not faked
    torch.testing.assert_close(loss.detach(), (l1 + bce + logs["adv"]).detach())
    from holefill.train.recipe import Phase

    # the MPN phase runs the MPN alone: only its parameters get gradients
    loss, logs = recipe.generator_step(dict(batch), Phase("mpn", "generator", 1))
    loss.backward()
    assert set(logs) == {"mask_bce", "loss"}
    assert all(p.grad is None for p in recipe.generator.rin.parameters())
    assert all(p.grad is not None for p in recipe.generator.mpn.mask_output.parameters())
    recipe.generator.zero_grad(set_to_none=True)
    # the RIN phase feeds the true mask (official --phase acc)
    b = dict(batch)
    recipe.generator_step(b, Phase("rin", "generator", 1))
    given = recipe.generator(batch["corrupted"], batch["mask"])
    expected = soft_mask(given.mask_logits.clamp(0, 1))
    torch.testing.assert_close(b["_fake"], given.fill * expected + batch["corrupted"] * (1 - expected))
    with pytest.raises(ConfigError, match="corrupted"):
        recipe.generator_step({"image": batch["image"], "mask": batch["mask"]}, phases["joint"])


def test_discriminator_step(tmp_path: Path) -> None:
    cfg = overfit_config(tmp_path, MODEL, model_entry(MODEL).tiny, RECIPE, {**SMALL, "gan_weight": 1e-3})
    recipe = build_recipe(cfg)
    batch = _batch(recipe)
    phase = recipe.phases()[-1]
    assert phase.trains == "both" and phase.d_updates == 5
    recipe.generator_step(batch, phase)
    loss, logs = recipe.discriminator_step(batch, phase)
    loss.backward()
    assert torch.isfinite(loss) and logs["gp_global"] > 0 and logs["gp_patch"] > 0
    assert all(p.grad is not None for p in recipe.discriminator.parameters())
    big = _batch(recipe, size=64)
    with pytest.raises(ConfigError, match="image_size"):
        recipe.discriminator_step(big, phase)


def test_bad_damage_options_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="recipe.args.damage: unknown damage kind 'smudge'"):
        build_recipe(overfit_config(tmp_path, MODEL, {"cnum": 8}, RECIPE, {"damage": {"weights": {"smudge": 1.0}}}))
    with pytest.raises(ConfigError, match="recipe.args.damage: damage takes no parameter 'colour'"):
        build_recipe(overfit_config(tmp_path, MODEL, {"cnum": 8}, RECIPE, {"damage": {"colour": "red"}}))
    with pytest.raises(ConfigError, match="model.name"):
        build_recipe(overfit_config(tmp_path, "deepfill_v2", {"cnum": 8}, RECIPE, {}))


def test_trainer_damages_crops_and_evaluates_blind(tmp_path: Path) -> None:
    images = write_images(tmp_path / "images", count=3, size=40)
    cfg = load_config(CONFIGS / "vcnet_cpu.yaml", [
        f"data.train={images}", f"data.val={images}", "train.steps=3", "data.crop=32", "data.batch_size=2",
        "model.args.cnum=8", "recipe.args.image_size=32", "recipe.args.d_cnum=8", "recipe.args.d_updates=2",
        "recipe.args.mpn_steps=1", "recipe.args.rin_steps=1", "train.sample_every=3", "train.eval_every=3",
        "train.log_every=1", "train.ckpt_every=0", "train.eval_images=3"])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = Trainer(cfg, tmp_path / "run", progress=False)
        sample = trainer.dataset[(0, 1)]
        assert set(sample) == {"image", "mask", "corrupted"}
        changed = (sample["corrupted"] != sample["image"]).any(0)
        assert changed.any() and sample["mask"].any()
        assert not changed[sample["mask"][0] == 0].all()  # the damage is where the mask says
        assert torch.equal(trainer.dataset[(0, 1)]["corrupted"], sample["corrupted"])  # seeded
        final = trainer.fit()
        values = trainer.evaluate()
    finally:
        torch.set_num_threads(threads)
    assert {"eval/l1_hole", "eval/psnr", "eval/mask_iou"} <= set(values)
    assert 0.0 <= values["eval/mask_iou"] <= 1.0
    logs = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    assert [p for p in ('"phase": "mpn"', '"phase": "rin"', '"phase": "joint"') if not any(p in l for l in logs)] == []
    assert isinstance(load_model(final, expect=MODEL), VCNet)
    assert (tmp_path / "run" / "samples" / "step_00000003.png").exists()
