"""benchmarks/default_rule.py: the default-method rule applied to a bench summary."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from holefill import list_methods

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "default_rule.py"
SETS = ("20-30", "30-40", "40-50", "50-60", "center", "outpaint25")


def write_summary(path: Path, candidate: dict[str, tuple[float, float]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["method", "bucket", "psnr", "ssim"])
        for m in list_methods("classical"):
            if m.requires:  # scene completion needs a photo database; the rule leaves it out
                continue
            for s in SETS:
                w.writerow([m.name, s, 25.0, 0.90])
        for s, (p, q) in candidate.items():
            w.writerow(["model", s, p, q])
    return path


def run(summary: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(summary), "model"], capture_output=True, text=True)


def test_a_model_that_wins_everywhere_may_become_the_default(tmp_path):
    r = run(write_summary(tmp_path / "s.csv", {s: (25.5, 0.91) for s in SETS}))
    assert r.returncode == 0, r.stderr
    assert "model beats every classical method" in r.stdout and "+0.50" in r.stdout


@pytest.mark.parametrize("loser", [("outpaint25", (24.9, 0.95)), ("30-40", (26.0, 0.89))])
def test_one_lost_set_or_metric_keeps_the_classical_default(tmp_path, loser):
    scores = {s: (25.5, 0.91) for s in SETS}
    scores[loser[0]] = loser[1]
    r = run(write_summary(tmp_path / "s.csv", scores))
    assert r.returncode == 0, r.stderr
    assert "does not beat" in r.stdout


def test_missing_results_are_an_error(tmp_path):
    r = run(write_summary(tmp_path / "s.csv", {s: (26.0, 0.95) for s in SETS[:-1]}))
    assert r.returncode == 2 and "model (outpaint25)" in r.stderr
