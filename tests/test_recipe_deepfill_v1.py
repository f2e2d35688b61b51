"""The deepfill_v1 recipe: tiny overfit, its configs, the loss terms by hand (discounted L1 in
both modes, known-pixel L1, WGAN and the hole-masked penalty), and which networks each phase trains."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from holefill.losses import box_discount_map
from holefill.models import load_model
from holefill.models.deepfill_v1 import DeepFillV1Discriminator
from holefill.models.registry import model_entry
from holefill.train.config import load_config
from holefill.train.recipes import build_recipe
from holefill.train.recipes.deepfill_v1 import DeepFillV1Losses, DeepFillV1Recipe, DeepFillV1RecipeConfig
from holefill.train.trainer import Trainer
from overfit import assert_hole_l1_halves, overfit_config, write_images

MODEL = RECIPE = "deepfill_v1"
CONFIGS = Path(__file__).resolve().parents[1] / "src" / "holefill" / "configs"
#: Critic sizes for 32x32 crops (the official 128-of-256 local patch, scaled).
SMALL = {"image_size": 32, "local_size": 16, "d_cnum": 8}


@pytest.mark.slow
def test_tiny_overfit(tmp_path: Path) -> None:
    # One critic update per generator update instead of the official five: five make the run
    # five times slower and do not change what this checks (the generator learns the hole).
    assert_hole_l1_halves(tmp_path, MODEL, model_entry(MODEL).tiny, RECIPE, {**SMALL, "d_updates": 1})


def test_configs_load_and_build() -> None:
    paper = load_config(CONFIGS / "deepfill_v1.yaml")
    recipe = build_recipe(paper)
    assert isinstance(recipe, DeepFillV1Recipe) and recipe.generator.num_parameters() == 3_601_542
    cfg = recipe.config
    assert (cfg.gamma, cfg.coarse_l1_alpha, cfg.l1_loss_alpha, cfg.ae_loss_alpha) == (0.99, 1.2, 1.2, 1.2)
    assert (cfg.gan_loss_alpha, cfg.global_wgan_loss_alpha, cfg.wgan_gp_lambda) == (0.001, 1.0, 10.0)
    assert [(p.name, p.trains, p.d_updates) for p in recipe.phases()] == [("train", "both", 5)]
    assert paper.optim.betas == (0.5, 0.9) and paper.optim.lr_g == paper.optim.lr_d == 1e-4
    assert paper.data.crop == 256 and paper.data.batch_size == 16 and paper.data.masks[0].kind == "box"
    cpu = load_config(CONFIGS / "deepfill_v1_cpu.yaml")
    assert build_recipe(cpu).config.image_size == cpu.data.crop
    pre = load_config(CONFIGS / "deepfill_v1.yaml", ["recipe.args.pretrain_coarse_steps=1000"])
    assert [p.name for p in build_recipe(pre).phases()] == ["coarse", "train"]


def test_cpu_config_runs_a_few_steps(tmp_path: Path) -> None:
    images = write_images(tmp_path / "images", count=4, size=40)
    cfg = load_config(CONFIGS / "deepfill_v1_cpu.yaml", [
        f"data.train={images}", f"data.val={images}", "train.steps=2", "data.crop=32", "data.batch_size=2",
        "recipe.args.image_size=32", "recipe.args.local_size=16", "recipe.args.d_updates=2",
        "train.sample_every=2", "train.eval_every=2", "train.log_every=1", "train.ckpt_every=0"])
    final = Trainer(cfg, tmp_path / "run", progress=False).fit()
    model = load_model(final, expect=MODEL)
    assert model.config.cnum == 8
    logs = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    train_logs = [rec for rec in logs if rec["phase"] == "train"]
    assert {"g/l1_coarse", "g/l1_fine", "g/ae_coarse", "g/ae_fine", "g/adv_global", "g/adv_local",
            "d/wgan_global", "d/gp_local"} <= set(train_logs[-1])
    assert any(rec["phase"] == "eval" for rec in logs)
    assert (tmp_path / "run" / "samples" / "step_00000002.png").exists()


# -- loss terms by hand ----------------------------------------------------------------------

def _box_case() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    image = torch.zeros(1, 3, 32, 32)
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:20, 10:22] = 1  # a 12x12 hole
    coarse = image + 0.5
    fine = image + 0.25 * mask + 0.1 * (1 - mask)
    return image, mask, coarse, fine


def test_reconstruction_with_the_mask_discount_by_hand() -> None:
    cfg = DeepFillV1RecipeConfig(gamma=0.9, **SMALL)
    image, mask, coarse, fine = _box_case()
    # Distance of hole pixel (i, j) of an a x b box to the nearest known pixel: min(i+1, a-i, j+1, b-j).
    i, j = np.mgrid[0:12, 0:12]
    discount = (0.9 ** np.minimum.reduce([i + 1, 12 - i, j + 1, 12 - j])).mean()
    expected = 1.2 * (1.2 * 0.5 * discount + 0.25 * discount) + 1.2 * (1.2 * 0.5 + 0.1)
    total, logs = DeepFillV1Losses(cfg).reconstruction(image, mask, coarse, fine)
    assert total.item() == pytest.approx(expected, rel=1e-5)
    assert logs["ae_fine"].item() == pytest.approx(0.1) and logs["l1_coarse"].item() == pytest.approx(0.5 * discount)
    coarse_only, _ = DeepFillV1Losses(cfg).reconstruction(image, mask, coarse, None)
    assert coarse_only.item() == pytest.approx(1.2 * 1.2 * 0.5 * discount + 1.2 * 1.2 * 0.5, rel=1e-5)
    zero = DeepFillV1Losses(DeepFillV1RecipeConfig(l1_loss_alpha=0.0, ae_loss_alpha=0.0, **SMALL))
    assert zero.reconstruction(image, mask, coarse, fine)[0].item() == 0.0


def test_reconstruction_with_the_official_box_discount_by_hand() -> None:
    cfg = DeepFillV1RecipeConfig(gamma=0.9, discount="box", **SMALL)
    image, mask, coarse, fine = _box_case()
    # The official map over the 16x16 patch centred on the hole (rows 6..21, columns 8..23),
    # averaged over every entry of the patch, the hole's known rim included.
    box = np.array([[0.9 ** min(r, 16 - r, c, 16 - c) for c in range(16)] for r in range(16)])
    assert np.allclose(box_discount_map(16, 16, 0.9)[0, 0].numpy(), box)
    hole = mask[0, 0, 6:22, 8:24].numpy()
    l1_c = (0.5 * box).mean()
    l1_f = ((0.25 * hole + 0.1 * (1 - hole)) * box).mean()
    expected = 1.2 * (1.2 * l1_c + l1_f) + 1.2 * (1.2 * 0.5 + 0.1)
    total, _ = DeepFillV1Losses(cfg).reconstruction(image, mask, coarse, fine)
    assert total.item() == pytest.approx(expected, rel=1e-5)


class _Constant(nn.Module):
    """A critic that scores every input ``value``."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.tensor(value))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.value.expand(x.shape[0], 1) + 0.0 * x.flatten(1).sum(1, keepdim=True)


class _KnownSum(nn.Module):
    """A critic that sums the known pixels only: its input gradient is zero in the hole."""

    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("known", 1.0 - mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.known).flatten(1).sum(1, keepdim=True)


def test_generator_adversarial_weights() -> None:
    image, mask, _, fine = _box_case()
    critics = DeepFillV1Discriminator(32, 16, 8)
    critics.global_critic, critics.local_critic = _Constant(2.0), _Constant(3.0)
    adv, logs = DeepFillV1Losses(DeepFillV1RecipeConfig(**SMALL)).generator_adversarial(critics, image, mask, fine)
    assert adv.item() == pytest.approx(-0.001 * (1.0 * 2.0 + 3.0))
    cfg = DeepFillV1RecipeConfig(global_wgan_loss_alpha=2.0, gan_loss_alpha=0.01, **SMALL)
    adv, _ = DeepFillV1Losses(cfg).generator_adversarial(critics, image, mask, fine)
    assert adv.item() == pytest.approx(-0.01 * (2.0 * 2.0 + 3.0))


def test_critic_loss_and_the_hole_masked_penalty() -> None:
    image, mask, _, fine = _box_case()
    image = torch.rand(image.shape, generator=torch.Generator().manual_seed(0))
    losses = DeepFillV1Losses(DeepFillV1RecipeConfig(**SMALL))
    critics = DeepFillV1Discriminator(32, 16, 8)
    # Critics blind to the hole: real and composite score alike, and the masked gradient is 0,
    # so each penalty is lambda * (0 - 1)^2 = 10 (unmasked it would be about 10 * (sqrt(3 * 880) - 1)^2).
    critics.global_critic = _KnownSum(mask)
    critics.local_critic = _KnownSum(mask[..., 6:22, 8:24])
    loss, logs = losses.critic_loss(critics, image, mask, fine)
    assert logs["wgan_global"].item() == pytest.approx(0.0, abs=1e-4)
    assert logs["gp_global"].item() == pytest.approx(10.0, rel=1e-4)
    assert logs["gp_local"].item() == pytest.approx(10.0, rel=1e-4)
    assert loss.item() == pytest.approx(20.0, rel=1e-4)
    # A critic that sees the hole: the WGAN term is D(composite) - D(real) of each critic.
    critics.global_critic = _KnownSum(torch.zeros_like(mask))
    _, logs = losses.critic_loss(critics, image, mask, fine)
    composite = fine * mask + image * (1 - mask)
    assert logs["wgan_global"].item() == pytest.approx((composite - image).sum().item(), rel=1e-4)


# -- phases ----------------------------------------------------------------------------------

def _snapshot(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _changed(before: list[torch.Tensor], module: nn.Module) -> bool:
    return any(not torch.equal(a, p) for a, p in zip(before, module.parameters()))


def test_phases_train_the_right_networks(tmp_path: Path) -> None:
    images = write_images(tmp_path / "images", count=4, size=40)
    cfg = overfit_config(images, MODEL, model_entry(MODEL).tiny, RECIPE,
                         {**SMALL, "pretrain_coarse_steps": 2, "d_updates": 2}, steps=3, batch_size=2)
    seen: dict[int, dict[str, bool]] = {}
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    recipe = trainer.recipe
    nets = {"coarse": recipe.generator.coarse, "refine": recipe.generator.refine, "critics": recipe.discriminator}
    last = {k: _snapshot(v) for k, v in nets.items()}

    def record(tr: Trainer, step: int) -> None:
        seen[step] = {k: _changed(last[k], v) for k, v in nets.items()}
        last.update({k: _snapshot(v) for k, v in nets.items()})

    trainer.callbacks.append(record)
    trainer.fit()
    # Coarse pre-training: the coarse network alone, no critics.
    assert seen[1] == seen[2] == {"coarse": True, "refine": False, "critics": False}
    # Then everything, with the critics.
    assert seen[3] == {"coarse": True, "refine": True, "critics": True}
    assert [p.d_updates for p in recipe.phases()] == [1, 2]
