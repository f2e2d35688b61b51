"""The metrics of layout-driven outpainting: segmentation scores by hand, FID of known
Gaussians, LPIPS from local weights files, and clear errors without files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from holefill.errors import InputNotFoundError, InvalidArgumentError, WeightsError
from holefill.metrics.semantic import LPIPS, frechet_distance, load_torchscript, segmentation_scores


def test_segmentation_scores_by_hand() -> None:
    truth = np.array([[0, 0, 1, 1], [2, 2, 255, 255]])
    pred = np.array([[0, 1, 1, 1], [2, 0, 2, 2]])
    # class 0: inter 1, union 3; class 1: inter 2, union 3; class 2: inter 1, union 2 (255 ignored)
    scores = segmentation_scores(pred, truth, classes=3)
    assert scores["miou"] == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    assert scores["accuracy"] == pytest.approx(4 / 6)
    with pytest.raises(InvalidArgumentError):
        segmentation_scores(pred, truth[:, :2], 3)


def test_frechet_distance_of_known_gaussians() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # same covariance, means 2 apart on one axis: FID -> 4
    assert frechet_distance(a, rng.normal(size=(4000, 3)) + [2.0, 0, 0]) == pytest.approx(4.0, abs=0.25)


def test_lpips_from_local_files(tmp_path) -> None:  # noqa: ANN001
    from holefill.layers.vgg import VGGFeatures

    torch.manual_seed(0)
    vgg = VGGFeatures("vgg16")
    torch.save({f"features.{k}": v for k, v in vgg.features.state_dict().items()}, tmp_path / "vgg16.pth")
    lins = {f"lin{i}.model.1.weight": torch.full((1, c, 1, 1), 0.1) for i, c in enumerate(LPIPS.CHANNELS)}
    torch.save(lins, tmp_path / "vgg.pth")
    lpips = LPIPS(tmp_path / "vgg16.pth", tmp_path / "vgg.pth")
    x, y = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.allclose(lpips(x, x), torch.zeros(2)) and (lpips(x, y) > 0).all()
    torch.save({"lin0.model.1.weight": torch.ones(1, 3, 1, 1)}, tmp_path / "bad.pth")
    with pytest.raises(WeightsError, match="lin0"):
        LPIPS(tmp_path / "vgg16.pth", tmp_path / "bad.pth")
    with pytest.raises(InputNotFoundError, match="no segmenter file"):
        load_torchscript(None, "segmenter")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(WeightsError, match="TorchScript"):
        load_torchscript(tmp_path / "junk.pt", "segmenter")
