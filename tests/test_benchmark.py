"""`holefill bench` and the benchmark module: pairing, scoring, the report files."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from holefill import benchmark as B
from holefill.cli import app
from holefill.fillers import Filler
from holefill.masks.protocol import STANDARD_SETS, write_mask_sets

runner = CliRunner()


@pytest.fixture
def image_dir(tmp_path, photo) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.ascontiguousarray(np.roll(photo, 7 * i, axis=1)[:64, :64])).save(folder / f"im{i}.png")
    return folder


class Truth(Filler):
    """Cheats on purpose (it is handed the truth): scores must then be perfect."""

    name = "truth"

    def __init__(self, truth: dict[int, np.ndarray]) -> None:
        self.truth = truth

    def _fill(self, image, mask):
        return self.truth[image.shape[1]]


def test_pairs_cycle_masks_and_resize_them(photo):
    images = [("a", photo), ("b", photo), ("c", photo)]
    m = np.zeros((8, 8), bool)
    m[2:4, 2:4] = True
    sets = {"s": [("m0", m), ("m1", ~m)]}
    ps = B.pairs(images, sets)
    assert [p.mask_name for p in ps] == ["m0", "m1", "m0"]
    assert all(p.mask.shape == photo.shape[:2] for p in ps)
    assert ps[0].mask.mean() == pytest.approx(m.mean())


def test_scores_are_perfect_for_the_truth_and_worse_for_telea(photo):
    crop = np.ascontiguousarray(photo[:64, :64])
    sets = B.generated_mask_sets((64, 64), 2, sets=["20-30", "center"])
    from holefill.methods import get_filler

    ev = B.run_benchmark({"truth": Truth({64: crop}), "telea": get_filler("telea")}, [("x", crop)], sets,
                         progress=False)
    rows = {(r["method"], r["bucket"]): r for r in ev.summary()}
    assert rows[("truth", "center")]["psnr"] == float("inf") and rows[("truth", "center")]["ssim"] == 1.0
    assert 10 < rows[("telea", "center")]["psnr"] < 60 and rows[("telea", "center")]["ssim"] < 1.0
    assert [r["count"] for r in ev.summary()] == [1, 1, 1, 1]


def test_bench_cli_generate_writes_every_report_file(tmp_path, image_dir):
    out = tmp_path / "report"
    r = runner.invoke(app, ["bench", "--images", str(image_dir), "--generate", "--methods", "telea,ns", "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == sorted(B.REPORT_FILES)
    for label in STANDARD_SETS:
        assert label in r.stdout
    with open(out / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * len(STANDARD_SETS)
    assert all(int(row["count"]) == 3 for row in rows)
    assert all(0 < float(row["ssim"]) <= 1 for row in rows)
    assert "holefill-masks-v1" in (out / "report.md").read_text()
    assert (out / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # A second run refuses to replace the report.
    r2 = runner.invoke(app, ["bench", "--images", str(image_dir), "--generate", "--methods", "telea", "-o", str(out)])
    assert r2.exit_code == 2 and "--overwrite" in r2.stderr


def test_bench_cli_reads_mask_folders(tmp_path, image_dir):
    m = np.zeros((64, 64), bool)
    m[20:40, 20:40] = True
    write_mask_sets({"box": [m], "strip": [np.pad(np.ones((64, 16), bool), ((0, 0), (0, 48)))]}, tmp_path / "masks")
    out = tmp_path / "rep"
    r = runner.invoke(app, ["bench", "--images", str(image_dir), "--masks", str(tmp_path / "masks"), "--methods",
                            "telea", "-o", str(out), "--sets", "box", "-q"])
    assert r.exit_code == 0, r.output
    with open(out / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [row["bucket"] for row in rows] == ["box"] * 3
    assert float(rows[0]["hole_ratio"]) == pytest.approx(400 / 4096)


def test_bench_cli_rows_with_options(tmp_path, image_dir):
    out = tmp_path / "rep"
    r = runner.invoke(app, ["bench", "--images", str(image_dir), "--generate", "--sets", "center", "-q", "-o", str(out),
                            "--methods", "telea, telea:radius=15 ,ns"])
    assert r.exit_code == 0, r.output
    with open(out / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    by = {(row["method"], row["image"]): float(row["l1_hole"]) for row in rows}
    assert sorted({row["method"] for row in rows}) == ["ns", "telea", "telea:radius=15"]
    # The option reached the filler: a 15-pixel neighbourhood fills differently from the default 5.
    assert any(by[("telea", img)] != by[("telea:radius=15", img)] for _, img in by)
    assert "telea:radius=15" in (out / "report.md").read_text()


@pytest.mark.parametrize("methods,needle", [
    ("telea,telea", "twice"),
    ("telea:", "no options"),
    (":radius=3", "names no method"),
    ("telea:radius=abc", "takes a number"),
    ("telea:radius=0", "radius"),
    ("telea:nope=1", "nope"),
    ("nope:radius=3", "unknown method"),
])
def test_bench_cli_bad_rows(tmp_path, image_dir, methods, needle):
    r = runner.invoke(app, ["bench", "--images", str(image_dir), "--generate", "-o", str(tmp_path / "o"),
                            "--methods", methods])
    assert r.exit_code == 2, r.output
    assert needle in r.stderr and "Traceback" not in r.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args,needle", [
    (["--methods", "telea"], "--masks"),
    (["--methods", "telea", "--generate", "--masks", "x"], "--masks"),
    (["--methods", "nope", "--generate"], "unknown method"),
    (["--methods", "telea", "--generate", "--sets", "70-80"], "unknown mask set"),
    (["--methods", "telea", "--generate", "--weights", "deepfill=."], "not in --methods"),
    (["--methods", "telea", "--generate", "--limit", "0"], "--limit"),
])
def test_bench_cli_bad_arguments(tmp_path, image_dir, args, needle):
    r = runner.invoke(app, ["bench", "--images", str(image_dir), "-o", str(tmp_path / "o"), *args])
    assert r.exit_code == 2, r.output
    assert needle in r.stderr and "Traceback" not in r.output
    assert not (tmp_path / "o" / "report.md").exists()


def test_bench_cli_add_to_keeps_the_report_and_adds_methods(tmp_path, image_dir):
    out = tmp_path / "report"
    base = ["bench", "--images", str(image_dir), "--generate", "--sets", "20-30,center", "-q"]
    assert runner.invoke(app, [*base, "--methods", "telea", "-o", str(out)]).exit_code == 0
    before = (out / "results.csv").read_text().splitlines()
    r = runner.invoke(app, [*base, "--methods", "ns", "--add-to", str(out)])
    assert r.exit_code == 0, r.output
    after = (out / "results.csv").read_text().splitlines()
    assert after[: len(before)] == before  # the earlier records, byte for byte
    with open(out / "summary.csv") as fh:
        cells = {(row["method"], row["bucket"]) for row in csv.DictReader(fh)}
    assert cells == {(m, s) for m in ("telea", "ns") for s in ("20-30", "center")}
    assert "| ns |" in (out / "report.md").read_text() and "| telea |" in (out / "report.md").read_text()


@pytest.mark.parametrize("args,needle", [
    (["--methods", "telea"], "already has results for telea"),
    (["--methods", "ns", "--sets", "20-30"], "other images or mask sets"),
    (["--methods", "ns", "--seed", "1"], "masks differ"),
    (["--methods", "ns", "-o", "elsewhere"], "not both"),
])
def test_bench_cli_add_to_refuses_a_different_protocol(tmp_path, image_dir, args, needle):
    out = tmp_path / "report"
    base = ["bench", "--images", str(image_dir), "--generate", "-q"]
    assert runner.invoke(app, [*base, "--sets", "20-30,center", "--methods", "telea", "-o", str(out)]).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    sets = [] if "--sets" in args else ["--sets", "20-30,center"]
    r = runner.invoke(app, [*base, *sets, *args, "--add-to", str(out)])
    assert r.exit_code == 2, r.output
    assert needle in r.stderr and "Traceback" not in r.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing touched


def test_bench_cli_add_to_needs_a_results_file(tmp_path, image_dir):
    (tmp_path / "empty").mkdir()
    r = runner.invoke(app, ["bench", "--images", str(image_dir), "--generate", "--methods", "ns",
                            "--add-to", str(tmp_path / "empty")])
    assert r.exit_code == 2 and "results.csv" in r.stderr
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.csv").write_text("method,image\ntelea,x\n")
    r = runner.invoke(app, ["bench", "--images", str(image_dir), "--generate", "--methods", "ns", "--add-to", str(bad)])
    assert r.exit_code == 2 and "not a per-image results file" in r.stderr
