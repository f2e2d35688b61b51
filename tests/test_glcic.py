"""GLCIC: Table 1 parameter count and layers, the official input mapping, the discriminators
of Table 2, local patches, the Poisson-blend post-process, and the pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from holefill.errors import ConfigError, InvalidArgumentError
from holefill.fillers import Filler
from holefill.models import create_model
from holefill.classical.poisson import PoissonBlendFiller, poisson_blend
from holefill.models.glcic import GLCIC, GLCICDiscriminator, crop_patches, local_patch_boxes
from holefill.pipeline import ModelFiller

PAPER_COUNT = 6_072_131


def table1_count() -> int:
    """Table 1 by hand: (in, out, kernel) of each conv, BN after all but the last."""
    layers = [(4, 64, 5), (64, 128, 3), (128, 128, 3), (128, 256, 3), (256, 256, 3), (256, 256, 3)]
    layers += [(256, 256, 3)] * 4 + [(256, 256, 3)] * 2  # dilated 2/4/8/16, then two plain
    layers += [(256, 128, 4), (128, 128, 3), (128, 64, 4), (64, 32, 3)]
    total = sum(i * o * k * k + o + 2 * o for i, o, k in layers)
    return total + 32 * 3 * 9 + 3


@pytest.fixture(scope="module")
def full() -> GLCIC:
    return create_model("glcic")


def test_parameter_count_matches_the_paper(full: GLCIC) -> None:
    n = full.num_parameters()
    assert n == PAPER_COUNT == table1_count()
    assert abs(n - PAPER_COUNT) / PAPER_COUNT < 0.01


def test_table1_layers(full: GLCIC) -> None:
    convs = [m for m in full.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert len(convs) == 17
    assert convs[0].in_channels == 4 and convs[0].kernel_size == (5, 5)  # RGB + mask
    assert [c.stride for c in convs if isinstance(c, nn.Conv2d) and c.stride != (1, 1)] == [(2, 2), (2, 2)]
    dilated = [c for c in convs if isinstance(c, nn.Conv2d) and c.dilation != (1, 1)]
    assert [c.dilation[0] for c in dilated] == [2, 4, 8, 16]
    assert all(c.padding == c.dilation for c in dilated)  # size-preserving
    ups = [c for c in convs if isinstance(c, nn.ConvTranspose2d)]
    assert [(u.kernel_size, u.stride, u.out_channels) for u in ups] == [((4, 4), (2, 2), 128), ((4, 4), (2, 2), 64)]
    assert convs[-1].out_channels == 3 and convs[-2].out_channels == 32
    assert sum(isinstance(m, nn.BatchNorm2d) for m in full.modules()) == 16  # none after the output conv
    assert full.size_multiple == 4


def test_network_input_is_the_official_one() -> None:
    model = create_model("glcic", cnum=8, pixel_mean=(0.25, 0.5, 0.75))
    x = torch.rand(1, 3, 8, 8) * 2 - 1
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 2:5, 3:6] = 1
    inp = model.network_input(x, mask)
    assert inp.shape == (1, 4, 8, 8)
    assert torch.equal(inp[:, 3:], mask)
    assert float(inp[:, :3, 2:5, 3:6].abs().max()) == 0.0  # hole = mean pixel = 0 after subtraction
    expected = (x[:, :, 0, 0] + 1) / 2 - torch.tensor([0.25, 0.5, 0.75])
    assert torch.allclose(inp[:, :3, 0, 0], expected)


def test_output_range_and_hole_content_is_ignored() -> None:
    torch.manual_seed(0)
    model = create_model("glcic", cnum=8).eval()
    x = torch.rand(2, 3, 24, 32) * 2 - 1
    mask = torch.zeros(2, 1, 24, 32)
    mask[..., 8:16, 10:20] = 1
    y = x.clone()
    y[mask.expand_as(y) > 0] = -0.3
    with torch.no_grad():
        a, b = model(x, mask).output, model(y, mask).output
    assert a.shape == x.shape and torch.equal(a, b)
    assert float(a.min()) > -1 and float(a.max()) < 1  # sigmoid mapped to [-1, 1]


def test_every_parameter_gets_a_gradient() -> None:
    model = create_model("glcic", cnum=8).train()
    mask = torch.zeros(2, 1, 16, 16)
    mask[..., 4:10, 4:10] = 1
    model(torch.rand(2, 3, 16, 16) * 2 - 1, mask).output.mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_discriminators_follow_table2() -> None:
    d = GLCICDiscriminator()
    g_convs = [m for m in d.global_convs if isinstance(m, nn.Conv2d)]
    l_convs = [m for m in d.local_convs if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in g_convs] == [64, 128, 256, 512, 512, 512]
    assert [c.out_channels for c in l_convs] == [64, 128, 256, 512, 512]
    assert all(c.kernel_size == (5, 5) and c.stride == (2, 2) for c in g_convs + l_convs)
    assert d.global_fc[0].out_features == d.local_fc[0].out_features == 1024
    assert d.head.in_features == 2048 and d.head.out_features == 1
    assert sum(p.numel() for p in d.parameters()) == 45_063_681
    small = GLCICDiscriminator(global_size=64, local_size=32, cnum=4, fc=16)
    out = small(torch.randn(3, 3, 64, 64), torch.randn(3, 3, 32, 32))
    assert out.shape == (3, 1)
    with pytest.raises(InvalidArgumentError, match="patch"):
        small(torch.randn(1, 3, 64, 64), torch.randn(1, 3, 64, 64))


def test_local_patches_centre_on_the_hole_and_stay_inside() -> None:
    mask = torch.zeros(2, 1, 256, 256)
    mask[0, :, 100:200, 60:170] = 1  # centre (150, 115)
    mask[1, :, 0:100, 200:256] = 1  # near a corner: clamped
    corners = local_patch_boxes(mask, 128)
    assert corners == [(86, 51), (0, 128)]
    patches = crop_patches(torch.arange(256.0).view(1, 1, 1, 256).expand(2, 3, 256, 256), corners, 128)
    assert patches.shape == (2, 3, 128, 128) and float(patches[0, 0, 0, 0]) == 51 and float(patches[1, 0, 0, 0]) == 128
    with pytest.raises(InvalidArgumentError):
        local_patch_boxes(torch.zeros(1, 1, 64, 64), 128)


def _ramp(h: int = 96, w: int = 128) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([40 + xx, 60 + yy, 100 + (xx + yy) // 2], axis=-1).astype(np.uint8)


def test_poisson_blend_removes_a_colour_offset_and_keeps_known_pixels() -> None:
    image = _ramp()
    mask = np.zeros(image.shape[:2], bool)
    mask[30:60, 40:90] = True
    filled = image.copy()
    filled[mask] = np.clip(filled[mask].astype(int) + 40, 0, 255).astype(np.uint8)  # right texture, wrong level
    out = poisson_blend(filled, mask)
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert np.array_equal(out[~mask], image[~mask])
    before = np.abs(filled[mask].astype(int) - image[mask]).mean()
    after = np.abs(out[mask].astype(int) - image[mask]).mean()
    assert before == pytest.approx(40, abs=0.5) and after < 3


def test_poisson_blend_handles_a_hole_on_the_border_and_rejects_bad_input() -> None:
    image = _ramp()
    mask = np.zeros(image.shape[:2], bool)
    mask[:20, :30] = True
    out = poisson_blend(image, mask)
    assert np.array_equal(out[~mask], image[~mask])
    with pytest.raises(InvalidArgumentError):
        poisson_blend(image.astype(np.float32), mask)
    with pytest.raises(InvalidArgumentError):
        poisson_blend(image, mask[:10])


class _Offset(Filler):
    """Fills the hole with the original pixels plus 40: a perfect texture at the wrong level."""

    name = "offset"

    def __init__(self, truth: np.ndarray) -> None:
        self.truth = truth

    def _fill(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.clip(self.truth.astype(int) + 40, 0, 255).astype(np.uint8)


def test_poisson_blend_filler_wraps_a_filler() -> None:
    image = _ramp()
    mask = np.zeros(image.shape[:2], bool)
    mask[30:60, 40:90] = True
    plain = _Offset(image).fill(image, mask)
    blended = PoissonBlendFiller(_Offset(image)).fill(image, mask)
    assert PoissonBlendFiller(_Offset(image)).name == "offset+poisson"
    assert np.array_equal(blended[~mask], image[~mask])
    assert np.abs(blended[mask].astype(int) - image[mask]).mean() < np.abs(plain[mask].astype(int) - image[mask]).mean() / 5


def test_bad_config_fails_clearly() -> None:
    with pytest.raises(ConfigError, match="dilations"):
        create_model("glcic", dilations=[])
    with pytest.raises(ConfigError, match="pixel_mean"):
        create_model("glcic", pixel_mean=[0.5, 0.5])


def test_pipeline_on_an_odd_size_photo(photo: np.ndarray, box_mask: np.ndarray) -> None:
    model = create_model("glcic", cnum=8)
    img, mask = photo[:93, :101], box_mask[:93, :101]
    out = ModelFiller(model, device="cpu").fill(img, mask)
    assert out.shape == img.shape and np.array_equal(out[~mask], img[~mask])
    post = PoissonBlendFiller(ModelFiller(model, device="cpu")).fill(img, mask)
    assert post.shape == img.shape and np.array_equal(post[~mask], img[~mask])


@pytest.mark.slow
def test_full_size_forward_at_the_paper_size(full: GLCIC) -> None:
    mask = torch.zeros(2, 1, 256, 256)
    mask[..., 70:180, 90:200] = 1
    x = torch.rand(2, 3, 256, 256) * 2 - 1
    with torch.no_grad():
        y = full.eval()(x, mask).output
        patch = crop_patches(y, local_patch_boxes(mask), 128)
        logits = GLCICDiscriminator()(y, patch)
    assert y.shape == x.shape and logits.shape == (2, 1) and torch.isfinite(logits).all()
