"""Training that stops and starts again: Ctrl+C and SIGTERM write a checkpoint, damaged
checkpoints are found by their checksum and skipped, a resumed run keeps its books (steps, time,
the log window), threads are chosen and said, and run folders without a checkpoint say what to do.

The toy model and recipe come from test_trainer.py (its autouse fixtures are imported here).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from holefill.cli import app
from holefill.errors import HolefillWarning, InputNotFoundError, OutputExistsError, WeightsError
from holefill.train import threads as threads_mod
from holefill.train.checkpoint import list_checkpoints, load_checkpoint
from holefill.train.config import bundled_configs, load_config
from holefill.train.trainer import Trainer, TrainingInterrupted
from test_trainer import Killed, assert_equal_states, local_masks, make, net_states, toy_config, toys  # noqa: F401
from overfit import write_images

TESTS = Path(__file__).resolve().parent

#: A training process as a user starts it (the CLI), with the toy model and recipe registered.
TRAIN_SCRIPT = f"""
import sys
sys.path.insert(0, {str(TESTS)!r})
import test_trainer
import holefill.data.datasets as datasets
test_trainer.ensure_toys_registered()
datasets._make_generator = lambda kind, **params: test_trainer.box_masks
from holefill.cli import main
sys.argv = ["holefill"] + sys.argv[1:]
main()
"""


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return write_images(tmp_path / "images")


def _log(run: Path) -> list[dict]:
    path = run / "log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_ctrl_c_writes_a_checkpoint_and_resume_counts_the_steps_that_ran(tmp_path, data_dir):
    cfg = toy_config(data_dir)
    cfg["data"]["workers"] = 1  # Ctrl+C reaches the loader worker too; it must leave the stop to the trainer
    cfg["train"].update({"steps": 100000, "log_every": 1, "ckpt_every": 0})
    del cfg["train"]["threads"]
    config = tmp_path / "toy.yaml"
    config.write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", TRAIN_SCRIPT, "train", str(config), "--out", str(run),
                             "--threads", "1"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while len(_log(run)) < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl+C: the whole process group
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "threads: 1 for training (--threads / train.threads), 1 in each of 1 data-loader workers" in err
    assert "Traceback" not in err, err
    stopped = [line for line in err.splitlines() if line.startswith("stopped at step")]
    # The command it offers reads the run's own config.yaml, which keeps every --set of the run.
    assert len(stopped) == 1 and f"holefill train {run / 'config.yaml'} --out {run} --resume" in stopped[0], err
    checkpoint = list_checkpoints(run)[-1]
    assert str(checkpoint) in stopped[0]
    state = load_checkpoint(checkpoint)
    step = state["step"]
    assert f"stopped at step {step} of 100000" in stopped[0] and step >= 3
    assert not [p for p in checkpoint.parent.iterdir() if p.name.endswith(".tmp")]

    # Resume in this process: the final line counts the steps that ran now; elapsed_s goes on.
    r = CliRunner().invoke(app, ["train", str(run / "config.yaml"), "--out", str(run), "--resume", "--threads", "1",
                                 "--set", f"train.steps={step + 2}"])
    assert r.exit_code == 0, r.output
    assert f"for 2 steps (steps {step + 1}-{step + 2}, resumed at step {step})" in r.stderr
    after = [rec for rec in _log(run) if rec["step"] > step]
    assert after and all(rec["elapsed_s"] >= state["elapsed_s"] for rec in after)


def test_sigterm_stops_after_the_step_with_a_checkpoint(tmp_path, data_dir):
    def term(trainer: Trainer, step: int) -> None:
        if step == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    trainer = Trainer(make(data_dir, train__steps=50), tmp_path / "run", progress=False, callbacks=[term])
    with pytest.raises(TrainingInterrupted) as stop:
        trainer.fit()
    assert stop.value.step == 3 and stop.value.exit_code == 143
    assert stop.value.checkpoint == list_checkpoints(tmp_path / "run")[-1]
    assert load_checkpoint(stop.value.checkpoint)["step"] == 3
    assert signal.getsignal(signal.SIGTERM) is before


def test_threads_follow_the_cpus_the_load_and_the_workers(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads_mod, "usable_cpus", lambda: 8)
    monkeypatch.setattr(threads_mod, "_busy_cpus", lambda: 0.3)
    assert threads_mod.choose_threads(None, workers=2).threads == 6
    assert threads_mod.choose_threads(None, workers=0, local_processes=4).threads == 2
    monkeypatch.setattr(threads_mod, "_busy_cpus", lambda: 7.5)  # a busy machine: other work holds 6.5 CPUs
    plan = threads_mod.choose_threads(None, workers=0)
    assert plan.threads == 2 and "load of 7.5" in plan.describe()
    assert threads_mod.choose_threads(3, workers=0).threads == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads_mod.choose_threads(None, workers=0).reason == "OMP_NUM_THREADS"


def test_loader_workers_run_one_thread_and_leave_ctrl_c_to_the_trainer():
    # As a DataLoader starts a worker: fork a process whose OpenCV and torch thread pools are up.
    code = ("import os, signal, numpy as np, cv2, torch\n"
            "from holefill.train.threads import init_loader_worker\n"
            "cv2.dilate(np.zeros((2000, 2000), np.uint8), np.ones((9, 9), np.uint8))\n"
            "torch.ones(512, 512) @ torch.ones(512, 512)\n"
            "if os.fork() == 0:\n"
            "    init_loader_worker(0)\n"
            "    print(torch.get_num_threads(), signal.getsignal(signal.SIGINT) is signal.SIG_IGN, flush=True)\n"
            "    os._exit(0)\n"
            "os.wait()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["1", "True"], out.stderr


def _flip_a_weight_bit(path: Path) -> None:
    """Flip one bit inside the first tensor's stored data (what torch.load reads without complaint)."""
    with zipfile.ZipFile(path) as zf:
        info = next(i for i in zf.infolist() if "/data/" in i.filename and i.file_size >= 16)
    data = bytearray(path.read_bytes())
    name_len = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little")
    extra_len = int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    data[start + 3] ^= 0x40  # a float32's exponent bit
    path.write_bytes(bytes(data))


def test_a_damaged_checkpoint_is_found_and_the_previous_one_used(tmp_path, data_dir):
    run = tmp_path / "run"
    cfg = dict(train__steps=4, train__ckpt_every=2, train__keep_last=3)
    Trainer(make(data_dir, **cfg), run, progress=False).fit()
    latest = list_checkpoints(run)[-1]
    assert latest.name == "step_00000004.pt"
    _flip_a_weight_bit(latest)
    torch.load(latest, weights_only=True)  # the damage is invisible to torch
    with pytest.raises(WeightsError, match="checksum"):
        load_checkpoint(latest)
    stale = latest.parent / ".step_00000003.pt.999999999.abcd1234.tmp"  # a killed write's leftover
    stale.write_bytes(b"half")
    with pytest.warns(HolefillWarning) as caught:
        resumed = Trainer(make(data_dir, **cfg), run, resume=True, progress=False)
    damaged = [w for w in caught if "damaged" in str(w.message)]
    assert len(damaged) == 1 and "resuming from step_00000002.pt" in str(damaged[0].message)
    assert resumed.step == 2 and (latest.parent / "step_00000004.pt.damaged").exists()
    resumed.fit()
    assert resumed.step == 4 and load_checkpoint(list_checkpoints(run)[-1])["step"] == 4
    assert not stale.exists()


def test_resumed_log_averages_the_same_steps_as_a_straight_run(tmp_path, data_dir):
    cfg = dict(train__steps=8, train__log_every=4, train__ckpt_every=6, train__keep_last=5)
    straight = Trainer(make(data_dir, **cfg), tmp_path / "straight", progress=False)
    straight.fit()

    def kill(trainer: Trainer, step: int) -> None:
        if step == 7:
            raise Killed

    with pytest.raises(Killed):
        Trainer(make(data_dir, **cfg), tmp_path / "killed", progress=False, callbacks=[kill]).fit()
    resumed = Trainer(make(data_dir, **cfg), tmp_path / "killed", resume=True, progress=False)
    resumed.fit()
    assert_equal_states(net_states(straight), net_states(resumed))
    timing = {"images_per_s", "elapsed_s"}
    a = [{k: v for k, v in rec.items() if k not in timing} for rec in _log(tmp_path / "straight")]
    b = [{k: v for k, v in rec.items() if k not in timing} for rec in _log(tmp_path / "killed")]
    assert [r["step"] for r in b] == [4, 8] and a == b


def test_only_the_main_process_prints_the_final_line(tmp_path, data_dir, monkeypatch):
    from holefill.train import distributed

    cfg = toy_config(data_dir)
    cfg["train"]["steps"] = 2
    config = tmp_path / "toy.yaml"
    config.write_text(yaml.safe_dump(cfg))
    # Rank 1 of 2 whose collectives are no-ops: it trains, and rank 0 would write and print.
    dist = "holefill.train.trainer.dist_utils."
    monkeypatch.setattr(dist + "init_distributed",
                        lambda device_type: distributed.DistEnv(rank=1, world_size=2, local_rank=1))
    for name in ("barrier", "average_gradients", "broadcast_module", "shutdown"):
        monkeypatch.setattr(dist + name, lambda *args, **kwargs: None)
    monkeypatch.setattr(dist + "mean_over_ranks", lambda values, env, device: values)
    monkeypatch.setattr(dist + "gather_objects", lambda obj, env: [obj, obj])
    monkeypatch.setattr("torch.distributed.all_reduce", lambda *args, **kwargs: None)
    r = CliRunner().invoke(app, ["train", str(config), "--out", str(tmp_path / "run")])
    assert r.exit_code == 0, r.output
    assert "trained" not in r.stderr and "threads:" not in r.stderr


def test_plain_image_folder_says_once_that_evaluation_is_skipped(tmp_path, data_dir):
    with pytest.warns(HolefillWarning) as caught:
        trainer = Trainer(make(data_dir, train__steps=4, train__eval_every=2), tmp_path / "run", progress=False)
        trainer.fit()
    notes = [w for w in caught if "evaluation" in str(w.message)]
    assert len(notes) == 1 and "data.val" in str(notes[0].message)
    assert not [rec for rec in _log(tmp_path / "run") if rec["phase"] == "eval"]


def test_run_folder_without_a_checkpoint_says_what_to_do(tmp_path, data_dir):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("model: {}\n")  # a run stopped before its first checkpoint
    with pytest.raises(InputNotFoundError) as err:
        Trainer(make(data_dir), run, resume=True, progress=False)
    assert "no checkpoint to resume from" in str(err.value) and "--overwrite" in str(err.value)
    with pytest.raises(OutputExistsError) as err:
        Trainer(make(data_dir), run, progress=False)
    assert "--overwrite" in str(err.value) and "pass --resume" not in str(err.value)
    Trainer(make(data_dir), run, overwrite=True, progress=False)


def test_cpu_configs_checkpoint_and_log_often_enough_for_a_short_run():
    cpu = {name: path for name, path in bundled_configs().items() if name.endswith("_cpu") or name.endswith("_lite")}
    assert len(cpu) >= 8
    for name, path in cpu.items():
        tc = load_config(path, []).train
        assert 0 < tc.ckpt_every <= 250 and tc.ckpt_every <= tc.steps // 3, (name, tc.ckpt_every)
        assert 0 < tc.log_every <= 50, (name, tc.log_every)
