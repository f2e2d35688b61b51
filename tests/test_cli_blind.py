"""``holefill inpaint --blind``, ``bench --blind``, ``methods --task`` and ``inpaint_blind`` through
the CLI runner and the API, on a tiny saved VCNet; bad input gets one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import holefill
from holefill import io
from holefill.blind_pipeline import ModelBlindFiller
from holefill.cli import app
from holefill.errors import InvalidArgumentError, UnknownMethodError
from holefill.fillers import FoundMaskFiller
from holefill.methods import get_blind_filler, get_filler, list_methods
from holefill.models import create_model

runner = CliRunner()


def run(*args: object):  # noqa: ANN201
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result, *needles: str) -> None:  # noqa: ANN001
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    for needle in needles:
        assert needle in errors[0], errors[0]


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("w") / "vcnet"
    create_model("vcnet", cnum=8).save_pretrained(folder)
    return folder


@pytest.fixture
def damaged(tmp_path: Path, photo: np.ndarray) -> tuple[Path, np.ndarray]:
    image = np.ascontiguousarray(photo[:61, :77]).copy()  # not a multiple of 4: the model pads
    image[20:26, 5:70] = (250, 20, 20)
    path = tmp_path / "damaged.png"
    Image.fromarray(image).save(path)
    return path, image


def test_inpaint_blind_writes_result_mask_and_comparison(tmp_path: Path, weights: Path, damaged) -> None:  # noqa: ANN001
    path, image = damaged
    out, mask_out, cmp_ = tmp_path / "o" / "clean.png", tmp_path / "m.png", tmp_path / "cmp.png"
    r = run("inpaint", path, "--blind", "-m", "vcnet", "-w", weights, "-o", out, "--save-mask", mask_out,
            "--compare", cmp_, "--threshold", "0.5")
    assert r.exit_code == 0, r.output
    filled, mask = io.read_image(out), io.read_mask(mask_out)
    expected, found = ModelBlindFiller.from_pretrained(weights).fill_blind(image)
    assert np.array_equal(mask, found) and np.array_equal(filled, expected)
    assert mask.any() and np.array_equal(filled[~mask], image[~mask])
    assert io.read_image(cmp_).shape[1] > 2 * image.shape[1]
    api_filled, api_mask = holefill.inpaint_blind(image, "vcnet", weights=weights)
    assert np.array_equal(api_filled, expected) and np.array_equal(api_mask, found)


def test_blind_with_an_inpainting_method_fills_the_found_mask(tmp_path: Path, weights: Path, damaged) -> None:  # noqa: ANN001
    path, image = damaged
    out = tmp_path / "ns.png"
    r = run("inpaint", path, "--blind", "-m", "ns", "--finder", "vcnet", "--finder-weights", weights, "-o", out,
            "--dilate", "1")
    assert r.exit_code == 0, r.output
    finder = ModelBlindFiller.from_pretrained(weights, dilate=1)
    mask = finder.fill_blind(image)[1]
    assert np.array_equal(io.read_image(out), get_filler("ns").fill(image, mask))
    both = get_blind_filler("ns", finder="vcnet", finder_weights=weights, dilate=1)
    assert isinstance(both, FoundMaskFiller) and both.name == "ns+vcnet"
    assert np.array_equal(holefill.inpaint_blind(image, both)[0], io.read_image(out))


def test_blind_batch_mode(tmp_path: Path, weights: Path, photo: np.ndarray) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.ascontiguousarray(np.roll(photo, 9 * i, axis=0)[:40, :48])).save(folder / f"p{i}.png")
    (folder / "broken.png").write_bytes(b"not a png")
    r = run("inpaint", folder, "--blind", "-m", "vcnet", "-w", weights, "-o", tmp_path / "out", "--save-mask",
            tmp_path / "masks", "-q")
    assert r.exit_code == 2  # one bad file: the others are done, the run reports the failure
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p0.png", "p1.png"]
    assert sorted(p.name for p in (tmp_path / "masks").iterdir()) == ["p0.png", "p1.png"]
    assert sum(line.startswith("error:") for line in r.stderr.splitlines()) == 1


def test_bad_blind_input_is_a_one_line_error(tmp_path: Path, weights: Path, damaged) -> None:  # noqa: ANN001
    path, _ = damaged
    mask = tmp_path / "mask.png"
    Image.fromarray(np.zeros((61, 77), np.uint8)).save(mask)
    out = tmp_path / "x.png"
    one_line_error(run("inpaint", path, "--blind", "--mask", mask, "-o", out, "-m", "vcnet", "-w", weights), "--mask")
    one_line_error(run("inpaint", path, "--blind", "--samples", "2", "-o", out, "-m", "vcnet", "-w", weights),
                   "--samples")
    one_line_error(run("inpaint", path, "--mask", mask, "-o", out, "--save-mask", tmp_path / "m.png"), "--save-mask",
                   "--blind")
    one_line_error(run("inpaint", path, "--blind", "-o", out, "-m", "vcnet", "-w", weights, "--threshold", "1.5"),
                   "threshold")
    one_line_error(run("inpaint", path, "--blind", "-o", out, "-m", "vcnet", "-w", weights, "--dilate", "-2"), "dilate")
    one_line_error(run("inpaint", path, "--blind", "-o", out, "-m", "vcnet", "-w", weights, "-O", "seed=0.3"),
                   "must be above the threshold")
    one_line_error(run("inpaint", path, "--blind", "-o", out, "-m", "ns", "--finder", "vcnet", "--finder-weights", weights,
                       "-O", "seed_pixels=0"), "seed_pixels")
    one_line_error(run("inpaint", path, "--blind", "-o", out, "-m", "ns", "--finder", "telea"), "cannot find damage")
    one_line_error(run("inpaint", path, "--blind", "-o", out, "-m", "vcnet", "-w", weights, "--finder", "vcnet"),
                   "finds the damage itself")
    one_line_error(run("inpaint", path, "--blind", "-o", out, "-m", "nonesuch"), "unknown method")
    one_line_error(run("inpaint", path, "--blind", "-o", out, "-m", "vcnet"), "needs weights")
    one_line_error(run("inpaint", path, "--blind", "-o", path, "-m", "vcnet", "-w", weights), "input")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    one_line_error(run("inpaint", broken, "--blind", "-o", out, "-m", "vcnet", "-w", weights), str(broken))
    with pytest.raises(InvalidArgumentError, match="options"):
        get_blind_filler("vcnet", weights=weights, radius=3)
    with pytest.raises(UnknownMethodError):
        holefill.inpaint_blind(np.zeros((8, 8, 3), np.uint8), "nonesuch")


def test_methods_name_their_tasks() -> None:
    r = run("methods", "--task", "blind")
    assert r.exit_code == 0, r.output
    names = [line.split()[0] for line in r.output.splitlines() if line.strip()]
    assert names == [m.name for m in list_methods(task="blind")] and "vcnet" in names
    assert all("blind" in line for line in r.output.splitlines() if line.strip())
    full = run("methods")
    assert "inpaint" in full.output and "blind,inpaint" in full.output
    one_line_error(run("methods", "--task", "dream"), "unknown task")


def test_bench_blind_report(tmp_path: Path, weights: Path, photo: np.ndarray) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.ascontiguousarray(np.roll(photo, 31 * i, axis=1)[:48, :64])).save(folder / f"{i}.png")
    out = tmp_path / "rep"
    r = run("bench", "--blind", "--images", folder, "--methods", "vcnet", "-w", f"vcnet={weights}", "--references",
            "ns", "--kinds", "text,scratch", "-o", out, "-q")
    assert r.exit_code == 0, r.output
    report = (out / "report.md").read_text()
    assert "holefill-blind-v2" in report and "| input |" in report and "ns (true mask)" in report
    rows = (out / "summary.csv").read_text().splitlines()
    assert {line.split(",")[0] for line in rows[1:]} == {"input", "vcnet", "ns (true mask)"}
    assert {line.split(",")[1] for line in rows[1:]} == {"text", "scratch", "all", "clean"}
    assert {line.split(",")[0] for line in rows[1:] if line.split(",")[1] == "clean"} == {"vcnet"}  # blind only
    assert "marked on clean" in report and "undamaged" in report
    one_line_error(run("bench", "--blind", "--images", folder, "--generate", "--methods", "vcnet", "-w",
                       f"vcnet={weights}"), "--generate")
    one_line_error(run("bench", "--blind", "--images", folder, "--methods", "vcnet", "-w", f"vcnet={weights}",
                       "--kinds", "rain", "-o", tmp_path / "r2"), "rain")
    one_line_error(run("bench", "--images", folder, "--generate", "--kinds", "text"), "--blind")
    one_line_error(run("bench", "--blind", "--images", folder, "--methods", "vcnet", "-w", f"vcnet={weights}",
                       "-o", out), "already holds")
