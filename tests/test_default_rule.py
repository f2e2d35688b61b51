"""benchmarks/default_rule.py: the default-method rule applied to a bench report, per task."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from holefill import list_methods
from holefill.metrics import Evaluator

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "default_rule.py"
INPAINT = ("20-30", "30-40", "40-50", "50-60", "center")
SETS = (*INPAINT, "outpaint25")
PHOTOS = ("lomiri-a", "lomiri-b", "mate-c", "mate-d", "skimage-e")


def write_report(folder: Path, methods: dict[str, dict], seed: int = 0) -> Path:
    """A per-image results.csv: for each method, a dict with psnr, ssim, tv, colour (a number, or
    a dict by set), and optionally 'photo_psnr' (an offset per photo)."""
    rng = np.random.default_rng(seed)
    ev = Evaluator()
    for name, spec in methods.items():
        for s in spec.get("sets", SETS):
            for p in PHOTOS:
                for k in range(2):
                    def val(key, default=0.0):
                        v = spec.get(key, default)
                        return v[s] if isinstance(v, dict) else v
                    psnr = val("psnr") + spec.get("photo_psnr", {}).get(p, 0.0) + float(rng.normal(0, 0.01))
                    ev.add_scores(method=name, image=f"{p}_{k:03d}.png", mask_name=f"{s}-{k}", bucket=s,
                                  hole_ratio=0.3, seconds=0.1,
                                  metrics={"psnr": psnr, "ssim": val("ssim"), "tv_ratio": val("tv", 1.0),
                                           "colour_out": val("colour")})
    folder.mkdir(parents=True, exist_ok=True)
    ev.write_csv(folder / "results.csv", folder / "summary.csv")
    return folder


_spec = importlib.util.spec_from_file_location("default_rule", SCRIPT)
default_rule = importlib.util.module_from_spec(_spec)
sys.modules["default_rule"] = default_rule  # dataclasses look their module up there
_spec.loader.exec_module(default_rule)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run(*args) -> Result:
    """The script's main() on these arguments, with what it printed."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = default_rule.main([str(a) for a in args])
    return Result(code, out.getvalue(), err.getvalue())


def default_line(out: str, task: str) -> str:
    return next(line for line in out.splitlines() if f"for {task}" in line and line.startswith("**"))


def test_a_sharp_fill_beats_a_blur_with_a_better_psnr(tmp_path):
    report = write_report(tmp_path / "r", {
        "blur": {"psnr": 26.0, "ssim": 0.91, "tv": 0.3},
        "patches": {"psnr": 25.0, "ssim": 0.89, "tv": 0.95},
        "noisy": {"psnr": 20.0, "ssim": 0.80, "tv": 1.6},
    })
    r = run(report)
    assert r.returncode == 0, r.stderr
    assert "Default for inpaint: `patches`" in default_line(r.stdout, "inpaint")
    assert "Default for outpaint: `patches`" in default_line(r.stdout, "outpaint")
    assert "| blur | 26.00 | 0.9100 | 0.30 | +0.000 | fail | - |" in r.stdout
    assert "The report has no counting set of this task." in r.stdout  # blend


def test_invented_colours_fail_the_gate(tmp_path):
    report = write_report(tmp_path / "r", {
        "overshoot": {"psnr": 25.0, "ssim": 0.90, "tv": 1.0, "colour": {**{s: 0.0 for s in INPAINT}, "outpaint25": 0.4}},
        "calm": {"psnr": 24.0, "ssim": 0.88, "tv": 0.9},
    })
    r = run(report)
    assert "`overshoot`" in default_line(r.stdout, "inpaint")
    assert "`calm`" in default_line(r.stdout, "outpaint")


def test_a_method_beaten_on_fidelity_and_texture_together_is_never_the_default(tmp_path):
    report = write_report(tmp_path / "r", {
        "weak": {"psnr": 27.0, "ssim": 0.80, "tv": 0.7},  # fails the gate, but is not beaten
        "good": {"psnr": 25.0, "ssim": 0.90, "tv": 0.9},
        "worse": {"psnr": 24.0, "ssim": 0.85, "tv": 0.85},
    })
    r = run(report, "--task", "inpaint")
    assert "`good`" in default_line(r.stdout, "inpaint")
    assert "| worse | 24.00 | 0.8500 | 0.85 | +0.000 | pass | good |" in r.stdout
    assert "## outpaint" not in r.stdout


def test_without_a_passing_method_the_best_texture_is_named(tmp_path):
    report = write_report(tmp_path / "r", {"smooth": {"psnr": 26.0, "ssim": 0.9, "tv": 0.3},
                                           "smoother": {"psnr": 26.5, "ssim": 0.91, "tv": 0.2}})
    line = default_line(run(report, "--task", "inpaint").stdout, "inpaint")
    assert "`smooth`" in line and "no method passes the gates" in line


def test_the_spread_over_photos_says_whether_a_difference_is_real(tmp_path):
    steady = write_report(tmp_path / "steady", {"a": {"psnr": 25.5, "tv": 1.0, "ssim": 0.9},
                                                "b": {"psnr": 25.0, "tv": 0.5, "ssim": 0.9}})
    out = run(steady, "--task", "inpaint").stdout
    assert "`a` minus `b`" in out and "over 5 photos: mean +0.50 dB" in out and ": real." in out
    swings = {"lomiri-a": 3.0, "lomiri-b": -3.0, "mate-c": 2.0, "mate-d": -2.5, "skimage-e": 0.0}
    mixed = write_report(tmp_path / "mixed", {"a": {"psnr": 25.1, "tv": 1.0, "ssim": 0.9, "photo_psnr": swings},
                                              "b": {"psnr": 25.0, "tv": 0.5, "ssim": 0.9}})
    assert "not shown to be real" in run(mixed, "--task", "inpaint").stdout


def test_a_learned_candidate_must_beat_every_classical_method_with_texture(tmp_path):
    classical = {m.name: {"psnr": 25.0, "ssim": 0.90, "tv": 0.9} for m in list_methods("classical", task="inpaint")}
    wins = write_report(tmp_path / "w", {**classical, "model": {"psnr": 25.5, "ssim": 0.91, "tv": 0.85}})
    r = run(wins, "--task", "inpaint", "--candidate", "model")
    assert "`model` beats every classical method" in r.stdout and "+0.50" in r.stdout
    blurry = write_report(tmp_path / "b", {**classical, "model": {"psnr": 25.5, "ssim": 0.91, "tv": 0.5}})
    assert "`model` does not beat" in run(blurry, "--task", "inpaint", "--candidate", "model").stdout
    one_set = write_report(tmp_path / "o", {**classical, "model": {"psnr": {**{s: 25.5 for s in SETS}, "40-50": 24.9},
                                                                   "ssim": 0.91, "tv": 0.9}})
    assert "`model` does not beat" in run(one_set, "--task", "inpaint", "--candidate", "model").stdout


def test_splits_keep_only_the_held_out_photos_and_bad_input_is_one_line(tmp_path):
    report = write_report(tmp_path / "r", {"a": {"psnr": 25.0, "ssim": 0.9}, "b": {"psnr": 24.0, "ssim": 0.8}})
    splits = tmp_path / "splits.json"
    splits.write_text(json.dumps({"train": ["lomiri-a", "lomiri-b"], "val": ["mate-c"], "test": ["mate-d"]}))
    r = run(report, "--task", "inpaint", "--splits", splits)
    assert r.returncode == 0 and "2 photos, 4 images" in r.stdout
    r = run(report, "--splits", splits, "--use", "nope")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "has no split nope" in r.stderr
    r = run(tmp_path / "empty")
    assert r.returncode == 2 and "holds no results.csv" in r.stderr
