"""Segmentation scores by hand, and clear errors for the user's segmenter file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from holefill.errors import InputNotFoundError, InvalidArgumentError, WeightsError
from holefill.metrics.semantic import load_torchscript, segmentation_scores


def test_segmentation_scores_by_hand() -> None:
    truth = np.array([[0, 0, 1, 1], [2, 2, 255, 255]])
    pred = np.array([[0, 1, 1, 1], [2, 0, 2, 2]])
    # class 0: inter 1, union 3; class 1: inter 2, union 3; class 2: inter 1, union 2 (255 ignored)
    scores = segmentation_scores(pred, truth, classes=3)
    assert scores["miou"] == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    assert scores["accuracy"] == pytest.approx(4 / 6)
    with pytest.raises(InvalidArgumentError):
        segmentation_scores(pred, truth[:, :2], 3)
    with pytest.raises(InvalidArgumentError, match="0..1"):
        segmentation_scores(pred, truth, 2)


def test_segmenter_files(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(InputNotFoundError, match="no segmenter file"):
        load_torchscript(None, "segmenter")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(WeightsError, match="TorchScript"):
        load_torchscript(tmp_path / "junk.pt", "segmenter")
    scripted = torch.jit.script(torch.nn.Conv2d(3, 4, 1))
    scripted.save(str(tmp_path / "seg.pt"))
    seg = load_torchscript(tmp_path / "seg.pt", "segmenter")
    assert seg(torch.rand(1, 3, 8, 8)).shape == (1, 4, 8, 8)
