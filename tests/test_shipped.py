"""Weights shipped in the package: listing, loading, size budget and model cards."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open

import holefill
from holefill import methods
from holefill.models import shipped
from holefill.models.registry import create_model

SHIPPED = shipped.list_shipped()
BUDGET_BYTES = 40 * 1024 * 1024  # issue: at most 40 MB of weights in the package
CARD_SECTIONS = ("## Data", "## Recipe", "## Training", "## Metrics", "## Reproduce")


@pytest.fixture
def fake_root(tmp_path, monkeypatch):
    """A weights root with one tiny DeepFill v2 folder, in place of the package's."""
    model = create_model("deepfill_v2", cnum=4)
    model.save_pretrained(tmp_path / "tiny_dfv2", dtype=torch.float16, extra={"summary": "a tiny test model"})
    (tmp_path / "not_weights").mkdir()  # a folder without weights is ignored
    monkeypatch.setattr(shipped, "WEIGHTS_ROOT", tmp_path)
    _forget_tables()
    yield tmp_path
    _forget_tables()


def _forget_tables() -> None:
    """Drop the cached shipped list and method table, so the next lookup reads WEIGHTS_ROOT."""
    shipped.list_shipped.cache_clear()
    methods._table.cache_clear()


def test_a_shipped_folder_is_a_ready_method(fake_root):
    names = [s.name for s in shipped.list_shipped()]
    assert names == ["tiny_dfv2"]
    info = {m.name: m for m in holefill.list_methods()}["tiny_dfv2"]
    assert info.ready and info.kind == "learned" and info.summary == "a tiny test model"
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 52, 3), dtype=np.uint8)
    mask = np.zeros((40, 52), bool)
    mask[10:25, 12:30] = True
    out = holefill.inpaint(image, mask, method="tiny_dfv2")
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(out[~mask], image[~mask])


def test_cli_lists_shipped_weights(fake_root):
    from typer.testing import CliRunner

    from holefill.cli import app

    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    assert "tiny_dfv2" in result.output.split("shipped weights")[1]
    result = CliRunner().invoke(app, ["methods"])
    assert result.exit_code == 0
    line = next(ln for ln in result.output.splitlines() if ln.startswith("tiny_dfv2"))
    assert "ready" in line and "a tiny test model" in line


def test_shipped_weights_fit_the_budget():
    total = sum(f.stat().st_size for s in SHIPPED for f in s.path.rglob("*") if f.is_file())
    assert total <= BUDGET_BYTES, f"shipped weights take {total / 2**20:.1f} MiB"


@pytest.mark.parametrize("entry", SHIPPED, ids=[s.name for s in SHIPPED])
def test_shipped_weights_load_strictly_and_work(entry):
    with safe_open(str(entry.path / "model.safetensors"), "pt") as f:
        dtypes = {f.get_tensor(k).dtype for k in f.keys()}
    assert dtypes <= {torch.float16, torch.int64, torch.bool}, dtypes  # shipped as fp16
    config = json.loads((entry.path / "config.json").read_text())
    assert config["architecture"] == entry.architecture and entry.summary
    card = (entry.path / "MODEL_CARD.md").read_text()
    for section in CARD_SECTIONS:
        assert section in card, f"{entry.name}: model card lacks {section!r}"
    info = {m.name: m for m in holefill.list_methods()}[entry.name]
    assert info.ready
    rng = np.random.default_rng(1)
    if "upscale" in info.tasks:
        small = rng.integers(0, 256, (20, 26, 3), dtype=np.uint8)
        assert holefill.upscale(small, 2.5, method=entry.name).shape == (50, 65, 3)
    if "generate" in info.tasks:
        images = holefill.generate(entry.name, 2, seed=3)
        assert len(images) == 2 and images[0].dtype == np.uint8 and not np.array_equal(images[0], images[1])
    if "guided" in info.tasks:  # a guided model also takes a photo to pull the hole's content from
        image = rng.integers(0, 256, (64, 72, 3), dtype=np.uint8)
        mask = np.zeros((64, 72), bool)
        mask[20:44, 16:50] = True
        out = holefill.inpaint(image, mask, method=entry.name, guide=image[::-1].copy())
        assert out.shape == image.shape and np.array_equal(out[~mask], image[~mask])
    if "blind" in info.tasks:  # a blind model finds the damage itself: what it does not mark comes back unchanged
        image = rng.integers(0, 256, (64, 72, 3), dtype=np.uint8)
        image[30:34, 8:64] = (255, 0, 255)  # a magenta scratch
        clean, found = holefill.inpaint_blind(image, entry.name)
        assert clean.shape == image.shape and found.shape == image.shape[:2] and found.dtype == bool
        assert np.array_equal(clean[~found], image[~found])
    if "inpaint" not in info.tasks:
        return
    side = images[0].shape[0] if "generate" in info.tasks else 64  # a generator fills images of its size
    image = rng.integers(0, 256, (side, side + 8 * ("generate" not in info.tasks), 3), dtype=np.uint8)
    mask = np.zeros(image.shape[:2], bool)
    mask[side // 3:2 * side // 3, side // 4:side // 2 + 8] = True
    options = {"iterations": 3, "restarts": 2} if "generate" in info.tasks else {}
    out = holefill.inpaint(image, mask, method=entry.name, **options)
    assert np.array_equal(out[~mask], image[~mask])
    assert not np.array_equal(out[mask], np.zeros_like(out[mask]))  # it filled something
