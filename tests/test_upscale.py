"""The upscaler protocol, the classical upscalers, the upscaling metrics and benchmark protocol."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from holefill.classical import Bicubic, Lanczos
from holefill.errors import ImageTooLargeError, InvalidArgumentError
from holefill.io import check_scale, upscaled_size
from holefill.metrics.upscale import luma, psnr_y, ssim_y, tv_ratio, upscale_scores
from holefill.upscale_benchmark import degrade, margins, run_upscale_benchmark, summarise


def test_output_size_is_floored_per_side():
    assert upscaled_size(10, 7, 2.5) == (25, 17)
    assert upscaled_size(3, 3, 1.1) == (3, 3)
    assert upscaled_size(100, 30, 0.1 * 23) == (230, 69)  # 2.3 as a binary fraction is 2.2999...


@pytest.mark.parametrize("scale", [1, 1.0, 0.9, -2, 0, float("inf"), float("nan"), True, "2.5", None, 17])
def test_bad_scales_are_one_line_errors(scale, photo):
    with pytest.raises(InvalidArgumentError) as info:
        Bicubic().upscale(photo, scale)
    assert "\n" not in str(info.value)


def test_check_scale_accepts_numbers_above_one():
    assert check_scale(2, 4.0) == 2.0 and check_scale(np.float32(1.5), 4.0) == 1.5
    with pytest.raises(InvalidArgumentError, match="at most 4"):
        check_scale(4.01, 4.0)


def test_output_pixel_limit_is_checked_before_work(photo, monkeypatch):
    called = []
    monkeypatch.setattr(Bicubic, "_upscale", lambda self, *a: called.append(1))
    with pytest.raises(ImageTooLargeError, match="limit"):
        Bicubic().upscale(photo, 4.0, max_pixels=100_000)
    assert not called


@pytest.mark.parametrize("method", [Bicubic(), Lanczos()])
def test_classical_upscalers_match_pillow(method, photo):
    out = method.upscale(photo, 2.5)
    assert out.shape == (240, 320, 3) and out.dtype == np.uint8
    kind = Image.Resampling.BICUBIC if method.name == "bicubic" else Image.Resampling.LANCZOS
    assert np.array_equal(out, np.asarray(Image.fromarray(photo).resize((320, 240), kind)))


def test_upscaler_rejects_bad_images():
    with pytest.raises(InvalidArgumentError):
        Bicubic().upscale(np.zeros((4, 4, 3), np.float32), 2)
    with pytest.raises(InvalidArgumentError):
        Bicubic().upscale(np.zeros((0, 4, 3), np.uint8), 2)


def test_luma_and_scores_match_scikit_image(photo):
    from skimage.color import rgb2ycbcr
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    noisy = np.clip(photo.astype(int) + np.random.default_rng(0).integers(-15, 16, photo.shape), 0, 255).astype(np.uint8)
    assert np.allclose(luma(photo), rgb2ycbcr(photo)[..., 0], atol=1e-9)
    ya, yb = rgb2ycbcr(photo)[..., 0][3:-3, 3:-3], rgb2ycbcr(noisy)[..., 0][3:-3, 3:-3]
    assert psnr_y(photo, noisy, shave=3) == pytest.approx(peak_signal_noise_ratio(ya, yb, data_range=255), abs=1e-9)
    expected = structural_similarity(ya, yb, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=255)
    assert ssim_y(photo, noisy, shave=3) == pytest.approx(expected, abs=1e-9)
    scores = upscale_scores(photo, noisy, shave=3)
    assert scores["psnr_rgb"] == pytest.approx(peak_signal_noise_ratio(photo[3:-3, 3:-3], noisy[3:-3, 3:-3]))
    assert scores["tv_ratio"] > 1  # noise adds variation
    assert tv_ratio(photo, photo) == 1.0 and math.isinf(psnr_y(photo, photo))


def test_bad_shave_is_refused(photo):
    with pytest.raises(InvalidArgumentError):
        psnr_y(photo, photo, shave=-1)
    with pytest.raises(InvalidArgumentError):
        psnr_y(photo, photo, shave=60)


def test_degrade_crops_to_the_scale_and_shrinks_exactly(photo):
    ref, low = degrade(photo[:93, :127], 2.5)
    assert ref.shape == (90, 125, 3) and low.shape == (36, 50, 3)
    ref, low = degrade(photo, 3.0)
    assert ref.shape == (96, 126, 3) and low.shape == (32, 42, 3)
    with pytest.raises(InvalidArgumentError):
        degrade(photo, 1.0)


def test_benchmark_ranks_lanczos_above_nearest(photo):
    def nearest(image: np.ndarray, scale: float) -> np.ndarray:
        h, w = upscaled_size(image.shape[0], image.shape[1], scale)
        return np.asarray(Image.fromarray(image).resize((w, h), Image.Resampling.NEAREST))

    methods = {"nearest": nearest, "lanczos": Lanczos().upscale}
    records = run_upscale_benchmark(methods, [("cat", photo)], scales=(2.0, 3.0))
    summary = summarise(records)
    assert len(records) == 4 and set(summary) == {(m, s) for m in methods for s in (2.0, 3.0)}
    lead = margins(summary, "lanczos", ["nearest"])
    assert all(v > 0 for scale in lead.values() for k, v in scale.items() if k.startswith("psnr"))
