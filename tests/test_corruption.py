"""The damage generator of blind inpainting, VCNet's stroke masks, the blind benchmark items
and the damaged training samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from holefill.data.datasets import BlindDataset, ImageFolder
from holefill.errors import InvalidArgumentError
from holefill.masks import Strokes, make_generator
from holefill.masks.corruption import (
    CORRUPTION_KINDS,
    Corruption,
    blind_items,
    describe_blind_protocol,
    make_corruption,
    soft_border,
)
from overfit import write_images


def _image(seed: int = 0, size: tuple[int, int] = (64, 80)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size[0], 0:size[1]]
    base = np.stack([(xx * 3) % 256, (yy * 2) % 256, (xx + yy) % 256], -1)
    return np.clip(base + rng.integers(-10, 10, base.shape), 0, 255).astype(np.uint8)


def test_strokes_follow_the_official_settings() -> None:
    gen = make_generator("strokes")
    assert isinstance(gen, Strokes) and (gen.parts, gen.max_vertices) == (8, 16)
    assert round(gen.max_length * 256) == 80 and (round(gen.min_width * 256), round(gen.max_width * 256)) == (10, 20)
    a = gen(256, 256, np.random.default_rng(3))
    b = gen(256, 256, np.random.default_rng(3))
    assert a.dtype == bool and a.shape == (256, 256) and np.array_equal(a, b)
    ratios = [gen(256, 256, np.random.default_rng(s)).mean() for s in range(20)]
    assert 0.05 < float(np.median(ratios)) < 0.6  # eight strokes of up to 16 moves: dense damage
    single = Strokes(parts=1, max_vertices=1, max_length=0.0)(64, 64, np.random.default_rng(0))
    assert single.mean() < 0.05  # a zero-length move leaves a dot and a ring at most
    with pytest.raises(InvalidArgumentError, match="min_width"):
        Strokes(min_width=0.2, max_width=0.1)


def test_soft_border_is_the_official_priority_mask() -> None:
    mask = np.zeros((96, 96), bool)
    mask[20:40, 28:36] = True
    alpha = soft_border(mask)
    assert np.all(alpha[mask] == 1.0) and alpha.max() <= 1.0
    assert 0.2 < alpha[30, 37] < 1.0 and alpha[30, 37] > alpha[30, 45] > alpha[30, 55] > 0  # falls off
    # four rounds of the (almost box) 15x15 kernel reach 4 * 7 pixels past the hole, no further
    assert alpha[30, 35 + 28] > 0 and alpha[30, 35 + 29:].max() == 0.0 and alpha[90, 90] == 0.0


@pytest.mark.parametrize("kind", CORRUPTION_KINDS)
def test_each_kind_is_seeded_and_damages_where_its_mask_says(kind: str) -> None:
    image, source = _image(0), _image(1)
    corr = Corruption(soft_border=0.0)
    a, mask = corr(image, np.random.default_rng(7), source, kind=kind)
    b, mask_b = corr(image, np.random.default_rng(7), source, kind=kind)
    assert np.array_equal(a, b) and np.array_equal(mask, mask_b)
    assert a.shape == image.shape and a.dtype == np.uint8 and mask.dtype == bool and mask.shape == image.shape[:2]
    assert mask.any() and not mask.all()
    assert np.array_equal(a[~mask], image[~mask])  # hard borders: nothing outside the mask changes
    assert (a[mask] != image[mask]).any(axis=-1).mean() > 0.5
    c, _ = corr(image, np.random.default_rng(8), source, kind=kind)
    assert not np.array_equal(a, c)


def test_photo_damage_pastes_the_source_and_the_soft_border_blends() -> None:
    image, source = _image(0), _image(1, (40, 50))  # a source of another size is resized
    hard, mask = Corruption(soft_border=0.0)(image, np.random.default_rng(5), source, kind="photo")
    assert mask.any()
    soft, mask2 = Corruption(soft_border=1.0)(image, np.random.default_rng(5), source, kind="photo")
    assert np.array_equal(mask, mask2)  # the true mask is the hard one either way
    assert (soft[~mask] != image[~mask]).any()  # the smoothed border reaches past it
    with pytest.raises(InvalidArgumentError, match="source"):
        Corruption()(image, np.random.default_rng(0), None, kind="photo")
    calls = []
    Corruption()(image, np.random.default_rng(0), lambda rng: calls.append(1) or source, kind="photo")
    assert calls == [1]  # a callable source is drawn from the same random stream


def test_weights_pick_kinds_and_bad_options_are_one_line_errors() -> None:
    corr = Corruption(weights={"text": 1.0, "scratch": 0.0})
    assert {corr.pick_kind(np.random.default_rng(s)) for s in range(20)} == {"text"}
    assert not corr.needs_source and Corruption().needs_source
    corr(_image(), np.random.default_rng(0))  # no source needed without photo damage
    for bad, match in [({"weights": {"smudge": 1.0}}, "unknown damage kind"), ({"weights": {"text": -1.0}}, ">= 0"),
                       ({"soft_border": 2.0}, "probability"), ({"min_ratio": 0.9}, "min_ratio"),
                       ({"text_height": [0.2, 0.1]}, "text_height"), ({"colour": 1}, "no parameter 'colour'")]:
        with pytest.raises(InvalidArgumentError, match=match):
            make_corruption(bad)
    with pytest.raises(InvalidArgumentError, match="HxWx3 uint8"):
        Corruption()(np.zeros((8, 8), np.uint8), np.random.default_rng(0))
    with pytest.raises(InvalidArgumentError, match="unknown damage kind"):
        Corruption()(_image(), np.random.default_rng(0), kind="rain")
    assert make_corruption({"text_height": [0.1, 0.2]}).text_height == (0.1, 0.2)


def test_blind_items_are_fixed_and_use_the_other_images() -> None:
    images = [_image(i) for i in range(4)]
    items = blind_items(images, seed=3)
    again = blind_items(images, seed=3)
    assert len(items) == 4 * len(CORRUPTION_KINDS)
    assert [(it.index, it.kind) for it in items] == [(i, k) for k in CORRUPTION_KINDS for i in range(4)]
    for x, y in zip(items, again):
        assert np.array_equal(x.corrupted, y.corrupted) and np.array_equal(x.mask, y.mask)
    # item (kind, i) does not depend on the other kinds or on how many images follow
    assert np.array_equal(blind_items(images[:3], kinds=["text"], seed=3)[1].corrupted,
                          next(it for it in items if (it.kind, it.index) == ("text", 1)).corrupted)
    for it in items:
        if it.kind == "photo":  # pasted pixels come from another image of the set, not its own
            pasted = it.corrupted[it.mask]
            assert not np.array_equal(pasted, images[it.index][it.mask])
    assert not np.array_equal(blind_items(images, seed=4)[0].mask, items[0].mask)
    with pytest.raises(InvalidArgumentError, match="at least two"):
        blind_items(images[:1])
    assert len(blind_items(images[:1], kinds=["text", "scratch"])) == 2
    with pytest.raises(InvalidArgumentError, match="unknown damage kind"):
        blind_items(images, kinds=["rain"])
    assert "holefill-blind-v2" in describe_blind_protocol(4)


def test_blind_dataset_damages_crops_from_its_own_photos(tmp_path: Path) -> None:
    folder = write_images(tmp_path / "imgs", count=3, size=48)
    corr = Corruption(weights={"photo": 1.0}, soft_border=0.0)
    data = BlindDataset(ImageFolder(folder), 32, Strokes(), corr, seed=1)
    sample = data[(2, 1)]
    assert set(sample) == {"image", "mask", "corrupted"}
    assert sample["corrupted"].shape == sample["image"].shape == (3, 32, 32) and sample["mask"].shape == (1, 32, 32)
    hole = sample["mask"][0] > 0
    assert hole.any()
    assert (sample["corrupted"][:, ~hole] == sample["image"][:, ~hole]).all()
    assert not (sample["corrupted"][:, hole] == sample["image"][:, hole]).all()
    again = BlindDataset(ImageFolder(folder), 32, Strokes(), corr, seed=1)[(2, 1)]
    assert all((again[k] == sample[k]).all() for k in sample)
    assert not (data[(3, 1)]["corrupted"] == sample["corrupted"]).all()
    lone = write_images(tmp_path / "one", count=1, size=48)
    with pytest.raises(InvalidArgumentError, match="at least two"):
        BlindDataset(ImageFolder(lone), 32, Strokes(), corr)
    BlindDataset(ImageFolder(lone), 32, Strokes(), Corruption(weights={"graffiti": 1.0}))[0]


def test_photo_damage_never_comes_from_another_crop_of_the_same_photo() -> None:
    # four crops of two photos: each one's damage must come from the other photo's crops
    images = [np.full((64, 64, 3), v, np.uint8) for v in (10, 20, 200, 210)]
    photos = ["a", "a", "b", "b"]
    for seed in range(6):
        for it in blind_items(images, kinds=["photo"], seed=seed, photos=photos):
            pasted = np.unique(it.corrupted[it.mask & (it.corrupted[..., 0] != images[it.index][0, 0, 0])][..., 0])
            own_photo = {v for v, p in zip((10, 20, 200, 210), photos) if p == photos[it.index]}
            assert pasted.size and not set(pasted.tolist()) & own_photo
    # without names each image is its own photo, and the items are those of the first protocol
    same = blind_items(images, kinds=["photo"], seed=1)
    assert np.array_equal(same[0].corrupted, blind_items(images, kinds=["photo"], seed=1, photos=None)[0].corrupted)
    with pytest.raises(InvalidArgumentError, match="at least two photos"):
        blind_items(images, kinds=["photo"], photos=["a"] * 4)
    with pytest.raises(InvalidArgumentError, match="names 3 photos for 4 images"):
        blind_items(images, kinds=["text"], photos=["a", "b", "c"])


def test_photo_groups_read_crop_names_and_give_up_on_names_that_do_not_tell_photos_apart() -> None:
    from holefill.benchmark import photo_groups, photo_of

    assert photo_of("mate-dune_003.png") == "mate-dune" and photo_of("skimage-astronaut") == "skimage-astronaut"
    assert photo_groups(["a_000", "a_001", "b_000"]) == ["a", "a", "b"]
    assert photo_groups(["IMG_0001", "IMG_0002"]) is None


def test_named_items_group_crops_by_the_photo_their_names_give() -> None:
    from holefill.benchmark import named_blind_items

    images = [np.full((64, 64, 3), v, np.uint8) for v in (10, 20, 200, 210)]
    named = list(zip(["a_000", "a_001", "b_000", "b_001"], images))
    items, photos = named_blind_items(named, kinds=["photo"], seed=2)
    assert photos == ["a", "a", "b", "b"]
    direct = blind_items(images, kinds=["photo"], seed=2, photos=photos)
    assert all(np.array_equal(x.corrupted, y.corrupted) for x, y in zip(items, direct))
