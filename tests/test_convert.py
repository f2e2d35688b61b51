"""`holefill convert`: official EdgeConnect and PEN-Net checkpoints become weights folders.

The checkpoints are synthetic: random tensors under the official key names and shapes
(tests/data/*_official_keys.json, dumped from the official modules), saved in the official
file layouts (``{'iteration', 'generator'}`` per EdgeConnect model, ``{'netG'}`` for PEN-Net).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from holefill.cli import app
from holefill.errors import (
    InputNotFoundError,
    InvalidArgumentError,
    OutputExistsError,
    UnknownMethodError,
    WeightsError,
)
from holefill.models.registry import load_model
from holefill.models.convert import convert_official, load_official
from holefill.models.edgeconnect import OFFICIAL_EDGE_FILE, OFFICIAL_INPAINT_FILE, remap_official_edgeconnect
from holefill.models.pennet import remap_official_pennet

DATA = Path(__file__).parent / "data"
EDGE_KEYS = json.loads((DATA / "edgeconnect_official_keys.json").read_text())
PENNET_KEYS = json.loads((DATA / "pennet_official_keys.json").read_text())["generator"]


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    """The shared test machine runs these small passes faster on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _random_state(shapes: dict[str, list[int]], seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {k: torch.randn(*s, generator=gen) * 0.05 for k, s in shapes.items()}


@pytest.fixture(scope="module")
def edgeconnect_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An official EdgeConnect model folder (generators and a discriminator, as released)."""
    folder = tmp_path_factory.mktemp("official") / "places2"
    folder.mkdir()
    torch.save({"iteration": 10, "generator": _random_state(EDGE_KEYS["edge_generator"], 1)},
               folder / OFFICIAL_EDGE_FILE)
    torch.save({"iteration": 20, "generator": _random_state(EDGE_KEYS["inpaint_generator"], 2)},
               folder / OFFICIAL_INPAINT_FILE)
    torch.save({"discriminator": {"conv1.0.weight_orig": torch.zeros(64, 2, 4, 4)}}, folder / "EdgeModel_dis.pth")
    return folder


@pytest.fixture(scope="module")
def pennet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pennet") / "gen_00042.pth"
    torch.save({"netG": _random_state(PENNET_KEYS, 3)}, path)
    return path


def test_edgeconnect_files_convert_to_the_official_tensors(edgeconnect_dir: Path, tmp_path: Path) -> None:
    # the two files in the "wrong" order: their official names say which is which
    files = [edgeconnect_dir / OFFICIAL_INPAINT_FILE, edgeconnect_dir / OFFICIAL_EDGE_FILE]
    out = convert_official("edgeconnect", files, tmp_path / "w")
    converted = load_model(out, expect="edgeconnect")
    edge = torch.load(edgeconnect_dir / OFFICIAL_EDGE_FILE)["generator"]
    inpaint = torch.load(edgeconnect_dir / OFFICIAL_INPAINT_FILE)["generator"]
    remapped = remap_official_edgeconnect(edge, inpaint)
    state = converted.state_dict()
    assert set(state) == set(remapped)
    for key, tensor in remapped.items():  # every official tensor landed in its layer
        assert torch.equal(state[key], tensor), key
    meta = json.loads((out / "config.json").read_text())
    assert meta["architecture"] == "edgeconnect"
    source = meta["converted_from"]
    assert source["model"] == "edgeconnect" and source["files"] == [str(f) for f in files]
    assert set(source["sha256"]) == {str(f) for f in files}  # each file read, with its digest
    assert source["sha256"][str(files[0])] == hashlib.sha256(files[0].read_bytes()).hexdigest()
    assert "NON-COMMERCIAL" in (out / "WEIGHTS_LICENCE.txt").read_text()


def test_pennet_file_converts_to_the_official_tensors(pennet_file: Path, tmp_path: Path) -> None:
    out = convert_official("pennet", [pennet_file], tmp_path / "w")
    converted = load_model(out, expect="pennet")
    remapped = remap_official_pennet(torch.load(pennet_file)["netG"])
    state = converted.state_dict()
    assert set(state) == set(remapped)
    for key, tensor in remapped.items():
        assert torch.equal(state[key], tensor), key
    # a folder holding one generator checkpoint works too
    again = load_official("pennet", [pennet_file.parent])
    assert torch.equal(again.state_dict()["down.0.weight"], state["down.0.weight"])


def test_bad_input_is_one_clear_error(edgeconnect_dir: Path, pennet_file: Path, tmp_path: Path) -> None:
    with pytest.raises(UnknownMethodError, match="no converter for 'nosuchmodel'"):
        load_official("nosuchmodel", [pennet_file])
    # another framework's file: say which converters take it
    with pytest.raises(WeightsError, match="is not a TensorFlow 1 checkpoint; it is a PyTorch checkpoint.*"
                                           "convert edgeconnect|pennet"):
        load_official("deepfill_v2", [pennet_file])
    with pytest.raises(WeightsError, match="is not a Torch7 file; it is a PyTorch checkpoint"):
        load_official("glcic", [pennet_file])
    with pytest.raises(InputNotFoundError, match="no such file"):
        load_official("pennet", [tmp_path / "gen_00001.pth"])
    # the wrong model's checkpoint
    with pytest.raises(WeightsError, match="netG.*EdgeConnect checkpoint.*convert edgeconnect"):
        load_official("pennet", [edgeconnect_dir / OFFICIAL_EDGE_FILE])
    with pytest.raises(InvalidArgumentError, match="PEN-Net checkpoint.*convert pennet"):
        load_official("edgeconnect", [pennet_file])
    with pytest.raises(WeightsError, match="discriminator"):
        load_official("edgeconnect", [edgeconnect_dir / "EdgeModel_dis.pth", edgeconnect_dir / OFFICIAL_INPAINT_FILE])
    # leftover keys
    state = _random_state(PENNET_KEYS, 4)
    state["at_conv05.conv00.0.weight"] = torch.zeros(3)
    torch.save({"netG": state}, tmp_path / "gen_00002.pth")
    with pytest.raises(WeightsError, match="1 keys match no PEN-Net layer"):
        load_official("pennet", [tmp_path / "gen_00002.pth"])
    # an EdgeConnect folder missing one generator
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / OFFICIAL_EDGE_FILE).write_bytes((edgeconnect_dir / OFFICIAL_EDGE_FILE).read_bytes())
    with pytest.raises(InputNotFoundError, match=f"no {OFFICIAL_INPAINT_FILE}"):
        load_official("edgeconnect", [tmp_path / "half"])
    # existing weights are not replaced
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "config.json").write_text("{}")
    with pytest.raises(OutputExistsError, match="already holds weights"):
        convert_official("pennet", [pennet_file], tmp_path / "taken")


@pytest.mark.slow
def test_cli_converts_and_inpaint_runs_with_the_result(edgeconnect_dir: Path, pennet_file: Path,
                                                      tmp_path: Path) -> None:
    runner = CliRunner()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "img.png")
    hole = np.zeros((64, 64), np.uint8)
    hole[20:40, 16:48] = 255
    Image.fromarray(hole).save(tmp_path / "mask.png")
    for model, source in (("edgeconnect", edgeconnect_dir), ("pennet", pennet_file)):
        out = tmp_path / f"{model}-weights"
        r = runner.invoke(app, ["convert", model, str(source), "-o", str(out)])
        assert r.exit_code == 0, r.output
        assert (out / "model.safetensors").is_file()
        read = set(json.loads((out / "config.json").read_text())["converted_from"]["sha256"])
        assert read == ({str(edgeconnect_dir / OFFICIAL_EDGE_FILE), str(edgeconnect_dir / OFFICIAL_INPAINT_FILE)}
                        if model == "edgeconnect" else {str(pennet_file)})  # the discriminator was not read
        r = runner.invoke(app, ["inpaint", str(tmp_path / "img.png"), "--mask", str(tmp_path / "mask.png"),
                                "-o", str(tmp_path / f"{model}.png"), "--method", model, "--weights", str(out)])
        assert r.exit_code == 0, r.output
        filled = np.asarray(Image.open(tmp_path / f"{model}.png"))
        original = np.asarray(Image.open(tmp_path / "img.png"))
        assert filled.shape == original.shape
        assert np.array_equal(filled[hole == 0], original[hole == 0])  # known pixels untouched
        assert not np.array_equal(filled[hole > 0], original[hole > 0])
        # a second conversion into the same folder needs --overwrite
        r = runner.invoke(app, ["convert", model, str(source), "-o", str(out)])
        assert r.exit_code == 2 and "already holds weights" in r.output
        assert len(r.output.strip().splitlines()) == 1
    r = runner.invoke(app, ["convert", "pennet", str(pennet_file), "-o", str(tmp_path / "pennet-weights"),
                            "--overwrite"])
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("args, message", [
    (["convert", "pennet", "MISSING/gen_00001.pth"], "no such file or folder"),
    (["convert", "edgeconnect", "GEN"], "PEN-Net checkpoint"),
    (["convert", "pennet", "BAD"], "1 keys match no PEN-Net layer"),
    (["convert", "nosuchmodel", "GEN"], "no converter for 'nosuchmodel'"),
    (["convert", "glcic", "GEN"], "is not a Torch7 file; it is a PyTorch checkpoint"),
])
def test_cli_bad_input_exits_2_with_one_line(args: list[str], message: str, pennet_file: Path,
                                             tmp_path: Path) -> None:
    state = _random_state(PENNET_KEYS, 5)
    state["extra.weight"] = torch.zeros(1)
    torch.save({"netG": state}, tmp_path / "bad.pth")
    paths = {"GEN": str(pennet_file), "BAD": str(tmp_path / "bad.pth")}
    argv = [paths.get(a, a.replace("MISSING", str(tmp_path / "missing"))) for a in args]
    r = CliRunner().invoke(app, argv + ["-o", str(tmp_path / "out")])
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "out").exists()
