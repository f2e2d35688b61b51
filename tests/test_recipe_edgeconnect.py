"""The ``edgeconnect`` recipe: stages, losses and configs as the official code has them."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from overfit import assert_hole_l1_halves, overfit_config, write_images
from PIL import Image
from skimage.feature import canny

from holefill.errors import ConfigError, HolefillWarning, WeightsError
from holefill.layers.vgg import VGGFeatures
from holefill.models import create_model
from holefill.models.registry import load_model
from holefill.models.registry import model_entry
from holefill.train.config import bundled_configs, config_from_dict, load_config
from holefill.train.recipe import Phase
from holefill.train.recipes import build_recipe
from holefill.train.recipes.edgeconnect import (
    EdgeConnectRecipe,
    EdgeConnectRecipeConfig,
    edge_accuracy,
    masked_for_style,
)
from holefill.train.trainer import Trainer

TINY = model_entry("edgeconnect").tiny
EDGE, INPAINT, JOINT = Phase("edge"), Phase("inpaint"), Phase("joint")


def make_recipe(model_args: dict[str, Any] | None = None, **args: Any) -> EdgeConnectRecipe:
    cfg = config_from_dict({"model": {"name": "edgeconnect", "args": model_args or TINY},
                            "recipe": {"name": "edgeconnect", "args": {"d_channels": 8, **args}},
                            "data": {"train": "unused"}})
    recipe = build_recipe(cfg)
    assert isinstance(recipe, EdgeConnectRecipe)
    return recipe.eval()  # spectral norm without power iterations: repeated passes agree


def make_batch(n: int = 2, size: int = 32) -> dict[str, torch.Tensor]:
    """A bright right half with a vertical edge through the hole, plus mild texture."""
    gen = torch.Generator().manual_seed(0)
    image = torch.full((n, 3, size, size), -0.6)
    image[..., size // 2:] = 0.6
    image = image + 0.05 * torch.rand(n, 3, size, size, generator=gen)
    mask = torch.zeros(n, 1, size, size)
    mask[..., 8:16, 8:24] = 1  # 8 x 16 of 32 x 32: mean(mask) = 1/8
    return {"image": image, "mask": mask}


def gray_of(image: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor([0.2125, 0.7154, 0.0721]).view(1, 3, 1, 1)  # skimage's rgb2gray
    return ((image + 1) / 2 * weights).sum(1, keepdim=True)


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    """Tiny networks run faster on one thread than on two shared ones."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised VGG-19 in torchvision's layout (stands in for the ImageNet one)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vgg") / "vgg19.pth"
    torch.save(VGGFeatures("vgg19").state_dict(), path)
    return path


# -- the tiny-overfit check ------------------------------------------------------------------------

@pytest.mark.slow
def test_tiny_edgeconnect_overfits_through_all_three_stages(tmp_path: Path) -> None:
    # 20 edge + 50 inpaint + 30 joint steps: every stage runs, with both discriminators.
    # d_channels 8 (official 64) keeps the discriminators in proportion to the tiny generators
    # and the test fast; the losses and their weights are the official ones.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HolefillWarning)  # no VGG-19 here: perceptual and style are off
        assert_hole_l1_halves(tmp_path, "edgeconnect", TINY, "edgeconnect",
                              {"edge_steps": 20, "inpaint_steps": 50, "d_channels": 8})
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert {r["phase"] for r in log} == {"edge", "inpaint", "joint", "eval"}


# -- configs ---------------------------------------------------------------------------------------

def test_bundled_configs_load_build_and_hold_the_official_numbers() -> None:
    configs = bundled_configs()
    full = load_config(configs["edgeconnect"])
    recipe = build_recipe(full)
    assert isinstance(recipe, EdgeConnectRecipe)
    assert recipe.config == EdgeConnectRecipeConfig()  # the YAML spells out the official defaults
    assert (full.optim.name, full.optim.lr_g, full.optim.betas) == ("adam", 1e-4, (0.0, 0.9))  # LR, BETA1/2
    assert full.optim.lr_d == pytest.approx(0.1 * full.optim.lr_g)  # D2G_LR
    assert (full.data.crop, full.data.batch_size) == (256, 8)  # INPUT_SIZE, BATCH_SIZE
    assert [(p.name, p.trains, p.steps) for p in recipe.phases()] == [
        ("edge", "both", 2_000_000), ("inpaint", "both", 2_000_000), ("joint", "both", None)]
    assert full.train.steps == 6_000_000
    assert recipe.generator.num_parameters() == 10_761_089 + 10_774_595  # the official generators
    d1, d2 = recipe.discriminator["edge"], recipe.discriminator["inpaint"]
    assert sum(p.numel() for p in d1.parameters()) == 2_762_752  # official edge discriminator
    assert sum(p.numel() for p in d2.parameters()) == 2_763_776

    cpu = load_config(configs["edgeconnect_cpu"])
    small = build_recipe(cpu)
    assert cpu.data.batch_size == 4 and cpu.data.workers == 0 and cpu.train.device == "cpu"
    assert small.generator.num_parameters() < recipe.generator.num_parameters() / 20
    assert [p.name for p in small.phases()] == ["edge", "inpaint", "joint"]


def test_cpu_config_trains_a_few_steps_end_to_end(tmp_path: Path) -> None:
    data = write_images(tmp_path / "images", count=3, size=40)
    cfg = load_config(bundled_configs()["edgeconnect_cpu"], [
        f"data.train={data}", f"data.val={data}", "data.crop=32", "data.resize=32", "data.batch_size=2",
        "train.steps=3", "recipe.args.edge_steps=1", "recipe.args.inpaint_steps=1", "train.log_every=1",
        "train.sample_every=3", "train.eval_every=3", "train.ckpt_every=0", "model.args.channels=8",
        "model.args.residual_blocks=1", "recipe.args.d_channels=8"])
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HolefillWarning)  # no VGG-19 here: perceptual and style are off
        final = trainer.fit()
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in log if r["phase"] != "eval"] == ["edge", "inpaint", "joint"]
    assert "g/fm" in log[0] and "g/precision" in log[0] and "g/l1" in log[1] and "g/style" in log[2]
    assert all(np.isfinite(v) for r in log for k, v in r.items() if k.startswith(("g/", "d/")))
    grid = np.asarray(Image.open(tmp_path / "run" / "samples" / "step_00000003.png"))
    assert grid.shape[1] == 5 * (32 + 2) + 2  # input, edges, output, composite, target
    model = load_model(final, expect="edgeconnect")
    assert torch.equal(model.state_dict()["inpaint_generator.head.bias"],
                       trainer.recipe.generator.state_dict()["inpaint_generator.head.bias"])


def test_bad_recipe_setups_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="model.name: recipe edgeconnect trains the edgeconnect model"):
        build_recipe(config_from_dict({"model": {"name": "pennet", "args": {"channels": 8}},
                                       "recipe": {"name": "edgeconnect"}, "data": {"train": "x"}}))
    with pytest.raises(ConfigError, match="recipe.args.edge_steps: must be >= 0"):
        make_recipe(edge_steps=-1)
    with pytest.raises(ConfigError, match="recipe.args.gan"):
        make_recipe(gan="wgan")


def test_init_weights_start_the_generators_from_a_weights_folder(tmp_path: Path) -> None:
    torch.manual_seed(3)
    start = create_model("edgeconnect", **TINY)
    start.save_pretrained(tmp_path / "w")
    recipe = make_recipe(init_weights=str(tmp_path / "w"))
    for key, value in start.state_dict().items():
        assert torch.equal(recipe.generator.state_dict()[key], value), key
    create_model("edgeconnect", channels=4, residual_blocks=1).save_pretrained(tmp_path / "other")
    with pytest.raises(WeightsError, match="does not fit"):
        make_recipe(init_weights=str(tmp_path / "other"))


# -- losses ----------------------------------------------------------------------------------------

def test_edge_stage_targets_are_canny_of_the_whole_image(tmp_path: Path) -> None:
    recipe = make_recipe()
    batch = make_batch()
    recipe.generator_step(batch, EDGE)
    gray = gray_of(batch["image"])
    expected = np.stack([canny(gray[i, 0].double().numpy(), sigma=2.0) for i in range(2)])
    assert np.array_equal(batch["edge"][:, 0].numpy() > 0.5, expected)
    assert float((batch["edge"] * batch["mask"]).sum()) > 0  # edges inside the hole are targets too


def test_edge_stage_losses_match_the_official_formulas() -> None:
    batch = make_batch()
    gray = gray_of(batch["image"])
    # adversarial term alone: non-saturating, D1 on cat(gray, predicted edges)
    recipe = make_recipe(fm_weight=0.0)
    total, logs = recipe.generator_step(dict(batch), EDGE)
    edges = recipe.edge_targets(dict(batch))
    with torch.no_grad():
        pred = recipe.generator.predict_edges(gray, edges, batch["mask"])
        d1 = recipe.discriminator["edge"]
        fake_logits, fake_feats = d1(torch.cat([gray, pred], 1))
        real_logits, real_feats = d1(torch.cat([gray, edges], 1))
    torch.testing.assert_close(total, F.softplus(-fake_logits).mean())
    assert float(logs["fm"]) == 0.0
    # feature matching x 10: the L1 distance of D1's five layer outputs, summed
    weights = recipe.state_dict()
    recipe = make_recipe(edge_adversarial_weight=0.0)
    recipe.load_state_dict(weights)
    total, logs = recipe.generator_step(dict(batch), EDGE)
    fm = sum(F.l1_loss(f, r) for f, r in zip(fake_feats, real_feats))
    assert len(fake_feats) == 5
    torch.testing.assert_close(total, 10.0 * fm)
    torch.testing.assert_close(logs["fm"], 10.0 * fm)
    # D1: (real + fake) / 2 with binary cross-entropy on the logits
    loss, _ = recipe.discriminator_step(dict(batch), EDGE)
    expected = 0.5 * (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                      + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
    torch.testing.assert_close(loss, expected)


def _fixed_output(recipe: EdgeConnectRecipe, out: torch.Tensor) -> list[torch.Tensor]:
    """Make G2 return ``out``; returns the list its edge inputs are recorded in."""
    seen: list[torch.Tensor] = []

    def inpaint(image: torch.Tensor, edges: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        seen.append(edges)
        return out

    recipe.generator.inpaint = inpaint  # type: ignore[method-assign]
    return seen


def test_inpaint_stage_l1_and_adversarial_terms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOLEFILL_VGG19", raising=False)
    batch = make_batch()
    out = (batch["image"] + 0.4).requires_grad_()  # an error of 0.2 everywhere in [0, 1] units
    recipe = make_recipe(adversarial_weight=0.0)
    seen = _fixed_output(recipe, out)
    with pytest.warns(HolefillWarning, match="no VGG-19 weights"):
        total, logs = recipe.generator_step(dict(batch), INPAINT)
    # whole-image L1 in [0, 1] units over mean(mask) = 1/8: 0.2 * 8
    torch.testing.assert_close(total, torch.tensor(1.6))
    assert float(logs["perceptual"]) == 0.0 and float(logs["style"]) == 0.0  # no VGG: skipped, still trains
    torch.testing.assert_close(seen[0], recipe.edge_targets(dict(batch)))  # G2 sees the true edges
    # adversarial x 0.1 on G2's raw output (not composited), D2 fed [0, 1] images
    recipe = make_recipe(l1_weight=0.0)
    _fixed_output(recipe, out)
    with pytest.warns(HolefillWarning):
        total, _ = recipe.generator_step(dict(batch), INPAINT)
    with torch.no_grad():
        logits, _ = recipe.discriminator["inpaint"]((out + 1) / 2)
    torch.testing.assert_close(total, 0.1 * F.softplus(-logits).mean())
    fed = dict(batch, _fake=out.detach())
    loss, _ = recipe.discriminator_step(fed, INPAINT)
    with torch.no_grad():
        real, _ = recipe.discriminator["inpaint"]((batch["image"] + 1) / 2)
    torch.testing.assert_close(loss, 0.5 * (F.softplus(-real).mean() + F.softplus(logits).mean()))


def test_style_sees_only_the_hole_and_perceptual_the_whole_image(vgg_file: Path) -> None:
    batch = make_batch()
    gen = torch.Generator().manual_seed(1)
    out = torch.rand(batch["image"].shape, generator=gen) * 2 - 1
    changed = out.clone()
    changed[..., 24:, :] = -out[..., 24:, :]  # rows outside the hole
    terms = {}
    for name, args in (("style", {"perceptual_weight": 0.0}), ("perceptual", {"style_weight": 0.0})):
        recipe = make_recipe(vgg_weights=str(vgg_file), l1_weight=0.0, adversarial_weight=0.0, **args)
        assert recipe.perceptual.active and recipe.style.active
        assert recipe.perceptual.extractor.imagenet_norm is False  # [0, 1] images, as the official VGG
        values = []
        for o in (out, changed):
            _fixed_output(recipe, o)
            values.append(recipe.generator_step(dict(batch), INPAINT)[0])
        terms[name] = values
    assert float(terms["style"][0].detach()) > 0 and float(terms["perceptual"][0].detach()) > 0
    torch.testing.assert_close(terms["style"][0], terms["style"][1])  # style: output * mask only
    assert not torch.allclose(terms["perceptual"][0], terms["perceptual"][1])


def test_masked_for_style_is_the_official_image_times_mask() -> None:
    image = torch.tensor([-1.0, -0.2, 0.6, 1.0]).view(1, 1, 2, 2).expand(1, 3, 2, 2)
    mask = torch.tensor([1.0, 0.0, 1.0, 0.0]).view(1, 1, 2, 2)
    masked01 = (masked_for_style(image, mask) + 1) / 2
    torch.testing.assert_close(masked01[0, 0], torch.tensor([[0.0, 0.0], [0.8, 0.0]]))


@pytest.mark.parametrize("end_to_end", [False, True])
def test_joint_stage_feeds_g2_the_composited_predicted_edges(end_to_end: bool,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOLEFILL_VGG19", raising=False)
    recipe = make_recipe(end_to_end=end_to_end)
    batch = make_batch()
    seen: list[torch.Tensor] = []
    real_inpaint = recipe.generator.inpaint

    def recording(image: torch.Tensor, edges: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        seen.append(edges)
        return real_inpaint(image, edges, mask)

    recipe.generator.inpaint = recording  # type: ignore[method-assign]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HolefillWarning)
        total, _ = recipe.generator_step(batch, JOINT)
    edges, mask = batch["edge"], batch["mask"]
    with torch.no_grad():
        predicted = recipe.generator.predict_edges(gray_of(batch["image"]), edges, mask)
    torch.testing.assert_close(seen[0], predicted * mask + edges * (1 - mask))
    assert seen[0].requires_grad is end_to_end
    total.backward()
    g1 = [p.grad for p in recipe.generator.edge_generator.parameters()]
    g2 = [p.grad for p in recipe.generator.inpaint_generator.parameters()]
    assert all(g is not None for g in g2)
    if end_to_end:  # the paper's fine-tuning: G2's losses reach G1
        assert all(g is not None for g in g1) and any(float(g.abs().sum()) > 0 for g in g1)
    else:  # official MODEL 3: G1's edges are detached
        assert all(g is None for g in g1)


def test_edge_accuracy_counts_hits_in_the_hole() -> None:
    target = torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 1.0]]).view(1, 1, 2, 4)
    pred = torch.tensor([[0.9, 0.2, 0.7, 0.1], [0.8, 0.0, 0.0, 0.0]]).view(1, 1, 2, 4)
    mask = torch.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]]).view(1, 1, 2, 4)
    precision, recall = edge_accuracy(pred, target, mask)
    # in the hole (first row): targets at 0 and 1, predictions at 0 and 2: one hit of two each
    assert float(precision) == pytest.approx(0.5) and float(recall) == pytest.approx(0.5)
    precision, recall = edge_accuracy(torch.zeros_like(pred), target, 1 - mask)  # two edges missed
    assert float(precision) == 0.0 and float(recall) == 0.0
    precision, recall = edge_accuracy(torch.zeros_like(pred), torch.zeros_like(pred), mask)
    assert float(precision) == 1.0 and float(recall) == 1.0  # nothing to find, nothing found


# -- which networks train in which stage -----------------------------------------------------------

@pytest.mark.parametrize("end_to_end", [False, True])
def test_each_stage_trains_its_own_networks(tmp_path: Path, end_to_end: bool) -> None:
    data = write_images(tmp_path / "images", count=2)
    cfg = overfit_config(data, "edgeconnect", TINY, "edgeconnect",
                         {"edge_steps": 1, "inpaint_steps": 1, "d_channels": 8, "end_to_end": end_to_end},
                         steps=3, batch_size=2, eval_every=0, log_every=1)
    snapshots: list[dict[str, list[torch.Tensor]]] = []

    def snapshot(trainer: Trainer, step: int) -> None:
        r = trainer.recipe
        nets = {"G1": r.generator.edge_generator, "G2": r.generator.inpaint_generator,
                "D1": r.discriminator["edge"], "D2": r.discriminator["inpaint"]}
        snapshots.append({k: [p.detach().clone() for p in v.parameters()] for k, v in nets.items()})

    trainer = Trainer(cfg, tmp_path / "run", progress=False, callbacks=[snapshot])
    snapshot(trainer, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HolefillWarning)
        trainer.fit()

    def changed(step: int) -> set[str]:
        before, after = snapshots[step - 1], snapshots[step]
        return {k for k in before if any(not torch.equal(a, b) for a, b in zip(before[k], after[k]))}

    assert changed(1) == {"G1", "D1"}  # edge stage
    assert changed(2) == {"G2", "D2"}  # inpainting stage
    assert changed(3) == ({"G1", "G2", "D2"} if end_to_end else {"G2", "D2"})  # joint stage


@pytest.mark.parametrize("phase", [EDGE, INPAINT, JOINT])
def test_discriminator_step_without_a_generator_step_first(phase: Phase, monkeypatch: pytest.MonkeyPatch) -> None:
    # A discriminator update on a fresh batch (WGAN-style d_updates) makes its own fakes; in
    # eval mode they are the ones a generator step would have left.
    monkeypatch.delenv("HOLEFILL_VGG19", raising=False)
    recipe = make_recipe()
    after_g = make_batch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HolefillWarning)
        recipe.generator_step(after_g, phase)
    alone, _ = recipe.discriminator_step(make_batch(), phase)
    cached, _ = recipe.discriminator_step(after_g, phase)
    torch.testing.assert_close(alone, cached)


def test_a_run_resumed_at_a_stage_boundary_ends_like_a_straight_run(tmp_path: Path) -> None:
    data = write_images(tmp_path / "images", count=2)
    args = {"edge_steps": 1, "inpaint_steps": 1, "d_channels": 8}

    def config() -> Any:
        return overfit_config(data, "edgeconnect", TINY, "edgeconnect", args, steps=3, batch_size=2, eval_every=0,
                              ckpt_every=1)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HolefillWarning)
        straight = Trainer(config(), tmp_path / "a", progress=False)
        straight.fit()
        first = Trainer(config(), tmp_path / "b", progress=False)
        first.fit()
        for late in ("step_00000002.pt", "step_00000003.pt"):  # as if killed after the edge stage
            (tmp_path / "b" / "checkpoints" / late).unlink()
        resumed = Trainer(config(), tmp_path / "b", progress=False, resume=True)
        assert resumed.step == 1 and resumed.phase_at(resumed.step).name == "inpaint"
        resumed.fit()
    a, b = straight.recipe.state_dict(), resumed.recipe.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
