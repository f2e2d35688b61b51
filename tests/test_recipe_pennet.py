"""The ``pennet`` recipe: losses, discriminator and configs as the official PyTorch code has them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from overfit import assert_hole_l1_halves, overfit_config, write_images

from holefill.errors import ConfigError, WeightsError
from holefill.models import create_model
from holefill.models.registry import load_model
from holefill.models.pennet import PENNetOutput
from holefill.models.registry import model_entry
from holefill.train.config import bundled_configs, config_from_dict, load_config
from holefill.train.recipe import Phase
from holefill.train.recipes import build_recipe
from holefill.train.recipes.pennet import PENNetRecipe, PENNetRecipeConfig, pyramid_l1
from holefill.train.trainer import Trainer

TINY = model_entry("pennet").tiny
TRAIN = Phase("train")


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    """Tiny networks run faster on one thread than on two shared ones."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_recipe(**args: Any) -> PENNetRecipe:
    cfg = config_from_dict({"model": {"name": "pennet", "args": TINY},
                            "recipe": {"name": "pennet", "args": {"d_channels": 8, **args}},
                            "data": {"train": "unused"}})
    recipe = build_recipe(cfg)
    assert isinstance(recipe, PENNetRecipe)
    return recipe.eval()  # spectral norm without power iterations: repeated passes agree


def make_batch(n: int = 2, size: int = 64) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(n, 3, size, size, generator=gen) * 1.6 - 0.8
    mask = torch.zeros(n, 1, size, size)
    mask[..., 16:48, 8:40] = 1  # a half-size square
    return {"image": image, "mask": mask}


def fixed_output(recipe: PENNetRecipe, output: torch.Tensor, pyramid: tuple[torch.Tensor, ...]) -> None:
    """Make the generator return the given images, whatever its input."""
    recipe.generator.forward = lambda image, mask: PENNetOutput(output=output, pyramid=pyramid)  # type: ignore


def resized(image: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The target at the five pyramid sizes (H/2 ... H/32), as the official trainer resizes it."""
    size = image.shape[-1]
    return tuple(F.interpolate(image, size=(size >> k, size >> k), mode="bilinear", align_corners=True)
                 for k in range(1, 6))


# -- the tiny-overfit check ------------------------------------------------------------------------

@pytest.mark.slow
def test_tiny_pennet_overfits(tmp_path: Path) -> None:
    # 64x64 crops, not 32x32: PEN-Net's six stride-2 levels need sides that are multiples of
    # 64. 40 steps suffice there. d_channels 8 (official 64) keeps the discriminator in
    # proportion to the tiny generator; the losses, their weights and the hinge GAN are the
    # official ones.
    assert_hole_l1_halves(tmp_path, "pennet", TINY, "pennet", {"d_channels": 8}, crop=64, steps=40)


# -- configs ---------------------------------------------------------------------------------------

def test_bundled_configs_load_build_and_hold_the_official_numbers() -> None:
    configs = bundled_configs()
    full = load_config(configs["pennet"])
    recipe = build_recipe(full)
    assert isinstance(recipe, PENNetRecipe)
    assert recipe.config == PENNetRecipeConfig()  # the YAML spells out the official defaults
    assert (recipe.config.hole_weight, recipe.config.valid_weight, recipe.config.pyramid_weight,
            recipe.config.adversarial_weight, recipe.config.gan) == (6.0, 1.0, 0.5, 0.1, "hinge")
    assert (full.optim.name, full.optim.lr_g, full.optim.lr_d, full.optim.betas) == ("adam", 1e-4, 1e-4, (0.5, 0.999))
    assert (full.data.crop, full.data.batch_size, full.train.steps) == (256, 16, 1_000_000)
    (mask_spec,) = full.data.masks
    assert mask_spec.kind == "box" and mask_spec.params["height"] == mask_spec.params["width"] == 0.5
    assert recipe.generator.num_parameters() == 10_231_538  # the official generator
    assert sum(p.numel() for p in recipe.discriminator.parameters()) == 4_318_401
    assert [(p.name, p.trains) for p in recipe.phases()] == [("train", "both")]

    cpu = load_config(configs["pennet_cpu"])
    small = build_recipe(cpu)
    assert cpu.data.batch_size == 4 and cpu.data.workers == 0 and cpu.data.crop % 64 == 0
    assert small.generator.num_parameters() < recipe.generator.num_parameters() / 10


def test_cpu_config_trains_a_few_steps_end_to_end(tmp_path: Path) -> None:
    data = write_images(tmp_path / "images", count=3, size=40)
    cfg = load_config(bundled_configs()["pennet_cpu"], [
        f"data.train={data}", f"data.val={data}", "data.batch_size=2", "train.steps=2", "train.log_every=1",
        "train.sample_every=2", "train.eval_every=2", "train.ckpt_every=0", "recipe.args.d_channels=8"])
    final = Trainer(cfg, tmp_path / "run", progress=False).fit()
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    steps = [r for r in log if r["phase"] == "train"]
    assert len(steps) == 2
    for key in ("g/l1_hole", "g/l1_valid", "g/pyramid", "g/adv", "g/loss", "d/loss"):
        assert all(np.isfinite(r[key]) for r in steps), key
    assert any(r["phase"] == "eval" for r in log)
    assert (tmp_path / "run" / "samples" / "step_00000002.png").is_file()
    assert load_model(final, expect="pennet").config.channels == 8


def test_bad_setups_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="model.name: recipe pennet trains the pennet model"):
        build_recipe(config_from_dict({"model": {"name": "edgeconnect"}, "recipe": {"name": "pennet"},
                                       "data": {"train": "x"}}))
    with pytest.raises(ConfigError, match="recipe.args.hole_weight: must be a number >= 0"):
        make_recipe(hole_weight=-1.0)
    recipe = make_recipe()
    with pytest.raises(ConfigError, match="data.crop: pennet needs sides that are multiples of 64.*32x32"):
        recipe.generator_step(make_batch(size=32), TRAIN)


def test_init_weights_start_the_generator_from_a_weights_folder(tmp_path: Path) -> None:
    torch.manual_seed(4)
    start = create_model("pennet", **TINY)
    start.save_pretrained(tmp_path / "w")
    recipe = make_recipe(init_weights=str(tmp_path / "w"))
    for key, value in start.state_dict().items():
        assert torch.equal(recipe.generator.state_dict()[key], value), key
    create_model("edgeconnect", channels=4, residual_blocks=1).save_pretrained(tmp_path / "other")
    with pytest.raises(WeightsError, match="holds weights for 'edgeconnect', not 'pennet'"):
        make_recipe(init_weights=str(tmp_path / "other"))


# -- losses ----------------------------------------------------------------------------------------

def test_l1_terms_are_each_regions_mean_error_times_its_weight() -> None:
    batch = make_batch()
    image, mask = batch["image"], batch["mask"]
    # error 0.5 in the hole and 0.25 outside it; pyramid images exact
    output = (image + 0.5 * mask - 0.25 * (1 - mask)).requires_grad_()
    recipe = make_recipe(adversarial_weight=0.0)
    fixed_output(recipe, output, resized(image))
    total, logs = recipe.generator_step(dict(batch), TRAIN)
    torch.testing.assert_close(logs["l1_hole"], torch.tensor(6 * 0.5))
    torch.testing.assert_close(logs["l1_valid"], torch.tensor(1 * 0.25))
    torch.testing.assert_close(logs["pyramid"], torch.tensor(0.0))
    torch.testing.assert_close(total, torch.tensor(3.25))


def test_pyramid_term_sums_every_level_against_the_resized_target() -> None:
    batch = make_batch()
    offsets = (0.1, 0.2, 0.05, 0.4, 0.3)
    pyramid = tuple(level + c for level, c in zip(resized(batch["image"]), offsets))
    recipe = make_recipe(hole_weight=0.0, valid_weight=0.0, adversarial_weight=0.0)
    fixed_output(recipe, batch["image"].clone().requires_grad_(), pyramid)
    total, logs = recipe.generator_step(dict(batch), TRAIN)
    torch.testing.assert_close(total, torch.tensor(0.5 * sum(offsets)))
    torch.testing.assert_close(pyramid_l1(pyramid, batch["image"]), torch.tensor(sum(offsets)))
    # the official resize is bilinear with align_corners=True: another resize gives another number
    other = F.interpolate(batch["image"], size=(32, 32), mode="bilinear", align_corners=False)
    assert float(pyramid_l1((other,), batch["image"])) > 1e-3


def test_adversarial_terms_use_the_composited_image_and_hinge() -> None:
    batch = make_batch()
    image, mask = batch["image"], batch["mask"]
    gen = torch.Generator().manual_seed(2)
    output = (torch.rand(image.shape, generator=gen) * 2 - 1).requires_grad_()
    recipe = make_recipe(hole_weight=0.0, valid_weight=0.0, pyramid_weight=0.0)
    fixed_output(recipe, output, resized(image))
    total, _ = recipe.generator_step(dict(batch), TRAIN)
    composite = image * (1 - mask) + output.detach() * mask
    with torch.no_grad():
        fake_logits = recipe.discriminator(composite)
        real_logits = recipe.discriminator(image)
    torch.testing.assert_close(total, -0.1 * fake_logits.mean())  # hinge G loss x 0.1
    # what the output does outside the hole does not matter to the discriminator
    elsewhere = output.detach() + 0.5 * (1 - mask)
    fixed_output(recipe, elsewhere.requires_grad_(), resized(image))
    torch.testing.assert_close(recipe.generator_step(dict(batch), TRAIN)[0], total)
    # D: (hinge real + hinge fake) / 2, on the real image and the detached composite
    loss, logs = recipe.discriminator_step(dict(batch, _fake=output.detach()), TRAIN)
    expected = 0.5 * (F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean())
    torch.testing.assert_close(loss, expected)


def test_nsgan_option_is_the_non_saturating_loss() -> None:
    batch = make_batch()
    output = batch["image"].flip(-1).requires_grad_()
    recipe = make_recipe(gan="nsgan", hole_weight=0.0, valid_weight=0.0, pyramid_weight=0.0)
    fixed_output(recipe, output, resized(batch["image"]))
    total, _ = recipe.generator_step(dict(batch), TRAIN)
    with torch.no_grad():
        logits = recipe.discriminator(recipe.composite(batch, output.detach()))
    torch.testing.assert_close(total, 0.1 * F.softplus(-logits).mean())


# -- what trains -----------------------------------------------------------------------------------

def test_one_step_trains_generator_and_discriminator(tmp_path: Path) -> None:
    data = write_images(tmp_path / "images", count=2)
    cfg = overfit_config(data, "pennet", TINY, "pennet", {"d_channels": 8}, steps=1, crop=64, batch_size=2,
                         eval_every=0)
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    before = {k: v.clone() for k, v in trainer.recipe.state_dict().items()}
    trainer.fit()
    after = trainer.recipe.state_dict()
    # Not compared: spectral norm's u/v buffers, and the last bias of D, whose hinge gradient is
    # exactly 0 while every logit lies inside (-1, 1): -1/2 from the real half, +1/2 from the fake.
    for prefix in ("generator.", "discriminator."):
        params = [k for k in before if k.startswith(prefix) and "parametrizations.weight.0" not in k
                  and k != "discriminator.classifier.bias"]
        changed = [k for k in params if not torch.equal(before[k], after[k])]
        assert len(changed) == len(params), (prefix, sorted(set(params) - set(changed))[:3])
