"""Blending through the method table, the CLI (``holefill blend``, ``bench --blend``) and the
REST API: a blending model and every inpainting method, one protocol."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import holefill
from holefill import io
from holefill.benchmark import blend_scores, run_blend_benchmark
from holefill.blending import ModelBlender
from holefill.cli import app
from holefill.errors import InvalidArgumentError
from holefill.fillers import CanvasBlender
from holefill.masks.blend_protocol import BlendItem, blend_items
from holefill.methods import get_blender, get_filler, list_methods
from holefill.models import create_model

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    torch.manual_seed(0)
    model = create_model("bct_blend", base=4, lstm_rows=1, skip=(1, 2, 3, 4), attention=(1,))
    return model.save_pretrained(tmp_path_factory.mktemp("w") / "bct")


def test_the_table_lists_blending_models_under_blend_only(tiny_weights) -> None:  # noqa: ANN001
    blend = {m.name for m in list_methods(task="blend")}
    assert {"bct_blend", "telea", "biharmonic"} <= blend
    assert "bct_blend" not in {m.name for m in list_methods(task="inpaint")}
    assert isinstance(get_blender("bct_blend", weights=tiny_weights, context=128), ModelBlender)
    assert isinstance(get_blender("telea"), CanvasBlender)
    with pytest.raises(InvalidArgumentError, match="does not inpaint"):
        get_filler("bct_blend", weights=tiny_weights)
    with pytest.raises(InvalidArgumentError, match="no option"):
        get_blender("bct_blend", weights=tiny_weights, strategy="crop")


def test_blend_command_with_a_blending_model(tmp_path, photo, tiny_weights) -> None:  # noqa: ANN001
    left, right = tmp_path / "l.png", tmp_path / "r.png"
    Image.fromarray(photo).save(left)
    Image.fromarray(np.ascontiguousarray(photo[:, ::-1])).save(right)
    r = runner.invoke(app, ["blend", str(left), str(right), "--gap", "100", "-o", str(tmp_path / "p.png"),
                            "-m", "bct_blend", "--weights", str(tiny_weights), "-O", "context=128"])
    assert r.exit_code == 0, r.output
    pano = io.read_image(tmp_path / "p.png")
    assert pano.shape == (96, 128 + 100 + 128, 3) and np.array_equal(pano[:, :128], photo)
    r = runner.invoke(app, ["blend", str(left), str(right), "-o", str(tmp_path / "q.png"), "-m", "bct_blend"])
    assert r.exit_code == 2 and "needs weights" in r.stderr and "Traceback" not in r.output
    r = runner.invoke(app, ["inpaint", str(left), "--mask", str(right), "-o", str(tmp_path / "x.png"),
                            "-m", "bct_blend", "--weights", str(tiny_weights)])
    assert r.exit_code == 2 and "does not inpaint" in r.stderr


def test_bench_blend_scores_the_middle_of_every_panorama(tmp_path, photo, tiny_weights) -> None:  # noqa: ANN001
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(photo).save(photos / "cat.png")  # 96x128: enlarged to fit 256 x 768
    r = runner.invoke(app, ["bench", "--blend", "--images", str(photos), "--windows", "1", "-q",
                            "--methods", "telea,bct_blend,bct_blend:seam=none", "--weights", f"bct_blend={tiny_weights}",
                            "-o", str(tmp_path / "report")])
    assert r.exit_code == 0, r.output
    report = (tmp_path / "report" / "report.md").read_text()
    assert "holefill-blend-v1" in report and "| telea | blend | 1 |" in report and "| bct_blend | blend | 1 |" in report
    assert "| bct_blend:seam=none | blend | 1 |" in report  # a row with options, from the same weights
    with open(tmp_path / "report" / "results.csv") as fh:
        seams = {row["method"]: float(row["seam"]) for row in csv.DictReader(fh)}
    assert seams["bct_blend"] != seams["bct_blend:seam=none"]
    assert "| Seam |" in report and "seam step" in report
    assert "| telea | seam |" in r.stdout
    # A row may name its own weights: two models of one architecture in one report.
    torch.manual_seed(1)
    other = create_model("bct_blend", base=4, lstm_rows=1, skip=(1, 2, 3, 4), attention=(1,))
    other_dir = other.save_pretrained(tmp_path / "other")
    r = runner.invoke(app, ["bench", "--blend", "--images", str(photos), "--windows", "1", "-q", "-o",
                            str(tmp_path / "two"), "--methods", f"bct_blend:weights={tiny_weights},"
                            f"bct_blend:weights={other_dir}"])
    assert r.exit_code == 0, r.output
    with open(tmp_path / "two" / "results.csv") as fh:
        psnr = {row["method"]: float(row["psnr"]) for row in csv.DictReader(fh)}
    assert sorted(psnr) == sorted([f"bct_blend:weights={tiny_weights}", f"bct_blend:weights={other_dir}"])
    assert len(set(psnr.values())) == 2  # two different networks drew two different middles
    r = runner.invoke(app, ["bench", "--blend", "--images", str(photos), "-o", str(tmp_path / "three"),
                            "--methods", f"bct_blend:weights={tmp_path / 'nowhere'}"])
    assert r.exit_code == 2 and "no such weights folder" in r.stderr and not (tmp_path / "three").exists()
    r = runner.invoke(app, ["bench", "--blend", "--images", str(photos), "--generate", "-o", str(tmp_path / "r2")])
    assert r.exit_code == 2 and "leave out --masks" in r.stderr


def test_blend_items_are_seeded_per_photo(photo) -> None:  # noqa: ANN001
    other = np.ascontiguousarray(photo[::-1])
    a = blend_items([("a", photo), ("b", other)], windows=3)
    b = blend_items([("b", other)], windows=3)
    assert [i.name for i in a] == ["a_000", "a_001", "a_002", "b_000", "b_001", "b_002"]
    for x, y in zip(a[3:], b):  # a photo's windows do not depend on the other photos
        assert np.array_equal(x.truth, y.truth) and np.array_equal(x.left, y.left)
    assert a[0].left.shape == a[0].truth.shape == a[0].right.shape == (256, 256, 3)
    assert not np.array_equal(blend_items([("a", photo)], seed=1)[0].truth, a[0].truth)


def test_blend_scores_are_those_of_the_middle(photo) -> None:  # noqa: ANN001
    rng = np.random.default_rng(0)
    left, truth, right = (rng.integers(0, 256, (64, 40, 3), dtype=np.uint8) for _ in range(3))
    item = BlendItem("x_000", left, right, truth)
    perfect = blend_scores(item, np.concatenate([left, truth, right], axis=1))
    assert perfect["psnr"] == float("inf") and perfect["tv_ratio"] == 1.0 and perfect["colour_out"] == 0.0
    assert perfect["seam"] == 0.0
    grey = np.concatenate([left, np.full_like(truth, 128), right], axis=1)
    scores = blend_scores(item, grey)
    mse = np.mean((truth.astype(float) - 128) ** 2)
    assert scores["psnr"] == pytest.approx(10 * np.log10(255 ** 2 / mse))
    assert scores["tv_ratio"] == 0.0
    unit = [x.astype(float) / 255 for x in (left, truth, right)]
    step = lambda a, b: np.abs(a - b).mean()  # noqa: E731
    truth_step = (step(unit[1][:, 0], unit[0][:, -1]) + step(unit[2][:, 0], unit[1][:, -1])) / 2
    grey_step = (step(128 / 255, unit[0][:, -1]) + step(unit[2][:, 0], 128 / 255)) / 2
    assert scores["seam"] == pytest.approx(grey_step - truth_step)
    bright = blend_scores(item, np.concatenate([left, np.full_like(truth, 255), right], axis=1))
    assert bright["seam"] > scores["seam"]  # a middle far from both photos steps more at the joins
    ev = run_blend_benchmark({"ns": get_blender("ns")}, [item], progress=False)
    assert ev.records[0].bucket == "blend" and ev.records[0].hole_ratio == 1.0


def test_rest_blend_with_a_blending_model(photo, tiny_weights) -> None:  # noqa: ANN001
    from fastapi.testclient import TestClient

    from holefill.web.app import create_app
    from holefill.web.server import ServerSettings

    def png(a: np.ndarray) -> bytes:
        return io.encode_image(a)

    client = TestClient(create_app(ServerSettings(weights={"bct_blend": tiny_weights})))
    r = client.post("/api/blend", files={"left": png(photo), "right": png(photo[:, ::-1].copy())},
                    data={"gap": "64", "method": "bct_blend"})
    assert r.status_code == 200, r.text
    out = io.read_image(r.content)
    assert out.shape == (96, 320, 3) and np.array_equal(out[:, :128], photo)
    expected = holefill.blend(photo, photo[:, ::-1].copy(), gap=64, method="bct_blend", weights=tiny_weights)
    assert np.array_equal(out, expected)
