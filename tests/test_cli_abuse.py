"""The CLI under abuse (issue 11) and in everyday use (issue 18): canvases over the pixel limit,
one-line errors for every bad input and output, every output checked before any work, batch
re-runs after an interrupt, file modes, and the options every fill command shares."""

from __future__ import annotations

import io as _io
import os
import stat
import tempfile

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from holefill import io
from holefill.cli import app
from holefill.cli.common import elapsed_ticker, parse_options

runner = CliRunner()


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result, *needles: str) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def files(tmp_path, photo, box_mask):
    img, mask = tmp_path / "img.png", tmp_path / "mask.png"
    Image.fromarray(photo).save(img)
    Image.fromarray(box_mask.astype(np.uint8) * 255).save(mask)
    return img, mask


# ----------------------------------------------------------------------------- canvases

@pytest.mark.parametrize("args, needle", [
    (["outpaint", "{img}", "--left", "1000000000000"], "outpaint canvas would be"),
    (["outpaint", "{img}", "--left", "999999%", "--max-pixels", "1000000"], "over the limit of 1,000,000"),
    (["outpaint", "{img}", "--left", "inf%"], "finite percentage"),
    (["outpaint", "{img}", "--top", "nan%"], "finite percentage"),
    (["blend", "{img}", "{img}", "--gap", "10000000"], "gap must be between 1 and 16384 pixels"),
    (["blend", "{img}", "{img}", "--gap", "16000", "--max-pixels", "100000"], "panorama canvas would be"),
])
def test_canvas_over_the_pixel_limit_is_refused_before_allocating(tmp_path, files, args, needle):
    img, _ = files
    out = tmp_path / "out.png"
    one_line_error(run(*[a.format(img=img) for a in args], "-o", out), needle)
    assert not out.exists()


def test_api_checks_the_canvas_before_allocating(photo):
    import holefill
    from holefill.errors import ImageTooLargeError

    with pytest.raises(ImageTooLargeError, match="canvas"):
        holefill.outpaint(photo, left=10**12)
    with pytest.raises(ImageTooLargeError, match="canvas"):
        holefill.blend(photo, photo, gap=16_000, max_pixels=100_000)
    with pytest.raises(ImageTooLargeError, match="limit of 20,000"):
        holefill.outpaint(photo, left=100, max_pixels=20_000)


@pytest.mark.parametrize("gap", ["0", "-5"])
def test_blend_gap_below_one_is_one_message(tmp_path, files, gap):
    img, _ = files
    one_line_error(run("blend", img, img, "--gap", gap, "-o", tmp_path / "b.png"), "--gap must be at least 1 pixel")


# ----------------------------------------------------------------------------- one-line errors

def test_output_folder_that_takes_no_files_is_one_line(tmp_path, files):
    img, mask = files
    one_line_error(run("inpaint", img, "--mask", mask, "-o", "/proc/holefill-out.png"), "/proc", "cannot be written")
    one_line_error(run("inpaint", img, "--mask", mask, "-o", img / "out.png"), "is not a folder")


def test_unwritable_folder_is_one_line_before_any_work(tmp_path, files, monkeypatch):
    img, mask = files
    calls = []

    def refuse(*args, **kwargs):
        calls.append(kwargs.get("dir"))
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    one_line_error(run("inpaint", img, "--mask", mask, "-o", tmp_path / "ro" / "o.png"), "Permission denied")
    assert calls, "the folder was not probed"
    with pytest.raises(io.HolefillError, match="cannot be written"):
        io.write_bytes_atomic(tmp_path / "x.png", b"data")


@pytest.mark.parametrize("value, needle", [("radius=abc", "-O radius takes a number"),
                                           ("radius=inf", "finite"),
                                           ("radius=nan", "finite")])
def test_bad_method_option_values_are_one_line(tmp_path, files, value, needle):
    img, mask = files
    one_line_error(run("inpaint", img, "--mask", mask, "-o", tmp_path / "o.png", "-m", "telea", "-O", value), needle)


def test_option_values_take_the_type_of_the_default():
    assert parse_options(["radius=5"], {"radius": 3.0}) == {"radius": 5.0}
    assert parse_options(["quality=5"], {"quality": "fast"}) == {"quality": "5"}
    assert parse_options(["split_into_regions=yes"], {"split_into_regions": False}) == {"split_into_regions": True}
    assert parse_options(["sides=left", "n=3"]) == {"sides": "left", "n": 3}
    with pytest.raises(io.HolefillError, match="whole number"):
        parse_options(["passes=2.5"], {"passes": 4})


def test_usage_errors_are_one_line_not_a_box(tmp_path, files):
    img, mask = files
    one_line_error(run("inpaint", img, "--mask", mask, "-o", tmp_path / "o.png", "--samples", "abc"), "--samples")
    one_line_error(run("inpaint", img, "--mask", mask, "-o", tmp_path / "o.png", "--no-such-option"),
                   "--no-such-option")
    one_line_error(run("blend", img, img, "--gap", "wide", "-o", tmp_path / "b.png"), "--gap")


@pytest.mark.parametrize("kind", ["dev_zero", "fifo", "mask_dev_zero"])
def test_non_regular_files_are_named_for_what_they_are(tmp_path, files, kind):
    img, mask = files
    odd = tmp_path / "odd.png"
    if kind == "fifo":
        os.mkfifo(odd)  # reading it would block forever
        needle = "named pipe"
    else:
        odd.symlink_to("/dev/zero")
        needle = "symlink to /dev/zero, a character device"
    src, mask = (img, odd) if kind == "mask_dev_zero" else (odd, mask)
    one_line_error(run("inpaint", src, "--mask", mask, "-o", tmp_path / "o.png"), needle, str(odd))


def test_unreadable_input_is_one_line(tmp_path, files, monkeypatch):
    img, mask = files
    from pathlib import Path

    real = Path.read_bytes

    def denied(self):
        if self.name == img.name:
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    one_line_error(run("inpaint", img, "--mask", mask, "-o", tmp_path / "o.png"), "Permission denied", str(img))


# ----------------------------------------------------------------------------- outputs before work

def test_compare_equal_to_output_is_refused_before_any_work(tmp_path, files):
    img, mask = files
    same = tmp_path / "same.png"
    one_line_error(run("inpaint", img, "--mask", mask, "-o", same, "--compare", same), "both -o and --compare")
    assert not same.exists()
    one_line_error(run("outpaint", img, "--left", "8", "-o", same, "--compare", tmp_path / "." / "same.png"),
                   "both -o and --compare")
    assert not same.exists()


def test_outpaint_checks_compare_before_any_work(tmp_path, files):
    img, _ = files
    taken = tmp_path / "taken.png"
    taken.write_bytes(b"mine")
    out = tmp_path / "wide.png"
    one_line_error(run("outpaint", img, "--left", "8", "-o", out, "--compare", taken), "already exists")
    assert not out.exists() and taken.read_bytes() == b"mine"


# ----------------------------------------------------------------------------- batch

def _batch(tmp_path, photo, box_mask, names=("a", "b", "c"), ext=".png"):
    src, masks = tmp_path / "imgs", tmp_path / "masks"
    src.mkdir(exist_ok=True)
    masks.mkdir(exist_ok=True)
    for name in names:
        Image.fromarray(photo).save(src / f"{name}{ext}", quality=90)
        Image.fromarray(box_mask.astype(np.uint8) * 255).save(masks / f"{name}.png")
    return src, masks


def test_batch_rerun_after_an_interrupt_skips_what_is_done(tmp_path, photo, box_mask):
    src, masks = _batch(tmp_path, photo, box_mask)
    out = tmp_path / "out"
    assert run("inpaint", src, "--mask-dir", masks, "-o", out, "-m", "telea").exit_code == 0
    # An interrupt: c.png never got written, and its write left a temporary file of a dead process.
    (out / "c.png").unlink()
    stale = out / ".c.png.999999999.abcd1234.tmp"
    stale.write_bytes(b"half")
    before = (out / "a.png").stat().st_mtime_ns
    r = run("inpaint", src, "--mask-dir", masks, "-o", out, "-m", "telea")
    one_line_error(r, "already holds 2 of the 3 outputs", "--skip-existing")
    r = run("inpaint", src, "--mask-dir", masks, "-o", out, "-m", "telea", "--skip-existing")
    assert r.exit_code == 0, r.output
    assert "filled 1 of 3 images" in r.stderr and "2 skipped" in r.stderr
    assert (out / "c.png").exists() and (out / "a.png").stat().st_mtime_ns == before
    assert not stale.exists()
    one_line_error(run("inpaint", src, "--mask-dir", masks, "-o", out, "--skip-existing", "--overwrite"), "give one")


def test_batch_writes_lossless_png_by_default(tmp_path, photo, box_mask):
    src, masks = _batch(tmp_path, photo, box_mask, names=("p",), ext=".jpg")
    known = io.read_image(src / "p.jpg")
    out = tmp_path / "out"
    r = run("inpaint", src, "--mask-dir", masks, "-o", out, "-m", "telea")
    assert r.exit_code == 0, r.output
    assert [p.name for p in out.iterdir()] == ["p.png"]
    assert np.array_equal(io.read_image(out / "p.png")[~box_mask], known[~box_mask])
    r = run("inpaint", src, "--mask-dir", masks, "-o", tmp_path / "jpg", "-m", "telea", "--format", "jpg")
    assert r.exit_code == 0 and (tmp_path / "jpg" / "p.jpg").exists()
    assert "warning:" in r.stderr and "lossy" in r.stderr
    one_line_error(run("inpaint", src, "--mask-dir", masks, "-o", tmp_path / "g", "--format", "gif"), "--format")


def test_batch_refuses_two_images_that_would_write_one_file(tmp_path, photo, box_mask):
    src, masks = _batch(tmp_path, photo, box_mask, names=("a",))
    Image.fromarray(photo).save(src / "a.jpg")
    one_line_error(run("inpaint", src, "--mask-dir", masks, "-o", tmp_path / "out"), "a.jpg and a.png")
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------- modes

def test_outputs_follow_the_umask(tmp_path, photo):
    old = os.umask(0o022)
    try:
        path = io.write_image(tmp_path / "o.png", photo)
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        os.umask(0o002)
        path = io.write_bytes_atomic(tmp_path / "c.bin", b"x")
        assert stat.S_IMODE(path.stat().st_mode) == 0o664
        from holefill.train.checkpoint import save_checkpoint  # checkpoints and study files go the same way

        path = save_checkpoint({"format": "holefill-train", "step": 1}, tmp_path / "run", 1, keep_last=1)
        assert stat.S_IMODE(path.stat().st_mode) == 0o664
    finally:
        os.umask(old)


def test_stale_temporary_files_are_those_of_dead_processes(tmp_path):
    mine = tmp_path / f".o.png.{os.getpid()}.abc.tmp"
    dead = tmp_path / ".o.png.999999999.abc.tmp"
    other = tmp_path / ".p.png.999999999.abc.tmp"
    for p in (mine, dead, other):
        p.write_bytes(b"x")
    assert io.remove_stale_temps(tmp_path, "o.png") == [dead]
    assert mine.exists() and other.exists()
    assert io.remove_stale_temps(tmp_path) == [other]


# ----------------------------------------------------------------------------- everyday options

@pytest.mark.parametrize("command", ["inpaint", "outpaint", "blend", "masks"])
def test_quiet_means_the_same_everywhere(tmp_path, files, command):
    img, mask = files
    args = {"inpaint": ["inpaint", img, "--mask", mask, "-m", "telea"],
            "outpaint": ["outpaint", img, "--left", "8", "-m", "telea"],
            "blend": ["blend", img, img, "--gap", "8", "-m", "telea"],
            "masks": ["masks", "--count", "2", "--size", "32"]}[command]
    suffix = "" if command == "masks" else ".png"
    loud = run(*args, "-o", tmp_path / f"loud{suffix}")
    assert loud.exit_code == 0 and loud.stderr.strip(), loud.output
    quiet = run(*args, "-o", tmp_path / f"quiet{suffix}", "-q")
    assert quiet.exit_code == 0 and quiet.stderr == "", quiet.stderr


def test_help_lists_method_options_and_plain_flags():
    r = run("inpaint", "--help")
    assert r.exit_code == 0
    text = " ".join(r.stdout.split())
    assert "telea: radius=3" in text and "patchmatch: patch_radius=3" in text
    assert "every learned method: strategy=auto" in text
    assert "--blind (the damage finder; defaults: the weights' own): threshold=0.5" in text and "seed=none" in text
    assert "--overwrite Allow" in text and "<bool>" not in text


def test_elapsed_ticker_shows_time_on_a_terminal_only():
    class Terminal(_io.StringIO):
        def isatty(self) -> bool:
            return True

    import time

    term = Terminal()
    with elapsed_ticker("criminisi: filling", stream=term, delay=0.0, interval=0.05):
        time.sleep(0.3)
    assert "criminisi: filling: 0 s" in term.getvalue() and term.getvalue().endswith("\r")
    pipe = _io.StringIO()
    with elapsed_ticker("x", stream=pipe, delay=0.0, interval=0.01):
        time.sleep(0.05)
    assert pipe.getvalue() == ""


def test_readme_python_snippet_runs_twice(tmp_path, photo, monkeypatch):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    snippet = readme.split("```python\n", 1)[1].split("```", 1)[0]
    small = np.ascontiguousarray(photo[:32, :48])
    hole = np.zeros((32, 48), np.uint8)
    hole[10:20, 16:30] = 255
    Image.fromarray(small).save(tmp_path / "photo.jpg")
    Image.fromarray(hole).save(tmp_path / "mask.png")
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        exec(compile(snippet, "README.md", "exec"), {"__name__": "readme", "print": lambda *a, **k: None})
    assert (tmp_path / "filled.png").exists()
