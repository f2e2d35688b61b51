"""How the CLI starts: a classical fill never imports torch, and without the learning extra the
learned commands say what to install, in one line (each run in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

#: Runs the CLI in this interpreter, then reports whether torch got imported. With HIDE set,
#: torch cannot be imported at all (as where the learning extra is not installed).
RUNNER = """
import json, sys
if {hide}:
    sys.modules["torch"] = None
from holefill.cli import app
try:
    app({args!r})
    code = 0
except SystemExit as exc:
    code = exc.code
print(json.dumps({{"code": code, "torch": sys.modules.get("torch") is not None}}))
"""


def cli(args: list[str], *, hide_torch: bool = False, cwd=None) -> tuple[dict, str]:
    proc = subprocess.run([sys.executable, "-c", RUNNER.format(hide=hide_torch, args=[str(a) for a in args])],
                          capture_output=True, text=True, cwd=cwd, timeout=300)
    last = proc.stdout.strip().splitlines()[-1]
    return json.loads(last), proc.stderr


@pytest.fixture
def pair(tmp_path, photo, box_mask):
    img, mask = tmp_path / "img.png", tmp_path / "mask.png"
    Image.fromarray(photo).save(img)
    Image.fromarray(box_mask.astype(np.uint8) * 255).save(mask)
    return img, mask


def test_classical_fill_does_not_import_torch(tmp_path, pair):
    img, mask = pair
    result, err = cli(["inpaint", img, "--mask", mask, "-o", tmp_path / "out.png", "-m", "telea"])
    assert result == {"code": 0, "torch": False}, err
    assert (tmp_path / "out.png").exists()


@pytest.mark.parametrize("args", [["models"], ["inpaint", "{img}", "--mask", "{mask}", "-o", "{out}", "-m",
                                                "deepfill_v2_lite"]])
def test_without_torch_learned_commands_say_what_to_install(tmp_path, pair, args):
    img, mask = pair
    argv = [a.format(img=img, mask=mask, out=tmp_path / "o.png") for a in args]
    result, err = cli(argv, hide_torch=True)
    lines = [line for line in err.splitlines() if line.strip()]
    assert result["code"] == 2 and len(lines) == 1, err
    assert lines[0].startswith("error:") and "pip install 'holefill[learn]'" in lines[0]


def test_without_torch_classical_methods_still_work(tmp_path, pair):
    img, mask = pair
    result, err = cli(["inpaint", img, "--mask", mask, "-o", tmp_path / "o.png", "-m", "telea"], hide_torch=True)
    assert result["code"] == 0, err


def test_weights_without_method_take_the_folders_architecture(tmp_path, pair):
    from holefill.cli import app
    from holefill.models.registry import create_model, model_entry

    model = create_model("deepfill_v2", **model_entry("deepfill_v2").tiny)
    model.save_pretrained(tmp_path / "w")
    img, mask = pair
    r = CliRunner().invoke(app, ["inpaint", str(img), "--mask", str(mask), "-o", str(tmp_path / "o.png"),
                                 "--weights", str(tmp_path / "w")])
    assert r.exit_code == 0, r.output
    assert r.stderr.startswith("deepfill_v2: filled")
