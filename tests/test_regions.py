"""Cost follows the hole: methods with a reach fill each group of nearby holes on a crop
around it, with the same result as on the whole photo."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from holefill import regions
from holefill.classical import FSR, Biharmonic, NavierStokes, Telea


@pytest.fixture
def scattered(photo):
    """The test photo tiled to 192x256 with 24 holes of many sizes, some at the borders."""
    image = np.ascontiguousarray(np.tile(photo, (2, 2, 1)))
    rng = np.random.default_rng(3)
    hole = np.zeros(image.shape[:2], np.uint8)
    for _ in range(24):
        y, x = int(rng.integers(0, image.shape[0])), int(rng.integers(0, image.shape[1]))
        cv2.circle(hole, (x, y), int(rng.integers(1, 9)), 1, -1)
    hole[0:3, 100:130] = 1
    hole[150:170, 0:2] = 1
    return image, hole.astype(bool)


@pytest.fixture
def many_crops(monkeypatch):
    monkeypatch.setattr(regions, "TILE", 16)
    monkeypatch.setattr(regions, "WHOLE_ABOVE", 10.0)


def test_regions_cover_every_hole_once_and_keep_their_reach(scattered):
    _, mask = scattered
    found = regions.hole_regions(mask, 4, tile=16)
    assert len(found) > 5
    count = np.zeros(mask.shape, int)
    for region in found:
        count[region.box][region.own] += 1
        ys, xs = np.nonzero(region.own)
        y0, x0 = region.box[0].start, region.box[1].start
        for y, x in zip(ys + y0, xs + x0):  # everything within the reach of an own pixel is in the box
            assert region.box[0].start <= max(0, y - 4) and min(mask.shape[0], y + 5) <= region.box[0].stop
            assert region.box[1].start <= max(0, x - 4) and min(mask.shape[1], x + 5) <= region.box[1].stop
    assert np.array_equal(count, mask.astype(int))
    owners = np.full(mask.shape, -1)
    for i, region in enumerate(found):
        owners[region.box][region.own] = i
    grown = [cv2.dilate((owners == i).astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
             for i in range(len(found))]
    for i in range(len(found)):  # no other region's hole within the reach
        assert not (grown[i] & (owners >= 0) & (owners != i)).any()


@pytest.mark.parametrize("filler, whole", [
    (Biharmonic(), "biharmonic"), (Telea(), "cv"), (Telea(radius=9), "cv"), (NavierStokes(), "cv"), (FSR(), "fsr")])
def test_region_fill_equals_the_whole_photo_fill(scattered, many_crops, filler, whole):
    from skimage.restoration import inpaint_biharmonic

    image, mask = scattered
    if isinstance(filler, FSR):
        image, mask = image[:96, :128].copy(), mask[:96, :128].copy()
    blank = image.copy()
    blank[mask] = 0
    if whole == "biharmonic":
        expected = np.clip(np.rint(inpaint_biharmonic(blank / 255.0, mask, channel_axis=-1) * 255), 0, 255)
    elif whole == "cv":
        expected = cv2.inpaint(blank, mask.astype(np.uint8) * 255, filler.radius, filler.flag)
    else:
        expected = filler._fill_whole(blank, mask)
    got = filler.fill(image, mask)
    assert np.array_equal(got[mask], expected.astype(np.uint8)[mask])


@pytest.mark.parametrize("filler, target, name", [(Biharmonic(), "skimage.restoration", "inpaint_biharmonic"),
                                                  (Telea(), "cv2", "inpaint")])
def test_cost_follows_the_hole(photo, monkeypatch, filler, target, name):
    import importlib

    module = importlib.import_module(target)
    real = getattr(module, name)
    shapes = []

    def recording(image, mask, *args, **kwargs):
        shapes.append(mask.shape)
        return real(image, mask, *args, **kwargs)

    monkeypatch.setattr(module, name, recording)
    big = np.ascontiguousarray(np.tile(photo, (8, 8, 1)))  # 768x1024
    mask = np.zeros(big.shape[:2], bool)
    mask[100:110, 200:215] = True
    mask[600:612, 900:905] = True
    filler.fill(big, mask)
    assert shapes and all(h * w < 2000 for h, w in shapes), shapes
