"""The official VCNet TF1 checkpoint: variable list, conversion, numerical parity, strictness, CLI.

The checkpoints are synthetic, written by tests/tf1_writer.py with the official names and
shapes (net/generator.py and net/ops.py of shepnerd/blindinpainting_vcnet, transcribed in
``holefill.models.convert_tf.vcnet_official_variables`` and checked by hand below). Parity: the
converted model equals tests/vcnet_tf_reference.py, the official graph's operations written
out on NHWC arrays, to 1e-4, blind (the predicted mask drives the normalisations) and with a
given mask.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from deepfill_tf_reference import official_variables, random_variables
from tf1_writer import write_checkpoint
from torch7_reference import glcic_network
from torch7_writer import write_t7
from typer.testing import CliRunner
from vcnet_tf_reference import reference_forward

from holefill.errors import WeightsError
from holefill.models.convert import convert_checkpoint
from holefill.models.convert_tf import read_vcnet_checkpoint, vcnet_official_variables
from holefill.models.registry import load_model
from holefill.models.vcnet import official_variable_map

TOL = 1e-4
SCOPE = "blind_inpaint_net"


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _training_extras(shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """What a training checkpoint of the official trainer holds beside the generator."""
    kernel = shapes[f"{SCOPE}/cmp_conv1/c1/kernel"]
    return {"discriminator/disc_global/conv1/kernel": np.zeros((5, 5, 3, 8), np.float32),
            "discriminator/discriminator_local/conv1/kernel": np.zeros((5, 5, 3, 8), np.float32),
            f"{SCOPE}/cmp_conv1/c1/kernel/Adam": np.zeros(kernel, np.float32),
            f"{SCOPE}/cmp_conv1/c1/kernel/Adam_1": np.zeros(kernel, np.float32),
            "beta1_power": np.array(0.9, np.float32), "global_step": np.array(1000, np.int64)}


def _vcnet_folder(root: Path, cnum: int, seed: int, extras: bool = True,
                  variables: dict[str, np.ndarray] | None = None) -> tuple[Path, dict[str, np.ndarray]]:
    """A model folder as test.py's --load_model_dir reads it: a checkpoint file and a snap bundle.
    Random weights of gain 1 keep the fill mostly inside [-1, 1] and the predicted mask mixed."""
    shapes = vcnet_official_variables(cnum)
    if variables is None:
        variables = random_variables(shapes, seed, gain=1.0)
    folder = root / f"vcnet-{cnum}-{seed}"
    folder.mkdir()
    write_checkpoint(folder / "snap-10000", {**variables, **(_training_extras(shapes) if extras else {})},
                     block_size=1024)
    (folder / "checkpoint").write_text('model_checkpoint_path: "snap-10000"\n')
    return folder, variables


def _image(seed: int, h: int = 32, w: int = 40) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (h, w, 3)).astype(np.float32)


def _hwc(t: torch.Tensor) -> np.ndarray:
    return t[0].permute(1, 2, 0).numpy()


def test_official_variable_list_matches_the_graph_and_the_model() -> None:
    shapes = vcnet_official_variables(32)
    assert len(shapes) == 2 * 64  # 64 convs: 21 in the mask branch, 43 in the inpainting branch
    assert shapes[f"{SCOPE}/mask_conv2/c1/kernel"] == (5, 5, 3, 64)
    assert shapes[f"{SCOPE}/mask_conv2/c3/kernel"] == (1, 1, 3, 64)  # resblock's 1x1 shortcut
    assert shapes[f"{SCOPE}/mask_conv8/kernel"] == (3, 3, 128, 128)  # on mask_conv4_atrous's output
    assert shapes[f"{SCOPE}/mask_output/kernel"] == (3, 3, 16, 1)
    assert shapes[f"{SCOPE}/cmp_conv1/c1/kernel"] == (5, 5, 3, 32)
    assert shapes[f"{SCOPE}/cmp_compress_conv1/kernel"] == (3, 3, 32 + 128, 32)  # xb1 + upsampled mask feats
    assert f"{SCOPE}/cmp_conv5_atrous/c3/kernel" not in shapes  # the 'old' branch has no shortcut
    assert shapes[f"{SCOPE}/cmp_output/kernel"] == (3, 3, 16, 3)
    assert sum(int(np.prod(s)) for s in shapes.values()) == 3_789_892  # the generator.py count (tests/test_vcnet.py)
    # the list (from the TF code) and the model's map (from its modules) name the same variables,
    # and every shape is the model's, kernels HWIO <-> OIHW
    from holefill.models import create_model

    for cnum in (8, 32):
        model = create_model("vcnet", cnum=cnum, pcn="fixed")
        mapping = official_variable_map(model.config)
        state = model.state_dict()
        assert set(mapping) == set(vcnet_official_variables(cnum))
        for name, shape in vcnet_official_variables(cnum).items():
            key, transform = mapping[name]
            expected = (shape[3], shape[2], shape[0], shape[1]) if transform == "conv" else shape
            assert tuple(state[key].shape) == expected, name


def test_vcnet_conversion_matches_the_official_graph(tmp_path: Path) -> None:
    folder, variables = _vcnet_folder(tmp_path, cnum=8, seed=0)
    converted = convert_checkpoint("vcnet", [folder])
    assert converted.report.used == len(variables) == 128
    assert converted.report.skipped == {
        "the discriminators, not needed to fill": ["discriminator/disc_global/conv1/kernel",
                                                   "discriminator/discriminator_local/conv1/kernel"],
        "optimiser state": [f"{SCOPE}/cmp_conv1/c1/kernel/Adam", f"{SCOPE}/cmp_conv1/c1/kernel/Adam_1"],
        "training counters": ["beta1_power", "global_step"]}
    assert converted.carried == {"cnum": 8, "pcn": "fixed"}
    model = converted.model
    assert model.config.rho == 0.5 and model.config.use_cn and not model.config.embrace and model.config.rin_cnum is None
    image = _image(1)
    ref = reference_forward(variables, image)
    with torch.no_grad():
        out = model(torch.from_numpy(image).permute(2, 0, 1)[None])
    predicted = ref["mask_pred"]
    assert 0.3 < ((predicted > 0) & (predicted < 1)).mean() and ref["fill"].std() > 0.1  # a real signal, a soft mask
    assert np.abs(_hwc(out.mask_logits) - ref["mask_logit"]).max() < TOL
    assert np.abs(_hwc(out.fill) - ref["fill"]).max() < TOL
    assert np.abs(_hwc(out.output) - ref["complete"]).max() < TOL
    # the context normalisation matters here: without it (rho 0) the official fill is far off
    assert np.abs(_hwc(out.fill) - reference_forward(variables, image, rho=0.0)["fill"]).max() > 100 * TOL
    # a given mask (the official --phase acc) drives the normalisations instead
    hole = np.zeros(image.shape[:2], np.float32)
    hole[8:20, 10:30] = 1
    given = reference_forward(variables, image, hole)
    with torch.no_grad():
        out = model(torch.from_numpy(image).permute(2, 0, 1)[None], torch.from_numpy(hole)[None, None])
    assert np.abs(_hwc(out.fill) - given["fill"]).max() < TOL
    assert np.abs(given["fill"] - ref["fill"]).max() > 100 * TOL


def test_vcnet_released_size_converts(tmp_path: Path) -> None:
    """g_cnum 32 (test_options.py): every official variable finds its parameter."""
    folder, variables = _vcnet_folder(tmp_path, cnum=32, seed=2, extras=False)
    model = convert_checkpoint("vcnet", [folder / "snap-10000.index"]).model
    assert model.num_parameters() == sum(v.size for v in variables.values()) == 3_789_892
    kernel = variables[f"{SCOPE}/mask_conv3/c1/kernel"]
    assert torch.equal(model.mpn.mask_conv3.c1.weight, torch.from_numpy(kernel).permute(3, 2, 0, 1))


def test_vcnet_wrong_or_damaged_checkpoints(tmp_path: Path) -> None:
    shapes = vcnet_official_variables(8)
    variables = random_variables(shapes, 3)
    odd = dict(variables)
    del odd[f"{SCOPE}/cmp_deconv9/c2/bias"]
    odd[f"{SCOPE}/cmp_conv99/c1/kernel"] = np.zeros((3, 3, 4, 4), np.float32)
    write_checkpoint(tmp_path / "odd", odd)
    with pytest.raises(WeightsError) as err:
        convert_checkpoint("vcnet", [tmp_path / "odd"])
    message = str(err.value)
    assert "\n" not in message
    assert "1 official variables missing (e.g. blind_inpaint_net/cmp_deconv9/c2/bias)" in message
    assert "1 blind_inpaint_net variables match no layer (e.g. blind_inpaint_net/cmp_conv99/c1/kernel" in message
    bad = dict(variables)
    bad[f"{SCOPE}/mask_deconv9/c1/kernel"] = np.zeros((3, 3, 16, 8), np.float32)
    write_checkpoint(tmp_path / "bad", bad)
    with pytest.raises(WeightsError, match=r"mask_deconv9/c1/kernel has shape \[3, 3, 16, 8\], the graph needs "
                                           r"\[3, 3, 32, 16\]"):
        convert_checkpoint("vcnet", [tmp_path / "bad"])
    # the official options whose graphs we do not build say so
    se = {**variables, f"{SCOPE}/cmp_conv1/cn_se/fc1/weights": np.zeros((8, 1), np.float32)}
    write_checkpoint(tmp_path / "se", se)
    with pytest.raises(WeightsError, match="--cn_type se, which the official code cannot build"):
        convert_checkpoint("vcnet", [tmp_path / "se"])
    old = {n: v for n, v in variables.items() if not (n.startswith(f"{SCOPE}/cmp_") and "/c3/" in n)}
    write_checkpoint(tmp_path / "old", old)
    with pytest.raises(WeightsError, match="no 1x1 shortcuts .*--cn_type old"):
        convert_checkpoint("vcnet", [tmp_path / "old"])
    # any even width converts (the SE ratio's limit does not apply to pcn: fixed); an odd one cannot
    write_checkpoint(tmp_path / "narrow", random_variables(vcnet_official_variables(2), 3))
    assert convert_checkpoint("vcnet", [tmp_path / "narrow"]).carried["cnum"] == 2
    write_checkpoint(tmp_path / "odd_width", random_variables(vcnet_official_variables(5), 3))
    with pytest.raises(WeightsError, match="has shapes no vcnet can have .*cnum"):
        convert_checkpoint("vcnet", [tmp_path / "odd_width"])
    # checkpoints of other models name the converter that takes them
    v2 = tmp_path / "v2"
    v2.mkdir()
    write_checkpoint(v2 / "snap-0", random_variables(official_variables("deepfill_v2", 8), 4))
    with pytest.raises(WeightsError, match="looks like a deepfill_v2 checkpoint, not vcnet: use holefill convert "
                                           "deepfill_v2"):
        convert_checkpoint("vcnet", [v2 / "snap-0"])
    write_checkpoint(tmp_path / "vcnet", variables)
    with pytest.raises(WeightsError, match="looks like a vcnet checkpoint, not deepfill_v1: use holefill convert vcnet"):
        convert_checkpoint("deepfill_v1", [tmp_path / "vcnet"])
    write_t7(tmp_path / "glcic.t7", {"model": glcic_network(4, 0), "mean": np.zeros(3)})
    with pytest.raises(WeightsError, match="it is a Torch7 file.*convert glcic|context_encoder"):
        convert_checkpoint("vcnet", [tmp_path / "glcic.t7"])
    write_checkpoint(tmp_path / "other", {"generator/conv1/kernel": np.zeros((3, 3, 3, 8), np.float32)})
    with pytest.raises(WeightsError, match="has no blind_inpaint_net/cmp_conv1/c1/kernel"):
        read_vcnet_checkpoint(tmp_path / "other")


def test_cli_converts_vcnet_and_inpaint_blind_uses_it(tmp_path: Path) -> None:
    from PIL import Image

    from holefill.cli import app

    runner = CliRunner()
    folder, _ = _vcnet_folder(tmp_path, cnum=8, seed=5)
    out = tmp_path / "vcnet-weights"
    r = runner.invoke(app, ["convert", "vcnet", str(folder), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "used 128 tensors" in r.output and "MIT" in r.output and "FFHQ" in r.output and "--blind" in r.output
    meta = json.loads((out / "config.json").read_text())
    index = str(folder / "snap-10000.index")
    assert set(meta["converted_from"]["sha256"]) == {index, str(folder / "snap-10000.data-00000-of-00001")}
    assert meta["converted_from"]["settings_from_file"] == {"cnum": 8, "pcn": "fixed"}
    assert meta["config"]["pcn"] == "fixed" and meta["config"]["cnum"] == 8
    note = (out / "WEIGHTS_LICENCE.txt").read_text()
    assert "MIT" in note and "CelebA" in note and index in note
    reloaded = load_model(out, expect="vcnet")  # an ordinary weights folder
    converted = convert_checkpoint("vcnet", [folder]).model
    image = torch.from_numpy(_image(6)).permute(2, 0, 1)[None]
    with torch.no_grad():
        assert torch.equal(reloaded(image).output, converted(image).output)

    rng = np.random.default_rng(7)
    photo = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    photo[20:24, 4:60] = (250, 20, 20)
    Image.fromarray(photo).save(tmp_path / "damaged.png")
    r = runner.invoke(app, ["inpaint", str(tmp_path / "damaged.png"), "--blind", "-m", "vcnet", "--weights", str(out),
                            "-o", str(tmp_path / "clean.png"), "--save-mask", str(tmp_path / "found.png")])
    assert r.exit_code == 0, r.output
    filled = np.asarray(Image.open(tmp_path / "clean.png"))
    found = np.asarray(Image.open(tmp_path / "found.png")) > 127
    assert filled.shape == photo.shape and found.shape == photo.shape[:2]
    assert np.array_equal(filled[~found], photo[~found])  # outside the damage found, the photo is untouched
    assert found.any() and not np.array_equal(filled[found], photo[found])

    r = runner.invoke(app, ["convert", "vcnet", str(tmp_path / "missing"), "-o", str(tmp_path / "nope")])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    write_t7(tmp_path / "completionnet_places2.t7", {"model": glcic_network(4, 0), "mean": np.zeros(3)})
    r = runner.invoke(app, ["convert", "vcnet", str(tmp_path / "completionnet_places2.t7"), "-o", str(tmp_path / "x")])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert "Torch7 file" in r.output and "glcic|context_encoder" in r.output
