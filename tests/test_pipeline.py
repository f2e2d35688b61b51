"""The model pipeline: padding to the multiple, high-resolution strategies, compositing, batches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from holefill.errors import InvalidArgumentError
from holefill.models.base import InpaintModel, InpaintOutput
from holefill.pipeline import ModelFiller, hole_boxes


@dataclass
class ToyConfig:
    width: int = 4


class MeanFill(InpaintModel):
    """Fills every hole with the mean colour of the known pixels; records the shapes it saw."""

    size_multiple = 8

    def __init__(self, config: ToyConfig = ToyConfig()) -> None:
        super().__init__(config)
        self.conv = nn.Conv2d(3, 3, 1)  # unused weights: a real module for .to()/.eval()
        self.seen: list[tuple[int, ...]] = []

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> InpaintOutput:
        self.seen.append(tuple(image.shape))
        known = 1 - mask
        mean = (image * known).sum(dim=(2, 3), keepdim=True) / known.sum(dim=(2, 3), keepdim=True).clamp(min=1)
        return InpaintOutput(output=mean.expand_as(image).clone())


class Fixed(MeanFill):
    fixed_size = (32, 32)


def test_pads_to_the_multiple_and_crops_back(photo, box_mask):
    model = MeanFill()
    filler = ModelFiller(model, device="cpu", optimize=False)  # the model itself runs: it records its inputs
    img = photo[:93, :101]
    mask = box_mask[:93, :101]
    out = filler.fill(img, mask)
    assert out.shape == img.shape
    assert model.seen[-1][-2:] == (96, 104)
    assert np.array_equal(out[~mask], img[~mask])
    expected = img[~mask].mean(axis=0)
    # Reflect padding adds a few extra known pixels; the mean moves by a little.
    assert np.abs(out[mask].astype(float).mean(axis=0) - expected).max() < 6


def test_strategies_on_a_large_image_with_a_small_hole():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (2000, 3000, 3), dtype=np.uint8)
    mask = np.zeros((2000, 3000), bool)
    mask[1000:1040, 1500:1560] = True
    mask[100:120, 2800:2830] = True
    results = {}
    for strategy, limit in [("crop", 1024), ("resize", 512), ("original", 3000)]:
        model = MeanFill()
        filler = ModelFiller(model, device="cpu", strategy=strategy, resize_limit=limit, crop_margin=64,
                             optimize=False)
        out = filler.fill(img, mask)
        assert np.array_equal(out[~mask], img[~mask]), strategy
        assert out.shape == img.shape
        results[strategy] = model.seen
    # crop: one small run per hole, each box = hole + margin (padded to 8)
    assert sorted(results["crop"]) == [(1, 3, 152, 160), (1, 3, 168, 192)]
    # resize: one run at the limit
    assert results["resize"][0][-1] == 512 and len(results["resize"]) == 1
    # original: the full image, padded
    assert results["original"][0][-2:] == (2000, 3000)
    # ... but only up to resize_limit: a larger image is refused before the network runs
    model = MeanFill()
    with pytest.raises(InvalidArgumentError, match="resize_limit 1024"):
        ModelFiller(model, device="cpu", strategy="original", optimize=False).fill(img, mask)
    assert model.seen == []
    # auto picks crop here (small holes, big image) and original for a small image
    auto = ModelFiller(MeanFill(), device="cpu")
    assert auto.choose_strategy(mask) == "crop"
    assert auto.choose_strategy(mask[:500, :500]) == "original"
    big_hole = np.zeros((2000, 3000), bool)
    big_hole[200:1800, 300:2700] = True
    assert auto.choose_strategy(big_hole) == "resize"
    # a photo under the resize limit with a 2 % hole: crop around it, not the whole photo
    photo_mask = np.zeros((640, 1024), bool)
    photo_mask[300:380, 400:560] = True
    assert photo_mask.mean() < 0.025 and auto.choose_strategy(photo_mask) == "crop"
    photo_mask[:, :600] = True  # a hole whose neighbourhood is most of the photo
    assert auto.choose_strategy(photo_mask) == "original"


def test_fixed_size_models_get_square_crops_at_their_size(photo, box_mask):
    model = Fixed()
    out = ModelFiller(model, device="cpu", crop_margin=8, optimize=False).fill(photo, box_mask)
    assert model.seen and all(s[-2:] == (32, 32) for s in model.seen)
    assert np.array_equal(out[~box_mask], photo[~box_mask])


def test_fixed_size_model_with_a_hole_larger_than_any_square(photo):
    mask = np.zeros(photo.shape[:2], bool)
    mask[10:20, :] = True  # a band across the whole width: no square crop can hold it
    out = ModelFiller(Fixed(), device="cpu").fill(photo, mask)
    assert np.array_equal(out[~mask], photo[~mask])
    assert (out[mask] != 0).any()


def test_hole_boxes_merge_when_they_overlap():
    m = np.zeros((100, 100), bool)
    m[10:12, 10:12] = True
    m[10:12, 20:22] = True
    m[80:82, 80:82] = True
    boxes = hole_boxes(m, margin=5)
    assert len(boxes) == 2
    assert min(b.top for b in boxes) == 5


def test_fill_batch_matches_single_fills(photo, box_mask):
    filler = ModelFiller(MeanFill(), device="cpu", batch_size=2)
    masks = [box_mask, np.roll(box_mask, 10, axis=1), np.zeros_like(box_mask)]
    imgs = [photo, photo[::-1].copy(), photo]
    with pytest.warns(UserWarning):
        batch = filler.fill_batch(imgs, masks)
        singles = [filler.fill(i, m) for i, m in zip(imgs, masks)]
    for a, b in zip(batch, singles):
        assert np.array_equal(a, b)


def test_bad_options_and_devices():
    with pytest.raises(InvalidArgumentError):
        ModelFiller(MeanFill(), strategy="zoom")  # type: ignore[arg-type]
    if not torch.cuda.is_available():
        with pytest.raises(InvalidArgumentError, match="CUDA"):
            ModelFiller(MeanFill(), device="cuda")
    with pytest.raises(InvalidArgumentError):
        ModelFiller(MeanFill(), device="tpu")
