"""benchmarks/texture_cost.py: fills split into a coarse and a fine band, and what each costs."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "texture_cost.py"
_spec = importlib.util.spec_from_file_location("texture_cost", SCRIPT)
texture_cost = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(texture_cost)


def test_variants_split_and_recombine_the_bands() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
    pm = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
    learned = np.full((32, 32, 3), 100, np.uint8)
    out = texture_cost.variants(truth, {"patchmatch": pm, "net": learned}, "net", [2.0])
    assert set(out) == {"patchmatch", "net", "truth-coarse s=2", "oracle s=2", "net+pm s=2"}
    fine = pm.astype(np.float32) - texture_cost.coarse(pm, 2.0)
    # The oracle is the truth's coarse band plus PatchMatch's fine band, nothing else.
    np.testing.assert_allclose(out["oracle s=2"], texture_cost.coarse(truth, 2.0) + fine, atol=1e-4)
    # A flat learned fill has a flat coarse band: what is added is PatchMatch's fine band alone.
    np.testing.assert_allclose(out["net+pm s=2"], 100 + fine, atol=1e-3)
    # A blur keeps the mean and lowers the variation.
    blurred = out["truth-coarse s=2"]
    assert abs(blurred.mean() - truth.mean()) < 2 and blurred.std() < 0.5 * truth.std()


def test_script_prints_a_row_per_fill(tmp_path) -> None:
    rng = np.random.default_rng(1)
    folder = tmp_path / "crops"
    folder.mkdir()
    for i in range(2):
        base = np.linspace(0, 200, 64)[None, :, None] + rng.normal(0, 20, (64, 64, 3))
        Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).save(folder / f"p{i}_000.png")
    run = subprocess.run([sys.executable, str(SCRIPT), "--images", str(folder), "--learned", "telea",
                          "--sets", "center", "--sigmas", "2"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    rows = {line.split("|")[1].strip(): line for line in run.stdout.splitlines() if line.startswith("| ")}
    assert set(rows) >= {"biharmonic", "patchmatch", "telea", "truth-coarse s=2", "oracle s=2", "telea+pm s=2"}
    # The oracle's coarse band is the truth's: it beats PatchMatch's PSNR.
    psnr = {name: float(line.split("|")[2].split("/")[0]) for name, line in rows.items() if name != "Fill"}
    assert psnr["oracle s=2"] > psnr["patchmatch"]
    bad = subprocess.run([sys.executable, str(SCRIPT), "--images", str(folder), "--sigmas", "0"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --sigmas") and "Traceback" not in bad.stderr
