"""DeepFill v2: layers, layout and parameter counts against the official TF graph, discriminator."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from contextual_attention_reference import naive_contextual_attention
from holefill.errors import ConfigError, InvalidArgumentError
from holefill.layers.contextual_attention import flow_to_image
from holefill.layers.gated_conv import (
    ActConv2d,
    GatedConv2d,
    SameConv2d,
    UpConv2d,
    gen_conv,
    same_padding,
    tf_same_pad,
)
from holefill.models import create_model
from holefill.models.base import CoarseToFineOutput
from holefill.models.deepfill_v2 import DeepFillV2, DeepFillV2Config
from holefill.models.discriminators import SNPatchGANDiscriminator


def _batch(n: int = 2, h: int = 32, w: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(n, 3, h, w, generator=g) * 2 - 1
    mask = torch.zeros(n, 1, h, w)
    mask[0, :, 8:20, 10:26] = 1
    if n > 1:
        mask[1:, :, 14:30, 4:16] = 1
    return image, mask


# -- layers ---------------------------------------------------------------------------------

def test_tf_same_padding_known_values() -> None:
    # TF "SAME": total = max((ceil(n/s) - 1) * s + (k - 1) * d + 1 - n, 0), the odd pixel after.
    assert same_padding(8, 3, 2) == (0, 1)
    assert same_padding(7, 3, 2) == (1, 1)
    assert same_padding(8, 5, 2) == (1, 2)
    assert same_padding(9, 5, 2) == (2, 2)
    assert same_padding(8, 3, 1, 16) == (16, 16)
    assert same_padding(8, 4, 2) == (1, 1)
    assert same_padding(5, 1, 1) == (0, 0)


@pytest.mark.parametrize("size", [8, 9, 15, 16])
def test_strided_conv_samples_where_tf_does(size: int) -> None:
    conv = SameConv2d(1, 1, 3, stride=2)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 0, 0] = 1.0  # picks the top-left input of each window
        conv.bias.zero_()
    x = torch.arange(size * size, dtype=torch.float32).view(1, 1, size, size) + 1
    y = conv(x)
    out = -(-size // 2)
    assert y.shape[-2:] == (out, out)
    before = 0 if size % 2 == 0 else 1  # even: TF pads nothing before; odd: one pixel
    expected = F.pad(x, (1, 1, 1, 1))[..., 1 - before::2, 1 - before::2][..., :out, :out]
    assert torch.equal(y, expected)


def test_gated_conv_halves_channels_and_gates() -> None:
    torch.manual_seed(0)
    layer = GatedConv2d(5, 8, 3, activation="elu")
    assert layer.out_features == 4
    x = torch.randn(2, 5, 9, 11)
    y = layer(x)
    assert y.shape == (2, 4, 9, 11)
    raw = F.conv2d(x, layer.weight, layer.bias, padding=1)
    torch.testing.assert_close(y, F.elu(raw[:, :4]) * torch.sigmoid(raw[:, 4:]))
    with torch.inference_mode():  # the in-place path gives the same numbers
        torch.testing.assert_close(layer(x), y)
        y_cl = layer(x.contiguous(memory_format=torch.channels_last))
        assert y_cl.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(y_cl, y)
    relu = GatedConv2d(5, 8, 3, activation="relu")
    raw = F.conv2d(x, relu.weight, relu.bias, padding=1)
    torch.testing.assert_close(relu(x), F.relu(raw[:, :4]) * torch.sigmoid(raw[:, 4:]))
    with pytest.raises(ValueError):
        GatedConv2d(5, 7, 3)


def test_gen_conv_variants() -> None:
    assert type(gen_conv(4, 8, 3)) is GatedConv2d
    plain = gen_conv(4, 8, 3, gated=False)  # DeepFill v1's layer: conv + ELU, all filters go on
    assert type(plain) is ActConv2d and plain.out_features == 8
    x = torch.randn(1, 4, 6, 6)
    torch.testing.assert_close(plain(x), F.elu(F.conv2d(x, plain.weight, plain.bias, padding=1)))
    out = gen_conv(4, 3, 3, activation="none")
    assert type(out) is SameConv2d and out.out_features == 3
    torch.testing.assert_close(out(x), F.conv2d(x, out.weight, out.bias, padding=1))


def test_upconv_is_nearest_2x_then_conv() -> None:
    up = UpConv2d(4, 8)
    x = torch.randn(1, 4, 5, 7)
    big = x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    assert up.out_features == 4
    torch.testing.assert_close(up(x), up.conv(big))
    assert up(x).shape == (1, 4, 10, 14)


def test_tf_same_pad_is_identity_when_no_padding_needed() -> None:
    x = torch.randn(1, 2, 4, 4)
    assert tf_same_pad(x, 1) is x


# -- the generator ----------------------------------------------------------------------------

def test_parameter_counts_match_the_official_graph() -> None:
    model = create_model("deepfill_v2")  # cnum 48
    assert model.num_parameters() == 4_052_478
    assert sum(p.numel() for p in model.coarse.parameters()) == 1_631_151
    assert sum(p.numel() for p in model.refine.parameters()) == 2_421_327
    guided = create_model("deepfill_v2", use_guidance=True)  # one more input channel to conv1
    assert guided.num_parameters() == 4_052_478 + 48 * 5 * 5


def test_layout_follows_the_official_code() -> None:
    model = create_model("deepfill_v2")
    enc, dec = model.coarse.encoder, model.coarse.decoder
    assert list(enc)[0] == "conv1" and enc["conv1"].in_channels == 5 and enc["conv1"].kernel_size == (5, 5)
    assert [enc[f"conv{i}_atrous"].dilation[0] for i in (7, 8, 9, 10)] == [2, 4, 8, 16]
    assert enc["conv2_downsample"].stride == (2, 2) and enc["conv4_downsample"].stride == (2, 2)
    # Output layers: 3 filters, not gated, no activation (tanh comes after).
    for out in (dec["conv17"], model.refine.decoder["allconv17"]):
        assert type(out) is SameConv2d and out.out_channels == 3
    # Every other generator layer is gated.
    gated = [m for m in model.modules() if isinstance(m, GatedConv2d)]
    convs = [m for m in model.modules() if isinstance(m, SameConv2d)]
    assert len(convs) == len(gated) + 2
    # The second stage sees the 3-channel composite only (the official graph's xconv1/pmconv1).
    assert model.refine.hallucination["xconv1"].in_channels == 3
    assert model.refine.attention_encoder["pmconv1"].in_channels == 3
    assert model.refine.attention_encoder["pmconv6"].activation == "relu"  # ReLU before attention
    assert model.refine.attention.rate == 2 and model.refine.attention.fuse_k == 3
    assert model.refine.attention.softmax_scale == 10.0
    assert model.refine.decoder["allconv11"].in_channels == 4 * 48  # both branches, 2cnum each


def test_forward_outputs_and_flow() -> None:
    torch.manual_seed(0)
    model = create_model("deepfill_v2", cnum=8).eval()
    image, mask = _batch()
    with torch.no_grad():
        out = model(image, mask)
        flowed = model(image, mask, return_flow=True)
    assert isinstance(out, CoarseToFineOutput)
    assert out.output.shape == out.coarse.shape == image.shape
    assert out.offsets is None
    assert flowed.offsets is not None and flowed.offsets.shape == (2, 2, 32 // 8, 40 // 8)
    assert flowed.offsets.dtype == torch.long
    torch.testing.assert_close(flowed.output, out.output)
    for t in (out.output, out.coarse):
        assert t.abs().max() <= 1 and torch.isfinite(t).all()  # tanh
    pic = flow_to_image(flowed.offsets, size=(32, 40))
    assert pic.shape == (2, 32, 40, 3)


def test_second_stage_input_is_the_pasted_composite() -> None:
    torch.manual_seed(1)
    model = create_model("deepfill_v2", cnum=8).eval()
    image, mask = _batch()
    seen: dict[str, torch.Tensor] = {}

    def keep(name: str):  # noqa: ANN202
        def hook(module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            seen[name] = args[0]
        return hook

    model.refine.register_forward_pre_hook(keep("x"))
    model.refine.attention.register_forward_pre_hook(keep("att"))
    with torch.no_grad():
        out = model(image, mask)
    torch.testing.assert_close(seen["x"], out.coarse * mask + image * (1 - mask))
    assert (seen["att"] >= 0).all()  # ReLU(features) * sigmoid(gate)


def test_attention_chunking_and_the_naive_attention_give_the_same_model_output() -> None:
    torch.manual_seed(2)
    image, mask = _batch(h=48, w=40)
    model = create_model("deepfill_v2", cnum=8).eval()
    small = create_model("deepfill_v2", cnum=8, attention_chunk=7)
    small.load_state_dict(model.state_dict())
    with torch.no_grad():
        ref = model(image, mask, return_flow=True)
        out = small.eval()(image, mask, return_flow=True)
        torch.testing.assert_close(out.output, ref.output, rtol=0, atol=1e-5)
        assert torch.equal(out.offsets, ref.offsets)

        class Naive(torch.nn.Module):
            def forward(self, f, b, mask=None, *, return_flow=False):  # noqa: ANN001, ANN202
                return naive_contextual_attention(f, b, mask)

        model.refine.attention = Naive()
        naive = model(image, mask, return_flow=True)
    torch.testing.assert_close(naive.output, ref.output, rtol=0, atol=1e-5)
    assert torch.equal(naive.offsets, ref.offsets)


def test_guidance_is_read_inside_the_hole_only() -> None:
    torch.manual_seed(3)
    model = create_model("deepfill_v2", cnum=8, use_guidance=True).eval()
    assert model.coarse.encoder["conv1"].in_channels == 6
    image, mask = _batch(n=1)
    edges = (torch.rand(1, 1, 32, 40) > 0.5).float()
    outside = edges.clone()
    outside[mask == 0] = 1 - outside[mask == 0]
    inside = edges.clone()
    inside[mask == 1] = 1 - inside[mask == 1]
    with torch.no_grad():
        ref = model(image, mask, edges)
        same = model(image, mask, outside)
        assert torch.equal(same.coarse, ref.coarse) and torch.equal(same.output, ref.output)
        # (Untrained, the TF-default init shrinks the signal layer by layer: compare exactly.)
        assert not torch.equal(model(image, mask, inside).coarse, ref.coarse)
        with pytest.raises(InvalidArgumentError, match="guidance"):
            model(image, mask)
        with pytest.raises(InvalidArgumentError, match="guidance"):
            create_model("deepfill_v2", cnum=8)(image, mask, edges)


def test_bad_inputs_and_configs() -> None:
    model = create_model("deepfill_v2", cnum=8)
    image, mask = _batch(n=1, h=30, w=40)
    with pytest.raises(InvalidArgumentError, match="multiples of 4"):
        model(image, mask)
    with pytest.raises(InvalidArgumentError, match="mask"):
        model(*_batch(n=1)[:1], torch.zeros(1, 1, 8, 8))
    with pytest.raises(ConfigError, match="in_channels"):
        create_model("deepfill_v2", in_channels=4)
    with pytest.raises(ConfigError, match="cnum"):
        create_model("deepfill_v2", cnum=6)
    with pytest.raises(ConfigError, match="stride"):
        create_model("deepfill_v2", attention_stride=2)
    with pytest.raises(ConfigError, match="no option"):
        create_model("deepfill_v2", cnum_typo=8)
    assert DeepFillV2Config(use_guidance=True).in_channels == 6
    assert DeepFillV2.size_multiple == 8


# -- the discriminator ------------------------------------------------------------------------

def test_sn_patchgan_matches_the_official_graph() -> None:
    torch.manual_seed(0)
    d = SNPatchGANDiscriminator()  # RGB + mask, cnum 64
    # Official trainable variables: 5x5 kernels 4->64->128->256->256->256->256, plus biases.
    assert sum(p.numel() for p in d.parameters()) == 5_946_816
    assert len(d.convs) == 6 and all(c.stride == (2, 2) for c in d.convs)
    assert sum(p.numel() for p in SNPatchGANDiscriminator(in_channels=5).parameters()) == 5_946_816 + 64 * 25
    image, mask = _batch(n=2, h=64, w=96)
    logits = d(image, mask)
    assert logits.shape == (2, 1 * 2 * 256)  # 64x96 -> 1x2 patches of 256 channels
    odd = d(torch.zeros(1, 3, 70, 50), torch.zeros(1, 1, 70, 50))
    assert odd.shape == (1, 2 * 1 * 256)  # TF SAME: ceil(70/64) x ceil(50/64)
    logits.mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in d.parameters())
    with pytest.raises(InvalidArgumentError, match="input channels"):
        d(image, mask, mask)


def test_sn_patchgan_weights_have_unit_spectral_norm() -> None:
    torch.manual_seed(0)
    d = SNPatchGANDiscriminator(cnum=8).train()
    x, m = _batch(n=1, h=64, w=64)
    for _ in range(30):  # power iterations converge
        d(x, m)
    d.eval()
    for conv in d.convs:
        sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
        assert abs(float(sigma) - 1.0) < 1e-2


def test_prefill_variant_starts_from_the_classical_fill():
    import cv2
    import numpy as np

    from holefill.errors import ConfigError
    from holefill.models import create_model
    from holefill.models.deepfill_v2 import diffusion_prefill

    rng = np.random.default_rng(0)
    pixels = cv2.GaussianBlur(rng.integers(0, 256, (32, 40, 3), dtype=np.uint8), (7, 7), 3)
    image = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 127.5 - 1
    mask = torch.zeros(1, 1, 32, 40)
    mask[..., 8:20, 10:26] = 1
    hole = mask[0, 0].numpy().astype(np.uint8) * 255
    expected = cv2.inpaint(pixels, hole, 3.0, cv2.INPAINT_NS)
    got = diffusion_prefill(image * (1 - mask), mask, "ns")
    got_pixels = ((got[0].permute(1, 2, 0) + 1) * 127.5).round().numpy().astype(np.uint8)
    assert np.array_equal(got_pixels, expected)
    torch.manual_seed(0)
    model = create_model("deepfill_v2", cnum=8, prefill="ns").eval()
    with torch.no_grad():
        out = model(image, mask)
    # Untrained (TF-default init: outputs ~1e-7), both residual stages return the NS fill.
    assert torch.allclose(out.output, got, atol=1e-3) and torch.allclose(out.coarse, got, atol=1e-3)
    plain = create_model("deepfill_v2", cnum=8).eval()
    with torch.no_grad():
        assert not torch.allclose(plain(image, mask).output, got, atol=1e-2)
    with pytest.raises(ConfigError, match="prefill"):
        create_model("deepfill_v2", prefill="magic")


def test_stable_init_keeps_the_signal_and_starts_a_prefilled_model_at_its_fill():
    from holefill.errors import ConfigError
    from holefill.layers.gated_conv import GatedConv2d
    from holefill.models import create_model

    g = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
    mask = torch.zeros(2, 1, 64, 64)
    mask[..., 16:40, 20:44] = 1
    scales = {}
    for init in ("tf", "stable"):
        torch.manual_seed(0)
        model = create_model("deepfill_v2", cnum=16, init=init)
        acts = []
        hooks = [m.register_forward_hook(lambda mod, i, o: acts.append(float(o.std())))
                 for m in model.coarse.modules() if isinstance(m, GatedConv2d)]
        with torch.no_grad():
            model(image, mask)
        for h in hooks:
            h.remove()
        scales[init] = acts[-1] / acts[0]  # the last gated layer's scale relative to the first
    assert scales["tf"] < 1e-3 and 0.1 < scales["stable"] < 10
    torch.manual_seed(0)
    prefilled = create_model("deepfill_v2", cnum=16, init="stable", prefill="ns")
    with torch.no_grad():
        out = prefilled(image, mask)
    from holefill.models.deepfill_v2 import diffusion_prefill

    expected = diffusion_prefill(image * (1 - mask), mask, "ns")
    assert torch.allclose(out.output, expected.clamp(-0.999, 0.999), atol=1e-5)
    with pytest.raises(ConfigError, match="init"):
        create_model("deepfill_v2", init="xavier")
