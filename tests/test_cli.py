"""The CLI through Typer's runner: inpaint (single and batch), outpaint, blend, methods, errors."""

from __future__ import annotations


import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from holefill import io
from holefill.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in errors[0], errors[0]


@pytest.fixture
def files(tmp_path, photo, box_mask):
    img = tmp_path / "img.png"
    mask = tmp_path / "mask.png"
    Image.fromarray(photo).save(img)
    Image.fromarray(box_mask.astype(np.uint8) * 255).save(mask)
    return img, mask


def test_inpaint_writes_fill_and_comparison(tmp_path, files, photo, box_mask):
    img, mask = files
    out, cmp_ = tmp_path / "o" / "out.png", tmp_path / "cmp.png"
    r = run("inpaint", img, "--mask", mask, "-o", out, "--compare", cmp_, "--method", "ns")
    assert r.exit_code == 0, r.output
    filled = io.read_image(out)
    assert np.array_equal(filled[~box_mask], photo[~box_mask])
    assert not np.array_equal(filled[box_mask], np.zeros_like(filled[box_mask]))
    comparison = io.read_image(cmp_)
    assert comparison.shape[0] == photo.shape[0] and comparison.shape[1] > 2 * photo.shape[1]


def test_inpaint_method_options(tmp_path, files):
    img, mask = files
    r = run("inpaint", img, "--mask", mask, "-o", tmp_path / "a.png", "-m", "telea", "-O", "radius=9")
    assert r.exit_code == 0, r.output
    one_line_error(run("inpaint", img, "--mask", mask, "-o", tmp_path / "b.png", "-O", "radius"), "key=value")


def test_inpaint_mask_from_alpha(tmp_path, photo, box_mask):
    rgba = np.dstack([photo, np.where(box_mask, 0, 255).astype(np.uint8)])
    src = tmp_path / "cutout.png"
    Image.fromarray(rgba, "RGBA").save(src)
    r = run("inpaint", src, "--mask-from-alpha", "-o", tmp_path / "out.png")
    assert r.exit_code == 0, r.output
    out = io.read_image(tmp_path / "out.png")
    assert np.array_equal(out[~box_mask], photo[~box_mask])
    one_line_error(run("inpaint", tmp_path / "out.png", "--mask-from-alpha", "-o", tmp_path / "x.png"), "alpha")


def test_never_overwrites_inputs_or_outputs_unasked(tmp_path, files):
    img, mask = files
    before = img.read_bytes()
    one_line_error(run("inpaint", img, "--mask", mask, "-o", img), str(img), "--overwrite")
    assert img.read_bytes() == before
    out = tmp_path / "out.png"
    assert run("inpaint", img, "--mask", mask, "-o", out).exit_code == 0
    one_line_error(run("inpaint", img, "--mask", mask, "-o", out), "already exists")
    assert run("inpaint", img, "--mask", mask, "-o", out, "--overwrite").exit_code == 0


@pytest.mark.parametrize("case", ["missing", "not_image", "truncated", "empty", "mask_size", "full_mask", "too_large",
                                  "unknown_method", "bad_extension", "no_mask"])
def test_bad_input_is_one_line_and_exit_2(tmp_path, files, photo, case):
    img, mask = files
    out = tmp_path / "out.png"
    args: list = ["inpaint", img, "--mask", mask, "-o", out]
    needle = str(img)
    if case == "missing":
        args[1] = tmp_path / "nope.png"
        needle = "no such file"
    elif case == "not_image":
        bad = tmp_path / "notes.png"
        bad.write_text("not an image")
        args[1], needle = bad, "not an image"
    elif case == "truncated":
        bad = tmp_path / "trunc.png"
        bad.write_bytes(img.read_bytes()[:300])
        args[1], needle = bad, "trunc.png"
    elif case == "empty":
        bad = tmp_path / "empty.png"
        bad.write_bytes(b"")
        args[1], needle = bad, "0 bytes"
    elif case == "mask_size":
        small = tmp_path / "small.png"
        Image.fromarray(np.full((10, 10), 255, np.uint8)).save(small)
        args[3], needle = small, "--resize-mask"
    elif case == "full_mask":
        full = tmp_path / "full.png"
        Image.fromarray(np.full(photo.shape[:2], 255, np.uint8)).save(full)
        args[3], needle = full, "whole image"
    elif case == "too_large":
        args += ["--max-pixels", "100"]
        needle = "limit"
    elif case == "unknown_method":
        args += ["--method", "magic"]
        needle = "unknown method"
    elif case == "bad_extension":
        args[5], needle = tmp_path / "out.xyz", "extension"
    elif case == "no_mask":
        args = ["inpaint", img, "-o", out]
        needle = "--mask"
    one_line_error(run(*args), needle)
    assert not out.exists()


def test_resize_mask_option(tmp_path, files, photo):
    img, _ = files
    small = tmp_path / "small.png"
    m = np.zeros((photo.shape[0] // 2, photo.shape[1] // 2), np.uint8)
    m[10:20, 10:30] = 255
    Image.fromarray(m).save(small)
    r = run("inpaint", img, "--mask", small, "--resize-mask", "-o", tmp_path / "o.png")
    assert r.exit_code == 0, r.output


def test_empty_mask_warns_and_copies_input(tmp_path, files, photo):
    img, _ = files
    empty = tmp_path / "empty_mask.png"
    Image.fromarray(np.zeros(photo.shape[:2], np.uint8)).save(empty)
    r = run("inpaint", img, "--mask", empty, "-o", tmp_path / "o.png")
    assert r.exit_code == 0, r.output
    assert any(line.startswith("warning:") and "no hole" in line for line in r.stderr.splitlines())
    assert np.array_equal(io.read_image(tmp_path / "o.png"), photo)


def test_batch_mode_skips_bad_files_and_summarises(tmp_path, photo, box_mask):
    src, masks, out = tmp_path / "imgs", tmp_path / "masks", tmp_path / "out"
    src.mkdir()
    masks.mkdir()
    for name in ("a", "b", "c"):
        Image.fromarray(photo).save(src / f"{name}.png")
        Image.fromarray(box_mask.astype(np.uint8) * 255).save(masks / f"{name}.png")
    (src / "broken.png").write_bytes(b"")  # bad file, with a mask
    Image.fromarray(box_mask.astype(np.uint8) * 255).save(masks / "broken.png")
    Image.fromarray(photo).save(src / "lonely.jpg")  # no mask
    (src / "readme.txt").write_text("ignored: not an image extension")
    r = run("inpaint", src, "--mask-dir", masks, "-o", out)
    assert r.exit_code == 2
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "c.png"]  # lonely.jpg had no mask
    for name in ("a", "b", "c"):
        filled = io.read_image(out / f"{name}.png")
        assert np.array_equal(filled[~box_mask], photo[~box_mask])
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and any("broken.png" in e for e in errors) and any("lonely" in e for e in errors)
    assert "filled 3 of 5 images" in r.stderr and "2 failed" in r.stderr
    # Re-running refuses to overwrite outputs, before any work, in one line.
    r2 = run("inpaint", src, "--mask-dir", masks, "-o", out)
    one_line_error(r2, "already holds 3 of the 5 outputs")


def test_batch_needs_a_mask_dir(tmp_path, photo):
    src = tmp_path / "imgs"
    src.mkdir()
    Image.fromarray(photo).save(src / "a.png")
    one_line_error(run("inpaint", src, "-o", tmp_path / "out"), "--mask-dir")


def test_outpaint_and_blend_commands(tmp_path, files, photo):
    img, _ = files
    r = run("outpaint", img, "-o", tmp_path / "wide.png", "--left", "25%", "--right", "10")
    assert r.exit_code == 0, r.output
    wide = io.read_image(tmp_path / "wide.png")
    w = photo.shape[1]
    assert wide.shape == (photo.shape[0], w + round(w * 0.25) + 10, 3)
    one_line_error(run("outpaint", img, "-o", tmp_path / "x.png", "--left", "lots"), "--left")
    one_line_error(run("outpaint", img, "-o", tmp_path / "y.png"), "at least one")
    r = run("blend", img, img, "-o", tmp_path / "pano.png", "--gap", "16")
    assert r.exit_code == 0, r.output
    assert io.read_image(tmp_path / "pano.png").shape == (photo.shape[0], 2 * w + 16, 3)


def test_methods_lists_every_method_with_a_summary():
    r = run("methods")
    assert r.exit_code == 0
    lines = r.stdout.strip().splitlines()
    from holefill.methods import list_methods

    assert len(lines) == len(list_methods())
    assert any(line.startswith("telea") for line in lines)
    from holefill.methods import DEFAULT_METHODS

    for task, name in DEFAULT_METHODS.items():  # each task names its default exactly once
        marked = [line for line in lines if "(default:" in line and task in line.split("(default:")[1]]
        assert len(marked) == 1 and marked[0].startswith(name), marked
    one_line_error(run("methods", "--kind", "quantum"), "--kind")
    one_line_error(run("methods", "--task", "paint"), "unknown task 'paint'")
    outpainters = run("methods", "--task", "outpaint").stdout.strip().splitlines()
    assert [line.split()[0] for line in outpainters] == [m.name for m in list_methods(task="outpaint")]


def test_console_script_entry_point_exists():
    from importlib.metadata import entry_points

    eps = [ep for ep in entry_points(group="console_scripts") if ep.name == "holefill"]
    assert eps and eps[0].value == "holefill.cli:main"
