"""Meta-SR (Meta-RDN): parameter count, the Meta-Upscale's projection, exact tiling, the recipe."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from holefill.errors import ConfigError, InvalidArgumentError
from holefill.model_tasks import ModelUpscaler
from holefill.models import create_model
from holefill.models.meta_sr import MetaRDN, projection
from holefill.train.recipes.meta_sr import lr_side, shrink, training_scales

TINY = {"g0": 8, "blocks": 2, "layers": 2, "growth": 4, "hidden": 16}


def official_meta_rdn_parameters(g0: int = 64, d: int = 16, c: int = 8, g: int = 64, k: int = 3) -> int:
    """The layer list of XuecaiHu/Meta-SR-Pytorch model/metardn.py (RDNconfig 'B': D, C, G = 16, 8, 64;
    option.py --G0 64, --RDNkSize 3): SFENet1, SFENet2, D RDBs (C RDB_Conv + LFF 1x1), GFF (1x1, kxk),
    Pos2Weight (Linear(3, 256), Linear(256, k*k*G0*3)). The two MeanShift convs are left out."""
    conv = lambda cin, cout, ks: cin * cout * ks * ks + cout  # noqa: E731
    rdb = sum(conv(g0 + i * g, g, k) for i in range(c)) + conv(g0 + c * g, g0, 1)
    return (conv(3, g0, k) + conv(g0, g0, k) + d * rdb + conv(d * g0, g0, 1) + conv(g0, g0, k)
            + (3 * 256 + 256) + (256 * 3 * 3 * g0 * 3 + 3 * 3 * g0 * 3))


def test_paper_config_has_the_official_parameter_count():
    model = create_model("meta_rdn")
    assert model.num_parameters() == official_meta_rdn_parameters() == 22_419_072
    # The official module counts 24 more: common.MeanShift's two 3x3x1x1 convs with biases, which its
    # `self.requires_grad = False` does not freeze. Here the mean shift is a constant buffer.
    assert 22_419_072 + 2 * (9 + 3) == 22_419_096
    assert model.upscale.pos2weight.mlp[-1].out_features == 3 * 3 * 64 * 3


def test_projection_is_floor_i_over_r_with_its_offset():
    index, offset = projection(6, 2.5, torch.device("cpu"))
    assert index.tolist() == [0, 0, 0, 1, 1, 2]
    assert torch.allclose(offset, torch.tensor([0.0, 0.4, 0.8, 0.2, 0.6, 0.0], dtype=torch.float64))


@pytest.mark.parametrize("scale", [1.1, 2.0, 2.5, 2.37, 3.9, 4.0])
def test_output_size_and_both_upscale_paths_agree(scale: float):
    torch.manual_seed(0)
    model = create_model("meta_rdn", **TINY).eval()
    x = torch.rand(2, 3, 11, 14) * 2 - 1
    with torch.no_grad():
        out = model(x, scale)
        feats = model.features(x)
        h, w = out.shape[-2:]
        by_pixels = model.upscale._by_pixels(feats, scale, (0, h), (0, w), (0, 0))
        frac = Fraction(scale).limit_denominator(100)
        by_classes = model.upscale._by_classes(feats, frac, (0, h), (0, w), (0, 0))
    assert (h, w) == (math.floor(scale * 11 + 1e-6), math.floor(scale * 14 + 1e-6))
    torch.testing.assert_close(by_classes, by_pixels, atol=1e-5, rtol=1e-4)
    assert torch.isfinite(out).all() and out.std() > 0


def test_tiles_give_the_whole_image_result():
    torch.manual_seed(1)
    model = create_model("meta_rdn", **TINY, residual="bicubic").eval()
    torch.nn.init.normal_(model.upscale.pos2weight.mlp[-1].weight, 0, 0.05)  # not the zero start
    image = np.random.default_rng(0).integers(0, 256, (45, 38, 3), dtype=np.uint8)
    for scale in (2.5, 2.37, 3.0):
        tiled = ModelUpscaler(model, tile=16).upscale(image, scale)
        whole = ModelUpscaler(model, tile=1024).upscale(image, scale)
        assert tiled.shape == (math.floor(45 * scale + 1e-6), math.floor(38 * scale + 1e-6), 3)
        assert np.abs(tiled.astype(int) - whole).max() <= 1  # float order only


def test_bicubic_residual_starts_exactly_at_bicubic():
    model = create_model("meta_rdn", **TINY, residual="bicubic").eval()
    x = torch.rand(1, 3, 9, 13) * 2 - 1
    with torch.no_grad():
        out = model(x, 2.0)
    torch.testing.assert_close(out, F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False),
                               atol=1e-5, rtol=0)


@pytest.mark.parametrize("scale", [1.0, 0.5, 4.5, float("nan"), True, "2"])
def test_scales_outside_the_model_range_are_refused(scale):
    model = create_model("meta_rdn", **TINY)
    with pytest.raises(InvalidArgumentError):
        model(torch.zeros(1, 3, 8, 8), scale)


def test_bad_config_is_a_config_error():
    with pytest.raises(ConfigError):
        create_model("meta_rdn", residual="lanczos")
    with pytest.raises(ConfigError):
        create_model("meta_rdn", g0=0)


def test_training_geometry_lines_up_exactly():
    assert training_scales(1.1, 4.0, 0.1) == tuple(round(1.1 + 0.1 * i, 6) for i in range(30))
    assert lr_side(50, 1.1) == 50 and lr_side(40, 2.5) == 40 and lr_side(45, 2.5) == 44 and lr_side(40, 2.3) == 40
    hr = torch.rand(2, 3, 100, 100) * 2 - 1
    lr = shrink(hr, 40)
    assert lr.shape == (2, 3, 40, 40)
    levels = (lr + 1) * 127.5
    assert torch.allclose(levels, torch.round(levels), atol=1e-4)  # 8-bit levels
    flat = torch.full((1, 3, 30, 30), 0.2)
    assert torch.allclose(shrink(flat, 12, quantize=False), torch.full((1, 3, 12, 12), 0.2), atol=1e-6)


def test_recipe_halves_the_l1_on_smooth_images(tmp_path):
    from overfit import write_images

    from holefill.train.config import config_from_dict
    from holefill.train.trainer import Trainer

    data = write_images(tmp_path / "images", count=4, size=48)
    cfg = config_from_dict({
        "model": {"name": "meta_rdn", "args": TINY},
        "recipe": {"name": "meta_sr", "args": {"min_scale": 2.0, "max_scale": 3.0, "scale_step": 0.5,
                                               "lr_patch": 12}},
        "data": {"train": str(data), "crop": 36, "batch_size": 4, "workers": 0, "masks": [{"kind": "center"}]},
        "optim": {"lr_g": 3e-3, "betas": [0.9, 0.999]},
        "train": {"steps": 80, "seed": 0, "log_every": 10, "sample_every": 0, "ckpt_every": 0, "eval_every": 0,
                  "device": "cpu", "ema_decay": None},
    }, source="meta-sr-overfit.yaml")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = Trainer(cfg, tmp_path / "run", progress=False)
        final = trainer.fit()
    finally:
        torch.set_num_threads(threads)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    first, last = log[0]["g/l1"], log[-1]["g/l1"]
    assert last < 0.5 * first, (first, last)
    assert isinstance(create_model("meta_rdn", **TINY), MetaRDN) and (final / "model.safetensors").is_file()
