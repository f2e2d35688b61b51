"""Guided inpainting: guides with known truth, their dataset, the network's geometry and lighting, the recipe."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from holefill.data.datasets import ImageFolder
from holefill.data.guided import GuidedDataset
from holefill.errors import ConfigError, InvalidArgumentError
from holefill.masks import CenterBox
from holefill.masks.guidance import (
    GuideSettings,
    frames_affine_to_pixels,
    make_guide,
    pixel_affine_to_frames,
    protocol_guide,
)
from holefill.models import create_model
from holefill.models.guided import (
    apply_affine,
    fit_similarity,
    match_lighting,
    robust_similarity,
    warp,
)

from overfit import assert_hole_l1_halves, write_images

@pytest.fixture(autouse=True)
def one_thread():  # noqa: ANN201
    """Tiny models run many small ops: on a shared, busy CPU one thread is much faster than two."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY = {"cnum": 8, "loc_cnum": 8, "loc_size": 32, "refine_steps": 3}
NO_LIGHT = GuideSettings(brightness=(1.0, 1.0), colour=0.0, gamma=(1.0, 1.0), patches=(1, 2))


def smooth_image(h: int = 96, w: int = 96, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.zeros((h, w, 3))
    for c in range(3):
        a, b, d = rng.uniform(2, 6, 3)
        img[..., c] = 0.5 + 0.35 * np.sin(a * xx + b * yy + d) * np.cos(b * xx - d * yy)
    return (img.clip(0, 1) * 255).astype(np.uint8)


def to_t(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 127.5 - 1


def back_to_image(guide: np.ndarray, frames: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    out = warp(to_t(guide), torch.from_numpy(frames).float()[None], hw)
    return ((out[0].permute(1, 2, 0) + 1) * 127.5).numpy()


def test_guide_holds_the_hole_content_at_the_stated_map() -> None:
    image, other = smooth_image(seed=0), smooth_image(seed=5)
    mask = CenterBox()(96, 96, None)
    guide = make_guide(image, (0, 0), mask, np.random.default_rng(3), other, (80, 112), NO_LIGHT)
    assert guide.image.shape == (80, 112, 3) and guide.image.dtype == np.uint8
    assert guide.truth.sum() == mask.sum()  # no gap: the whole hole is in the guide
    back = back_to_image(guide.image, guide.frames, (96, 96))
    err = np.abs(back[mask] - image[mask].astype(float)).mean()
    assert err < 2.0, err
    # and the known pixels around it are not what the guide shows at the identity
    assert np.abs(back_to_image(guide.image, np.eye(2, 3), (96, 96))[mask] - image[mask]).mean() > 5 * err
    np.testing.assert_allclose(frames_affine_to_pixels(guide.frames, (96, 96), (80, 112)), guide.pixels, atol=1e-9)
    np.testing.assert_allclose(pixel_affine_to_frames(guide.pixels, (96, 96), (80, 112)), guide.frames, atol=1e-12)


def test_a_larger_source_shows_the_real_surroundings() -> None:
    photo = smooth_image(160, 200, seed=2)
    crop = photo[30:126, 50:146]
    mask = CenterBox()(96, 96, None)
    guide = make_guide(photo, (50, 30), mask, np.random.default_rng(1), smooth_image(seed=9), (96, 96),
                       GuideSettings(brightness=(1, 1), colour=0, gamma=(1, 1), patches=(0, 0), scale=(1, 1)))
    back = back_to_image(guide.image, guide.frames, (96, 96))
    ones = warp(torch.ones(1, 1, 96, 96), torch.from_numpy(guide.frames).float()[None], (96, 96))[0, 0].numpy()
    seen = ones > 0.999  # the crop's pixels that the guide's canvas holds, context included
    assert seen.sum() > mask.sum() * 1.5
    assert np.abs(back[seen] - crop[seen].astype(float)).mean() < 2.0


def test_gaps_and_lighting() -> None:
    image, other = smooth_image(seed=0), smooth_image(seed=5)
    mask = CenterBox()(96, 96, None)
    gappy = make_guide(image, (0, 0), mask, np.random.default_rng(0), other, (96, 96),
                       GuideSettings(gap=1.0, brightness=(1, 1), colour=0, gamma=(1, 1)))
    assert 0 < gappy.truth.sum() < mask.sum()
    assert not (gappy.truth & ~mask).any()
    lit = protocol_guide(image, mask, other, index=0)
    again = protocol_guide(image, mask, other, index=0)
    assert np.array_equal(lit.image, again.image) and np.array_equal(lit.frames, again.frames)
    assert not np.array_equal(protocol_guide(image, mask, other, index=1).image, lit.image)
    back = back_to_image(lit.image, lit.frames, (96, 96))[mask]
    ratio = back.mean() / image[mask].mean()
    assert abs(math.log(ratio)) > math.log(1.08), ratio  # the protocol always changes the lighting


def test_guide_errors() -> None:
    with pytest.raises(InvalidArgumentError, match="empty"):
        make_guide(smooth_image(), (0, 0), np.zeros((96, 96), bool), np.random.default_rng(0), smooth_image(),
                   (96, 96), NO_LIGHT)
    with pytest.raises(InvalidArgumentError, match="scale"):
        GuideSettings(scale=(0.0, 1.0))
    with pytest.raises(InvalidArgumentError, match="gap"):
        GuideSettings(gap=1.5)


def test_guided_dataset_is_seeded_and_consistent(tmp_path) -> None:  # noqa: ANN001
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"p{i}.png"), smooth_image(120, 150, seed=i)[..., ::-1])
    ds = GuidedDataset(ImageFolder(folder), 64, CenterBox(), seed=4, scale=(0.6, 1.0),
                       settings=NO_LIGHT, isolated=0.5)
    a, b = ds[(2, 1)], ds[(2, 1)]
    assert set(a) == {"image", "mask", "guide", "guide_affine", "guide_truth"}
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert a["guide"].shape == (3, 64, 64) and a["guide_affine"].shape == (2, 3)
    assert not torch.equal(ds[(3, 1)]["guide"], a["guide"])
    for epoch in range(4):
        s = ds[(epoch, 0)]
        back = warp(s["guide"][None], s["guide_affine"][None], (64, 64))[0]
        hole = s["mask"][0] > 0.5
        assert (back - s["image"]).abs()[:, hole].mean() < 0.02
    with pytest.raises(InvalidArgumentError, match="isolated"):
        GuidedDataset(ImageFolder(folder), 64, CenterBox(), isolated=2.0)


def test_similarity_fits() -> None:
    g = torch.Generator().manual_seed(0)
    pts = torch.rand(3, 40, 2, generator=g) * 2 - 1
    true = torch.tensor([[[1.1, -0.2, 0.3], [0.2, 1.1, -0.1]]]).expand(3, 2, 3)
    tgt = apply_affine(true, pts)
    torch.testing.assert_close(fit_similarity(pts, tgt, torch.ones(3, 40)), true, atol=1e-4, rtol=0)
    bad = tgt.clone()
    bad[:, :8] = torch.rand(3, 8, 2, generator=g) * 2 - 1  # a fifth of the matches are wrong
    plain = fit_similarity(pts, bad, torch.ones(3, 40))
    robust = robust_similarity(pts, bad, torch.ones(3, 40), steps=8, scale=0.05)
    assert (robust - true).abs().max() < 0.2 * (plain - true).abs().max()
    # no weight at all: the identity
    torch.testing.assert_close(fit_similarity(pts, tgt, torch.zeros(3, 40)), torch.eye(2, 3).expand(3, 2, 3))


def test_warp_matches_opencv() -> None:
    image = smooth_image(48, 64)
    pixels = np.array([[0.9, -0.15, 7.0], [0.15, 0.9, -3.0]])
    frames = pixel_affine_to_frames(pixels, (40, 40), (48, 64))
    ours = back_to_image(image, frames, (40, 40))
    theirs = cv2.warpAffine(image, cv2.invertAffineTransform(pixels), (40, 40), flags=cv2.INTER_LINEAR)
    inside = cv2.warpAffine(np.ones((48, 64), np.float32), cv2.invertAffineTransform(pixels), (40, 40)) > 0.999
    assert np.abs(ours[inside] - theirs[inside]).max() <= 1.0


def test_lighting_match_undoes_a_gain_and_offset() -> None:
    image = to_t(smooth_image())
    relit = (image * 0.5 - 0.2).clamp(-1, 1)
    ring = torch.zeros(1, 1, 96, 96)
    ring[..., 10:30, :] = 1
    matched = match_lighting(relit, image, ring)
    assert (matched - image).abs().mean() < 0.02 < (relit - image).abs().mean()
    empty = match_lighting(relit, image, torch.zeros_like(ring))  # nothing to match on: unchanged
    assert torch.equal(empty, relit)


def test_model_without_a_guide_synthesises_only() -> None:
    torch.manual_seed(0)
    model = create_model("guided_inpainting", **TINY).eval()
    image = to_t(smooth_image(40, 48))
    mask = torch.zeros(1, 1, 40, 48)
    mask[..., 10:30, 12:36] = 1
    with torch.no_grad():
        out = model(image * (1 - mask), mask)
        guided = model(image * (1 - mask), mask, image)
    assert out.attention.abs().max() == 0 and torch.equal(out.output, out.synthesis)
    assert guided.attention.max() > 0 and len(guided.affines) == 3  # two stages, then the refinement
    with pytest.raises(ConfigError, match="loc_size"):
        create_model("guided_inpainting", loc_size=20)


def test_recipe_tiny_overfit(tmp_path) -> None:  # noqa: ANN001
    before, after = assert_hole_l1_halves(tmp_path, "guided_inpainting", {**TINY, "refine_steps": 0}, "guided",
                                          {"colour_dropout": 0.0}, steps=30, lr_g=3e-3)
    print(f"hole L1 {before:.4f} -> {after:.4f}")


def test_recipe_options_are_checked(tmp_path) -> None:  # noqa: ANN001
    from overfit import overfit_config

    from holefill.train.recipes import build_recipe, recipe_config

    cfg = overfit_config(write_images(tmp_path / "i"), "guided_inpainting", TINY, "guided", {"colour_dropout": 2})
    with pytest.raises(ConfigError, match="colour_dropout"):
        recipe_config(cfg)
    with pytest.raises(ConfigError, match=r"model\.name: recipe guided trains the guided"):
        build_recipe(overfit_config(tmp_path, "deepfill_v2", {"cnum": 8}, "guided"))


# -- the interfaces: Python API, CLI, bench --------------------------------------------------


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> object:  # noqa: ANN001
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("guided") / "w"
    create_model("guided_inpainting", **TINY).save_pretrained(folder)
    return folder


def test_api_guide_and_known_pixels(tiny_weights) -> None:  # noqa: ANN001
    import holefill

    image, mask = smooth_image(48, 64), np.zeros((48, 64), bool)
    mask[12:30, 20:44] = True
    guide = smooth_image(40, 56, seed=3)
    out = holefill.inpaint(image, mask, "guided_inpainting", guide=guide, weights=tiny_weights)
    assert out.shape == image.shape and np.array_equal(out[~mask], image[~mask]) and not np.array_equal(out, image)
    filler = holefill.get_guided_filler("guided_inpainting", weights=tiny_weights, colour_match=False)
    assert np.array_equal(holefill.inpaint(image, mask, filler, guide=guide), filler.fill(image, mask, guide))
    with pytest.raises(InvalidArgumentError, match="guide photo"):
        holefill.inpaint(image, mask, "guided_inpainting", weights=tiny_weights)
    with pytest.raises(InvalidArgumentError, match="takes no guide"):
        holefill.inpaint(image, mask, "telea", guide=guide)
    with pytest.raises(InvalidArgumentError, match="at least 16 pixels"):
        filler.fill(image, mask, guide[:8])
    with pytest.raises(InvalidArgumentError, match="pass guide="):
        holefill.inpaint(image, mask, filler)


def test_cli_guide(tmp_path, tiny_weights) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from holefill import io
    from holefill.cli import app

    image, mask = smooth_image(48, 64), np.zeros((48, 64), bool)
    mask[12:30, 20:44] = True
    io.write_image(tmp_path / "photo.png", image)
    io.write_mask(tmp_path / "m.png", mask)
    io.write_image(tmp_path / "guide.jpg", smooth_image(60, 60, seed=2))
    (tmp_path / "bad.jpg").write_bytes(b"not a photo")
    run = lambda *a: CliRunner().invoke(app, [str(x) for x in a])  # noqa: E731
    ok = run("inpaint", tmp_path / "photo.png", "--mask", tmp_path / "m.png", "--guide", tmp_path / "guide.jpg",
             "-m", "guided_inpainting", "-w", tiny_weights, "-o", tmp_path / "out.png")
    assert ok.exit_code == 0, ok.output
    out = io.read_image(tmp_path / "out.png")
    assert np.array_equal(out[~mask], image[~mask]) and "from" in ok.output
    bad = run("inpaint", tmp_path / "photo.png", "--mask", tmp_path / "m.png", "--guide", tmp_path / "bad.jpg",
              "-m", "guided_inpainting", "-w", tiny_weights, "-o", tmp_path / "out2.png")
    errors = [line for line in bad.output.splitlines() if line.strip()]
    assert bad.exit_code == 2 and len(errors) == 1 and "bad.jpg: not an image" in errors[0]
    assert not (tmp_path / "out2.png").exists()
    wrong = run("inpaint", tmp_path / "photo.png", "--mask", tmp_path / "m.png", "-m", "guided_inpainting",
                "-w", tiny_weights, "-o", tmp_path / "out3.png")
    assert wrong.exit_code == 2 and "--guide" in wrong.output
    listed = run("methods", "--task", "guided")
    assert listed.exit_code == 0 and "guided_inpainting" in listed.output and "telea" not in listed.output


def test_bench_guided_protocol(tmp_path, tiny_weights) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from holefill import io
    from holefill.cli import app

    folder = tmp_path / "images"
    for i in range(2):
        io.write_image(folder / f"im{i}.png", smooth_image(64, 64, seed=i))
    result = CliRunner().invoke(app, ["bench", "--guided", "--images", str(folder), "--generate", "--sets", "center",
                                      "--methods", "telea,guided_inpainting", "-w", f"guided_inpainting={tiny_weights}",
                                      "-o", str(tmp_path / "rep"), "-q"])
    assert result.exit_code == 0, result.output
    report = (tmp_path / "rep" / "report.md").read_text()
    assert "holefill-guided-v1" in report
    for name in ("telea", "guided_inpainting", "guided_inpainting-nolight"):
        assert f"| {name} |" in result.output or name in report
    plain = CliRunner().invoke(app, ["bench", "--images", str(folder), "--generate", "--sets", "center",
                                     "--methods", "guided_inpainting", "-w", f"guided_inpainting={tiny_weights}",
                                     "-o", str(tmp_path / "rep2"), "-q"])
    assert plain.exit_code == 2 and "--guided" in plain.output


def test_keypoint_start_and_refinement_find_the_true_map() -> None:
    """On a real photo (scikit-image's chelsea, CC0) the keypoint match lands near the true
    similarity and the refinement polishes it below a pixel, whatever the network says."""
    from skimage import data

    from holefill.models.guided import keypoint_affine
    from holefill.train.recipes.guided import alignment_error

    image = np.ascontiguousarray(data.chelsea()[40:200, 100:260])
    mask = CenterBox()(160, 160, None)
    guide = make_guide(image, (0, 0), mask, np.random.default_rng(5), smooth_image(seed=1), (160, 160),
                       GuideSettings(rotation=8, scale=(0.9, 1.1), patches=(1, 1)))
    true = torch.from_numpy(guide.frames).float()[None]
    m = torch.from_numpy(mask)[None, None].float()
    x, g = to_t(image) * (1 - m), to_t(guide.image)
    found = keypoint_affine(x[0], m[0, 0], g[0])
    assert found is not None and alignment_error(found[None], true, m).item() * 80 < 1.5  # pixels
    model = create_model("guided_inpainting", **{**TINY, "refine_steps": 30}).eval()
    far = true.clone()
    far[:, :, 2] += 0.25  # a network estimate 20 px off
    refined = model.refine(x, m, g, far, 30, [found])
    assert alignment_error(refined, true, m).item() * 80 < 0.5
    assert keypoint_affine(torch.zeros(3, 160, 160), m[0, 0], torch.zeros(3, 160, 160)) is None  # flat: no match
