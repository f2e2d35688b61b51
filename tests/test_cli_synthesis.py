"""holefill upscale, holefill generate, holefill data shapes, and DCGAN through holefill inpaint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import holefill
from holefill.cli import app
from holefill.models import create_model

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def cat(tmp_path, photo):
    path = tmp_path / "cat.png"
    Image.fromarray(photo).save(path)
    return path


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Tiny untrained DCGAN, GIRAFFE and Meta-RDN weights folders."""
    root = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    create_model("dcgan", ngf=8, ndf=8, nz=16, image_size=32).save_pretrained(root / "dcgan")
    create_model("giraffe", image_size=16, resolution_vol=8, z_dim=8, z_dim_bg=4, hidden=16, blocks=3, skips=[1],
                 features=8, bg_hidden=8, bg_blocks=2, render_features=8, min_features=4,
                 n_ray_samples=6).save_pretrained(root / "giraffe")
    create_model("meta_rdn", g0=8, blocks=1, layers=2, growth=4, hidden=16).save_pretrained(root / "meta")
    return root


def test_upscale_writes_the_enlargement(cat, tmp_path, photo):
    out = tmp_path / "big.png"
    result = run("upscale", cat, "--scale", "2.5", "-o", out)
    assert result.exit_code == 0, result.output
    big = np.asarray(Image.open(out))
    assert big.shape == (240, 320, 3)
    assert np.array_equal(big, holefill.upscale(photo, 2.5))  # the default upscaler, as the API
    assert "meta_rdn_lite:" in result.output  # the shipped learned upscaler is the default
    assert not np.array_equal(big, holefill.upscale(photo, 2.5, "bicubic"))  # not its bicubic residual alone


def test_the_learned_default_without_torch_names_the_classical_way(photo, monkeypatch):
    from holefill import methods
    from holefill.errors import MissingDependencyError

    monkeypatch.setattr(methods, "learning_available", lambda: False)
    with pytest.raises(MissingDependencyError, match=r"meta_rdn_lite.*needs PyTorch.*-m lanczos"):
        methods.get_upscaler()
    assert methods.get_upscaler("lanczos").upscale(photo, 2).shape == (192, 256, 3)


@pytest.mark.parametrize("args, message", [
    (("--scale", "1"), "above 1"),
    (("--scale", "0.5"), "above 1"),
    (("--scale", "40", "-m", "lanczos"), "lanczos enlarges by at most 16"),
    (("--scale", "5"), "default upscaler meta_rdn_lite enlarges by (at most 4); name a classical one"),
    (("--scale", "3", "-m", "telea"), "does not upscale"),
    (("--scale", "3", "-m", "meta_rdn"), "needs weights"),
    (("--scale", "4", "--max-pixels", "100000"), "more than the limit"),
    (("--scale", "8", "-m", "lanczos", "--max-pixels", "100000"), "more than the limit"),
])
def test_upscale_bad_input_is_one_line(cat, tmp_path, args, message):
    result = run("upscale", cat, "-o", tmp_path / "x.png", *args)
    assert result.exit_code == 2 and message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "x.png").exists()


def test_upscale_with_learned_weights_and_no_overwrite(cat, tmp_path, weights):
    out = tmp_path / "m.png"
    assert run("upscale", cat, "-s", "2", "-m", "meta_rdn", "-w", weights / "meta", "-o", out).exit_code == 0
    assert np.asarray(Image.open(out)).shape == (192, 256, 3)
    again = run("upscale", cat, "-s", "2", "-o", out)
    assert again.exit_code == 2 and "already exists" in again.output
    too_far = run("upscale", cat, "-s", "4.5", "-m", "meta_rdn", "-w", weights / "meta", "-o", tmp_path / "n.png")
    assert too_far.exit_code == 2 and "at most 4" in too_far.output


def test_generate_writes_a_seeded_grid(tmp_path, weights):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert run("generate", "-m", "dcgan", "-w", weights / "dcgan", "-n", "6", "--seed", "3", "-o", a).exit_code == 0
    assert run("generate", "-m", "dcgan", "-w", weights / "dcgan", "-n", "6", "--seed", "3", "-o", b).exit_code == 0
    grid = np.asarray(Image.open(a))
    assert grid.shape == (2 * 34 + 2, 3 * 34 + 2, 3)  # 3 columns, 2 rows of 32 px with 2 px gaps
    assert np.array_equal(grid, np.asarray(Image.open(b)))


@pytest.mark.parametrize("args, message", [
    (("-n", "0"), "from 1 to 256"),
    (("-n", "300"), "from 1 to 256"),
    (("--seed", "-1"), "seed"),
    (("--rotate", "10"), "no control rotate"),
    (("-n", "4", "--columns", "9"), "--columns"),
])
def test_generate_bad_input_is_one_line(tmp_path, weights, args, message):
    result = run("generate", "-m", "dcgan", "-w", weights / "dcgan", "-o", tmp_path / "g.png", *args)
    assert result.exit_code == 2 and message in result.output and len(result.output.strip().splitlines()) == 1


def test_generate_needs_a_generator(tmp_path):
    result = run("generate", "-m", "telea", "-o", tmp_path / "g.png")
    assert result.exit_code == 2 and "does not generate" in result.output


def test_giraffe_controls_show_before_and_after(tmp_path, weights):
    out = tmp_path / "edit.png"
    result = run("generate", "-m", "giraffe", "-w", weights / "giraffe", "-n", "3", "--move-object", "0.5,-0.2",
                 "--rotate", "45", "--swap-appearance", "-o", out)
    assert result.exit_code == 0, result.output
    grid = np.asarray(Image.open(out))
    assert grid.shape == (2 * 18 + 2, 3 * 18 + 2, 3)  # before (top) and after (bottom)
    bad = run("generate", "-m", "giraffe", "-w", weights / "giraffe", "--move-object", "left", "-o", tmp_path / "x.png")
    assert bad.exit_code == 2 and "DX,DY" in bad.output
    one = run("generate", "-m", "giraffe", "-w", weights / "giraffe", "-n", "1", "--swap-appearance",
              "-o", tmp_path / "y.png")
    assert one.exit_code == 2 and "2 or more" in one.output


def test_dcgan_fills_through_inpaint(tmp_path, weights):
    img = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    mask = np.zeros((32, 32), np.uint8)
    mask[8:20, 10:22] = 255
    Image.fromarray(img).save(tmp_path / "in.png")
    Image.fromarray(mask).save(tmp_path / "mask.png")
    out = tmp_path / "out.png"
    result = run("inpaint", tmp_path / "in.png", "--mask", tmp_path / "mask.png", "-m", "dcgan", "-w",
                 weights / "dcgan", "-O", "iterations=5", "-O", "restarts=2", "-o", out)
    assert result.exit_code == 0, result.output
    filled = np.asarray(Image.open(out))
    assert np.array_equal(filled[mask == 0], img[mask == 0]) and not np.array_equal(filled, img)
    big = np.zeros((40, 40, 3), np.uint8)
    Image.fromarray(big).save(tmp_path / "big.png")
    Image.fromarray(np.pad(mask, 4)).save(tmp_path / "bigmask.png")
    wrong = run("inpaint", tmp_path / "big.png", "--mask", tmp_path / "bigmask.png", "-m", "dcgan", "-w",
                weights / "dcgan", "-o", tmp_path / "o2.png")
    assert wrong.exit_code == 2 and "fills 32x32 images" in wrong.output


def test_data_shapes_and_methods_by_task(tmp_path):
    result = run("data", "shapes", "-o", tmp_path / "s", "-n", "3", "--size", "24")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["00000.png", "00001.png", "00002.png", "README.md"]
    assert np.asarray(Image.open(tmp_path / "s" / "00001.png")).shape == (24, 24, 3)
    again = run("data", "shapes", "-o", tmp_path / "s", "-n", "3")
    assert again.exit_code == 2 and "not empty" in again.output
    listed = run("methods", "--task", "upscale")
    names = [line.split()[0] for line in listed.output.splitlines()]
    assert {"bicubic", "lanczos", "meta_rdn"} <= set(names) and "telea" not in names
    assert "dcgan" in run("methods", "--task", "generate").output


def test_resize_strategy_can_enlarge_with_an_upscaler(photo, box_mask):
    plain = holefill.inpaint(photo, box_mask, "telea")
    assert plain.shape == photo.shape
    with pytest.raises(holefill.HolefillError, match="does not upscale"):
        holefill.inpaint(photo, box_mask, "deepfill_v2_lite", upscaler="telea")
    filled = holefill.inpaint(photo, box_mask, "deepfill_v2_lite", strategy="resize", resize_limit=64,
                              upscaler="lanczos")
    assert np.array_equal(filled[~box_mask], photo[~box_mask])
