"""``holefill inpaint --flow``: the contextual attention drawn as a flow picture, through the CLI
runner on tiny saved models, and one-line errors for methods without attention."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from typer.testing import CliRunner

from holefill import io
from holefill.cli import app
from holefill.pipeline import attention_flow, flow_methods
from holefill.layers.contextual_attention import flow_to_image
from holefill.models import create_model, load_model
from holefill.models.registry import model_entry
from holefill.pipeline import ModelFiller, to_tensor

runner = CliRunner()


def run(*args: object):  # noqa: ANN201
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def files(tmp_path: Path, photo: np.ndarray) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    image = np.ascontiguousarray(photo[:61, :77])  # not a multiple of 8: the model pads
    mask = np.zeros(image.shape[:2], bool)
    mask[18:42, 24:52] = True
    img_path, mask_path = tmp_path / "img.png", tmp_path / "mask.png"
    Image.fromarray(image).save(img_path)
    Image.fromarray(mask.astype(np.uint8) * 255).save(mask_path)
    return img_path, mask_path, image, mask


def _saved(tmp_path: Path, name: str, **cfg: object) -> Path:
    torch.manual_seed(0)
    folder = tmp_path / name
    create_model(name, **cfg).save_pretrained(folder)
    return folder


@pytest.mark.parametrize("name", ["deepfill_v1", "deepfill_v2"])
def test_flow_picture_through_the_cli(tmp_path: Path, files, name: str) -> None:  # noqa: ANN001
    img_path, mask_path, image, mask = files
    weights = _saved(tmp_path, name, cnum=8)
    out, flow = tmp_path / "out.png", tmp_path / "flow.png"
    r = run("inpaint", img_path, "--mask", mask_path, "-o", out, "--method", name, "--weights", weights, "--flow", flow)
    assert r.exit_code == 0, r.output
    picture = io.read_image(flow)
    assert picture.shape == image.shape
    # The same picture by hand: the model's offsets on the padded image, drawn and cropped.
    model = load_model(weights)
    x, m = to_tensor(image.copy(), mask, torch.device("cpu"))
    x, m = F.pad(x, (0, 3, 0, 3), mode="reflect"), F.pad(m, (0, 3, 0, 3), mode="reflect")
    with torch.no_grad():
        offsets = model(x, m, return_flow=True).offsets
    expected = flow_to_image(offsets[0], size=(64, 80))[:61, :77]
    assert np.array_equal(picture, expected)
    assert len(np.unique(picture.reshape(-1, 3), axis=0)) > 1  # offsets differ across the image
    filled = io.read_image(out)
    assert np.array_equal(filled[~mask], image[~mask])


def test_flow_of_a_large_image_is_drawn_at_its_size(files, tmp_path: Path) -> None:  # noqa: ANN001
    _, _, image, mask = files
    model = create_model("deepfill_v1", cnum=8)
    big = np.ascontiguousarray(np.repeat(np.repeat(image, 2, 0), 2, 1))  # 122x154
    big_mask = np.repeat(np.repeat(mask, 2, 0), 2, 1)
    picture = attention_flow(ModelFiller(model, device="cpu", resize_limit=64), big, big_mask)
    assert picture.shape == big.shape and picture.dtype == np.uint8


def test_flow_errors_are_one_line(tmp_path: Path, files) -> None:  # noqa: ANN001
    img_path, mask_path, _, _ = files
    r = run("inpaint", img_path, "--mask", mask_path, "-o", tmp_path / "a.png", "--method", "telea",
            "--flow", tmp_path / "f.png")
    assert r.exit_code == 2
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "telea" in errors[0] and "deepfill_v1" in errors[0], r.stderr
    assert not (tmp_path / "a.png").exists()  # checked before any work
    weights = _saved(tmp_path, "glcic", **model_entry("glcic").tiny)  # a learned model without attention
    r = run("inpaint", img_path, "--mask", mask_path, "-o", tmp_path / "b.png", "--method", "glcic",
            "--weights", weights, "--flow", tmp_path / "f.png")
    assert r.exit_code == 2 and "no contextual attention" in r.stderr and "Traceback" not in r.output
    r = run("inpaint", tmp_path, "--mask-dir", tmp_path, "-o", tmp_path / "outs", "--flow", tmp_path / "f.png")
    assert r.exit_code == 2 and "--flow" in r.stderr


def test_flow_methods_are_the_models_with_attention() -> None:
    names = flow_methods()
    assert {"deepfill_v1", "deepfill_v2", "foreground_aware"} <= set(names)
    assert "glcic" not in names and "edgeconnect" not in names
