"""DCGAN: reference parameter counts, initialisation, the GAN losses, the recipe, generation and latent search."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from holefill.errors import ConfigError, ImageTooLargeError, InvalidArgumentError
from holefill.losses import MinimaxGAN, NonSaturatingGAN, make_adversarial
from holefill.model_tasks import LatentSearchFiller, ModelGenerator, importance_weights
from holefill.models import create_model
from holefill.models.dcgan import DCGANDiscriminator

TINY = {"ngf": 8, "ndf": 8, "nz": 16, "image_size": 32}


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_paper_config_matches_the_theano_reference():
    """Newmu/dcgan_code faces/train_uncond_dcgan.py (ngf = ndf = 128, nz = 100, 5x5 kernels):
    G: gw 100 x 16384, gg/gb 16384 each, gw2 1024x512x5x5, gw3 512x256x5x5, gw4 256x128x5x5,
    gwx 128x3x5x5 and the gains/biases of 512, 256, 128; D: dw 128x3x5x5, dw2, dw3, dw4 and
    their gains/biases, dwy 16384 x 1."""
    g = create_model("dcgan")
    d = DCGANDiscriminator(128, 64, 5)
    expected_g = 100 * 16384 + 2 * 16384 + 1024 * 512 * 25 + 2 * 512 + 512 * 256 * 25 + 2 * 256 \
        + 256 * 128 * 25 + 2 * 128 + 128 * 3 * 25
    expected_d = 128 * 3 * 25 + 256 * 128 * 25 + 2 * 256 + 512 * 256 * 25 + 2 * 512 + 1024 * 512 * 25 + 2 * 1024 \
        + 16384
    assert count(g) == expected_g == 18_885_760
    assert count(d) == expected_d == 17_232_768
    assert g(g.sample_latents(2)).shape == (2, 3, 64, 64)


def test_pytorch_example_config_matches_its_counts():
    """pytorch/examples dcgan/main.py (nz 100, ngf = ndf = 64, 4x4 kernels, no biases)."""
    g = create_model("dcgan", ngf=64, ndf=64, kernel_size=4, projection="conv", latent="normal")
    assert count(g) == 3_576_704
    assert count(DCGANDiscriminator(64, 64, 4)) == 2_765_568


def test_initialisation_follows_the_paper():
    torch.manual_seed(0)
    g = create_model("dcgan", ngf=32, ndf=32, kernel_size=4, projection="conv")
    weights = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)])
    gains = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, torch.nn.BatchNorm2d)])
    assert abs(weights.std().item() - 0.02) < 0.001 and abs(weights.mean().item()) < 0.001
    assert abs(gains.mean().item() - 1) < 0.01 and abs(gains.std().item() - 0.02) < 0.005
    assert not any(getattr(m, "bias", None) is not None for m in g.modules()
                   if isinstance(m, (torch.nn.ConvTranspose2d, torch.nn.Linear)))


def test_latents_follow_the_prior():
    g = create_model("dcgan", **TINY)
    z = g.sample_latents(500, torch.Generator().manual_seed(0))
    assert z.shape == (500, 16) and z.min() >= -1 and z.max() <= 1 and abs(z.mean()) < 0.05
    assert torch.equal(g.clamp_latents(torch.tensor([[-3.0, 0.5, 2.0]])), torch.tensor([[-1.0, 0.5, 1.0]]))
    n = create_model("dcgan", **TINY, latent="normal").sample_latents(500, torch.Generator().manual_seed(0))
    assert n.abs().max() > 1.5


def test_bad_config_is_refused():
    for bad in ({"image_size": 48}, {"kernel_size": 3}, {"projection": "none"}, {"latent": "gamma"}, {"ngf": 0}):
        with pytest.raises(ConfigError):
            create_model("dcgan", **bad)


def test_minimax_and_non_saturating_losses():
    x = torch.tensor([[-2.0], [0.5]])
    d = torch.sigmoid(x)
    minimax, ns = MinimaxGAN(), NonSaturatingGAN()
    assert torch.allclose(minimax.generator_loss(x), torch.log(1 - d).mean())
    assert torch.allclose(ns.generator_loss(x), -torch.log(d).mean())
    real = torch.tensor([[1.0], [3.0]])
    expected = -(torch.log(torch.sigmoid(real)).mean() + torch.log(1 - d).mean())
    assert torch.allclose(minimax.discriminator_loss(real, x), expected)
    assert isinstance(make_adversarial("minimax"), MinimaxGAN)
    # The minimax loss saturates where D rejects the fakes: its gradient vanishes, the non-saturating one does not.
    far = torch.tensor([[-8.0]], requires_grad=True)
    (g_mm,) = torch.autograd.grad(minimax.generator_loss(far), far)
    (g_ns,) = torch.autograd.grad(ns.generator_loss(far), far)
    assert abs(g_mm.item()) < 1e-3 < abs(g_ns.item())


def warmed(model: torch.nn.Module) -> torch.nn.Module:
    """The model in eval mode with BatchNorm statistics from a few batches (an untrained generator
    with the initial running statistics makes flat grey images)."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.momentum = None
        m.reset_running_stats()
    model.train()
    with torch.no_grad():
        for k in range(3):
            model(model.sample_latents(64, torch.Generator().manual_seed(k)))
    return model.eval()


def test_recipe_learns_the_colour_of_the_data():
    """Red images only: after 60 steps of the GAN game the generated images are far redder."""
    from holefill.train.config import ModelSection
    from holefill.train.recipe import Phase
    from holefill.train.recipes.dcgan import DCGANRecipe, DCGANRecipeConfig

    torch.manual_seed(0)
    recipe = DCGANRecipe(DCGANRecipeConfig(), ModelSection("dcgan", dict(TINY)))
    opt_g = torch.optim.Adam(recipe.generator.parameters(), 2e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(recipe.discriminator.parameters(), 2e-3, betas=(0.5, 0.999))
    target = torch.tensor([220 / 127.5 - 1, 35 / 127.5 - 1, 35 / 127.5 - 1])
    real = target.view(1, 3, 1, 1) + 0.05 * torch.randn(8, 3, 32, 32)

    def distance() -> float:
        g = recipe.generator
        with torch.no_grad():
            out = g(g.sample_latents(32, torch.Generator().manual_seed(1))).mean((0, 2, 3))
        return float((out - target).abs().mean())

    before = distance()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(60):
            batch = {"image": real}
            loss, logs = recipe.generator_step(batch, Phase("train"))
            opt_g.zero_grad()
            loss.backward()
            opt_g.step()
            loss, logs = recipe.discriminator_step(batch, Phase("train"))
            opt_d.zero_grad()
            loss.backward()
            opt_d.step()
    finally:
        torch.set_num_threads(threads)
    assert distance() < 0.65 * before
    assert set(logs) == {"loss", "real_score", "fake_score"}


def test_recipe_runs_in_the_trainer(tmp_path):
    from overfit import write_images

    from holefill.models import load_model
    from holefill.train.config import config_from_dict
    from holefill.train.trainer import Trainer

    data = write_images(tmp_path / "images", count=4, size=40)
    cfg = config_from_dict({
        "model": {"name": "dcgan", "args": TINY},
        "recipe": {"name": "dcgan", "args": {"objective": "minimax"}},
        "data": {"train": str(data), "crop": 32, "batch_size": 4, "workers": 0, "masks": [{"kind": "center"}]},
        "train": {"steps": 3, "seed": 0, "log_every": 1, "sample_every": 0, "ckpt_every": 0, "eval_every": 0,
                  "device": "cpu", "ema_decay": 0.9},
    }, source="dcgan-trainer.yaml")
    final = Trainer(cfg, tmp_path / "run", progress=False).fit()
    model = load_model(final, expect="dcgan")
    assert model(model.sample_latents(2)).shape == (2, 3, 32, 32)
    bad = config_from_dict({**cfg.to_dict(), "data": {**cfg.to_dict()["data"], "crop": 40}}, source="bad.yaml")
    with pytest.raises(ConfigError, match="data.crop"):
        Trainer(bad, tmp_path / "run2", progress=False).fit()


def test_generator_is_seeded_and_checks_its_count():
    gen = ModelGenerator(create_model("dcgan", **TINY))
    a, b = gen.generate(5, seed=7), gen.generate(5, seed=7)
    assert len(a) == 5 and a[0].shape == (32, 32, 3) and all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], gen.generate(1, seed=8)[0])
    for bad in (0, -1, 257, 2.5, True):
        with pytest.raises(InvalidArgumentError):
            gen.generate(bad)
    with pytest.raises(InvalidArgumentError):
        gen.generate(2, seed=-1)
    with pytest.raises(InvalidArgumentError, match="no control"):
        gen.generate(2, rotate=10)
    with pytest.raises(ImageTooLargeError):
        gen.generate(200, max_pixels=32 * 32 * 10)


def test_importance_weights_follow_yeh_et_al():
    hole = torch.zeros(1, 1, 20, 20)
    hole[..., 8:12, 8:12] = 1
    w = importance_weights(hole, 7)[0, 0]
    assert (w[8:12, 8:12] == 0).all()  # hole pixels weigh nothing
    assert w[0, 0] == 0 and w[7, 7] > 0  # known pixels far from the hole weigh nothing, near it they do
    assert w[7, 9] > w[5, 9] > w[3, 9] == 0
    assert w[7, 9] == pytest.approx(4 * 3 / 49)  # the 7x7 square around (7, 9) holds 12 hole pixels


def test_latent_search_recovers_a_generated_image():
    torch.manual_seed(0)
    model = warmed(create_model("dcgan", **TINY))
    z_true = model.sample_latents(1, torch.Generator().manual_seed(123))
    with torch.no_grad():
        target = model(z_true)
    image = ((target[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    mask = np.zeros((32, 32), bool)
    mask[10:22, 10:22] = True
    torch.set_num_threads(1)
    filler = LatentSearchFiller(model, discriminator=DCGANDiscriminator(8, 32, 5), iterations=60, restarts=4,
                                lr=0.1, blend="none")
    filled = filler.fill(image, mask)
    others = ModelGenerator(model).generate(4, seed=5)
    err = np.abs(filled[mask].astype(float) - image[mask]).mean()
    baseline = np.mean([np.abs(o[mask].astype(float) - image[mask]).mean() for o in others])
    assert err < 0.1 * baseline, (err, baseline)
    assert np.array_equal(filled[~mask], image[~mask])


def test_latent_search_refuses_other_sizes_and_bad_options(photo):
    model = create_model("dcgan", **TINY)
    filler = LatentSearchFiller(model, iterations=1, restarts=1)
    mask = np.zeros(photo.shape[:2], bool)
    mask[10:20, 10:20] = True
    with pytest.raises(InvalidArgumentError, match="32x32"):
        filler.fill(photo, mask)
    for bad in ({"iterations": 0}, {"restarts": 1000}, {"lr": -1}, {"blend": "alpha"}, {"window": 0}):
        with pytest.raises(InvalidArgumentError):
            LatentSearchFiller(model, **bad)
    with pytest.raises(InvalidArgumentError):
        LatentSearchFiller(create_model("meta_rdn", g0=8, blocks=1, layers=1, growth=4, hidden=8))


def test_discriminator_takes_its_size_only():
    d = DCGANDiscriminator(8, 32, 4)
    assert d(torch.zeros(3, 3, 32, 32)).shape == (3, 1)
    with pytest.raises(InvalidArgumentError, match="32x32"):
        d(torch.zeros(1, 3, 40, 40))
