"""The blind-inpainting protocol: BlindFiller's guarantees, a model behind it, a found mask fed to
any filler, the mask metrics and the blind benchmark."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from holefill.benchmark_blind import BLIND_KEYS, CLEAN_KIND, INPUT_ROW, run_blind_benchmark
from holefill.blind_pipeline import ModelBlindFiller
from holefill.errors import InvalidArgumentError, OutputExistsError, WeightsError
from holefill.fillers import BlindFiller, Filler, FoundMaskFiller, check_blind_options, check_seed_options, suppress_unseeded
from holefill.masks.corruption import blind_items
from holefill.metrics import mask_scores
from holefill.models import create_model


class RedFinder(BlindFiller):
    """Finds pure red pixels; repairs them with grey. A test double with known answers."""

    name = "red"

    def _find(self, image: np.ndarray) -> np.ndarray:
        red = (image[..., 0] > 200) & (image[..., 1] < 50) & (image[..., 2] < 50)
        return red.astype(np.float32) * 0.9

    def _repair(self, image: np.ndarray, mask: np.ndarray, probability: np.ndarray) -> np.ndarray:
        return np.full_like(image, 128)


class Mean(Filler):
    name = "mean"

    def _fill(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.broadcast_to(image[~mask].mean(0).astype(np.uint8), image.shape).copy()


def _damaged(photo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    image = photo.copy()
    mask = np.zeros(image.shape[:2], bool)
    mask[20:30, 10:60] = True
    image[mask] = (255, 0, 0)
    return image, mask


def test_blind_filler_finds_repairs_and_keeps_the_rest(photo: np.ndarray) -> None:
    image, mask = _damaged(photo)
    finder = RedFinder()
    repaired, found = finder.fill_blind(image)
    assert found.dtype == bool and np.array_equal(found, mask)
    assert np.array_equal(repaired[~found], image[~found]) and (repaired[found] == 128).all()
    prob = finder.find_damage(image)
    assert prob.dtype == np.float32 and prob.shape == mask.shape and prob.max() == pytest.approx(0.9)
    clean_out, none = finder.fill_blind(photo)
    assert not none.any() and np.array_equal(clean_out, photo)
    finder.dilate = 2
    grown = finder.fill_blind(image)[1]
    assert grown.sum() > mask.sum() and grown[mask].all() and grown[18, 30] and not grown[17, 30]
    finder.threshold = 0.95
    assert not finder.fill_blind(image)[1].any()
    with pytest.raises(InvalidArgumentError, match="HxWx3"):
        finder.fill_blind(np.zeros((4, 4, 5), np.uint8))


def test_found_mask_goes_to_any_filler(photo: np.ndarray) -> None:
    image, mask = _damaged(photo)
    both = FoundMaskFiller(RedFinder(), Mean())
    assert both.name == "mean+red"
    repaired, found = both.fill_blind(image)
    assert np.array_equal(found, mask) and np.array_equal(repaired[~mask], image[~mask])
    expected = Mean().fill(image, mask)  # the damaged pixels are blanked before the filler sees them
    assert np.array_equal(repaired, expected)
    assert FoundMaskFiller(RedFinder(), Mean(), dilate=3).fill_blind(image)[1].sum() > mask.sum()
    for bad in ((1.0, 0), (-0.1, 0), (0.5, -1), (0.5, 65), (0.5, 1.5), (True, 0)):
        with pytest.raises(InvalidArgumentError):
            check_blind_options(*bad)


def test_model_blind_filler_pads_resizes_and_keeps_unmarked_pixels(photo: np.ndarray) -> None:
    torch.manual_seed(0)
    model = create_model("vcnet", cnum=8)
    filler = ModelBlindFiller(model, threshold=0.3)
    image = np.ascontiguousarray(photo[:37, :51])  # not a multiple of 4
    repaired, found, prob = filler.run_blind(image)
    assert repaired.shape == image.shape and found.shape == prob.shape == image.shape[:2]
    assert np.array_equal(repaired[~found], image[~found])
    with torch.no_grad():
        x = torch.from_numpy(np.pad(image, ((0, 3), (0, 1), (0, 0)), mode="reflect")).permute(2, 0, 1)[None].float()
        logits = model(x / 127.5 - 1).mask_logits
    np.testing.assert_allclose(prob, torch.sigmoid(logits)[0, 0, :37, :51].numpy(), rtol=1e-5, atol=1e-6)
    small = ModelBlindFiller(model, threshold=0.3, resize_limit=32)  # searched and repaired at 32 px
    big_repaired, big_found, big_prob = small.run_blind(photo)
    assert big_prob.shape == photo.shape[:2] and np.array_equal(big_repaired[~big_found], photo[~big_found])
    half = ModelBlindFiller(model, threshold=0.3, scale=0.5)  # the model sees the image at half size
    assert half._work_size(96, 128) == (48, 64) and half.find_damage(photo).shape == photo.shape[:2]
    with pytest.raises(InvalidArgumentError, match="not a blind model"):
        ModelBlindFiller(create_model("deepfill_v2", cnum=8))
    with pytest.raises(InvalidArgumentError, match="resize_limit"):
        ModelBlindFiller(model, resize_limit=8)
    with pytest.raises(InvalidArgumentError, match="scale"):
        ModelBlindFiller(model, scale=2.0)
    # A second look at 3/4 of the working size: the mean of the two maps, each back at the image's size.
    both = ModelBlindFiller(model, threshold=0.3, second_scale=0.75)
    image = np.ascontiguousarray(photo[:64, :96])
    expected = 0.5 * (ModelBlindFiller(model)._map_at(image, 64, 96) + ModelBlindFiller(model)._map_at(image, 48, 72))
    np.testing.assert_allclose(both.find_damage(image), expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(expected, ModelBlindFiller(model).find_damage(image), atol=1e-4)
    for bad in (1.0, 0.1, True, "0.5"):
        with pytest.raises(InvalidArgumentError, match="second_scale"):
            ModelBlindFiller(model, second_scale=bad)


def test_seed_keeps_regions_with_a_sure_core_whole_and_lowers_the_rest() -> None:
    prob = np.zeros((100, 100), np.float32)
    prob[10:14, 5:95] = 0.6  # a stroke: its fringe is doubtful...
    prob[11:13, 20:80] = 0.97  # ...its core is sure (120 pixels)
    prob[60:63, 60:63] = 0.7  # a doubt on texture, no sure pixel
    prob[80:82, 80:82] = 0.95  # a sure speck of 4 pixels: fewer than the 10 asked for
    prob[90, 5] = 0.3  # below the threshold: left as it is
    out = suppress_unseeded(prob, 0.5, 0.9, seed_pixels=10)
    assert out.dtype == np.float32 and out.shape == prob.shape
    np.testing.assert_array_equal(out[10:14], prob[10:14])  # the whole stroke, fringe included
    assert (out[60:63, 60:63] < 0.5).all() and (out[80:82, 80:82] == out[60, 60]).all() and out[60, 60] > 0.4999
    # In 8 bits (the web page's map, rounded) the lowered regions are not above the threshold either.
    assert (np.rint(out * 255)[60:63, 60:63] <= 255 * 0.5).all()
    assert out[90, 5] == pytest.approx(0.3) and (out <= prob).all()
    mask = out > 0.5
    assert mask.sum() == 4 * 90 and not mask[60:].any()
    # A smaller core keeps the speck; a lower threshold still reaches the lowered regions.
    assert (suppress_unseeded(prob, 0.5, 0.9, seed_pixels=4)[80:82, 80:82] == 0.95).all()
    assert (out[60:63, 60:63] > 0.4).all()
    assert np.array_equal(suppress_unseeded(np.zeros((8, 8), np.float32), 0.5, 0.9, 1), np.zeros((8, 8)))
    # On a finder: find_damage gives the lowered map, so the mask and the web page's slider agree.
    finder = RedFinder()
    finder.seed = 0.95  # the red pixels are 0.9: no core, nothing found
    image, _ = _damaged(np.full((64, 64, 3), 90, np.uint8))
    assert not finder.fill_blind(image)[1].any() and finder.find_damage(image).max() == pytest.approx(0.5, abs=1e-6)
    finder.seed = 0.8
    assert finder.fill_blind(image)[1].sum() == 500
    for bad, match in (((0.5, 64, 0.5), "above the threshold"), ((1.0, 64, 0.5), "seed must"),
                       ((True, 64, 0.5), "seed must"), ((0.9, 0, 0.5), "seed_pixels"), ((0.9, 10**6, 0.5), "seed_pixels"),
                       ((0.9, 2.5, 0.5), "seed_pixels")):
        with pytest.raises(InvalidArgumentError, match=match):
            check_seed_options(*bad)
    assert check_seed_options(None, 64, 0.5) == (None, 64)


def test_weights_carry_their_blind_defaults(tmp_path: Path) -> None:
    model = create_model("vcnet", cnum=8)
    model.save_pretrained(tmp_path / "w", extra={"blind": {"threshold": 0.7, "scale": 0.5, "second_scale": 0.75}})
    filler = ModelBlindFiller.from_pretrained(tmp_path / "w")
    assert (filler.threshold, filler.scale, filler.dilate, filler.second_scale) == (0.7, 0.5, 0, 0.75)
    assert ModelBlindFiller.from_pretrained(tmp_path / "w", threshold=0.2).threshold == 0.2  # the caller wins
    model.save_pretrained(tmp_path / "seeded", extra={"blind": {"threshold": 0.6, "seed": 0.9, "seed_pixels": 20}})
    seeded = ModelBlindFiller.from_pretrained(tmp_path / "seeded")
    assert (seeded.threshold, seeded.seed, seeded.seed_pixels) == (0.6, 0.9, 20)
    assert ModelBlindFiller.from_pretrained(tmp_path / "seeded", seed=None).seed is None  # the caller turns it off
    with pytest.raises(InvalidArgumentError, match="above the threshold"):
        ModelBlindFiller.from_pretrained(tmp_path / "seeded", threshold=0.95)
    model.save_pretrained(tmp_path / "bad", extra={"blind": {"colour": 1}})
    with pytest.raises(WeightsError, match="blind"):
        ModelBlindFiller.from_pretrained(tmp_path / "bad")


def test_mask_scores_known_values() -> None:
    pred = np.zeros((4, 4), bool)
    true = np.zeros((4, 4), bool)
    pred[0, :2] = True
    true[0, 1:4] = True  # overlap 1, pred 2, true 3, union 4
    s = mask_scores(pred, true)
    assert s == {"iou": 0.25, "precision": 0.5, "recall": 1 / 3, "f1": pytest.approx(2 / 5)}
    assert mask_scores(np.zeros((2, 2), bool), np.zeros((2, 2), bool))["iou"] == 1.0
    assert mask_scores(np.zeros((2, 2), bool), np.ones((2, 2), bool))["f1"] == 0.0
    with pytest.raises(InvalidArgumentError, match="bool"):
        mask_scores(np.zeros((2, 2)), true[:2, :2])


def test_blind_benchmark_rows_and_report(photo: np.ndarray, tmp_path: Path) -> None:
    images = [(f"img{i}", np.ascontiguousarray(np.roll(photo, 17 * i, axis=1))) for i in range(3)]
    images[2][1][:10, :20] = (255, 0, 0)  # a red sign in a clean photo: the red finder's false alarm
    items = blind_items([im for _, im in images], kinds=["graffiti", "text"], seed=1)
    report = run_blind_benchmark({"red": RedFinder()}, images, items, references={"mean": Mean()}, progress=False)
    assert report.methods == [INPUT_ROW, "red", "mean (true mask)"]
    assert report.kinds == ["graffiti", "text"] and len(report.records) == 3 * len(items) + len(images)
    # Each undamaged image once, for the blind method only; not pooled into "all".
    clean = [r for r in report.records if r.kind == CLEAN_KIND]
    assert [r.method for r in clean] == ["red"] * 3 and all(r.damage_ratio == 0 for r in clean)
    assert [r.scores["marked"] for r in clean] == [0.0, 0.0, 200 / photo[..., 0].size]
    assert all(math.isnan(r.scores["iou"]) and math.isnan(r.scores["psnr"]) for r in clean)
    assert clean[0].scores["ssim"] == pytest.approx(1.0) and clean[2].scores["ssim"] < 1.0
    assert report.cell("red")["items"] == len(items)
    assert float(report.cell("red", CLEAN_KIND)["marked"]) == pytest.approx(200 / photo[..., 0].size / 3)
    assert "| marked on clean |" in report.table() and report.table().splitlines()[2].split(" | ")[-2] == "-"
    no_clean = run_blind_benchmark({"red": RedFinder()}, images, items, clean=False, progress=False)
    assert not any(r.kind == CLEAN_KIND for r in no_clean.records) and "marked on clean" not in no_clean.table()
    inp = report.cell(INPUT_ROW)
    assert math.isnan(float(inp["iou"])) and float(inp["psnr"]) > 0
    ref = report.cell("mean (true mask)")
    assert float(ref["psnr"]) > float(inp["psnr"])  # the true mask and any fill beat the damage
    assert report.best_reference() == "mean (true mask)"
    red = report.cell("red", "graffiti")
    assert 0.0 <= float(red["iou"]) <= 1.0 and not math.isnan(float(red["mask_bce"]))
    paths = report.write(tmp_path / "rep")
    assert "**mean (true mask)**" in paths["report"].read_text()
    header = paths["results"].read_text().splitlines()[0].split(",")
    assert header[:4] == ["method", "image", "kind", "damage_ratio"] and set(BLIND_KEYS) <= set(header)
    with pytest.raises(OutputExistsError):
        report.write(tmp_path / "rep")
    with pytest.raises(InvalidArgumentError, match="nothing to benchmark"):
        run_blind_benchmark({}, images, items, include_input=False, progress=False)
