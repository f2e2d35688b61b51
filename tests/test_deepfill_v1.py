"""DeepFill v1: parameter counts and layout against the official TF graph (v1.0.0), clipping,
the second stage's input, attention offsets, the WGAN critics, and fills through the pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from holefill.errors import ConfigError, InvalidArgumentError
from holefill.layers.gated_conv import ActConv2d, GatedConv2d, SameConv2d
from holefill.models import create_model
from holefill.models.base import CoarseToFineOutput
from holefill.models.deepfill_v1 import DeepFillV1, DeepFillV1Discriminator, WGANCritic
from holefill.pipeline import ModelFiller

#: The faithful PyTorch port's generator count given in our task, and what the official TF
#: graph's trainable variables add up to (the same layers: 5x5/3x3 kernels and one bias each).
REFERENCE_COUNT = 3_601_542


def _batch(n: int = 2, h: int = 32, w: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(n, 3, h, w, generator=g) * 2 - 1
    mask = torch.zeros(n, 1, h, w)
    mask[0, :, 8:20, 10:26] = 1
    if n > 1:
        mask[1:, :, 14:30, 4:16] = 1
    return image, mask


def _tf_conv_params(layers: list[tuple[int, int, int]]) -> int:
    """Trainable variables of TF convs (in, out, kernel): an HWIO kernel and a bias each."""
    return sum(k * k * i * o + o for i, o, k in layers)


def test_parameter_count_matches_the_reference_and_the_official_graph() -> None:
    model = create_model("deepfill_v1")  # cnum 32
    count = model.num_parameters()
    assert count == 3_601_542
    assert abs(count - REFERENCE_COUNT) <= 0.01 * REFERENCE_COUNT
    # The official build_inpaint_net, layer by layer (cnum 32, 5 input channels in both stages).
    c = 32
    encoder = [(5, c, 5), (c, 2 * c, 3), (2 * c, 2 * c, 3), (2 * c, 4 * c, 3)] + [(4 * c, 4 * c, 3)] * 6
    decoder = [(4 * c, 4 * c, 3)] * 2 + [(4 * c, 2 * c, 3), (2 * c, 2 * c, 3), (2 * c, c, 3), (c, c // 2, 3),
                                         (c // 2, 3, 3)]
    xconv = [(5, c, 5), (c, c, 3), (c, 2 * c, 3), (2 * c, 2 * c, 3), (2 * c, 4 * c, 3)] + [(4 * c, 4 * c, 3)] * 5
    pmconv = [(5, c, 5), (c, c, 3), (c, 2 * c, 3), (2 * c, 4 * c, 3)] + [(4 * c, 4 * c, 3)] * 4
    allconv = [(8 * c, 4 * c, 3)] + decoder[1:]
    coarse, refine = _tf_conv_params(encoder + decoder), _tf_conv_params(xconv + pmconv + allconv)
    assert (coarse, refine) == (1_448_227, 2_153_315)
    assert sum(p.numel() for p in model.coarse.parameters()) == coarse
    assert sum(p.numel() for p in model.refine.parameters()) == refine
    assert coarse + refine == REFERENCE_COUNT


def test_layout_follows_the_official_code() -> None:
    model = create_model("deepfill_v1")
    enc, dec = model.coarse.encoder, model.coarse.decoder
    assert enc["conv1"].in_channels == 5 and enc["conv1"].kernel_size == (5, 5)
    assert [enc[f"conv{i}_atrous"].dilation[0] for i in (7, 8, 9, 10)] == [2, 4, 8, 16]
    assert enc["conv2_downsample"].stride == (2, 2) and enc["conv4_downsample"].stride == (2, 2)
    # Plain convs with ELU, no gates anywhere; the two output layers have no activation.
    assert not any(isinstance(m, GatedConv2d) for m in model.modules())
    for out in (dec["conv17"], model.refine.decoder["allconv17"]):
        assert type(out) is SameConv2d and out.out_channels == 3
    acts = [m for m in model.modules() if isinstance(m, ActConv2d)]
    assert len(acts) == len([m for m in model.modules() if isinstance(m, SameConv2d)]) - 2
    assert {m.activation for m in acts} == {"elu", "relu"}
    # Unlike DeepFill v2, the second stage gets the ones and mask channels again (5 inputs).
    r = model.refine
    assert r.hallucination["xconv1"].in_channels == 5 and r.attention_encoder["pmconv1"].in_channels == 5
    assert r.hallucination["xconv2_downsample"].out_channels == 32  # cnum, not 2cnum as in the coarse net
    assert r.hallucination["xconv4_downsample"].out_channels == 64
    assert r.attention_encoder["pmconv4_downsample"].out_channels == 128
    assert r.attention_encoder["pmconv6"].activation == "relu"  # ReLU before the attention
    assert r.decoder["allconv11"].in_channels == 256  # both branches, 4cnum each
    assert (r.attention.ksize, r.attention.rate, r.attention.fuse_k, r.attention.softmax_scale) == (3, 2, 3, 10.0)
    assert r.attention.fuse


def test_forward_outputs_flow_and_clipping() -> None:
    torch.manual_seed(0)
    model = create_model("deepfill_v1", cnum=8).eval()
    image, mask = _batch()
    with torch.no_grad():
        out = model(image, mask)
        flowed = model(image, mask, return_flow=True)
    assert isinstance(out, CoarseToFineOutput) and out.offsets is None
    assert out.output.shape == out.coarse.shape == image.shape
    assert flowed.offsets is not None and flowed.offsets.shape == (2, 2, 32 // 8, 40 // 8)
    assert torch.equal(flowed.output, out.output)
    # The official graph clips (tf.clip_by_value), it has no tanh: push the output convs far
    # out and the outputs sit exactly on the bounds, with the raw values passed through inside.
    with torch.no_grad():
        model.coarse.decoder["conv17"].bias.fill_(5.0)
        model.refine.decoder["allconv17"].bias.fill_(-5.0)
        pushed = model(image, mask)
    assert torch.all(pushed.coarse == 1.0) and torch.all(pushed.output == -1.0)


def test_second_stage_input_is_the_composite_with_ones_and_mask() -> None:
    torch.manual_seed(1)
    model = create_model("deepfill_v1", cnum=8).eval()
    image, mask = _batch()
    seen: dict[str, torch.Tensor] = {}
    model.coarse.register_forward_pre_hook(lambda mod, args: seen.__setitem__("coarse_in", args[0]))
    model.refine.register_forward_pre_hook(lambda mod, args: seen.__setitem__("refine_in", args[0]))
    with torch.no_grad():
        out = model(image, mask)
    known = image * (1 - mask)
    ones = torch.ones_like(mask)
    torch.testing.assert_close(seen["coarse_in"], torch.cat([known, ones, mask], 1))
    torch.testing.assert_close(seen["refine_in"], torch.cat([out.coarse * mask + known, ones, mask], 1))


def test_bad_inputs_and_configs() -> None:
    model = create_model("deepfill_v1", cnum=8)
    image, mask = _batch(n=1, h=30, w=40)
    with pytest.raises(InvalidArgumentError, match="multiples of 4"):
        model(image, mask)
    with pytest.raises(InvalidArgumentError, match="mask"):
        model(_batch(n=1)[0], torch.zeros(1, 1, 8, 8))
    with pytest.raises(InvalidArgumentError, match="N3HW"):
        model(torch.zeros(1, 4, 32, 32), torch.zeros(1, 1, 32, 32))
    with pytest.raises(ConfigError, match="cnum"):
        create_model("deepfill_v1", cnum=7)
    with pytest.raises(ConfigError, match="stride"):
        create_model("deepfill_v1", attention_stride=2)
    assert DeepFillV1.size_multiple == 8


# -- the critics -------------------------------------------------------------------------------

def test_critics_match_the_official_graph() -> None:
    d = DeepFillV1Discriminator()  # 256 image, 128 patch, cnum 64
    # Local: 3->64->128->256->512 5x5 convs, dense 8*8*512 -> 1; global: ...->256, dense 16*16*256 -> 1.
    local = _tf_conv_params([(3, 64, 5), (64, 128, 5), (128, 256, 5), (256, 512, 5)]) + 8 * 8 * 512 + 1
    glob = _tf_conv_params([(3, 64, 5), (64, 128, 5), (128, 256, 5), (256, 256, 5)]) + 16 * 16 * 256 + 1
    assert sum(p.numel() for p in d.local_critic.parameters()) == local == 4_339_329
    assert sum(p.numel() for p in d.global_critic.parameters()) == glob == 2_733_441
    assert all(c.stride == (2, 2) and c.kernel_size == (5, 5) for c in d.global_critic.convs)
    small = DeepFillV1Discriminator(64, 32, cnum=8)
    g, loc = small(torch.zeros(2, 3, 64, 64), torch.zeros(2, 3, 32, 32))
    assert g.shape == loc.shape == (2, 1)
    with pytest.raises(InvalidArgumentError, match="64x64"):
        small(torch.zeros(1, 3, 48, 48), torch.zeros(1, 3, 32, 32))
    with pytest.raises(InvalidArgumentError, match="exceed"):
        DeepFillV1Discriminator(64, 128)


def test_critic_flattens_in_tf_order() -> None:
    torch.manual_seed(0)
    critic = WGANCritic(8, (2,), in_channels=1)  # one conv: 8x8 -> 4x4 x 2 channels
    x = torch.randn(1, 1, 8, 8)
    with torch.no_grad():
        feats = torch.nn.functional.leaky_relu(critic.convs[0](x), 0.2)  # N C H W
        nhwc = feats.permute(0, 2, 3, 1).reshape(1, -1)
        expected = nhwc @ critic.fc.weight.T + critic.fc.bias
        torch.testing.assert_close(critic(x), expected)


# -- through the pipeline -------------------------------------------------------------------------

def test_filler_at_an_odd_size(photo: np.ndarray) -> None:
    torch.manual_seed(0)
    filler = ModelFiller(create_model("deepfill_v1", cnum=8), device="cpu")
    image = np.ascontiguousarray(photo[:61, :77])
    mask = np.zeros(image.shape[:2], bool)
    mask[20:40, 30:50] = True
    out = filler.fill(image, mask)
    assert out.shape == image.shape and np.array_equal(out[~mask], image[~mask])
    assert not np.array_equal(out[mask], image[mask])


@pytest.mark.slow
def test_paper_size_forward() -> None:
    torch.manual_seed(0)
    model = create_model("deepfill_v1").eval()  # 3.6 M parameters
    image, mask = _batch(n=1, h=256, w=256)
    mask.zero_()
    mask[:, :, 64:192, 80:208] = 1  # the official 128x128 box
    with torch.no_grad():
        out = model(image, mask, return_flow=True)
    assert out.output.shape == out.coarse.shape == (1, 3, 256, 256)
    assert out.offsets is not None and out.offsets.shape == (1, 2, 32, 32)
    assert torch.isfinite(out.output).all() and out.output.abs().max() <= 1
