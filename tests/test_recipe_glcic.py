"""The glcic recipe: tiny overfit through all three phases, configs, the loss on
hand-checkable inputs, which network trains in which phase, the local patch, the ADADELTA
option of the Trainer, and the Poisson-blending post-process of the filler."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from holefill.errors import ConfigError, InvalidArgumentError
from holefill.models import create_model
from holefill.classical.poisson import poisson_blend
from holefill.models.registry import model_entry
from holefill.pipeline import ModelFiller
from holefill.train.config import load_config
from holefill.train.recipe import Phase
from holefill.train.recipes import build_recipe, recipe_config
from holefill.train.recipes.glcic import GLCICRecipe
from holefill.train.trainer import Trainer
from overfit import assert_hole_l1_halves, overfit_config, write_images

MODEL = RECIPE = "glcic"
TINY = model_entry(MODEL).tiny
CONFIGS = Path(__file__).resolve().parents[1] / "src" / "holefill" / "configs"
SMALL_D = {"image_size": 32, "local_size": 16, "d_cnum": 4, "d_fc": 16}


def tiny_recipe(**args: object) -> GLCICRecipe:
    recipe = build_recipe(overfit_config(Path("unused"), MODEL, TINY, RECIPE, {**SMALL_D, **args}))
    assert isinstance(recipe, GLCICRecipe)
    return recipe.train()


def box_batch(n: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(n, 1, 32, 32)
    mask[..., 10:22, 6:18] = 1
    return {"image": torch.rand(n, 3, 32, 32, generator=g) * 2 - 1, "mask": mask}


@pytest.mark.slow
def test_tiny_overfit_halves_the_hole_l1(tmp_path: Path) -> None:
    # All three phases run: 80 steps of MSE, 10 of the discriminators alone, 10 joint. The
    # tiny GLCIC (batch norm in every layer, 4 channels before the output) is noisy from step
    # to step at batch 4, so this uses batch 16, a short EMA (what training exports) and a
    # slower D (2e-4), with the paper's alpha and losses unchanged.
    assert_hole_l1_halves(tmp_path, MODEL, TINY, RECIPE, {**SMALL_D, "d_cnum": 8, "d_fc": 32, "tc_steps": 80,
                                                         "td_steps": 10},
                          batch_size=16, lr_g=2e-3, lr_d=2e-4, ema_decay=0.9)


@pytest.mark.parametrize("name", ["glcic", "glcic_cpu"])
def test_bundled_configs_load_and_build(name: str) -> None:
    cfg = load_config(CONFIGS / f"{name}.yaml")
    recipe = build_recipe(cfg)
    assert isinstance(recipe, GLCICRecipe)
    assert cfg.recipe.args["image_size"] == cfg.data.crop and cfg.optim.name == "adadelta"
    assert [p.trains for p in recipe.phases()] == ["generator", "discriminator", "both"]
    if name == "glcic":  # the paper's numbers
        assert (recipe.config.alpha, recipe.config.tc_steps, recipe.config.td_steps) == (0.0004, 90_000, 10_000)
        assert (cfg.train.steps, cfg.data.batch_size, cfg.data.crop, recipe.config.local_size) == (500_000, 96, 256, 128)
        assert recipe.generator.num_parameters() == 6_072_131
        assert sum(p.numel() for p in recipe.discriminator.parameters()) == 45_063_681


def test_cpu_config_runs_every_phase_with_adadelta(tmp_path: Path) -> None:
    data = write_images(tmp_path / "images")
    overrides = [f"data.train={data}", f"data.val={data}", "data.crop=32", "data.resize=null", "model.args.cnum=8",
                 "recipe.args.image_size=32", "recipe.args.local_size=16", "recipe.args.tc_steps=1",
                 "recipe.args.td_steps=1", "train.steps=3", "train.log_every=1", "train.sample_every=3",
                 "train.eval_every=3", "train.eval_images=4", "train.ckpt_every=0"]
    trainer = Trainer(load_config(CONFIGS / "glcic_cpu.yaml", overrides), tmp_path / "run", progress=False)
    assert isinstance(trainer.opt_g, torch.optim.Adadelta) and isinstance(trainer.opt_d, torch.optim.Adadelta)
    assert trainer.opt_g.param_groups[0]["rho"] == 0.9 and trainer.opt_g.param_groups[0]["lr"] == 1.0
    final = trainer.fit()
    assert (final / "model.safetensors").is_file()
    lines = [json.loads(s) for s in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    phases = [(r["step"], r["phase"]) for r in lines if r["phase"] != "eval"]
    assert phases == [(1, "completion"), (2, "discriminator"), (3, "joint")]
    assert "g/mse" in lines[0] and "d/loss" not in lines[0]
    assert "d/loss" in lines[1] and "g/mse" not in lines[1]
    assert {"g/mse", "g/adv", "d/loss"} <= set(lines[2])


def test_generator_loss_is_masked_mse_then_plus_alpha_bce() -> None:
    torch.manual_seed(0)
    recipe = tiny_recipe()
    batch = box_batch()
    total, logs = recipe.generator_step(batch, Phase("completion", "generator"))
    out = batch["_fake"]
    image, mask = batch["image"], batch["mask"]
    mse = (mask * (out - image) ** 2).mean()  # squared error in the hole, averaged over all entries
    assert float(total.detach()) == pytest.approx(float(mse), rel=1e-5) and "adv" not in logs
    batch = box_batch()
    total, logs = recipe.generator_step(batch, Phase("joint", "both"))
    out = batch["_fake"]
    completed = image * (1 - mask) + out * mask
    patch = completed[..., 8:24, 4:20]  # the 16x16 patch centred on the 12x12 hole at rows 10-22, cols 6-18
    with torch.no_grad():
        bce = F.binary_cross_entropy_with_logits(recipe.discriminator(completed, patch), torch.ones(2, 1))
    mse = (mask * (out - image) ** 2).mean()
    assert float(logs["adv"]) == pytest.approx(0.0004 * float(bce), rel=1e-5)
    assert float(total.detach()) == pytest.approx(float(mse) + 0.0004 * float(bce), rel=1e-5)


def test_discriminator_loss_is_alpha_times_bce_on_real_and_completed() -> None:
    torch.manual_seed(0)
    recipe = tiny_recipe(real_patch="hole", d_weight=0.5)
    batch = box_batch()
    loss, _ = recipe.discriminator_step(batch, Phase("discriminator", "discriminator"))
    image, mask = batch["image"], batch["mask"]
    completed = image * (1 - mask) + batch["_fake"] * mask
    with torch.no_grad():
        real = recipe.discriminator(image, image[..., 8:24, 4:20])
        fake = recipe.discriminator(completed, completed[..., 8:24, 4:20])
    bce = F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + \
        F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    assert float(loss.detach()) == pytest.approx(0.5 * float(bce), rel=1e-5)
    assert tiny_recipe().adv.d_weight == 0.0004  # null: the paper's alpha


def test_local_patches_hold_the_hole_and_real_patches_move() -> None:
    recipe = tiny_recipe()
    mask = torch.zeros(3, 1, 32, 32)
    mask[0, :, 20:28, 2:10] = 1     # near the bottom-left corner
    mask[1, :, 0:5, 25:32] = 1      # in the top-right corner
    mask[2, :, 12:20, 12:20] = 1    # in the middle
    patches = recipe.hole_patches(mask, mask)
    assert patches.shape == (3, 1, 16, 16)
    assert torch.equal(patches.flatten(1).sum(1), mask.flatten(1).sum(1))  # every hole pixel is in its patch
    torch.manual_seed(0)
    image = torch.arange(32 * 32, dtype=torch.float32).view(1, 1, 32, 32).expand(8, 3, 32, 32)
    corners = {float(p[0, 0, 0]) for p in recipe.random_patches(image)}
    assert len(corners) > 1  # the paper's random M_d: real patches do not all sit in one place


def test_each_phase_trains_the_right_network(tmp_path: Path) -> None:
    data = write_images(tmp_path / "images")
    cfg = overfit_config(data, MODEL, TINY, RECIPE, {**SMALL_D, "tc_steps": 1, "td_steps": 1}, steps=3)
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    gen, disc = trainer.recipe.generator, trainer.recipe.discriminator

    def snapshot() -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        return [p.detach().clone() for p in gen.parameters()], [p.detach().clone() for p in disc.parameters()]

    def changed(before: list[torch.Tensor], net: torch.nn.Module) -> bool:
        return any(not torch.equal(a, p) for a, p in zip(before, net.parameters()))

    expected = {"completion": (True, False), "discriminator": (False, True), "joint": (True, True)}
    for _ in range(3):
        g0, d0 = snapshot()
        phase = trainer.train_step()
        assert (changed(g0, gen), changed(d0, disc)) == expected[phase.name], phase.name


def test_size_mismatch_and_wrong_model_are_one_line_errors(tmp_path: Path) -> None:
    recipe = tiny_recipe()
    with pytest.raises(ConfigError, match=r"recipe\.args\.image_size.*32x32.*64x64"):
        recipe.generator_step({"image": torch.zeros(2, 3, 64, 64), "mask": torch.zeros(2, 1, 64, 64)},
                              Phase("completion", "generator"))
    with pytest.raises(ConfigError, match=r"model\.name: recipe glcic trains the glcic model"):
        build_recipe(overfit_config(tmp_path, "pggan", {"ngf": 8, "n_blocks": 1}, RECIPE, SMALL_D))
    with pytest.raises(ConfigError, match=r"recipe\.args\.local_size: must not exceed"):
        recipe_config(overfit_config(tmp_path, MODEL, TINY, RECIPE, {**SMALL_D, "local_size": 64}))


def test_adadelta_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"optim\.rho: must lie in \[0, 1\]"):
        load_config(CONFIGS / "glcic_cpu.yaml", ["optim.rho=1.5"])
    with pytest.raises(ConfigError, match=r"optim\.name: expected one of .*'adadelta'"):
        load_config(CONFIGS / "glcic_cpu.yaml", ["optim.name=adagrad"])


# ----------------------------------------------------------------------------- Poisson blending


@pytest.fixture
def glcic_filler_pair() -> tuple[ModelFiller, ModelFiller]:
    torch.manual_seed(0)
    model = create_model(MODEL, **TINY)
    return ModelFiller(model, device="cpu"), ModelFiller(model, device="cpu", postprocess="poisson")


def test_poisson_postprocess_blends_the_model_fill(glcic_filler_pair, photo: np.ndarray, box_mask: np.ndarray) -> None:
    plain, blended = glcic_filler_pair
    raw = plain.fill(photo, box_mask)
    out = blended.fill(photo, box_mask)
    assert np.array_equal(out[~box_mask], photo[~box_mask])
    assert np.array_equal(out, poisson_blend(raw, box_mask))  # the model's fill, then inpaint.lua's post-process
    assert not np.array_equal(out[box_mask], raw[box_mask])
    batch = blended.fill_batch([photo, photo], [box_mask, box_mask])  # the batched path blends too
    assert all(np.array_equal(b, out) for b in batch)


def test_postprocess_option_is_checked_and_reaches_the_cli(tmp_path: Path, photo: np.ndarray,
                                                           box_mask: np.ndarray) -> None:
    from PIL import Image

    from holefill.cli import app

    with pytest.raises(InvalidArgumentError, match="option postprocess must be none or poisson"):
        ModelFiller(create_model(MODEL, **TINY), device="cpu", postprocess="laplace")
    torch.manual_seed(0)
    model = create_model(MODEL, **TINY).eval()
    weights = model.save_pretrained(tmp_path / "weights")
    Image.fromarray(photo).save(tmp_path / "photo.png")
    Image.fromarray(box_mask.astype(np.uint8) * 255).save(tmp_path / "mask.png")
    result = CliRunner().invoke(app, ["inpaint", str(tmp_path / "photo.png"), "--mask", str(tmp_path / "mask.png"),
                                      "-o", str(tmp_path / "out.png"), "--method", "glcic", "--weights", str(weights),
                                      "--device", "cpu", "-O", "postprocess=poisson", "-q"])
    assert result.exit_code == 0, result.output
    expected = ModelFiller.from_pretrained(weights, device="cpu", postprocess="poisson").fill(photo, box_mask)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png").convert("RGB")), expected)
