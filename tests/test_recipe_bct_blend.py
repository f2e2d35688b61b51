"""The bct_blend recipe: the official loss terms against hand-computed values, and both stages
through the one Trainer (train, resume, the fine-tuning pairs)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from overfit import write_images
from holefill.errors import ConfigError, InvalidArgumentError
from holefill.train.config import config_from_dict
from holefill.train.recipes.bct_blend import BCTBlendRecipe, BCTBlendRecipeConfig, BlendRaLSGAN, gap_weight
from holefill.train.trainer import Trainer

TINY = {"base": 4, "lstm_rows": 1, "skip": [1, 2, 3, 4], "attention": [1]}


def test_gap_weight_is_the_official_gaussian_pair() -> None:
    # utils/utils.py l.15-21: var = (G/4)^2, w(i) = exp(-i^2 / (2 var)); train_SR.py l.60-61: w + flip(w).
    e = math.exp
    expected = [1 + e(-4.5), e(-0.5) + e(-2.0), e(-2.0) + e(-0.5), e(-4.5) + 1]
    torch.testing.assert_close(gap_weight(4).flatten(), torch.tensor(expected))
    assert gap_weight(256).shape == (1, 1, 1, 256)


def test_adversarial_terms_by_hand() -> None:
    adv = BlendRaLSGAN(weight=0.5)
    real, fake = torch.tensor([[1.0], [2.0]]), torch.tensor([[0.0], [3.0]])
    # G: mean (fake - mean real)^2 = ((0 - 1.5)^2 + (3 - 1.5)^2) / 2 = 2.25, x 0.5
    assert float(adv.generator_loss(fake, real)) == pytest.approx(1.125)
    # D: mean (real - mean fake - 1)^2 + mean (fake - mean real + 1)^2 = 1.25 + 3.25
    assert float(adv.discriminator_loss(real, fake)) == pytest.approx(4.5)
    with pytest.raises(InvalidArgumentError, match="real_logits"):
        adv.generator_loss(fake)


def config(images: Path, steps: int, **recipe) -> object:  # noqa: ANN001
    return config_from_dict({
        "model": {"name": "bct_blend", "args": TINY},
        "recipe": {"name": "bct_blend", "args": {"height": 128, "width": 192, "d_base": 4, **recipe}},
        "data": {"train": str(images), "val": str(images), "crop": 192, "batch_size": 4, "workers": 0,
                 "scale": [1.0, 1.0], "masks": [{"kind": "band", "params": {"width": 64, "multiple": 64}}]},
        "optim": {"lr_g": 2e-3, "lr_d": 2e-4, "betas": [0.5, 0.9], "weight_decay": 2e-5},
        "train": {"steps": steps, "seed": 0, "log_every": 1, "sample_every": 0, "ckpt_every": 2, "eval_every": 0,
                  "eval_images": 4, "device": "cpu", "ema_decay": 0.9},
    }, source="bct-test.yaml")


def test_pixel_loss_is_the_official_sum(tmp_path: Path) -> None:
    cfg = config(write_images(tmp_path / "img", count=4, size=200), 1, adversarial_weight=0.0,
                 feature_reconstruction_weight=0.0, feature_consistency_weight=0.0)
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    recipe: BCTBlendRecipe = trainer.recipe
    recipe.eval()
    batch = trainer._preview_batch(4)
    from holefill.train.recipe import Phase

    loss, logs = recipe.generator_step(batch, Phase("reconstruction", "generator"))
    strip, a, b = recipe.panoramas(batch)
    with torch.no_grad():
        pred = (recipe.generator.blend(strip[..., :a], strip[..., b:], b - a).output + 1) / 2
    truth = (strip + 1) / 2
    mse = (pred - truth).square()
    n = strip.shape[0]
    expected = (mse[..., :a].mean() + mse[..., b:].mean()) * n + (gap_weight(b - a) * mse[..., a:b]).mean() * n
    assert float(loss.detach()) == pytest.approx(float(expected), rel=1e-5)
    assert recipe.discriminator is None and [p.name for p in recipe.phases()] == ["reconstruction"]


def test_both_stages_train_and_resume_exactly(tmp_path: Path) -> None:
    images = write_images(tmp_path / "img", count=5, size=200)
    straight = Trainer(config(images, 3, reconstruction_steps=1), tmp_path / "a", progress=False)
    assert [p.name for p in straight.recipe.phases()] == ["reconstruction", "finetune"]
    straight.fit()
    logs = [line for line in (tmp_path / "a" / "log.jsonl").read_text().splitlines() if '"phase"' in line]
    assert '"reconstruction"' in logs[0] and '"finetune"' in logs[-1]
    assert all(k in logs[-1] for k in ('"g/pixel"', '"g/feat_rec"', '"g/feat_cons"', '"g/adv"', '"d/loss"'))

    first = Trainer(config(images, 2, reconstruction_steps=1), tmp_path / "b", progress=False)
    first.fit()
    resumed = Trainer(config(images, 3, reconstruction_steps=1), tmp_path / "b", resume=True, progress=False)
    resumed.fit()
    for (name, p), q in zip(straight.recipe.generator.state_dict().items(), resumed.recipe.generator.state_dict().values()):
        assert torch.equal(p, q), name


def test_finetuning_needs_pairs_and_crops_must_fit(tmp_path: Path) -> None:
    images = write_images(tmp_path / "img", count=4, size=200)
    cfg = config(images, 1, reconstruction_steps=0)
    small = config_from_dict({**cfg.to_dict(), "data": {**cfg.to_dict()["data"], "batch_size": 2}}, source="x.yaml")
    with pytest.raises(InvalidArgumentError, match="batch_size >= 4"):
        Trainer(small, tmp_path / "r1", progress=False).fit()
    with pytest.raises(ConfigError, match="width"):
        BCTBlendRecipeConfig(width=100)
    wide = config(images, 1, width=256)
    with pytest.raises(ConfigError, match="data.crop to 256"):
        Trainer(wide, tmp_path / "r2", progress=False).fit()


def test_gap_l1_halves_on_one_smooth_panorama(tmp_path: Path) -> None:
    """The tiny-overfit check, on one smooth 192x192 panorama (the smallest the 64-stride model
    trains on with instance norm: two rows of cells), trained whole, unflipped."""
    from PIL import Image

    folder = tmp_path / "img"
    folder.mkdir()
    yy, xx = np.mgrid[0:200, 0:200] / 200
    rng = np.random.default_rng(0)
    img = np.stack([0.5 + 0.3 * np.sin(rng.uniform(2, 6) * yy + rng.uniform(-2, 2) * xx + rng.uniform(0, 6))
                    for _ in range(3)], -1)
    Image.fromarray((img * 255).astype(np.uint8)).save(folder / "one.png")
    raw = config(folder, 60, adversarial_weight=0.0, height=192).to_dict()
    raw["data"]["hflip"] = False
    raw["optim"]["lr_g"] = 5e-3
    raw["train"].update(ema_decay=None, ckpt_every=0, log_every=20)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = Trainer(config_from_dict(raw, source="bct-overfit.yaml"), tmp_path / "run", progress=False)
        before = trainer.evaluate()["eval/l1_hole"]
        trainer.fit()
        after = trainer.evaluate()["eval/l1_hole"]
    finally:
        torch.set_num_threads(threads)
    assert after < 0.5 * before, f"gap L1 went from {before:.4f} to {after:.4f}, not below half"
