"""The context_encoder recipe: tiny overfit, configs, the official loss on hand-checkable
inputs, what each optimiser updates (conv biases stay zero), and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from holefill.errors import ConfigError
from holefill.models.context_encoder import center_mask, l2_weight_map
from holefill.models.registry import model_entry
from holefill.train.config import load_config
from holefill.train.recipe import Phase
from holefill.train.recipes import build_recipe, recipe_config
from holefill.train.recipes.context_encoder import ContextEncoderRecipe
from holefill.train.trainer import Trainer
from overfit import assert_hole_l1_halves, overfit_config, write_images

MODEL = RECIPE = "context_encoder"
TINY = model_entry(MODEL).tiny  # image_size 32: a 16x16 centre
CONFIGS = Path(__file__).resolve().parents[1] / "src" / "holefill" / "configs"
CENTER_MASKS = [{"kind": "center", "params": {"size": 0.5, "overlap": 1 / 32}}]
BOTH = Phase("train", "both")


def tiny_recipe(**args: object) -> ContextEncoderRecipe:
    cfg = overfit_config(Path("unused"), MODEL, TINY, RECIPE, {"ndf": 8, **args})
    recipe = build_recipe(cfg)
    assert isinstance(recipe, ContextEncoderRecipe)
    return recipe.train()


def centre_batch(n: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"image": torch.rand(n, 3, 32, 32, generator=g) * 2 - 1, "mask": center_mask(32, overlap=1, batch=n)}


@pytest.mark.slow
def test_tiny_overfit_halves_the_hole_l1(tmp_path: Path) -> None:
    # The paper's centre protocol (the centre box shrunk by overlapPred = 1/32 of the side):
    # a centre-mode Context Encoder only predicts the centre, so it trains on centre holes.
    # The official rates (G 10x D) and the full recipe: weighted L2 + adversarial, D, biases at 0.
    assert_hole_l1_halves(tmp_path, MODEL, TINY, RECIPE, {"ndf": 8}, masks=CENTER_MASKS, lr_g=2e-3, lr_d=2e-4)


@pytest.mark.parametrize("name", [pytest.param("context_encoder", marks=pytest.mark.slow),  # a 71 M generator
                                  "context_encoder_cpu"])
def test_bundled_configs_load_and_build(name: str) -> None:
    cfg = load_config(CONFIGS / f"{name}.yaml")
    recipe = build_recipe(cfg)
    assert isinstance(recipe, ContextEncoderRecipe)
    assert cfg.recipe.name == RECIPE and cfg.model.args["image_size"] == cfg.data.crop
    assert cfg.optim.lr_g == pytest.approx(10 * cfg.optim.lr_d)  # train.lua: G's rate is 10x D's
    assert [m.kind for m in cfg.data.masks] == ["center"]
    if name == "context_encoder":
        assert recipe.generator.num_parameters() == 71_130_531  # README nBottleneck=4000
        assert (cfg.optim.lr_d, cfg.optim.betas[0], cfg.data.batch_size) == (0.0002, 0.5, 64)
        assert (cfg.recipe.args["l2_weight"], cfg.recipe.args["adv_weight"]) == (0.999, 0.001)


def test_cpu_config_runs_a_few_steps_and_exports(tmp_path: Path) -> None:
    data = write_images(tmp_path / "images")
    overrides = [f"data.train={data}", f"data.val={data}", "data.crop=32", "data.resize=null", "model.args.image_size=32",
                 "train.steps=2", "train.log_every=1", "train.sample_every=2", "train.eval_every=2", "train.eval_images=4",
                 "train.ckpt_every=0"]
    cfg = load_config(CONFIGS / "context_encoder_cpu.yaml", overrides)
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    final = trainer.fit()
    assert (final / "model.safetensors").is_file()
    logs = trainer.last_logs
    for key in ("g/l2", "g/adv", "g/loss", "d/loss", "d/real_score", "d/fake_score"):
        assert key in logs and logs[key] == logs[key], key  # logged and not NaN
    assert (tmp_path / "run" / "samples" / "step_00000002.png").is_file()


def test_weight_map_is_the_official_overlap_weighting() -> None:
    recipe = tiny_recipe()
    # Centre mask shrunk by overlapPred: 10x on the visible ring, 1x in the hole (train.lua).
    assert torch.equal(recipe.weight_map(center_mask(32, overlap=1, batch=2)), l2_weight_map(32, 1, 10.0).expand(2, -1, -1, -1))
    assert torch.equal(tiny_recipe(overlap_weight=3.0).weight_map(center_mask(32, overlap=1)), l2_weight_map(32, 1, 3.0))


def test_generator_loss_is_weighted_l2_plus_weighted_bce() -> None:
    torch.manual_seed(0)
    recipe = tiny_recipe()
    batch = centre_batch()
    total, logs = recipe.generator_step(batch, BOTH)
    pred = batch["_ce_prediction"]
    assert pred.shape == (2, 3, 16, 16)
    target = batch["image"][..., 8:24, 8:24]
    weights = l2_weight_map(32, 1, 10.0)
    l2 = (weights * (pred - target) ** 2).mean()  # MSECriterion's mean, then the per-pixel weights
    with torch.no_grad():
        bce = F.binary_cross_entropy_with_logits(recipe.discriminator(pred), torch.ones(2, 1))
    assert float(logs["l2"]) == pytest.approx(float(l2), rel=1e-5)
    assert float(total.detach()) == pytest.approx(0.999 * float(l2) + 0.001 * float(bce), rel=1e-5)
    # The weights reach the total: without the adversarial weight only 0.999 * L2 is left,
    # and with l2_weight 2 and adv_weight 0 it is twice the L2.
    for l2_weight, adv_weight in ((0.999, 0.0), (2.0, 0.0), (0.0, 0.5)):
        torch.manual_seed(0)
        other = tiny_recipe(l2_weight=l2_weight, adv_weight=adv_weight)
        batch = centre_batch()
        total, _ = other.generator_step(batch, BOTH)
        pred = batch["_ce_prediction"]
        with torch.no_grad():
            bce = F.binary_cross_entropy_with_logits(other.discriminator(pred), torch.ones(2, 1))
        expect = l2_weight * (weights * (pred - target) ** 2).mean() + adv_weight * bce
        assert float(total.detach()) == pytest.approx(float(expect), rel=1e-5)


def test_discriminator_loss_is_bce_on_the_real_and_predicted_centres() -> None:
    torch.manual_seed(0)
    recipe = tiny_recipe()
    batch = centre_batch()
    recipe.generator_step(batch, BOTH)
    loss, logs = recipe.discriminator_step(batch, BOTH)
    with torch.no_grad():
        real = recipe.discriminator(batch["image"][..., 8:24, 8:24])
        fake = recipe.discriminator(batch["_ce_prediction"])
    expect = F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + \
        F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    assert float(loss.detach()) == pytest.approx(float(expect), rel=1e-5)


def test_full_mode_discriminator_sees_the_whole_image_with_plain_l2() -> None:
    torch.manual_seed(0)
    cfg = overfit_config(Path("unused"), MODEL, {**TINY, "mode": "full"}, RECIPE, {"ndf": 8})
    recipe = build_recipe(cfg).train()
    assert recipe.discriminator.input_size == 32 and recipe.overlap_weight == 1.0  # README: useOverlapPred=0
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., 2:12, 20:30] = 1  # a hole far from the centre is fine in full mode
    batch = {"image": torch.rand(2, 3, 32, 32) * 2 - 1, "mask": mask}
    total, logs = recipe.generator_step(batch, BOTH)
    pred = batch["_ce_prediction"]
    assert pred.shape == (2, 3, 32, 32)
    assert float(logs["l2"]) == pytest.approx(float(((pred - batch["image"]) ** 2).mean()), rel=1e-5)


def test_each_optimiser_updates_its_network_and_conv_biases_stay_zero(tmp_path: Path) -> None:
    data = write_images(tmp_path / "images")
    cfg = overfit_config(data, MODEL, TINY, RECIPE, {"ndf": 8}, steps=2, masks=CENTER_MASKS, lr_g=2e-3, lr_d=2e-4)
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    recipe = trainer.recipe
    biases = [m.bias for net in (recipe.generator, recipe.discriminator) for m in net.modules()
              if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert biases and all(float(b.detach().abs().max()) == 0 for b in biases)
    g0 = [p.detach().clone() for p in trainer.g_params]
    d0 = [p.detach().clone() for p in trainer.d_params]
    bias_ids = {id(b) for b in biases}
    assert not bias_ids & {id(p) for p in trainer.g_params + trainer.d_params}
    trainer.train_step()
    assert all(not torch.equal(a, p) for a, p in zip(g0, trainer.g_params))
    assert all(not torch.equal(a, p) for a, p in zip(d0, trainer.d_params))
    assert all(float(b.detach().abs().max()) == 0 for b in biases)  # as the official closures keep them
    trained = build_recipe(overfit_config(data, MODEL, TINY, RECIPE, {"ndf": 8, "train_conv_biases": True}))
    ids = {id(p) for p in trained.generator_parameters()} | {id(p) for p in trained.discriminator_parameters()}
    convs = [m for net in (trained.generator, trained.discriminator) for m in net.modules()
             if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert convs and all(id(m.bias) in ids for m in convs)


def test_batches_it_cannot_train_on_are_one_line_errors() -> None:
    recipe = tiny_recipe()
    with pytest.raises(ConfigError, match="data.batch_size.*batch normalisation"):
        recipe.generator_step(centre_batch(n=1), BOTH)
    off_centre = centre_batch()
    off_centre["mask"] = torch.zeros(2, 1, 32, 32)
    off_centre["mask"][..., 0:6, 0:6] = 1
    with pytest.raises(ConfigError, match="data.masks.*centre"):
        recipe.generator_step(off_centre, BOTH)
    with pytest.raises(ConfigError, match="data.crop.*32x32"):
        recipe.generator_step({"image": torch.zeros(2, 3, 64, 64), "mask": torch.zeros(2, 1, 64, 64)}, BOTH)
    recipe.eval()  # sample grids and evaluation may run on one image
    recipe.check_batch(centre_batch(n=1))


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"model\.name: recipe context_encoder trains the context_encoder model"):
        build_recipe(overfit_config(tmp_path, "glcic", {"cnum": 8}, RECIPE))
    with pytest.raises(ConfigError, match=r"recipe\.args\.l2_weight: must be >= 0"):
        recipe_config(overfit_config(tmp_path, MODEL, TINY, RECIPE, {"l2_weight": -1.0}))
