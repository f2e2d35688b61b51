"""The pggan recipe: tiny overfit, configs, the three loss terms on hand-checkable inputs,
what each optimiser updates, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from holefill.errors import ConfigError
from holefill.models.registry import model_entry
from holefill.train.config import load_config
from holefill.train.recipe import Phase
from holefill.train.recipes import build_recipe, recipe_config
from holefill.train.recipes.pggan import PGGANRecipe
from holefill.train.trainer import Trainer
from overfit import assert_hole_l1_halves, overfit_config, write_images

MODEL = RECIPE = "pggan"
TINY = model_entry(MODEL).tiny
CONFIGS = Path(__file__).resolve().parents[1] / "src" / "holefill" / "configs"
SMALL_D = {"image_size": 32, "ndf": 8}
BOTH = Phase("train", "both")


def tiny_recipe(**args: object) -> PGGANRecipe:
    recipe = build_recipe(overfit_config(Path("unused"), MODEL, TINY, RECIPE, {**SMALL_D, **args}))
    assert isinstance(recipe, PGGANRecipe)
    return recipe.train()


def box_batch(n: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(n, 1, 32, 32)
    mask[..., 8:20, 10:24] = 1
    return {"image": torch.rand(n, 3, 32, 32, generator=g) * 2 - 1, "mask": mask}


@pytest.mark.slow
def test_tiny_overfit_halves_the_hole_l1(tmp_path: Path) -> None:
    # The full recipe with its default weights; the shared check's default rates (2e-3).
    assert_hole_l1_halves(tmp_path, MODEL, TINY, RECIPE, SMALL_D)


@pytest.mark.parametrize("name", ["pggan", "pggan_cpu"])
def test_bundled_configs_load_and_build(name: str) -> None:
    cfg = load_config(CONFIGS / f"{name}.yaml")
    recipe = build_recipe(cfg)
    assert isinstance(recipe, PGGANRecipe)
    assert cfg.recipe.args["image_size"] == cfg.data.crop
    assert (recipe.config.lambda_rec, recipe.config.lambda_global, recipe.config.lambda_patch) == (0.995, 0.0025, 0.0025)
    if name == "pggan":
        assert recipe.generator.num_parameters() == 11_391_811
        assert sum(p.numel() for p in recipe.discriminator.parameters()) == 13_265_090


def test_cpu_config_runs_a_few_steps_and_exports(tmp_path: Path) -> None:
    data = write_images(tmp_path / "images")
    overrides = [f"data.train={data}", f"data.val={data}", "data.crop=32", "data.resize=null",
                 "recipe.args.image_size=32", "train.steps=2", "train.log_every=1", "train.sample_every=2",
                 "train.eval_every=2", "train.eval_images=4", "train.ckpt_every=0"]
    trainer = Trainer(load_config(CONFIGS / "pggan_cpu.yaml", overrides), tmp_path / "run", progress=False)
    final = trainer.fit()
    assert (final / "model.safetensors").is_file()
    for key in ("g/l1", "g/adv_global", "g/adv_patch", "g/loss", "d/loss", "d/global", "d/patch"):
        assert key in trainer.last_logs, key


def test_generator_loss_is_l1_plus_two_weighted_adversarial_terms() -> None:
    torch.manual_seed(0)
    recipe = tiny_recipe()
    batch = box_batch()
    total, logs = recipe.generator_step(batch, BOTH)
    out, image = batch["_fake"], batch["image"]
    with torch.no_grad():
        logits = recipe.discriminator(out)
    assert logits.patch.shape == (2, 1, 2, 2) and logits.image.shape == (2, 1)
    l1 = (out - image).abs().mean()  # over the whole image
    g_global = F.binary_cross_entropy_with_logits(logits.image, torch.ones_like(logits.image))
    g_patch = F.binary_cross_entropy_with_logits(logits.patch, torch.ones_like(logits.patch))
    assert float(logs["l1"]) == pytest.approx(float(l1), rel=1e-5)
    assert float(total.detach()) == pytest.approx(0.995 * float(l1) + 0.0025 * float(g_global) + 0.0025 * float(g_patch),
                                                  rel=1e-5)
    # Each weight reaches its own term.
    for weights in ({"lambda_rec": 0.0, "lambda_global": 1.0, "lambda_patch": 0.0},
                    {"lambda_rec": 0.0, "lambda_global": 0.0, "lambda_patch": 1.0},
                    {"lambda_rec": 2.0, "lambda_global": 0.0, "lambda_patch": 0.0}):
        torch.manual_seed(0)
        other = tiny_recipe(**weights)
        batch = box_batch()
        total, _ = other.generator_step(batch, BOTH)
        with torch.no_grad():
            logits = other.discriminator(batch["_fake"])
        expect = (weights["lambda_rec"] * (batch["_fake"] - image).abs().mean()
                  + weights["lambda_global"] * F.softplus(-logits.image).mean()
                  + weights["lambda_patch"] * F.softplus(-logits.patch).mean())
        assert float(total.detach()) == pytest.approx(float(expect), rel=1e-5), weights


def test_discriminator_loss_sums_both_heads() -> None:
    torch.manual_seed(0)
    recipe = tiny_recipe()
    batch = box_batch()
    recipe.generator_step(batch, BOTH)
    loss, logs = recipe.discriminator_step(batch, BOTH)
    with torch.no_grad():
        real, fake = recipe.discriminator(batch["image"]), recipe.discriminator(batch["_fake"])
    per_head = [F.softplus(-r).mean() + F.softplus(f).mean() for r, f in ((real.image, fake.image),
                                                                           (real.patch, fake.patch))]
    assert float(logs["global"]) == pytest.approx(float(per_head[0]), rel=1e-5)
    assert float(logs["patch"]) == pytest.approx(float(per_head[1]), rel=1e-5)
    assert float(loss.detach()) == pytest.approx(float(sum(per_head)), rel=1e-5)


def test_each_optimiser_updates_its_network(tmp_path: Path) -> None:
    data = write_images(tmp_path / "images")
    trainer = Trainer(overfit_config(data, MODEL, TINY, RECIPE, SMALL_D, steps=1), tmp_path / "run", progress=False)
    recipe = trainer.recipe
    assert {id(p) for p in trainer.g_params} == {id(p) for p in recipe.generator.parameters()}
    assert {id(p) for p in trainer.d_params} == {id(p) for p in recipe.discriminator.parameters()}
    g0 = [p.detach().clone() for p in recipe.generator.parameters()]
    d0 = [p.detach().clone() for p in recipe.discriminator.parameters()]
    trainer.train_step()
    assert all(not torch.equal(a, p) for a, p in zip(g0, recipe.generator.parameters()))
    assert all(not torch.equal(a, p) for a, p in zip(d0, recipe.discriminator.parameters()))


def test_errors_name_the_key(tmp_path: Path) -> None:
    recipe = tiny_recipe()
    with pytest.raises(ConfigError, match=r"recipe\.args\.image_size.*32x32.*64x64"):
        recipe.generator_step({"image": torch.zeros(2, 3, 64, 64), "mask": torch.zeros(2, 1, 64, 64)}, BOTH)
    with pytest.raises(ConfigError, match=r"model\.name: recipe pggan trains the pggan model"):
        build_recipe(overfit_config(tmp_path, "glcic", {"cnum": 8}, RECIPE, SMALL_D))
    with pytest.raises(ConfigError, match=r"recipe\.args\.adversarial: must be one of"):
        recipe_config(overfit_config(tmp_path, MODEL, TINY, RECIPE, {**SMALL_D, "adversarial": "wgan_gp"}))
    with pytest.raises(ConfigError, match=r"recipe\.args\.image_size: must be a power of two >= 32"):
        recipe_config(overfit_config(tmp_path, MODEL, TINY, RECIPE, {**SMALL_D, "image_size": 48}))
