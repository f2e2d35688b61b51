"""Official TensorFlow 1 and Torch7 checkpoints: the readers, the converters, numerical parity.

Every checkpoint here is synthetic and written by the tests' own writers (tests/tf1_writer.py,
tests/torch7_writer.py) in the official formats, with the official variable names and shapes
(tests/deepfill_tf_reference.py, tests/torch7_reference.py, transcribed from the authors'
code). Parity: the converted model on RGB input equals a reference forward pass written from
the official graph's operations (TF SAME padding, gated or plain ELU, align-corners resizes,
BGR colour; Torch7's modules with the mean subtraction and BatchNorm statistics) to 1e-4.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from deepfill_tf_reference import official_variables, random_variables, reference_forward
from holefill.errors import InputNotFoundError, WeightsError
from holefill.formats.crc32c import crc32c
from holefill.formats.tf_bundle import open_checkpoint, resolve_checkpoint
from holefill.formats.torch7 import TorchObject, load_t7, lua_list
from holefill.models.registry import load_model
from holefill.models.convert import convert_checkpoint, convert_official
from tf1_writer import crc32c_bitwise, write_checkpoint
from torch7_reference import context_encoder_network, glcic_network, torch7_forward
from torch7_writer import Module, SharedTensor, Storage, sequential, write_t7

TOL = 1e-4


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _training_extras(shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """What a released training checkpoint holds beside the generator."""
    kernel = shapes["inpaint_net/conv1/kernel"]
    return {"discriminator/discriminator_global/conv1/kernel": np.zeros((5, 5, 3, 8), np.float32),
            "inpaint_net/conv1/kernel/Adam": np.zeros(kernel, np.float32),
            "inpaint_net/conv1/kernel/Adam_1": np.zeros(kernel, np.float32),
            "beta1_power": np.array(0.9, np.float32), "global_step": np.array(1000, np.int64)}


def _deepfill_folder(root: Path, version: str, cnum: int, seed: int, guided: bool = False,
                     extras: bool = True) -> tuple[Path, dict[str, np.ndarray]]:
    """A released-model folder: checkpoint file + snap-0 bundle, as the DeepFill downloads."""
    shapes = official_variables(version, cnum, guided)
    variables = random_variables(shapes, seed)
    folder = root / f"{version}-{cnum}-{seed}"
    folder.mkdir()
    write_checkpoint(folder / "snap-0", {**variables, **(_training_extras(shapes) if extras else {})},
                     block_size=1024)
    (folder / "checkpoint.txt").write_text('model_checkpoint_path: "snap-0"\nall_model_checkpoint_paths: "snap-0"\n')
    return folder, variables


# -- the readers ---------------------------------------------------------------------------------

def test_crc32c_matches_the_definition() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the standard check value of CRC-32C
    rng = np.random.default_rng(0)
    for n in (0, 3, 4095, 4096, 70_001):  # both sides of the vectorised path's threshold
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert crc32c(data) == crc32c_bitwise(data), n


def test_tf_bundle_reads_what_the_format_holds(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    tensors = {f"net/layer{i:02d}/kernel": rng.standard_normal((3, 3, i % 5 + 1, 4)).astype(np.float32)
               for i in range(40)}  # enough entries for several blocks and restart points
    tensors.update({"global_step": np.array(12345, np.int64), "half": np.arange(7, dtype=np.float16),
                    "net/bytes": np.arange(9, dtype=np.uint8).reshape(3, 3)})
    prefix = write_checkpoint(tmp_path / "model.ckpt-5", tensors, block_size=256)
    ckpt = open_checkpoint(prefix)
    assert set(ckpt.names()) == set(tensors)
    for name, value in tensors.items():
        got = ckpt.read(name)
        assert got.dtype == value.dtype and got.shape == value.shape and np.array_equal(got, value), name
    # every way to name the checkpoint leads to the same prefix
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "/elsewhere/model.ckpt-5"\n')
    for path in (tmp_path, prefix, Path(f"{prefix}.index"), Path(f"{prefix}.data-00000-of-00001"),
                 Path(f"{prefix}.meta"), tmp_path / "checkpoint"):
        assert resolve_checkpoint(path) == prefix, path


def test_tf_bundle_damage_is_one_clear_error(tmp_path: Path) -> None:
    prefix = write_checkpoint(tmp_path / "snap", {"a": np.arange(5000, dtype=np.float32),
                                                   "b": np.ones((4, 4), np.float32)}, crc_limit=1 << 20)
    data = Path(f"{prefix}.data-00000-of-00001")
    raw = bytearray(data.read_bytes())
    raw[100] ^= 0xFF
    data.write_bytes(bytes(raw))
    ckpt = open_checkpoint(prefix)
    with pytest.raises(WeightsError, match="a: fails its checksum"):
        ckpt.read("a")
    assert ckpt.read("b").sum() == 16  # the other tensor is fine
    data.write_bytes(bytes(raw[:19_000]))
    with pytest.raises(WeightsError, match="runs past the end .*truncated"):
        ckpt.read("b")
    index = Path(f"{prefix}.index")
    table = bytearray(index.read_bytes())
    table[-1] ^= 1
    index.write_bytes(bytes(table))
    with pytest.raises(WeightsError, match="not a TensorFlow checkpoint index .*magic"):
        open_checkpoint(prefix)
    table[-1] ^= 1
    table[10] ^= 0x40  # inside the first block: its CRC no longer matches
    index.write_bytes(bytes(table))
    with pytest.raises(WeightsError, match="fails its checksum"):
        open_checkpoint(prefix)
    with pytest.raises(InputNotFoundError, match="no such file"):
        resolve_checkpoint(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputNotFoundError, match="no TensorFlow checkpoint"):
        resolve_checkpoint(tmp_path / "empty")


def test_torch7_reader_reads_tables_objects_and_shared_storage(tmp_path: Path) -> None:
    flat = Storage(np.arange(60, dtype=np.float32))
    weight = SharedTensor(flat, 10, (2, 3, 2, 2))  # a view into one storage, as after getParameters()
    bias = SharedTensor(flat, 40, (2,))
    conv = Module("nn.SpatialConvolution", {"weight": weight, "bias": bias, "kW": 2, "train": False})
    net = sequential([conv, sequential([Module("nn.ReLU", {"inplace": True})])])
    write_t7(tmp_path / "x.t7", {"model": net, "mean": np.array([0.5, 0.25, 0.125]), "name": "glcic",
                                  "again": net, "n": 3})
    obj = load_t7(tmp_path / "x.t7")
    assert isinstance(obj["model"], TorchObject) and obj["again"] is obj["model"]  # references resolve
    first, inner = lua_list(obj["model"]["modules"])
    assert first.class_name == "nn.SpatialConvolution" and first["kW"] == 2.0 and first["train"] is False
    assert np.array_equal(first["weight"], np.arange(10, 34, dtype=np.float32).reshape(2, 3, 2, 2))
    assert np.array_equal(first["bias"], [40.0, 41.0])
    assert lua_list(inner["modules"])[0].class_name == "nn.ReLU"
    assert obj["mean"].dtype == np.float64 and obj["name"] == "glcic" and obj["n"] == 3.0


def test_torch7_reader_refuses_code_and_damage(tmp_path: Path) -> None:
    function = struct.pack("<iii", 6, 1, 4) + b"\x1bLua"
    (tmp_path / "f.t7").write_bytes(function)
    with pytest.raises(WeightsError, match="Lua function.*never runs code"):
        load_t7(tmp_path / "f.t7")
    write_t7(tmp_path / "ok.t7", {"w": np.ones((64, 64), np.float32)})
    raw = (tmp_path / "ok.t7").read_bytes()
    (tmp_path / "cut.t7").write_bytes(raw[:-100])
    with pytest.raises(WeightsError, match="is not a Torch7 file .*past the end"):
        load_t7(tmp_path / "cut.t7")


# -- DeepFill v1 / v2 (TensorFlow 1) ---------------------------------------------------------------

def _image_and_mask(seed: int, h: int = 24, w: int = 32) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.uniform(-1, 1, (h, w, 3)).astype(np.float32)
    mask = np.zeros((h, w), np.float32)
    mask[6:16, 8:22] = 1
    return image, mask


def _run(model: torch.nn.Module, image: np.ndarray, mask: np.ndarray, **kw: Any) -> Any:
    with torch.no_grad():
        return model(torch.from_numpy(image).permute(2, 0, 1)[None], torch.from_numpy(mask)[None, None], **kw)


@pytest.mark.parametrize("version", ["deepfill_v1", "deepfill_v2"])
def test_deepfill_conversion_matches_the_official_graph(version: str, tmp_path: Path) -> None:
    folder, variables = _deepfill_folder(tmp_path, version, cnum=8, seed=3)
    converted = convert_checkpoint(version, [folder])
    report = dict(line.split(" (", 1) for line in converted.report.lines()[1:])
    assert converted.report.used == len(variables) == 84
    assert set(report) == {"left out 2", "left out 1"}  # Adam slots; the critic; counters below
    assert len(converted.report.skipped["optimiser state"]) == 2
    assert converted.report.skipped["training counters"] == ["beta1_power", "global_step"]
    assert converted.carried["cnum"] == 8
    image, mask = _image_and_mask(4)
    stage1, stage2 = reference_forward(variables, version, image[..., ::-1], mask)  # the official net sees BGR
    out = _run(converted.model, image, mask)
    ours1 = out.coarse[0].permute(1, 2, 0).numpy()[..., ::-1]
    ours2 = out.output[0].permute(1, 2, 0).numpy()[..., ::-1]
    assert np.abs(stage2).mean() > 0.05  # the weights give a real signal, not a vanishing one
    assert np.abs(ours1 - stage1).max() < TOL
    assert np.abs(ours2 - stage2).max() < TOL
    # the colour flip matters: the same weights read as RGB would be far off
    _, unflipped = reference_forward(variables, version, image, mask)
    assert np.abs(ours2 - unflipped[..., ::-1]).max() > 100 * TOL


def test_deepfill_v2_guided_mode_is_read_from_the_shapes(tmp_path: Path) -> None:
    folder, variables = _deepfill_folder(tmp_path, "deepfill_v2", cnum=8, seed=5, guided=True, extras=False)
    converted = convert_checkpoint("deepfill_v2", [folder])
    assert converted.carried == {"cnum": 8, "use_guidance": True}
    image, mask = _image_and_mask(6)
    guide = (np.random.default_rng(7).random(mask.shape) > 0.7).astype(np.float32)
    _, stage2 = reference_forward(variables, "deepfill_v2", image[..., ::-1], mask, guide)
    out = _run(converted.model, image, mask, guidance=torch.from_numpy(guide)[None, None])
    assert np.abs(out.output[0].permute(1, 2, 0).numpy()[..., ::-1] - stage2).max() < TOL


@pytest.mark.parametrize("version, cnum, params", [("deepfill_v1", 32, 3_601_542), ("deepfill_v2", 48, 4_052_478)])
def test_deepfill_official_sizes_convert(version: str, cnum: int, params: int, tmp_path: Path) -> None:
    """The released width: every official variable finds its layer (counts from the docstrings)."""
    folder, variables = _deepfill_folder(tmp_path, version, cnum=cnum, seed=8, extras=False)
    assert sum(v.size for v in variables.values()) == params
    model = convert_checkpoint(version, [folder / "snap-0.index"]).model
    assert model.num_parameters() == params and model.config.cnum == cnum


def test_deepfill_wrong_or_damaged_checkpoints(tmp_path: Path) -> None:
    v2_folder, variables = _deepfill_folder(tmp_path, "deepfill_v2", cnum=8, seed=9, extras=False)
    with pytest.raises(WeightsError, match="looks like a deepfill_v2 checkpoint, not deepfill_v1: use holefill "
                                           "convert deepfill_v2"):
        convert_checkpoint("deepfill_v1", [v2_folder])
    odd = dict(variables)
    odd["inpaint_net/conv99/kernel"] = np.zeros((3, 3, 4, 4), np.float32)
    del odd["inpaint_net/pmconv9/bias"]
    write_checkpoint(tmp_path / "odd", odd)
    with pytest.raises(WeightsError, match="1 official variables missing .*pmconv9/bias.*1 inpaint_net variables "
                                           "match no layer .*conv99"):
        convert_checkpoint("deepfill_v2", [tmp_path / "odd"])
    bad = dict(variables)
    bad["inpaint_net/conv3/kernel"] = np.zeros((3, 3, 4, 12), np.float32)
    write_checkpoint(tmp_path / "bad", bad)
    with pytest.raises(WeightsError, match=r"inpaint_net/conv3/kernel has shape \[3, 3, 4, 12\], the layer needs "
                                           r"\[3, 3, 8, 16\]"):
        convert_checkpoint("deepfill_v2", [tmp_path / "bad"])
    write_checkpoint(tmp_path / "other", {"generator/conv1/kernel": np.zeros((3, 3, 3, 8), np.float32)})
    with pytest.raises(WeightsError, match="holds no inpaint_net/ variables"):
        convert_checkpoint("deepfill_v1", [tmp_path / "other"])
    write_checkpoint(tmp_path / "vcnet", {"blind_inpaint_net/cmp_output/kernel": np.zeros((3, 3, 8, 3), np.float32)})
    with pytest.raises(WeightsError, match="looks like a vcnet checkpoint"):
        convert_checkpoint("deepfill_v2", [tmp_path / "vcnet"])
    write_t7(tmp_path / "glcic.t7", {"model": glcic_network(4, 0), "mean": np.zeros(3)})
    with pytest.raises(WeightsError, match="it is a Torch7 file.*convert glcic|context_encoder"):
        convert_checkpoint("deepfill_v2", [tmp_path / "glcic.t7"])


# -- GLCIC and Context Encoder (Torch7) -------------------------------------------------------------

@pytest.mark.parametrize("old_std", [False, True])
def test_glcic_conversion_matches_the_official_network(old_std: bool, tmp_path: Path) -> None:
    net = glcic_network(8, seed=10, old_std=old_std)
    mean = np.array([0.4560, 0.4407, 0.4046], np.float64)
    write_t7(tmp_path / "completionnet_places2.t7", {"model": net, "mean": mean})
    converted = convert_checkpoint("glcic", [tmp_path / "completionnet_places2.t7"])
    assert converted.model.config.pixel_mean == pytest.approx(tuple(mean))
    image, mask = _image_and_mask(11)
    # inpaint.lua: RGB in [0, 1] minus the mean, the hole set to 0, the mask as a 4th channel
    x = ((image + 1) / 2 - mean) * (1 - mask[..., None])
    x = np.concatenate([x, mask[..., None]], axis=-1).transpose(2, 0, 1)[None]
    expected = torch7_forward(net, torch.from_numpy(x)).numpy()[0]
    ours = (_run(converted.model, image, mask).output[0].numpy() + 1) / 2
    assert expected.std() > 0.01
    assert np.abs(ours - expected).max() < TOL


def test_context_encoder_conversion_matches_the_official_network(tmp_path: Path) -> None:
    net = context_encoder_network(12, image_size=32, n_bottleneck=16, nef=8, ngf=8, old_std=True)
    write_t7(tmp_path / "paris_inpaintCenter.t7", net)
    converted = convert_checkpoint("context_encoder", [tmp_path / "paris_inpaintCenter.t7"])
    assert converted.carried == {"image_size": 32, "mode": "center", "bottleneck": "conv", "n_bottleneck": 16,
                                 "nef": 8, "ngf": 8}
    image, mask = _image_and_mask(13, 32, 32)
    fill = np.array([2 * 117 / 255 - 1, 2 * 104 / 255 - 1, 2 * 123 / 255 - 1])  # test.lua's mean-pixel fill
    x = (image * (1 - mask[..., None]) + fill * mask[..., None]).transpose(2, 0, 1)[None]
    expected = torch7_forward(net, torch.from_numpy(x)).numpy()[0]
    ours = _run(converted.model, image, mask).prediction[0].numpy()
    assert expected.std() > 0.01
    assert np.abs(ours - expected).max() < TOL


def test_torch7_wrong_files_are_one_clear_error(tmp_path: Path) -> None:
    write_t7(tmp_path / "ce.t7", context_encoder_network(0, image_size=32, n_bottleneck=8, nef=4, ngf=4))
    write_t7(tmp_path / "glcic.t7", {"model": glcic_network(4, 0), "mean": np.zeros(3)})
    with pytest.raises(WeightsError, match="looks like a context_encoder model, not glcic"):
        convert_checkpoint("glcic", [tmp_path / "ce.t7"])
    with pytest.raises(WeightsError, match="looks like a glcic model, not context_encoder"):
        convert_checkpoint("context_encoder", [tmp_path / "glcic.t7"])
    no_mean = glcic_network(4, 0)
    write_t7(tmp_path / "nomean.t7", {"model": no_mean, "means": [0.5, 0.5, 0.5]})
    with pytest.raises(WeightsError, match="has no 'mean' entry"):
        convert_checkpoint("glcic", [tmp_path / "nomean.t7"])
    wrong = glcic_network(4, 0)
    wrong.fields["modules"][3].fields["dH"] = 1  # the second conv is strided in Table 1
    write_t7(tmp_path / "wrong.t7", {"model": wrong, "mean": np.zeros(3)})
    with pytest.raises(WeightsError, match="module 4 .*has dH=1; the official layout has 2"):
        convert_checkpoint("glcic", [tmp_path / "wrong.t7"])
    noise = Module("nn.Sequential", {"modules": [Module("nn.ParallelTable", {"modules": []})]})
    write_t7(tmp_path / "noise.t7", noise)
    with pytest.raises(WeightsError, match="ParallelTable.*noiseGen"):
        convert_checkpoint("context_encoder", [tmp_path / "noise.t7"])


# -- the weights folder ----------------------------------------------------------------------------

def test_converted_folder_records_its_source_and_licence(tmp_path: Path) -> None:
    folder, _ = _deepfill_folder(tmp_path, "deepfill_v1", cnum=8, seed=14)
    lines: list[str] = []
    out = convert_official("deepfill_v1", [folder], tmp_path / "weights", echo=lines.append)
    meta = json.loads((out / "config.json").read_text())["converted_from"]
    index = str(folder / "snap-0.index")
    assert set(meta["sha256"]) == {index, str(folder / "snap-0.data-00000-of-00001")}
    assert meta["report"] == {"used": 84, "left_out": {"optimiser state": 2, "the discriminator, not needed to fill": 1,
                                                       "training counters": 2}}
    assert meta["settings_from_file"] == {"cnum": 8}
    note = (out / "WEIGHTS_LICENCE.txt").read_text()
    assert "CC BY-NC 4.0" in note and "NON-COMMERCIAL" in note and index in note
    assert any("NON-COMMERCIAL" in line for line in lines) and lines[0] == "used 84 tensors"
    reloaded = load_model(out, expect="deepfill_v1")  # an ordinary weights folder
    image, mask = _image_and_mask(15)
    assert torch.equal(_run(reloaded, image, mask).output, _run(convert_checkpoint("deepfill_v1", [folder]).model,
                                                               image, mask).output)
    t7 = tmp_path / "completionnet_celeba.t7"
    write_t7(t7, {"model": glcic_network(4, 1), "mean": np.array([0.5, 0.4, 0.3])})
    out = convert_official("glcic", [t7], tmp_path / "glcic-weights")
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["pixel_mean"] == pytest.approx([0.5, 0.4, 0.3])  # no flag needed at inference
    assert "CC BY-NC-SA 4.0" in (out / "WEIGHTS_LICENCE.txt").read_text()


@pytest.mark.slow
def test_cli_converts_all_four_and_inpaint_fills_with_them(tmp_path: Path) -> None:
    from PIL import Image
    from typer.testing import CliRunner

    from holefill.cli import app

    runner = CliRunner()
    rng = np.random.default_rng(16)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "img.png")
    hole = np.zeros((64, 64), np.uint8)
    hole[24:40, 20:44] = 255
    Image.fromarray(hole).save(tmp_path / "mask.png")
    v1, _ = _deepfill_folder(tmp_path, "deepfill_v1", cnum=8, seed=17)
    v2, _ = _deepfill_folder(tmp_path, "deepfill_v2", cnum=8, seed=18)
    write_t7(tmp_path / "completionnet_places2.t7", {"model": glcic_network(8, 19), "mean": np.array([.45, .44, .40])})
    write_t7(tmp_path / "imagenet_inpaintCenter.t7",
             context_encoder_network(20, image_size=32, n_bottleneck=16, nef=8, ngf=8))
    sources = {"deepfill_v1": v1, "deepfill_v2": v2, "glcic": tmp_path / "completionnet_places2.t7",
               "context_encoder": tmp_path / "imagenet_inpaintCenter.t7"}
    original = np.asarray(Image.open(tmp_path / "img.png"))
    for model, source in sources.items():
        out = tmp_path / f"{model}-weights"
        r = runner.invoke(app, ["convert", model, str(source), "-o", str(out)])
        assert r.exit_code == 0, r.output
        assert (out / "WEIGHTS_LICENCE.txt").is_file()
        r = runner.invoke(app, ["inpaint", str(tmp_path / "img.png"), "--mask", str(tmp_path / "mask.png"),
                                "-o", str(tmp_path / f"{model}.png"), "--method", model, "--weights", str(out)])
        assert r.exit_code == 0, r.output
        filled = np.asarray(Image.open(tmp_path / f"{model}.png"))
        assert filled.shape == original.shape
        assert np.array_equal(filled[hole == 0], original[hole == 0]), model  # known pixels untouched
        assert not np.array_equal(filled[hole > 0], original[hole > 0]), model
    r = runner.invoke(app, ["convert", "glcic", str(v1), "-o", str(tmp_path / "nope")])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert "TensorFlow 1 checkpoint" in r.output and "deepfill_v1|deepfill_v2|vcnet" in r.output, r.output
