"""scripts/merge_weights.py: parts of one run's weights into another's, strictly."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from holefill.errors import InvalidArgumentError, WeightsError
from holefill.models import create_model
from holefill.models.registry import load_model

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "merge_weights.py"
_spec = importlib.util.spec_from_file_location("merge_weights", SCRIPT)
merge_weights = importlib.util.module_from_spec(_spec)
sys.modules["merge_weights"] = merge_weights
_spec.loader.exec_module(merge_weights)


def _saved(folder: Path, seed: int, **args: object) -> Path:
    torch.manual_seed(seed)
    model = create_model("vcnet", cnum=8, rin_cnum=8, **args)
    model.save_pretrained(folder)
    return folder


def test_the_named_part_comes_from_the_other_folder_and_the_rest_from_the_base(tmp_path: Path) -> None:
    base, other = _saved(tmp_path / "rin", 0), _saved(tmp_path / "mpn", 1)
    code = merge_weights.main([str(base), "--take", f"mpn={other}", "-o", str(tmp_path / "merged")])
    assert code == 0
    merged = load_model(tmp_path / "merged").state_dict()
    a, b = load_model(base).state_dict(), load_model(other).state_dict()
    mpn = [k for k in merged if k.startswith("mpn.")]
    rin = [k for k in merged if k.startswith("rin.")]
    assert mpn and rin and len(mpn) + len(rin) == len(merged)
    assert all(torch.equal(merged[k], b[k]) for k in mpn)
    assert all(torch.equal(merged[k], a[k]) for k in rin)
    assert not all(torch.equal(a[k], b[k]) for k in mpn)  # the two runs differ, so the check means something


def test_bad_merges_are_one_line_errors_and_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, other = _saved(tmp_path / "a", 0), _saved(tmp_path / "b", 1)
    wide = _saved(tmp_path / "wide", 2, pcn="fixed")
    with pytest.raises(InvalidArgumentError, match="no tensor of vcnet starts with 'decoder.'"):
        merge_weights.merge(base, [("decoder", other)], tmp_path / "out1")
    with pytest.raises(WeightsError, match="same architecture and arguments"):
        merge_weights.merge(base, [("mpn", wide)], tmp_path / "out2")
    with pytest.raises(InvalidArgumentError, match="exists"):
        merge_weights.merge(base, [("mpn", other)], other)
    with pytest.raises(InvalidArgumentError, match="PART=FOLDER"):
        merge_weights.parse_take("mpn")
    assert merge_weights.main([str(base), "-o", str(tmp_path / "out3")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: nothing to merge") and "\n" not in err
    assert not any((tmp_path / f"out{i}").exists() for i in (1, 2, 3))
