"""The foreground_aware recipe: tiny overfit, its configs, the hole-weighted contour loss by hand,
contours from a segmentation or the Canny fallback, and which networks each phase trains."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from holefill.errors import ConfigError, InvalidArgumentError
from holefill.models import load_model
from holefill.models.edgeconnect import canny_edges, to_gray
from holefill.models.foreground_aware import segmentation_contour
from holefill.models.registry import model_entry
from holefill.train.config import load_config
from holefill.train.recipe import Phase
from holefill.train.recipes import build_recipe
from holefill.train.recipes.foreground_aware import ForegroundAwareRecipe, HoleWeightedContourLoss
from holefill.train.trainer import Trainer
from overfit import assert_hole_l1_halves, overfit_config, write_images

MODEL = RECIPE = "foreground_aware"
CONFIGS = Path(__file__).resolve().parents[1] / "src" / "holefill" / "configs"
#: Critic sizes for 32x32 crops.
SMALL = {"image_size": 32, "local_size": 16, "d_cnum": 8, "contour_d_cnum": 8}


@pytest.mark.slow
def test_tiny_overfit(tmp_path: Path) -> None:
    # Every phase runs (contour content loss, contour + adversarial, image module, joint), short
    # so that most of the 100 steps train the image module, which the check measures; one
    # critic update per step instead of five keeps it fast and does not change what is checked.
    args = {**SMALL, "d_updates": 1, "contour_stage_steps": [3, 3], "image_steps": 30}
    assert_hole_l1_halves(tmp_path, MODEL, model_entry(MODEL).tiny, RECIPE, args)


def test_configs_load_and_build() -> None:
    paper = load_config(CONFIGS / "foreground_aware.yaml")
    recipe = build_recipe(paper)
    assert isinstance(recipe, ForegroundAwareRecipe) and recipe.generator.num_parameters() == 6_363_080
    assert [(p.name, p.trains, p.steps, p.d_updates) for p in recipe.phases()] == [
        ("contour1", "generator", 100_000, 1), ("contour2", "both", 100_000, 1), ("image", "both", 300_000, 5),
        ("joint", "both", None, 5)]
    cfg = recipe.config
    assert (cfg.gamma, cfg.l1_loss_alpha, cfg.gan_loss_alpha, cfg.wgan_gp_lambda) == (0.99, 1.2, 0.001, 10.0)
    assert set(recipe.discriminator) == {"contour", "image"}
    cpu = load_config(CONFIGS / "foreground_aware_cpu.yaml")
    assert build_recipe(cpu).config.image_size == cpu.data.crop
    with pytest.raises(ConfigError, match="contour_adv_weights"):
        build_recipe(load_config(CONFIGS / "foreground_aware_cpu.yaml", ["recipe.args.contour_adv_weights=[0.1]"]))
    with pytest.raises(ConfigError, match="model.name: recipe foreground_aware trains"):
        build_recipe(load_config(CONFIGS / "foreground_aware_cpu.yaml", ["model.name=deepfill_v1", "model.args={}"]))


@pytest.mark.slow
def test_cpu_config_runs_every_phase(tmp_path: Path) -> None:
    images = write_images(tmp_path / "images", count=4, size=40)
    cfg = load_config(CONFIGS / "foreground_aware_cpu.yaml", [
        f"data.train={images}", f"data.val={images}", "train.steps=4", "data.crop=32", "data.batch_size=2",
        "recipe.args.image_size=32", "recipe.args.local_size=16", "recipe.args.d_updates=2",
        "recipe.args.contour_stage_steps=[1,1]", "recipe.args.image_steps=1",
        "train.sample_every=4", "train.eval_every=4", "train.log_every=1", "train.ckpt_every=0"])
    final = Trainer(cfg, tmp_path / "run", progress=False).fit()
    assert load_model(final, expect=MODEL).config.contour_cnum == 8
    logs = {rec["phase"]: rec for rec in map(json.loads, (tmp_path / "run" / "log.jsonl").read_text().splitlines())}
    assert {"contour1", "contour2", "image", "joint", "eval"} <= set(logs)
    assert "g/contour_adv" not in logs["contour1"] and "g/contour_adv" in logs["contour2"]
    assert "d/contour_d" in logs["contour2"] and "d/gp_global" not in logs["contour2"]
    assert "g/l1_fine" in logs["image"] and "g/contour_refined" not in logs["image"]
    assert {"g/contour_refined", "g/l1_fine", "d/contour_d", "d/gp_local"} <= set(logs["joint"])
    assert (tmp_path / "run" / "samples" / "step_00000004.png").exists()


# -- the contour loss by hand -----------------------------------------------------------------

def test_contour_loss_by_hand() -> None:
    mask = torch.zeros(1, 1, 2, 2)
    mask[..., 0, :] = 1  # top row is the hole
    target = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]])
    pred = torch.tensor([[[[0.5, 0.5], [0.9, 0.9]]]])
    bce = HoleWeightedContourLoss("bce")  # hole only
    assert bce(pred, target, mask).item() == pytest.approx(math.log(2))
    focal = HoleWeightedContourLoss("focal", gamma=2.0)
    assert focal(pred, target, mask).item() == pytest.approx(0.25 * math.log(2))
    # Known pixels weighted too: (0.9 right, 0.9 wrong) -> BCE -log 0.9 and -log 0.1.
    both = HoleWeightedContourLoss("bce", hole_weight=1.0, valid_weight=1.0)
    expected = (2 * math.log(2) - math.log(0.9) - math.log(0.1)) / 4
    assert both(pred, target, mask).item() == pytest.approx(expected, rel=1e-5)
    weighted = HoleWeightedContourLoss("bce", hole_weight=3.0, valid_weight=1.0)
    expected = (3 * 2 * math.log(2) - math.log(0.9) - math.log(0.1)) / 8
    assert weighted(pred, target, mask).item() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(InvalidArgumentError):
        HoleWeightedContourLoss("l2")
    with pytest.raises(InvalidArgumentError):
        HoleWeightedContourLoss(hole_weight=0.0, valid_weight=0.0)


def _recipe(**args) -> ForegroundAwareRecipe:  # noqa: ANN003
    torch.manual_seed(0)
    cfg = overfit_config(Path("unused"), MODEL, model_entry(MODEL).tiny, RECIPE, {**SMALL, **args})
    recipe = build_recipe(cfg)
    assert isinstance(recipe, ForegroundAwareRecipe)
    return recipe


def _batch(photo, segmentation: bool = False) -> dict[str, torch.Tensor]:  # noqa: ANN001
    image = torch.from_numpy(photo[:32, :32].copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    image = image.repeat(2, 1, 1, 1)
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., 8:20, 10:24] = 1
    batch = {"image": image, "mask": mask}
    if segmentation:
        seg = torch.zeros(2, 1, 32, 32)
        seg[..., 4:26, 6:18] = 1
        batch["segmentation"] = seg
    return batch


def test_contours_from_a_segmentation_or_canny(photo) -> None:  # noqa: ANN001
    recipe = _recipe()
    plain = _batch(photo)
    gray = to_gray((plain["image"] + 1) / 2)
    assert torch.equal(recipe.target_contour(plain), canny_edges(gray, None, 2.0))
    known = 1 - plain["mask"]
    assert torch.equal(recipe.input_contour(plain), canny_edges(to_gray((plain["image"] * known + 1) / 2), known) * known)
    seg = _batch(photo, segmentation=True)
    target = recipe.target_contour(seg)
    assert torch.equal(target, segmentation_contour(seg["segmentation"]))
    grown = torch.nn.functional.max_pool2d(seg["mask"], 3, 1, 1)
    assert torch.equal(recipe.input_contour(seg), target * (1 - grown))
    # In the image phase the image module reads the true contour in the hole (teacher forcing).
    guide = recipe.guide(seg, Phase("image"))
    assert torch.equal(guide * seg["mask"], target * seg["mask"])


def test_joint_loss_is_the_weighted_sum_of_its_terms(photo) -> None:  # noqa: ANN001
    recipe = _recipe(joint_contour_weight=0.5, coarse_contour_weight=2.0, contour_adv_weights=[0.0, 0.3])
    batch = _batch(photo, segmentation=True)
    total, logs = recipe.generator_step(batch, Phase("joint"))
    contour = 2.0 * logs["contour_coarse"] + logs["contour_refined"] + logs["contour_adv"]
    assert logs["contour_adv"].abs() > 0
    image = (1.2 * (1.2 * logs["l1_coarse"] + logs["l1_fine"]) + 1.2 * (1.2 * logs["ae_coarse"] + logs["ae_fine"])
             + logs["adv_global"] + logs["adv_local"])
    assert total.item() == pytest.approx((0.5 * contour + image).item(), rel=1e-5)
    # In the first contour stage the adversarial weight is 0: no adversarial term at all.
    _, first = recipe.generator_step(_batch(photo, segmentation=True), Phase("contour1", "generator"))
    assert "contour_adv" not in first and "l1_fine" not in first


# -- phases ----------------------------------------------------------------------------------

def _snapshot(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _changed(before: list[torch.Tensor], module: nn.Module) -> bool:
    return any(not torch.equal(a, p) for a, p in zip(before, module.parameters()))


@pytest.mark.slow
def test_phases_train_the_right_networks(tmp_path: Path) -> None:
    images = write_images(tmp_path / "images", count=4, size=40)
    args = {**SMALL, "contour_stage_steps": [1, 1], "image_steps": 1, "d_updates": 1}
    trainer = Trainer(overfit_config(images, MODEL, model_entry(MODEL).tiny, RECIPE, args, steps=4, batch_size=2),
                      tmp_path / "run", progress=False)
    g, d = trainer.recipe.generator, trainer.recipe.discriminator
    nets = {"contour": nn.ModuleList([g.contour_coarse, g.contour_refine]), "image": nn.ModuleList([g.coarse, g.refine]),
            "contour_d": d["contour"], "image_d": d["image"]}
    last = {k: _snapshot(v) for k, v in nets.items()}
    seen: dict[int, dict[str, bool]] = {}

    def record(tr: Trainer, step: int) -> None:
        seen[step] = {k: _changed(last[k], v) for k, v in nets.items()}
        last.update({k: _snapshot(v) for k, v in nets.items()})

    trainer.callbacks.append(record)
    trainer.fit()
    assert seen[1] == {"contour": True, "image": False, "contour_d": False, "image_d": False}  # content loss only
    assert seen[2] == {"contour": True, "image": False, "contour_d": True, "image_d": False}  # + adversarial
    assert seen[3] == {"contour": False, "image": True, "contour_d": False, "image_d": True}  # image module
    assert seen[4] == {"contour": True, "image": True, "contour_d": True, "image_d": True}  # joint
