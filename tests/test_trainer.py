"""The Trainer on a toy recipe: learning, exact resume, EMA, accumulation, checkpoints, DDP, CLI.

The toy generator (a few convolutions) and the toy recipe (masked L1 + hinge GAN on a tiny
discriminator) are defined and registered here, so these tests need no real model.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from typer.testing import CliRunner

from holefill.errors import ConfigError, OutputExistsError, WeightsError
from holefill.models.base import InpaintModel, InpaintOutput
from holefill.models.registry import load_model
from holefill.models.registry import build_config, list_models, register_model
from holefill.train.checkpoint import list_checkpoints
from holefill.train.config import config_from_dict, load_config
from holefill.train.ema import EMA
from holefill.train.recipe import Phase, Recipe, register_recipe
from holefill.train.recipes import list_recipes
from holefill.train.trainer import Trainer
from overfit import write_images

TOY_MODEL = "toy_trainer_net"
TOY_RECIPE = "toy_trainer_gan"


# ----------------------------------------------------------------------------- the toy


@dataclass(frozen=True)
class ToyConfig:
    width: int = 8
    staged: bool = False


@dataclass
class StagedOutput(InpaintOutput):
    coarse: torch.Tensor


class ToyNet(InpaintModel):
    """Three convolutions on (image, mask); no normalisation layers. ``staged`` adds a coarse stage."""

    size_multiple = 1

    def __init__(self, config: ToyConfig) -> None:
        super().__init__(config)
        w = config.width
        self.net = nn.Sequential(nn.Conv2d(4, w, 3, padding=1), nn.LeakyReLU(0.2),
                                 nn.Conv2d(w, w, 3, padding=2, dilation=2), nn.LeakyReLU(0.2),
                                 nn.Conv2d(w, 3, 3, padding=1))
        self.refine = nn.Conv2d(4, 3, 3, padding=1) if config.staged else None

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> InpaintOutput:
        out = torch.tanh(self.net(torch.cat([image, mask], 1)))
        if self.refine is None:
            return InpaintOutput(out)
        coarse = image * (1 - mask) + out * mask
        return StagedOutput(torch.tanh(self.refine(torch.cat([coarse, mask], 1))), coarse=out)


def toy_trainer_net(**cfg) -> ToyNet:
    """A few convolutions, for trainer tests."""
    return ToyNet(build_config(ToyConfig, TOY_MODEL, cfg))


@dataclass(frozen=True)
class ToyRecipeConfig:
    adv_weight: float = 0.01
    hole_weight: float = 1.0
    g_only_steps: int = 0
    d_only_steps: int = 0


class ToyGAN(Recipe):
    """Masked L1 plus a hinge GAN loss on a two-layer discriminator."""

    name = TOY_RECIPE
    Config = ToyRecipeConfig

    def __init__(self, config: ToyRecipeConfig, model) -> None:
        super().__init__(config, model)
        self.discriminator = nn.Sequential(nn.Conv2d(4, 8, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
                                           nn.Conv2d(8, 1, 4, stride=2, padding=1))

    def phases(self) -> list[Phase]:
        cfg = self.config
        out = []
        if cfg.g_only_steps:
            out.append(Phase("g-only", "generator", cfg.g_only_steps))
        if cfg.d_only_steps:
            out.append(Phase("d-only", "discriminator", cfg.d_only_steps))
        return out + [Phase("joint", "both")]

    def _d(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.discriminator(torch.cat([image, mask], 1))

    def generator_step(self, batch, phase):
        image, mask = batch["image"], batch["mask"]
        out = self.forward_generator(batch).output
        # Per-sample means, then the batch mean: so micro-batches add up to the whole batch.
        err = (out - image).abs()
        hole = ((err * mask).flatten(1).sum(1) / (mask.flatten(1).sum(1) * 3).clamp_min(1)).mean()
        valid = ((err * (1 - mask)).flatten(1).sum(1) / ((1 - mask).flatten(1).sum(1) * 3).clamp_min(1)).mean()
        loss = self.config.hole_weight * hole + valid
        logs = {"l1_hole": hole.detach(), "l1_valid": valid.detach()}
        if phase.trains_discriminator:
            adv = -self._d(self.composite(batch, out), mask).mean()
            loss = loss + self.config.adv_weight * adv
            logs["adv"] = adv.detach()
        return loss, logs

    def discriminator_step(self, batch, phase):
        image, mask = batch["image"], batch["mask"]
        fake = self.composite(batch, self.fake(batch))
        real_loss = torch.relu(1 - self._d(image, mask)).mean()
        fake_loss = torch.relu(1 + self._d(fake, mask)).mean()
        return real_loss + fake_loss, {"real": real_loss.detach(), "fake": fake_loss.detach()}


def ensure_toys_registered() -> None:
    """Register the toy model and recipe (once per process; spawned DDP workers call it too)."""
    if TOY_MODEL not in list_models():
        register_model(toy_trainer_net)
    if TOY_RECIPE not in list_recipes():
        register_recipe(ToyGAN)


def box_masks(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A random box covering roughly 10-30 % of the crop (a local stand-in for holefill.masks)."""
    mask = np.zeros((h, w), bool)
    bh, bw = int(rng.integers(h // 4, h // 2 + 1)), int(rng.integers(w // 4, w // 2 + 1))
    top, left = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
    mask[top:top + bh, left:left + bw] = True
    return mask


@pytest.fixture(autouse=True)
def toys(monkeypatch):
    ensure_toys_registered()
    # Tiny convolutions on a shared 2-core machine: one thread avoids OpenMP contention stalls.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def local_masks(monkeypatch):
    # Configs name a mask kind; tests draw local boxes so they do not depend on holefill.masks.
    monkeypatch.setattr("holefill.data.datasets._make_generator", lambda kind, **params: box_masks)


def toy_config(data_dir: Path, **overrides) -> dict:
    cfg = {
        "model": {"name": TOY_MODEL, "args": {"width": 8}},
        "recipe": {"name": TOY_RECIPE, "args": {}},
        "data": {"train": str(data_dir), "crop": 32, "batch_size": 2, "workers": 0, "masks": [{"kind": "box"}]},
        "optim": {"lr_g": 2e-3, "lr_d": 2e-3},
        "train": {"steps": 6, "seed": 3, "log_every": 2, "sample_every": 0, "ckpt_every": 0, "device": "cpu",
                  "ema_decay": 0.9, "threads": 1},
    }
    for key, value in overrides.items():
        if "__" in key:
            section, name = key.split("__")
            cfg[section][name] = value
        else:
            cfg[key].update(value)
    return cfg


def make(data_dir: Path, **overrides):
    return config_from_dict(toy_config(data_dir, **overrides), source="toy.yaml")


def net_states(trainer: Trainer) -> dict[str, torch.Tensor]:
    out = {}
    for name, net in trainer.recipe.networks().items():
        out.update({f"{name}.{k}": v.clone() for k, v in net.state_dict().items()})
    if trainer.ema is not None:
        out.update({f"ema.{k}": v.clone() for k, v in trainer.ema.module.state_dict().items()})
    return out


def assert_equal_states(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return write_images(tmp_path / "images")


# ----------------------------------------------------------------------------- learning


@pytest.mark.slow
def test_toy_recipe_halves_hole_l1(tmp_path, data_dir):
    cfg = make(data_dir, train__steps=100, train__log_every=10, data__batch_size=4, data__val=str(data_dir),
               train__ema_decay=None, optim__lr_g=3e-3)
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    before = trainer.evaluate()["eval/l1_hole"]
    final = trainer.fit()
    after = trainer.evaluate()["eval/l1_hole"]
    assert after < 0.5 * before, (before, after)
    lines = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    train_lines = [r for r in lines if r["phase"] == "joint"]
    assert [r["step"] for r in train_lines] == list(range(10, 101, 10))
    assert {"g/l1_hole", "d/real", "d/fake", "lr_g", "images_per_s"} <= set(train_lines[0])
    model = load_model(final)
    assert model.architecture == TOY_MODEL
    for k, v in model.state_dict().items():
        assert torch.equal(v, trainer.recipe.generator.state_dict()[k]), k


def test_reconstruction_recipe_trains_every_stage(tmp_path, data_dir):
    cfg = make(data_dir, model__args={"width": 8, "staged": True}, train__steps=30, train__log_every=5,
               recipe__name="reconstruction", recipe__args={"stage_weight": 0.5}, data__batch_size=4,
               optim__lr_g=3e-3)
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    assert trainer.recipe.discriminator is None and trainer.opt_d is None
    assert [p.trains for _, _, p in trainer.plan] == ["generator"]
    coarse_before = trainer.recipe.generator.net[0].weight.clone()
    trainer.fit()
    lines = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert {"g/output/l1_hole", "g/coarse/l1_hole", "g/output/l1_valid", "g/loss"} <= set(lines[0])
    assert lines[-1]["g/loss"] < 0.7 * lines[0]["g/loss"]
    assert not torch.equal(coarse_before, trainer.recipe.generator.net[0].weight)  # the coarse stage learned too


# ----------------------------------------------------------------------------- determinism and resume


def test_same_seed_same_weights_and_other_seed_differs(tmp_path, data_dir):
    a = Trainer(make(data_dir), tmp_path / "a", progress=False)
    a.fit()
    b = Trainer(make(data_dir), tmp_path / "b", progress=False)
    b.fit()
    assert_equal_states(net_states(a), net_states(b))
    c = Trainer(make(data_dir, train__seed=4), tmp_path / "c", progress=False)
    c.fit()
    assert not torch.equal(net_states(a)["generator.net.0.weight"], net_states(c)["generator.net.0.weight"])


class Killed(Exception):
    pass


def test_killed_and_resumed_run_matches_uninterrupted_run(tmp_path, data_dir):
    # Two data workers, so the resumed stream must also come out of worker processes right.
    overrides = dict(train__steps=9, train__ckpt_every=3, train__keep_last=5, data__workers=2, data__scale=[0.8, 1.5])
    straight = Trainer(make(data_dir, **overrides), tmp_path / "straight", progress=False)
    straight.fit()

    def kill(trainer: Trainer, step: int) -> None:
        if step == 5:
            raise Killed

    run = tmp_path / "killed"
    with pytest.raises(Killed):
        Trainer(make(data_dir, **overrides), run, progress=False, callbacks=[kill]).fit()
    assert [p.name for p in list_checkpoints(run)] == ["step_00000003.pt"]
    resumed = Trainer(make(data_dir, **overrides), run, resume=True, progress=False)
    assert resumed.step == 3 and resumed.samples_seen == 3 * 2
    resumed.fit()
    assert_equal_states(net_states(straight), net_states(resumed))
    for which in ("opt_g", "opt_d"):
        sa, sb = getattr(straight, which).state_dict()["state"], getattr(resumed, which).state_dict()["state"]
        for k in sa:
            assert torch.equal(sa[k]["exp_avg_sq"], sb[k]["exp_avg_sq"])
    # The log holds each step once: lines the killed run wrote after step 3 were dropped on resume.
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6, 8, 9]


def test_run_folder_is_protected(tmp_path, data_dir):
    Trainer(make(data_dir, train__steps=2), tmp_path / "run", progress=False).fit()
    with pytest.raises(OutputExistsError, match="--resume"):
        Trainer(make(data_dir), tmp_path / "run", progress=False)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("precious")
    with pytest.raises(OutputExistsError, match="not part of a run"):
        Trainer(make(data_dir), tmp_path / "mine", overwrite=True, progress=False)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "precious"
    t = Trainer(make(data_dir, train__steps=1), tmp_path / "run", overwrite=True, progress=False)
    assert t.step == 0 and not list_checkpoints(tmp_path / "run")


# ----------------------------------------------------------------------------- EMA


def test_ema_follows_the_formula():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ema = EMA(net, decay=0.9, warmup=True)
    expected = {k: v.clone().float() for k, v in net.state_dict().items()}
    for n in range(5):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p))
        net(torch.randn(8, 3))  # moves BatchNorm statistics and its integer counter
        d = min(0.9, (1 + n) / (10 + n))
        assert ema.current_decay() == pytest.approx(d)
        ema.update(net)
        for k, v in net.state_dict().items():
            if v.is_floating_point():
                expected[k] = d * expected[k] + (1 - d) * v
            else:
                expected[k] = v.clone()
    got = ema.module.state_dict()
    for k in expected:
        if expected[k].is_floating_point():
            assert torch.allclose(got[k], expected[k], atol=1e-6), k
        else:
            assert torch.equal(got[k], expected[k]), k
    assert got["1.num_batches_tracked"] == 5
    assert not any(p.requires_grad for p in ema.module.parameters())
    flat = EMA(net, decay=0.5, warmup=False)
    assert flat.current_decay() == 0.5


# ----------------------------------------------------------------------------- accumulation


# Adam turns gradients that are 0 up to rounding into steps of +-lr, so comparisons of weights
# after several steps use SGD (with momentum): it keeps differences at the rounding level.
SGD = {"name": "sgd", "lr_g": 0.05, "lr_d": 0.05}


def test_gradient_accumulation_equals_a_larger_batch(tmp_path, data_dir):
    big = Trainer(make(data_dir, data__batch_size=4, train__steps=3, optim=SGD), tmp_path / "big", progress=False)
    big.fit()
    acc = Trainer(make(data_dir, data__batch_size=2, train__grad_accum=2, train__steps=3, optim=SGD),
                  tmp_path / "acc", progress=False)
    acc.fit()
    assert big.samples_seen == acc.samples_seen == 12
    a, b = net_states(big), net_states(acc)
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6, rtol=0), (k, (a[k] - b[k]).abs().max())
    # and it is not trivially equal: a different batch gives different weights
    other = Trainer(make(data_dir, data__batch_size=2, train__steps=3, optim=SGD), tmp_path / "other",
                    progress=False)
    other.fit()
    assert not torch.allclose(a["generator.net.0.weight"], net_states(other)["generator.net.0.weight"], atol=1e-6)


# ----------------------------------------------------------------------------- phases


def test_phases_train_only_what_they_name(tmp_path, data_dir):
    cfg = make(data_dir, train__steps=5, recipe__args={"g_only_steps": 2, "d_only_steps": 2})
    seen = []

    def snapshot(trainer: Trainer, step: int) -> None:
        seen.append((step, trainer.phase_at(step - 1).name, net_states(trainer)))

    trainer = Trainer(cfg, tmp_path / "run", progress=False, callbacks=[snapshot])
    start = net_states(trainer)
    trainer.fit()
    names = [name for _, name, _ in seen]
    assert names == ["g-only", "g-only", "d-only", "d-only", "joint"]

    def changed(a, b, prefix):
        return any(not torch.equal(a[k], b[k]) for k in a if k.startswith(prefix))

    states = [start] + [s for _, _, s in seen]
    for i, name in enumerate(names):
        before, after = states[i], states[i + 1]
        assert changed(before, after, "generator.") == (name != "d-only"), (i, name)
        assert changed(before, after, "discriminator.") == (name != "g-only"), (i, name)


# ----------------------------------------------------------------------------- checkpoints


def test_checkpoints_keep_the_last_k(tmp_path, data_dir):
    trainer = Trainer(make(data_dir, train__steps=7, train__ckpt_every=2, train__keep_last=2), tmp_path / "run",
                      progress=False)
    trainer.fit()
    assert [p.name for p in list_checkpoints(tmp_path / "run")] == ["step_00000006.pt", "step_00000007.pt"]
    assert not list((tmp_path / "run" / "checkpoints").glob("*.tmp"))


def test_a_checkpoint_of_another_architecture_is_a_clear_error(tmp_path, data_dir):
    run = tmp_path / "run"
    Trainer(make(data_dir, train__steps=2), run, progress=False).fit()
    wide = make(data_dir, model__args={"width": 16})
    with pytest.raises(ConfigError) as err:
        Trainer(wide, run, resume=True, progress=False)
    message = str(err.value)
    assert "\n" not in message and "step_00000002.pt" in message and "'width': 16" in message
    # It names the run's own config, and leaves that file as it was (the run's --set values live there).
    assert str(run / "config.yaml") in message
    assert load_config(run / "config.yaml").model.args == {"width": 8}
    # A checkpoint whose recorded arguments match but whose tensors do not: a WeightsError naming the tensor.
    path = list_checkpoints(run)[-1]
    state = torch.load(path, weights_only=True)
    state["model"]["args"] = {"width": 16}
    del state["checksum"]  # as written before checkpoints had checksums (an edited one fails its checksum)
    torch.save(state, path)
    with pytest.raises(WeightsError) as err:
        Trainer(wide, run, resume=True, progress=False)
    message = str(err.value)
    assert "\n" not in message and "does not fit the architecture" in message and "net.0.bias: the file has (8,), the model needs (16,)" in message
    with pytest.raises(WeightsError, match="not a readable"):
        path.write_bytes(b"garbage")
        Trainer(make(data_dir), run, resume=True, progress=False)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_damaged_training_image_is_a_one_line_error_naming_it(tmp_path, data_dir, workers):
    from holefill.errors import CorruptImageError

    (data_dir / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"x" * 100)
    with pytest.raises(CorruptImageError) as err:
        Trainer(make(data_dir, data__workers=workers, train__steps=4), tmp_path / "run", progress=False).fit()
    message = str(err.value)
    assert message.startswith(str(data_dir / "bad.png")) and "\n" not in message and "Traceback" not in message


def test_sample_grid_is_written(tmp_path, data_dir):
    Trainer(make(data_dir, train__steps=2, train__sample_every=2), tmp_path / "run", progress=False).fit()
    grid = np.asarray(Image.open(tmp_path / "run" / "samples" / "step_00000002.png"))
    # 4 preview crops in rows; columns input, output, composite, target, EMA composite; 2 px gaps
    assert grid.shape == (4 * 34 + 2, 5 * 34 + 2, 3)
    target = grid[2:34, 3 * 34 + 2:3 * 34 + 34]
    assert target.std() > 1  # a real image, not the white background


# ----------------------------------------------------------------------------- DDP


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, data_dir: str, run: str, out: str) -> None:
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank),
                       "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank)})
    torch.set_num_threads(1)
    ensure_toys_registered()
    import holefill.data.datasets as datasets

    datasets._make_generator = lambda kind, **params: box_masks
    trainer = Trainer(make(Path(data_dir), train__steps=3, train__ckpt_every=2, optim=SGD), run, progress=False)
    try:
        trainer.fit()
        torch.save(net_states(trainer), os.path.join(out, f"rank{rank}.pt"))
    finally:
        trainer.close()


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_with_the_global_batch(tmp_path, data_dir):
    import torch.multiprocessing as mp

    single = Trainer(make(data_dir, train__steps=3, data__batch_size=4, optim=SGD), tmp_path / "single",
                     progress=False)
    single.fit()
    # fork (after the run above has imported everything): the workers start at once instead of
    # importing torch again as spawn would.
    mp.start_processes(_ddp_worker, args=(2, _free_port(), str(data_dir), str(tmp_path / "ddp"), str(tmp_path)),
                       nprocs=2, join=True, start_method="fork")
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert_equal_states(r0, r1)
    s = net_states(single)
    for k in s:
        assert torch.allclose(s[k], r0[k], atol=1e-6, rtol=0), (k, (s[k] - r0[k]).abs().max())
    # only rank 0 wrote the run: one log, one set of checkpoints, and the export
    assert [p.name for p in list_checkpoints(tmp_path / "ddp")] == ["step_00000002.pt", "step_00000003.pt"]
    assert (tmp_path / "ddp" / "final" / "model.safetensors").exists()
    lines = (tmp_path / "ddp" / "log.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [2, 3]


# ----------------------------------------------------------------------------- CLI


def test_cli_train_resume_and_errors(tmp_path, data_dir, monkeypatch):
    import yaml

    from holefill.cli import app

    runner = CliRunner()
    cfg = toy_config(data_dir)
    cfg["train"].update({"steps": 3, "ckpt_every": 2})
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    r = runner.invoke(app, ["train", str(path), "--out", str(run)])
    assert r.exit_code == 0, r.output
    assert "for 3 steps in" in r.stderr and "final" in r.stderr
    assert load_model(run / "final").architecture == TOY_MODEL
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["steps"] == 3

    r = runner.invoke(app, ["train", str(path), "--out", str(run), "-q"])
    assert r.exit_code == 2 and "already holds a run" in r.stderr and "Traceback" not in r.output

    r = runner.invoke(app, ["train", str(path), "--out", str(run), "-q", "--resume", "--set", "train.steps=5"])
    assert r.exit_code == 0, r.output
    assert list_checkpoints(run)[-1].name == "step_00000005.pt"
    assert json.loads((run / "final" / "config.json").read_text())["training"]["steps"] == 5

    r = runner.invoke(app, ["train", str(path), "--out", str(tmp_path / "x"), "--set", "train.stepz=5"])
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert r.exit_code == 2 and len(errors) == 1 and "train.stepz" in errors[0] and "tiny.yaml" in errors[0]

    r = runner.invoke(app, ["train", str(path), "--out", str(tmp_path / "y"), "--resume"])
    assert r.exit_code == 2 and "no checkpoint to resume from" in r.stderr


def test_cli_models_lists_architectures_with_parameter_counts():
    from holefill.cli import app

    r = CliRunner().invoke(app, ["models"])
    assert r.exit_code == 0, r.output
    line = next(line for line in r.stdout.splitlines() if line.strip().startswith(TOY_MODEL))
    params = sum(p.numel() for p in toy_trainer_net().parameters())
    assert f"{params / 1e6:.2f} M params" in line and "A few convolutions" in line


def test_cli_eval_scores_a_method_on_mask_sets(tmp_path, photo):
    pytest.importorskip("holefill.metrics")
    pytest.importorskip("holefill.masks")
    from holefill import io
    from holefill.cli import app

    for i in range(2):
        io.write_image(tmp_path / "images" / f"{i}.png", photo[:, i * 16:i * 16 + 96])
    for name, box in (("small", (40, 56, 40, 56)), ("large", (16, 80, 16, 80))):
        m = np.zeros((96, 96), bool)
        m[box[0]:box[1], box[2]:box[3]] = True
        io.write_mask(tmp_path / "masks" / name / "000.png", m)
    out = tmp_path / "report"
    r = CliRunner().invoke(app, ["eval", "--method", "telea", "--images", str(tmp_path / "images"), "--masks",
                                 str(tmp_path / "masks"), "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    rows = (out / "results.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 2 * 2  # header + 2 images x 2 sets
    assert "| telea | large |" in r.stdout and "| telea | small |" in r.stdout
    r = CliRunner().invoke(app, ["eval", "--method", "telea", "--images", str(tmp_path / "images"), "-q"])
    assert r.exit_code == 2 and "--masks DIR or --generate" in r.stderr
