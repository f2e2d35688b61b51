"""Tests of holefill.metrics: known answers, agreement with scikit-image, the evaluator."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from skimage import data
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

from holefill.errors import HolefillError, InvalidArgumentError, OutputExistsError
from holefill.metrics import (
    MS_SSIM_MIN_SIZE,
    PROTOCOL,
    RECORD_FIELDS,
    SCORE_KEYS,
    Evaluator,
    l1,
    l2,
    mask_bce,
    ms_ssim,
    psnr,
    relative_l1,
    relative_l2,
    relative_tv,
    hole_tv_ratio,
    colour_outside,
    score,
    seam_step,
    ssim,
    ssim_map,
    total_variation,
)

# ----------------------------------------------------------------------------- helpers


def _noisy(img: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(np.rint(img + rng.normal(0.0, sigma, img.shape)), 0, 255).astype(np.uint8)


def _blurred(img: np.ndarray, sigma: float) -> np.ndarray:
    out = gaussian_filter(img.astype(np.float64), sigma=(sigma, sigma, 0))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _sk_ssim(a: np.ndarray, b: np.ndarray) -> float:
    kwargs = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    if a.ndim == 3:
        kwargs["channel_axis"] = 2
    return float(structural_similarity(a, b, **kwargs))


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    """A 200x184 crop of scikit-image's 'astronaut' (public domain): big enough for MS-SSIM."""
    return np.ascontiguousarray(data.astronaut()[20:220, 150:334])


# ----------------------------------------------------------------------------- known answers


def test_psnr_of_constant_offset_is_known() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 200, (17, 23, 3), dtype=np.uint8)
    b = a + np.uint8(10)  # every value moves by exactly 10: MSE = 100
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 100))
    assert psnr(a, b, data_range=100) == pytest.approx(10 * math.log10(100**2 / 100))


def test_identical_images_give_psnr_inf_and_ssim_one(photo: np.ndarray) -> None:
    assert psnr(photo, photo.copy()) == math.inf
    assert ssim(photo, photo.copy()) == pytest.approx(1.0, abs=1e-12)
    assert np.allclose(ssim_map(photo, photo), 1.0)
    assert l1(photo, photo) == 0.0 and l2(photo, photo) == 0.0


def test_l1_l2_of_known_differences() -> None:
    a = np.zeros((4, 5, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 51  # 0.2 in [0,1] units
    b[1, 2, :] = 255  # 1.0 in three channels
    n = a.size
    assert l1(a, b) == pytest.approx((0.2 + 3.0) / n)
    assert l2(a, b) == pytest.approx((0.04 + 3.0) / n)
    assert l1(b, a) == l1(a, b)


def test_masked_errors_average_over_hole_pixels_and_channels() -> None:
    a = np.full((6, 8, 3), 100, np.uint8)
    b = a.copy()
    mask = np.zeros((6, 8), bool)
    mask[1:3, 2:5] = True
    b[mask] = 151  # +51 = 0.2 in the hole, every channel
    b[~mask] = 0  # large errors outside the hole must not count
    assert l1(a, b, mask) == pytest.approx(0.2)
    assert l2(a, b, mask) == pytest.approx(0.04)
    b[mask, 0] = 100  # one channel now exact: mean over channels drops by a third
    assert l1(a, b, mask) == pytest.approx(0.2 * 2 / 3)


def test_masked_metrics_only_look_at_the_hole(photo: np.ndarray, box_mask: np.ndarray) -> None:
    filled = _noisy(photo, 20, seed=1)
    before = (l1(photo, filled, box_mask), l2(photo, filled, box_mask))
    scribbled = filled.copy()
    scribbled[~box_mask] = 255 - scribbled[~box_mask]
    assert (l1(photo, scribbled, box_mask), l2(photo, scribbled, box_mask)) == before
    assert l1(photo, scribbled) > l1(photo, filled)  # the unmasked error does see it
    # score() composites, so what a method does outside the hole cannot change any metric
    assert score(photo, scribbled, box_mask) == score(photo, filled, box_mask)


def test_total_variation_of_known_patterns() -> None:
    h, w = 6, 9
    assert total_variation(np.full((h, w, 3), 77, np.uint8)) == 0.0
    checker = ((np.indices((h, w)).sum(axis=0) % 2) * 255).astype(np.uint8)
    assert total_variation(checker) == pytest.approx(1.0)
    stripes = np.zeros((h, w), np.uint8)
    stripes[:, 1::2] = 255  # every horizontal pair differs by 1, no vertical pair differs
    pairs = h * (w - 1) + (h - 1) * w
    assert total_variation(stripes) == pytest.approx(h * (w - 1) / pairs)
    ramp = np.tile(np.arange(0, 255, 51, dtype=np.uint8), (4, 1))  # 0,51,...,204: steps of 0.2
    assert total_variation(ramp) == pytest.approx(0.2 * 4 * 4 / (4 * 4 + 3 * 5))
    assert total_variation(np.zeros((1, 1, 3), np.uint8)) == 0.0


def test_relative_errors_of_known_images() -> None:
    original = np.full((5, 7, 3), 102, np.uint8)  # 0.4
    filled = np.full((5, 7, 3), 153, np.uint8)  # 0.6
    assert relative_l1(original, filled) == pytest.approx(0.2 / 0.4)
    assert relative_l2(original, filled) == pytest.approx(0.04 / 0.16)
    mask = np.zeros((5, 7), bool)
    mask[2, 3] = True
    half = original.copy()
    half[mask] = 153
    assert relative_l1(original, half) == pytest.approx(0.5 / 35)
    assert relative_l1(original, half, mask) == pytest.approx(0.5)
    assert relative_l2(original, half, mask) == pytest.approx(0.25)
    black = np.zeros_like(original)
    assert relative_l1(black, black) == 0.0
    assert relative_l1(black, filled) == math.inf


def test_relative_tv_of_stripes() -> None:
    stripes = np.zeros((4, 6, 3), np.uint8)
    stripes[:, 1::2] = 255  # grad sum: 4 rows x 5 pairs x 3 ch; image sum: 4 x 3 x 3
    assert relative_tv(stripes) == pytest.approx((4 * 5 * 3) / (4 * 3 * 3))
    assert relative_tv(np.full((4, 6, 3), 9, np.uint8)) == 0.0
    assert relative_tv(np.zeros((4, 6, 3), np.uint8)) == 0.0


def test_mask_bce_of_known_probabilities() -> None:
    target = np.array([[True, False], [False, True]])
    assert mask_bce(np.full((2, 2), 0.5), target) == pytest.approx(math.log(2))
    pred = np.array([[0.9, 0.2], [0.4, 0.7]], np.float32)
    expected = -(math.log(0.9) + math.log(0.8) + math.log(0.6) + math.log(0.7)) / 4
    assert mask_bce(pred, target) == pytest.approx(expected, rel=1e-6)
    perfect = target.astype(np.float64)
    assert mask_bce(perfect, target) == pytest.approx(-math.log(1 - 1e-6))
    wrong = 1.0 - perfect  # confidently wrong everywhere: clipped at -log(eps)
    assert mask_bce(wrong, target, eps=1e-3) == pytest.approx(-math.log(1e-3))


# ----------------------------------------------------------------------------- scikit-image


@pytest.mark.parametrize("kind", ["noise5", "noise25", "blur1", "blur3"])
@pytest.mark.parametrize("crop", [(slice(0, 96), slice(0, 128)), (slice(3, 100), slice(7, 138)), (slice(10, 21), slice(40, 51))])
def test_agrees_with_scikit_image_on_chelsea(kind: str, crop: tuple[slice, slice]) -> None:
    a = np.ascontiguousarray(data.chelsea()[60:200, 120:300][crop])  # 96x128, odd 97x131, minimal 11x11
    b = _noisy(a, float(kind[5:])) if kind.startswith("noise") else _blurred(a, float(kind[4:]))
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-9)
    assert l2(a, b) * 255**2 == pytest.approx(mean_squared_error(a, b), rel=1e-12)
    assert ssim(a, b) == pytest.approx(_sk_ssim(a, b), abs=1e-9)
    assert ssim_map(a, b).shape == (a.shape[0] - 10, a.shape[1] - 10)
    assert ssim_map(a, b).mean() == pytest.approx(ssim(a, b), abs=1e-12)


def test_agrees_with_scikit_image_on_astronaut_gray_and_rgb(astronaut: np.ndarray) -> None:
    b = _blurred(_noisy(astronaut, 10, seed=3), 1.0)
    assert ssim(astronaut, b) == pytest.approx(_sk_ssim(astronaut, b), abs=1e-9)
    g, gb = astronaut[..., 1], b[..., 1]
    assert ssim(g, gb) == pytest.approx(_sk_ssim(g, gb), abs=1e-9)
    assert psnr(g, gb) == pytest.approx(peak_signal_noise_ratio(g, gb, data_range=255), abs=1e-9)


def test_ssim_falls_with_distortion(photo: np.ndarray) -> None:
    values = [ssim(photo, _noisy(photo, s)) for s in (2, 10, 40)]
    assert values[0] > values[1] > values[2]
    assert ssim(photo, _noisy(photo, 10)) == pytest.approx(ssim(_noisy(photo, 10), photo), abs=1e-12)


# ----------------------------------------------------------------------------- MS-SSIM


def test_ms_ssim_is_one_for_identical_and_falls_with_noise(astronaut: np.ndarray) -> None:
    assert ms_ssim(astronaut, astronaut.copy()) == pytest.approx(1.0, abs=1e-12)
    values = [ms_ssim(astronaut, _noisy(astronaut, s)) for s in (3, 12, 40)]
    assert 1.0 > values[0] > values[1] > values[2] > 0.0
    # it weighs coarse scales, where noise averages out, so it forgives noise more than SSIM
    assert ms_ssim(astronaut, _noisy(astronaut, 12)) > ssim(astronaut, _noisy(astronaut, 12))


def test_ms_ssim_with_one_scale_is_ssim(photo: np.ndarray) -> None:
    b = _noisy(photo, 15)
    assert ms_ssim(photo, b, weights=(1.0,)) == pytest.approx(ssim(photo, b), abs=1e-12)


def test_ms_ssim_matches_an_independent_implementation(astronaut: np.ndarray) -> None:
    """A plain re-derivation: a full 2-D Gaussian kernel through scipy.ndimage.correlate,
    skimage's block-mean downsampling, per-channel loops. Sides are multiples of 16 so that
    no scale has an odd size (where conventions for the last row differ)."""
    from scipy.ndimage import correlate
    from skimage.transform import downscale_local_mean

    def reference(a: np.ndarray, b: np.ndarray) -> float:
        t = np.arange(11) - 5.0
        g = np.exp(-(t**2) / (2 * 1.5**2))
        win = np.outer(g, g) / np.outer(g, g).sum()
        c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
        weights = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
        per_channel = []
        for ch in range(3):
            x, y = a[..., ch].astype(float), b[..., ch].astype(float)
            total = 1.0
            for s, w in enumerate(weights):
                f = lambda z: correlate(z, win, mode="constant")[5:-5, 5:-5]  # noqa: E731
                mx, my = f(x), f(y)
                sxx, syy, sxy = f(x * x) - mx**2, f(y * y) - my**2, f(x * y) - mx * my
                cs = (2 * sxy + c2) / (sxx + syy + c2)
                lum = (2 * mx * my + c1) / (mx**2 + my**2 + c1)
                term = (lum * cs).mean() if s == 4 else cs.mean()
                total *= max(term, 0.0) ** w
                x, y = downscale_local_mean(x, (2, 2)), downscale_local_mean(y, (2, 2))
            per_channel.append(total)
        return float(np.mean(per_channel))

    a = astronaut[:192, :176]
    b = _blurred(_noisy(a, 20, seed=5), 0.8)
    assert ms_ssim(a, b) == pytest.approx(reference(a, b), abs=1e-9)


def test_ms_ssim_refuses_small_images_and_names_the_minimum(photo: np.ndarray) -> None:
    assert MS_SSIM_MIN_SIZE == 176
    with pytest.raises(InvalidArgumentError, match="176x176") as err:
        ms_ssim(photo, photo)
    assert "\n" not in str(err.value)
    big = np.zeros((176, 176, 3), np.uint8)
    assert ms_ssim(big, big) == pytest.approx(1.0)
    with pytest.raises(InvalidArgumentError, match="44x44"):
        ms_ssim(photo[:40, :40], photo[:40, :40], weights=(0.5, 0.2, 0.3))


# ----------------------------------------------------------------------------- score()


def test_score_returns_every_protocol_metric(photo: np.ndarray, box_mask: np.ndarray) -> None:
    filled = photo.copy()
    filled[box_mask] = 128
    s = score(photo, filled, box_mask)
    assert tuple(s) == SCORE_KEYS
    assert math.isnan(s["ms_ssim"])  # 96x128 is below 176
    assert s["psnr"] == pytest.approx(psnr(photo, filled))
    assert s["ssim"] == pytest.approx(ssim(photo, filled))
    assert s["l1_hole"] == pytest.approx(l1(photo, filled, box_mask))
    ratio = box_mask.mean()
    assert s["l1"] == pytest.approx(s["l1_hole"] * ratio)
    assert s["l2"] == pytest.approx(s["l2_hole"] * ratio)
    assert s["rel_l1"] == pytest.approx(relative_l1(photo, filled))
    assert s["rel_tv"] == pytest.approx(relative_tv(filled))


def test_score_includes_ms_ssim_for_large_images(astronaut: np.ndarray) -> None:
    mask = np.zeros(astronaut.shape[:2], bool)
    mask[50:120, 40:100] = True
    s = score(astronaut, _noisy(astronaut, 30), mask)
    assert 0.0 < s["ms_ssim"] < 1.0
    assert all(math.isfinite(v) for k, v in s.items() if k != "seam")
    assert math.isnan(s["seam"])  # the blend benchmark's; an inpainting score has none


def test_seam_step_by_hand() -> None:
    image = np.zeros((4, 6, 3), np.uint8)
    image[:, 3:] = 51  # a step of 0.2 between columns 2 and 3
    image[0, 5] = 255  # a single bright pixel next to column 4
    assert seam_step(image, [3]) == pytest.approx(0.2)
    assert seam_step(image, [1, 3]) == pytest.approx(0.1)
    assert seam_step(image, [5]) == pytest.approx((255 - 51) / 255 / 4)
    for bad in ([], [0], [6], [2.5], [True]):
        with pytest.raises(InvalidArgumentError, match="seam columns"):
            seam_step(image, bad)


def test_score_refuses_an_empty_mask(photo: np.ndarray) -> None:
    with pytest.raises(InvalidArgumentError, match="no hole"):
        score(photo, photo, np.zeros(photo.shape[:2], bool))


# ----------------------------------------------------------------------------- bad input

_IMG = np.zeros((16, 16, 3), np.uint8)
_MASK = np.ones((16, 16), bool)


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: l1(_IMG, _IMG.astype(np.float32)), "uint8"),
        (lambda: l2(_IMG, _IMG[:15]), "differ in shape"),
        (lambda: psnr(_IMG, np.zeros((16, 16, 4), np.uint8)), "HxWx3"),
        (lambda: psnr(_IMG, _IMG, data_range=0), "data_range"),
        (lambda: ssim(_IMG.tolist(), _IMG), "numpy array"),
        (lambda: ssim(_IMG[:10], _IMG[:10]), "at least 11x11"),
        (lambda: l1(_IMG, _IMG, _MASK.astype(np.uint8)), "bool"),
        (lambda: l1(_IMG, _IMG, _MASK[:8]), "shape"),
        (lambda: l2(_IMG, _IMG, np.zeros((16, 16), bool)), "no hole"),
        (lambda: relative_l1(_IMG, _IMG, np.zeros((16, 16), bool)), "no hole"),
        (lambda: total_variation(np.zeros((0, 4, 3), np.uint8)), "no pixels"),
        (lambda: mask_bce(np.full((16, 16), 1.5), _MASK), "[0, 1]"),
        (lambda: mask_bce(np.full((16, 16), np.nan), _MASK), "NaN"),
        (lambda: mask_bce(_MASK.astype(np.uint8), _MASK), "float"),
        (lambda: mask_bce(np.full((16, 16), 0.5), _MASK[:4]), "shape"),
        (lambda: mask_bce(np.full((16, 16), 0.5), _MASK, eps=0), "eps"),
        (lambda: ms_ssim(_IMG, _IMG, weights=()), "weights"),
        (lambda: score(_IMG, _IMG, _MASK[:, :3]), "shape"),
    ],
)
def test_bad_input_raises_a_one_line_error(call, fragment: str) -> None:
    with pytest.raises(InvalidArgumentError) as err:
        call()
    assert isinstance(err.value, HolefillError)
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


# ----------------------------------------------------------------------------- evaluator


def _synthetic() -> Evaluator:
    ev = Evaluator(title="Synthetic", notes="Three fake images, two methods.")
    # buckets deliberately not in sorted order: the caller's order must be kept
    spec = [
        ("patchmatch", "30-40%", [(20.0, 0.70, 0.10), (22.0, 0.80, 0.08)], 0.5),
        ("patchmatch", "0-10%", [(30.0, 0.95, 0.02)], 0.25),
        ("telea", "30-40%", [(18.0, 0.60, 0.12)], 0.01),
        ("telea", "0-10%", [(28.0, 0.90, 0.03), (26.0, 0.92, 0.05)], 0.02),
    ]
    for method, bucket, rows, secs in spec:
        for i, (p, s, h) in enumerate(rows):
            ev.add_scores(
                method=method,
                image=f"img{i}.png",
                mask_name=f"{bucket}-{i}.png",
                bucket=bucket,
                hole_ratio=0.35 if bucket == "30-40%" else 0.05,
                metrics={"psnr": p, "ssim": s, "l1_hole": h, "ms_ssim": math.nan, "rel_l1": h / 2},
                seconds=secs,
            )
    return ev


def test_summary_means_counts_and_order() -> None:
    ev = _synthetic()
    rows = ev.summary()
    assert [(r["method"], r["bucket"]) for r in rows] == [
        ("patchmatch", "30-40%"),
        ("patchmatch", "0-10%"),
        ("telea", "30-40%"),
        ("telea", "0-10%"),
    ]
    first = rows[0]
    assert first["count"] == 2
    assert first["psnr"] == pytest.approx(21.0)
    assert first["ssim"] == pytest.approx(0.75)
    assert first["l1_hole"] == pytest.approx(0.09)
    assert first["rel_l1"] == pytest.approx(0.045)
    assert first["hole_ratio"] == pytest.approx(0.35)
    assert first["seconds"] == pytest.approx(0.5)
    assert math.isnan(first["ms_ssim"]) and math.isnan(first["l2"])  # NaN-only cells stay NaN
    assert rows[3]["psnr"] == pytest.approx(27.0) and rows[3]["count"] == 2
    assert ev.methods == ["patchmatch", "telea"] and ev.buckets == ["30-40%", "0-10%"]
    assert len(ev) == 6


def test_summary_skips_nan_but_keeps_finite_values() -> None:
    ev = Evaluator()
    for i, v in enumerate([0.5, math.nan, 0.7]):
        ev.add_scores(method="m", image=f"{i}", mask_name="k", bucket="b", hole_ratio=0.1, metrics={"ms_ssim": v}, seconds=1.0)
    assert ev.summary()[0]["ms_ssim"] == pytest.approx(0.6)
    assert ev.summary()[0]["count"] == 3


def test_add_scores_real_images(photo: np.ndarray, box_mask: np.ndarray) -> None:
    ev = Evaluator()
    filled = photo.copy()
    filled[box_mask] = 0
    rec = ev.add(method="black", image="chelsea", mask_name="box", bucket="10-20%", original=photo, filled=filled, mask=box_mask, seconds=0.1)
    assert rec.hole_ratio == pytest.approx(box_mask.mean())
    assert rec.metrics["psnr"] == pytest.approx(psnr(photo, filled))
    row = ev.summary()[0]
    assert row["l1_hole"] == pytest.approx(photo[box_mask].mean() / 255)


def test_add_scores_rejects_bad_records() -> None:
    ev = Evaluator()
    ok = dict(method="m", image="i", mask_name="k", bucket="b", hole_ratio=0.2, metrics={"psnr": 20.0}, seconds=0.1)
    with pytest.raises(InvalidArgumentError, match="unknown metric"):
        ev.add_scores(**{**ok, "metrics": {"pnsr": 20.0}})
    with pytest.raises(InvalidArgumentError, match="hole_ratio"):
        ev.add_scores(**{**ok, "hole_ratio": 1.5})
    with pytest.raises(InvalidArgumentError, match="method"):
        ev.add_scores(**{**ok, "method": ""})
    with pytest.raises(InvalidArgumentError, match="seconds"):
        ev.add_scores(**{**ok, "seconds": -1})
    assert len(ev) == 0


def test_write_csv_contents(tmp_path) -> None:
    ev = _synthetic()
    per_image, summary = ev.write_csv(tmp_path / "per_image.csv", tmp_path / "out" / "summary.csv")
    with per_image.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == RECORD_FIELDS
    assert len(rows) == 6
    assert rows[0]["method"] == "patchmatch" and rows[0]["bucket"] == "30-40%"
    assert float(rows[0]["psnr"]) == 20.0 and math.isnan(float(rows[0]["ms_ssim"]))
    with summary.open(newline="", encoding="utf-8") as fh:
        srows = list(csv.DictReader(fh))
    assert [r["bucket"] for r in srows] == ["30-40%", "0-10%", "30-40%", "0-10%"]
    assert int(srows[0]["count"]) == 2 and float(srows[0]["psnr"]) == pytest.approx(21.0)


def test_markdown_states_protocol_and_table(tmp_path) -> None:
    ev = _synthetic()
    md = ev.to_markdown()
    assert md.startswith("# Synthetic\n")
    assert PROTOCOL in md and "Three fake images" in md
    assert "| Method | Bucket | N | PSNR (dB) | SSIM | Hole L1 | Texture | Colour | s/img |" in md
    assert "| patchmatch | 30-40% | 2 | 21.00 | 0.7500 | 0.0900 | n/a | n/a | 0.5 |" in md
    assert "| telea | 0-10% | 2 | 27.00 | 0.9100 | 0.0400 | n/a | n/a | 0.02 |" in md
    assert "| patchmatch | 30-40% | 2 | 4.50 | n/a | n/a |" in md  # relative l1 in percent
    assert md.index("| patchmatch | 30-40%") < md.index("| patchmatch | 0-10%")
    out = ev.write_markdown(tmp_path / "report.md")
    assert out.read_text(encoding="utf-8") == md


def test_markdown_escapes_pipes_and_handles_empty() -> None:
    ev = Evaluator()
    assert "No records." in ev.to_markdown()
    ev.add_scores(method="a|b", image="i", mask_name="k", bucket="b", hole_ratio=0.1, metrics={"psnr": math.inf}, seconds=0.0)
    md = ev.to_markdown()
    assert "| a\\|b | b | 1 | inf |" in md


def test_refuses_to_overwrite(tmp_path) -> None:
    ev = _synthetic()
    report = tmp_path / "report.md"
    report.write_text("keep me")
    with pytest.raises(OutputExistsError) as err:
        ev.write_markdown(report)
    assert "\n" not in str(err.value)
    assert report.read_text() == "keep me"
    ev.write_markdown(report, overwrite=True)
    assert report.read_text().startswith("# Synthetic")

    per_image, summary = tmp_path / "a.csv", tmp_path / "b.csv"
    summary.write_text("keep me too")
    with pytest.raises(OutputExistsError):
        ev.write_csv(per_image, summary)
    assert not per_image.exists()  # checked both before writing either
    assert summary.read_text() == "keep me too"
    ev.write_csv(per_image, summary, overwrite=True)
    assert per_image.exists() and summary.read_text().startswith("method,bucket,count")
    with pytest.raises(InvalidArgumentError, match="same file"):
        ev.write_csv(per_image, per_image, overwrite=True)


# --------------------------------------------------------------------------- texture and colour


def test_hole_tv_ratio_counts_pairs_inside_the_hole_only() -> None:
    truth = np.zeros((8, 8, 3), np.uint8)
    truth[:, ::2] = 200  # vertical stripes: every horizontal pair differs by 200
    hole = np.zeros((8, 8), bool)
    hole[2:6, 2:6] = True
    flat = truth.copy()
    flat[hole] = 100  # a smooth fill: no texture inside, sharp seams at the border
    half = truth.copy()
    half[2:6, 2:6] = truth[2:6, 2:6] // 2  # the same stripes at half contrast
    assert hole_tv_ratio(truth, truth, hole) == pytest.approx(1.0)
    assert hole_tv_ratio(truth, flat, hole) == 0.0  # the seams do not count
    assert hole_tv_ratio(truth, half, hole) == pytest.approx(0.5)
    one = np.zeros((8, 8), bool)
    one[3, 3] = True  # no pair inside a one-pixel hole
    assert math.isnan(hole_tv_ratio(truth, truth, one))
    assert math.isnan(hole_tv_ratio(np.full_like(truth, 50), truth, hole))  # a flat truth
    with pytest.raises(InvalidArgumentError):
        hole_tv_ratio(truth, truth[:4], hole)


def test_colour_outside_flags_invented_colours() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(20, 60, (40, 40, 3)).astype(np.uint8)  # dark context
    hole = np.zeros((40, 40), bool)
    hole[10:30, 10:30] = True
    assert colour_outside(image, hole) == 0.0  # the hole holds the context's own colours
    mint = image.copy()
    mint[hole] = (216, 255, 246)
    assert colour_outside(mint, hole) == 1.0
    half = image.copy()
    half[10:20, 10:30] = (216, 255, 246)
    assert colour_outside(half, hole) == pytest.approx(0.5)
    assert colour_outside(half, hole, tolerance=255) == 0.0
    with pytest.raises(InvalidArgumentError, match="ring"):
        colour_outside(image, hole, ring=0)
    with pytest.raises(InvalidArgumentError, match="tolerance"):
        colour_outside(image, hole, tolerance=math.nan)


def test_score_reports_texture_and_colour_against_the_truth(photo: np.ndarray, box_mask: np.ndarray) -> None:
    s = score(photo, photo, box_mask)
    assert s["tv_ratio"] == pytest.approx(1.0) and s["colour_out"] == 0.0
    white = photo.copy()
    white[box_mask] = 255
    s = score(photo, white, box_mask)
    assert s["tv_ratio"] == 0.0 and s["colour_out"] > 0.5


def test_summary_takes_the_median_texture_and_reads_reports_without_it(tmp_path) -> None:
    ev = Evaluator()
    for i, tv in enumerate((0.1, 0.2, 9.0)):
        ev.add_scores(method="m", image=f"i{i}", mask_name="k", bucket="b", hole_ratio=0.1,
                      metrics={"psnr": 20.0, "tv_ratio": tv}, seconds=0.0)
    (row,) = ev.summary()
    assert row["tv_ratio"] == pytest.approx(0.2)  # the median, not the mean 3.1
    per_image, _ = ev.write_csv(tmp_path / "r.csv", tmp_path / "s.csv")
    old = tmp_path / "old.csv"  # a report written before the texture and colour columns
    with per_image.open(newline="") as src, old.open("w", newline="") as dst:
        rows = list(csv.DictReader(src))
        fields = [f for f in rows[0] if f not in ("tv_ratio", "colour_out")]
        writer = csv.DictWriter(dst, fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    back = Evaluator.read_csv(old)
    assert len(back) == 3 and all(math.isnan(r.metrics["tv_ratio"]) for r in back.records)
