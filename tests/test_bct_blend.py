"""bct_blend (Lu et al., CVPR 2021): counts against the official code, the BCT recurrences, the
attention variant, any size, the model blender and the blending protocol of the filler module.

Official code: github.com/julia0607/Wide-Range-Image-Blending at commit 024a31c (files and
lines cited below).
"""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import holefill
from holefill.blending import ModelBlender, poisson_seam
from holefill.errors import ImageTooLargeError, InvalidArgumentError
from holefill.fillers import MAX_GAP, CanvasBlender
from holefill.layers.contextual_attention import contextual_attention
from holefill.models import create_model
from holefill.models.bct_blend import BCT, BCTDiscriminator, band_columns

TINY = {"base": 4, "lstm_rows": 1, "skip": (1, 2, 3, 4), "attention": (1, 2, 3, 4)}


# -- parameter counts -----------------------------------------------------------------------

def conv(cin: int, cout: int, k: int | tuple[int, int], bias: bool = True, norm: bool = True) -> int:
    """make_layers / make_layers_transpose (models/Generator.py l.8-30): conv, affine instance norm."""
    kh, kw = (k, k) if isinstance(k, int) else k
    return cin * cout * kh * kw + cout * bias + 2 * cout * norm


def identity(c: list[int], norm: bool = True) -> int:  # identity_block, l.32-48 (bias=False)
    return conv(c[0], c[1], 1, False, norm) + conv(c[1], c[2], 3, False, norm) + conv(c[2], c[3], 1, False, norm)


def strided(c: list[int], norm: bool = True) -> int:  # convolutional_block, l.50-68: + the 1x1 shortcut
    return identity(c, norm) + conv(c[0], c[3], 1, False, norm)


def shc(c: int, norm: bool = True) -> int:  # SHC, l.70-83
    return conv(2 * c, c // 2, 1, True, norm) + conv(c // 2, c // 2, 3, True, norm) + conv(c // 2, c, 1, True, norm)


def grb(c: int, norm: bool = True) -> int:  # GRB, l.85-104: two (3x1, 1x7) paths
    return 2 * (conv(c, c, (3, 1), True, norm) + conv(c, c, (1, 7), True, norm))


def lstm(size: int, layers: int = 2) -> int:  # nn.LSTM(size, size, num_layers=2), l.118-119
    return layers * (4 * size * size * 2 + 8 * size)


def official_generator_count() -> int:
    """Generator() of models/Generator.py l.334-475, with the defaults of train_SR.py / test.py."""
    enc = conv(3, 64, 4, False, False) + conv(64, 128, 4, False, False)  # l.349, 352
    enc += strided([128, 64, 64, 256], False) + 2 * identity([256, 64, 64, 256], False)  # l.356-360
    enc += strided([256, 128, 128, 512]) + 3 * identity([512, 128, 128, 512])  # l.364-369
    enc += strided([512, 256, 256, 1024]) + 3 * identity([1024, 256, 256, 1024])  # l.373-378
    enc += strided([1024, 512, 512, 1024]) + 4 * identity([1024, 512, 512, 1024])  # l.382-388
    enc += conv(1024, 512, 1, True, False)  # feature_in, l.391
    bct = 2 * lstm(512 * 4) + conv(1024, 512, 1, True, False)  # LSTM_Encoder_Decoder, l.117-120
    dec = conv(512, 1024, 1, True, False)  # feature_out, l.397
    dec += grb(1024) + 2 * identity([1024, 512, 512, 1024]) + conv(1024, 1024, 4, False)  # l.401-406
    dec += 2 * shc(1024) + 2 * 1024 + grb(1024) + 3 * identity([1024, 256, 256, 1024]) + conv(1024, 512, 4, False)
    dec += 2 * shc(512) + 2 * 512 + grb(512) + 3 * identity([512, 128, 128, 512]) + conv(512, 256, 4, False)
    dec += 2 * shc(256, False) + grb(256, False) + 4 * identity([256, 64, 64, 256], False) + conv(256, 128, 4, False, False)
    dec += 2 * shc(128, False) + conv(128, 64, 4, False, False)  # l.459-463
    dec += 2 * shc(64, False) + 64 * 3 * 4 * 4  # l.467-474
    return enc + bct + dec


def test_paper_model_has_the_official_parameter_count() -> None:
    with torch.device("meta"):  # 259 M parameters, counted without allocating them
        model = create_model("bct_blend")
    assert official_generator_count() == 258_666_240
    assert model.num_parameters() == 258_666_240
    assert sum(p.numel() for p in model.BCT.parameters()) == 134_808_064
    assert sum(p.numel() for n, p in model.BCT.named_parameters() if "LSTM" in n) == lstm(2048) * 2 == 134_283_264
    # Layer names follow the official ones, so the authors' ``Gen`` state dict loads as is.
    keys = set(model.state_dict())
    assert {"encoder_stage2.0.shortcut_path.0.weight", "BCT.LSTM_decoder.weight_hh_l1", "SHC1_mid.conv3.0.bias",
            "skip4.0.weight", "GRB2.path1.1.0.weight", "decoder_stage1.0.weight", "decoder_stage0.0.weight"} <= keys


def test_discriminator_has_the_official_parameter_count() -> None:
    with torch.device("meta"):
        d = BCTDiscriminator(256, 768)
    # models/Discriminator.py l.12-31: four 4x4 convs with bias and Linear(256 * 6 * 256, 1).
    expected = (3 * 64 + 64 * 128 + 128 * 256 + 256 * 512) * 16 + (64 + 128 + 256 + 512) + 256 * 6 * 256 + 1
    assert sum(p.numel() for p in d.parameters()) == expected == 3_149_761


# -- the BCT recurrences --------------------------------------------------------------------

def official_bct(bct: BCT, x1: torch.Tensor, x2: torch.Tensor, pred_step: int):  # noqa: ANN201
    """LSTM_Encoder_Decoder.forward (models/Generator.py l.125-167), one column per step."""
    n, c, h, split = x1.shape
    col = [lambda j, x=x: x[..., j:j + 1].reshape(n, 1, c * h) for x in (x1, x2)]
    state = None
    for j in range(split):
        _, state = bct.LSTM_encoder(col[1](j), state)
    hidden_x2 = state
    state = None
    for j in reversed(range(split)):
        _, state = bct.LSTM_encoder(col[0](j), state)
    hidden_x1 = state
    outs = []
    for start, order, xs in ((hidden_x2, range(split), 0), (hidden_x1, reversed(range(split)), 1)):
        state = start
        for j in order:
            out, state = bct.LSTM_decoder(col[xs](j), state)
        steps = [out]
        for _ in range(pred_step + split - 1):
            out, state = bct.LSTM_decoder(out, state)
            steps.append(out)
        cols = [s.reshape(n, c, h, 1) for s in steps]
        outs.append(torch.cat(cols if xs == 0 else cols[::-1], dim=3))
    x1_out, x2_out = torch.cat([x1, outs[0]], 3), torch.cat([outs[1], x2], 3)
    w = split
    parts = [(t[..., :w], t[..., w:-w], t[..., -w:]) for t in (x1_out, x2_out)]
    middle = bct.output(torch.cat([parts[0][1], parts[1][1]], 1))
    return middle, parts[0], parts[1]


def test_bct_equals_the_official_recurrences() -> None:
    torch.manual_seed(0)
    bct = BCT(channels=3, rows=2, layers=2)
    x1, x2 = torch.randn(2, 3, 2, 4), torch.randn(2, 3, 2, 4)
    ours = bct(x1, x2, 4, sides=True)
    middle, from_left, from_right = official_bct(bct, x1, x2, 4)
    torch.testing.assert_close(ours.middle, middle)
    for a, b in zip(ours.from_left + ours.from_right, from_left + from_right):
        torch.testing.assert_close(a, b)
    plain = bct(x1, x2, 4)  # without the sides, the same middle
    torch.testing.assert_close(plain.middle, middle)


def test_bct_reads_other_heights_in_windows() -> None:
    torch.manual_seed(1)
    bct = BCT(channels=2, rows=2, layers=1)
    x1, x2 = torch.randn(1, 2, 3, 2), torch.randn(1, 2, 3, 3)
    tall = bct(x1, x2, 2)
    top, bottom = bct(x1[:, :, :2], x2[:, :, :2], 2), bct(x1[:, :, 1:], x2[:, :, 1:], 2)
    mid = tall.from_left[1]
    torch.testing.assert_close(mid[:, :, 0], top.from_left[1][:, :, 0])
    torch.testing.assert_close(mid[:, :, 1], (top.from_left[1][:, :, 1] + bottom.from_left[1][:, :, 0]) / 2)
    torch.testing.assert_close(mid[:, :, 2], bottom.from_left[1][:, :, 1])
    short = bct(x1[:, :, :1], x2[:, :, :1], 3)  # one row: the edge row repeated
    padded = bct(x1[:, :, :1].expand(-1, -1, 2, -1), x2[:, :, :1].expand(-1, -1, 2, -1), 3)
    torch.testing.assert_close(short.middle, padded.middle[:, :, :1])


# -- contextual attention as the official blending layer ------------------------------------

def official_attention(left: torch.Tensor, right: torch.Tensor, mid: torch.Tensor, raw_l: torch.Tensor,
                       raw_r: torch.Tensor) -> torch.Tensor:
    """ContextualAttention.forward with two_input=False (models/Generator.py l.187-332), per image."""
    b = torch.cat([left, right], 3)
    raw = torch.cat([raw_l, raw_r], 3)
    b_small, f_small = F.interpolate(b, scale_factor=0.5, mode="nearest"), F.interpolate(mid, scale_factor=0.5, mode="nearest")
    hb, wb = b_small.shape[-2:]
    hf, wf = f_small.shape[-2:]
    eye = torch.eye(3, dtype=b.dtype).view(1, 1, 3, 3)
    out = []
    for i in range(b.shape[0]):
        keys = F.unfold(b_small[i:i + 1], 3, padding=1)[0].T.reshape(-1, b.shape[1], 3, 3)
        keys = keys / (keys.square() + 1e-4).sum(dim=(1, 2, 3), keepdim=True).sqrt()
        y = F.conv2d(F.pad(f_small[i:i + 1], (1, 1, 1, 1)), keys)  # (1, L, hf, wf)
        y = F.conv2d(F.pad(y.view(1, 1, hb * wb, hf * wf), (1, 1, 1, 1)), eye)
        y = y.view(1, hb, wb, hf, wf).permute(0, 2, 1, 4, 3).reshape(1, 1, hb * wb, hf * wf)
        y = F.conv2d(F.pad(y, (1, 1, 1, 1)), eye).view(1, wb, hb, wf, hf).permute(0, 2, 1, 4, 3)
        y = F.softmax(y.reshape(1, hb * wb, hf, wf) * 10, dim=1)
        patches = F.unfold(F.pad(raw[i:i + 1], (1, 1, 1, 1)), 4, stride=2)[0].T.reshape(-1, raw.shape[1], 4, 4)
        out.append(F.conv_transpose2d(y, patches, stride=2, padding=1) / 4.0)
    return torch.cat(out)


@pytest.mark.parametrize("grad", [False, True])
def test_attention_variant_equals_the_official_layer(grad: bool) -> None:
    g = torch.Generator().manual_seed(2)
    left, right, mid = (torch.randn(2, 4, 8, w, generator=g, dtype=torch.float64) for w in (6, 8, 6))
    raw_l, raw_r = torch.randn(2, 5, 8, 6, generator=g, dtype=torch.float64), torch.randn(2, 5, 8, 8, generator=g,
                                                                                          dtype=torch.float64)
    mid.requires_grad_(grad)
    ours, _ = contextual_attention(mid, torch.cat([left, right], 3), raw=torch.cat([raw_l, raw_r], 3),
                                   downscale="nearest", key_norm="smooth")
    torch.testing.assert_close(ours, official_attention(left, right, mid, raw_l, raw_r))
    assert ours.shape == (2, 5, 8, 6) and ours.requires_grad == grad


# -- the generator at any size --------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("bct_blend", **TINY).eval()


def test_any_height_sides_and_gap_that_are_multiples_of_64(tiny: torch.nn.Module) -> None:
    left, right = torch.rand(1, 3, 192, 64) * 2 - 1, torch.rand(1, 3, 192, 128) * 2 - 1
    with torch.no_grad():
        out = tiny.blend(left, right, 192, sides=True)
    assert out.output.shape == (1, 3, 192, 64 + 192 + 128)
    assert out.middle.shape == (1, 32, 3, 3)
    assert [t.shape[-1] for t in out.from_left] == [1, 3, 2] and [t.shape[-1] for t in out.from_right] == [1, 3, 2]
    assert out.output.abs().max() <= 1


@pytest.mark.parametrize("kwargs, match", [
    ({"gap": 100}, "multiples of 64"), ({"gap": 0}, ">= 64"), ({"height": 100}, "multiples of 64"),
    ({"height": 64, "width": 64}, "instance norm"), ({"gap": 64.0}, "whole number"),
])
def test_sizes_the_network_cannot_take_are_one_line_errors(tiny: torch.nn.Module, kwargs: dict, match: str) -> None:
    h, w, gap = kwargs.get("height", 128), kwargs.get("width", 128), kwargs.get("gap", 64)
    with pytest.raises(InvalidArgumentError, match=match) as err:
        tiny.blend(torch.zeros(1, 3, h, w), torch.zeros(1, 3, h, w), gap)
    assert "\n" not in str(err.value)


def test_canvas_masks_must_be_full_height_bands(tiny: torch.nn.Module) -> None:
    image = torch.rand(2, 3, 128, 320) * 2 - 1
    mask = torch.zeros(2, 1, 128, 320)
    mask[0, :, :, 64:128] = 1
    mask[1, :, :, 128:256] = 1  # each image its own gap: run as two batches
    with torch.no_grad():
        out = tiny(image, mask).output
        first = tiny.blend(image[:1, ..., :64], image[:1, ..., 128:], 64).output
        second = tiny.blend(image[1:, ..., :128], image[1:, ..., 256:], 128).output
    torch.testing.assert_close(out, torch.cat([first, second]))
    assert band_columns(mask, image.shape) == [(64, 128), (128, 256)]
    mask[0, :, :5] = 0  # not full height
    with pytest.raises(InvalidArgumentError, match="full-height band"):
        tiny(image, mask)


# -- the blender -----------------------------------------------------------------------------

@pytest.mark.parametrize("h, wl, wr, gap", [(1, 1, 1, 1), (37, 20, 300, 5), (130, 70, 64, 64), (200, 500, 40, 150)])
def test_model_blender_keeps_both_photos_at_any_size(tiny: torch.nn.Module, h: int, wl: int, wr: int, gap: int) -> None:
    rng = np.random.default_rng(h)
    left = rng.integers(0, 256, (h, wl, 3), dtype=np.uint8)
    right = rng.integers(0, 256, (h, wr, 3), dtype=np.uint8)
    out = ModelBlender(tiny, device="cpu").blend(left, right, gap)
    assert out.shape == (h, wl + gap + wr, 3) and out.dtype == np.uint8
    assert np.array_equal(out[:, :wl], left) and np.array_equal(out[:, wl + gap:], right)


def test_model_blender_options(tiny: torch.nn.Module, photo: np.ndarray) -> None:
    half = ModelBlender(tiny, scale=0.5).blend(photo, photo[:, ::-1], 70)
    assert half.shape == (96, 128 + 70 + 128, 3)
    assert np.array_equal(holefill.blend(photo, photo, gap=64, method=ModelBlender(tiny, context=64)),
                          ModelBlender(tiny, context=64).blend(photo, photo, 64))
    for bad in ({"context": 10}, {"context": 1.5}, {"scale": 0}, {"scale": True}):
        with pytest.raises(InvalidArgumentError):
            ModelBlender(tiny, **bad)
    with pytest.raises(InvalidArgumentError, match="not a blending model"):
        ModelBlender(create_model("deepfill_v2", cnum=8))


class ShiftedDrawer(torch.nn.Module):
    """A stand-in blending model: it redraws both photos shifted by ``shift`` and draws ``middle`` in the gap."""

    task, architecture, size_multiple = "blend", "shifted", 64

    def __init__(self, shift: float, middle: float) -> None:
        super().__init__()
        self.shift, self.middle = shift, middle

    def blend(self, left: torch.Tensor, right: torch.Tensor, gap: int):  # noqa: ANN201
        n, _, h, _ = left.shape
        middle = torch.full((n, 3, h, gap), self.middle)
        return types.SimpleNamespace(output=torch.cat([left + self.shift, middle, right + self.shift], dim=3))


def test_poisson_seam_constant_offsets_fade_linearly() -> None:
    h, gap = 6, 4
    got = poisson_seam(np.full((h, 3), 10.0), np.full((h, 3), -20.0), gap)
    t = np.arange(1, gap + 1) / (gap + 1)
    want = np.broadcast_to(((1 - t) * 10.0 - t * 20.0)[None, :, None], (h, gap, 3))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    for bad in ((np.zeros((h, 3)), np.zeros((h, 2)), 4), (np.zeros(h), np.zeros(h), 4),
                (np.zeros((h, 3)), np.zeros((h, 3)), 0), (np.zeros((h, 3)), np.zeros((h, 3)), 2.0)):
        with pytest.raises(InvalidArgumentError, match="poisson_seam"):
            poisson_seam(*bad)


@pytest.mark.parametrize("h, gap", [(1, 3), (8, 5), (64, 64), (128, 1024)])
def test_poisson_seam_is_harmonic_and_meets_both_photos(h: int, gap: int) -> None:
    rng = np.random.default_rng(gap)
    d_left, d_right = rng.uniform(-255, 255, (h, 3)), rng.uniform(-255, 255, (h, 3))
    c = poisson_seam(d_left, d_right, gap)
    assert c.shape == (h, gap, 3) and np.isfinite(c).all()
    full = np.concatenate([d_left[:, None], c, d_right[:, None]], axis=1)  # with its two boundary columns
    padded = np.concatenate([full[:1], full, full[-1:]], axis=0)  # no flux at the top and bottom rows
    laplace = padded[1:-1, :-2] + padded[1:-1, 2:] + padded[:-2, 1:-1] + padded[2:, 1:-1] - 4 * padded[1:-1, 1:-1]
    assert np.abs(laplace).max() < 1e-8 * np.abs(full).max()


@pytest.mark.parametrize("h, gap", [(64, 64), (100, 90)])
def test_poisson_seam_takes_the_redrawn_sides_error_out_of_the_middle(photo: np.ndarray, h: int, gap: int) -> None:
    left, right = photo[:h, :128], photo[:h, -128:]
    shift = 0.2  # the network redraws both photos 0.2 (25.5 levels) too bright
    plain = ModelBlender(ShiftedDrawer(shift, 0.0), seam="none").blend(left, right, gap)[:, 128:128 + gap]
    fixed = ModelBlender(ShiftedDrawer(shift, 0.0), seam="poisson").blend(left, right, gap)[:, 128:128 + gap]
    assert np.all(plain == 128)  # the middle as drawn: 0.0 is level 127.5
    assert np.abs(fixed.astype(np.float64) - (127.5 - 25.5)).max() <= 1.0  # a constant error is taken out whole
    half = ModelBlender(ShiftedDrawer(shift, 0.0), seam="poisson", scale=0.5).blend(left, right, gap)
    inner = half[:, 128 + gap // 4:128 + gap - gap // 4].astype(np.float64)  # at half scale the redrawn edges
    assert np.abs(inner - (127.5 - 25.5)).mean() <= 4.0                      # lose the photo's finest texture,
    assert abs(half[:, 128:128 + gap].mean() - (127.5 - 25.5)) <= 4.0       # which fades near the joins
    with pytest.raises(InvalidArgumentError, match="seam"):
        ModelBlender(ShiftedDrawer(shift, 0.0), seam="offset")


def test_canvas_blender_and_the_gap_and_size_checks(photo: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    from holefill.methods import get_filler

    right = np.ascontiguousarray(photo[::2, ::3])  # other height: resized to the left's
    out = CanvasBlender(get_filler("telea")).blend(photo, right, 33)
    assert out.shape[0] == 96 and np.array_equal(out[:, :128], photo)
    assert np.array_equal(out, holefill.blend(photo, right, gap=33, method="telea"))
    for gap in (0, -4, 2.5, True, MAX_GAP + 1, "8"):
        with pytest.raises(InvalidArgumentError, match="gap"):
            holefill.blend(photo, photo, gap=gap, method="telea")
    monkeypatch.setenv("HOLEFILL_MAX_PIXELS", str(96 * 300))
    with pytest.raises(ImageTooLargeError, match="panorama"):
        holefill.blend(photo, photo, gap=64, method="telea")


def test_the_authors_generator_file_converts(tmp_path, tiny: torch.nn.Module) -> None:  # noqa: ANN001
    """A ``Gen`` file is ``torch.save(gen.state_dict())`` under the official names, which are ours."""
    from holefill.models.bct_blend import load_official_bct_blend
    from holefill.models.convert import convert_official
    from holefill.errors import WeightsError

    state = {f"module.{k}": v for k, v in tiny.state_dict().items()}  # as DataParallel would save it
    torch.save(state, tmp_path / "Gen")
    loaded = load_official_bct_blend(tmp_path / "Gen", **TINY)
    x = torch.rand(1, 3, 128, 192) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(loaded.blend(x[..., :64], x[..., 128:], 64).output,
                                   tiny.blend(x[..., :64], x[..., 128:], 64).output)
    with pytest.raises(InvalidArgumentError, match="one generator file"):
        convert_official("bct_blend", [tmp_path], tmp_path / "w")
    torch.save({k: v for k, v in list(state.items())[1:]}, tmp_path / "Broken")
    with pytest.raises(WeightsError, match="missing"):
        load_official_bct_blend(tmp_path / "Broken", **TINY)
