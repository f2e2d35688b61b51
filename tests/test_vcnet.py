"""VCNet: parameter counts against the official TF graph, the blocks, PCN, the fusion, critics."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from holefill.errors import ConfigError, InvalidArgumentError
from holefill.models import create_model
from holefill.models.vcnet import (
    ContextNorm,
    ContextResBlock,
    PatchCritic,
    ResBlock,
    VCNet,
    VCNetDiscriminator,
    VCNetOutput,
    official_discriminator_map,
    official_variable_map,
)


def _conv(i: int, o: int, k: int) -> int:
    return i * o * k * k + o


def official_counts(c: int, se: bool) -> tuple[int, int]:
    """Trainable variables of the official ``VCNModel.build_net`` (generator.py lines 48-96).

    ``resblock`` (arsenal.py 94-107): c1 k x k, c2 k x k, c3 1x1. ``context_resblock`` (60-91):
    the same three convs, plus, with ``cn_type se``, the SE branch's two dense layers of
    ``squeeze_and_excitation`` (27-36, ratio 8); its "old" form (64-72, lines 79-80 of
    generator.py) has c1 and c2 only. Plain convs: ``mask_conv8``, ``mask_compress_conv``,
    ``mask_output``, ``cmp_compress_conv1/2``, ``cmp_output``.
    """
    def res(i: int, o: int, k: int) -> int:
        return _conv(i, o, k) + _conv(o, o, k) + _conv(i, o, 1)

    def cres(i: int, o: int, k: int) -> int:
        return res(i, o, k) + ((o * (o // 8) + o // 8) + ((o // 8) * o + o) if se else 0)

    def old(i: int, o: int, k: int) -> int:
        return _conv(i, o, k) + _conv(o, o, k)

    mpn = (res(3, 2 * c, 5) + res(2 * c, 4 * c, 3) + 2 * res(4 * c, 4 * c, 3) + _conv(4 * c, 4 * c, 3)
           + res(4 * c, 2 * c, 3) + res(2 * c, c, 3) + _conv(c, c // 2, 3) + _conv(c // 2, 1, 3))
    rin = (cres(3, c, 5) + cres(c, 2 * c, 3) + cres(2 * c, 2 * c, 3) + cres(2 * c, 4 * c, 3) + cres(4 * c, 4 * c, 3)
           + cres(4 * c, 4 * c, 3) + 2 * old(4 * c, 4 * c, 3) + 2 * cres(4 * c, 4 * c, 3)
           + cres(4 * c, 2 * c, 3) + cres(2 * c, 2 * c, 3) + cres(2 * c, c, 3) + cres(c, c, 3)
           + _conv(5 * c, c, 3) + _conv(c, c // 2, 3) + _conv(c // 2, 3, 3))
    return mpn, rin


def test_parameter_counts_match_the_official_graph() -> None:
    # g_cnum 32 (train_options.py line 73); cn_type v1 (line 56) is pcn "fixed", "se" the paper's.
    fixed = create_model("vcnet", pcn="fixed")
    se = create_model("vcnet")
    assert se.config.pcn == "se" and se.config.cnum == 32
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert (count(fixed.mpn), count(fixed.rin)) == official_counts(32, se=False) == (1_261_825, 2_528_067)
    assert fixed.num_parameters() == 3_789_892
    assert (count(se.mpn), count(se.rin)) == official_counts(32, se=True) == (1_261_825, 2_554_527)
    assert se.num_parameters() == 3_816_352
    assert create_model("vcnet", cnum=16).num_parameters() == sum(official_counts(16, se=True))
    assert create_model("vcnet", use_cn=False).num_parameters() == 3_789_892  # no CN: no SE either
    # rin_cnum (not in the paper): a narrower RIN; its fusion conv still takes the MPN's 4 x cnum features
    narrow = create_model("vcnet", cnum=16, rin_cnum=8)
    assert count(narrow.mpn) == official_counts(16, se=True)[0]
    assert count(narrow.rin) == official_counts(8, se=True)[1] + (4 * 16 - 4 * 8) * 8 * 9
    assert sorted(k for k, _ in official_variable_map(narrow.config).values()) == sorted(narrow.state_dict())


def test_critic_parameter_counts() -> None:
    # discriminator.py: disc_global 5x5 convs 64/128/256/256 + dense; discriminator_local 64..512 + conv5 to 1.
    d = VCNetDiscriminator(image_size=256, cnum=64)
    glob = _conv(3, 64, 5) + _conv(64, 128, 5) + _conv(128, 256, 5) + _conv(256, 256, 5) + 16 * 16 * 256 + 1
    patch = _conv(3, 64, 5) + _conv(64, 128, 5) + _conv(128, 256, 5) + _conv(256, 512, 5) + _conv(512, 1, 5)
    assert sum(p.numel() for p in d.global_critic.parameters()) == glob == 2_733_441
    assert sum(p.numel() for p in d.patch_critic.parameters()) == patch == 4_319_361


def test_blocks_follow_the_official_layers() -> None:
    block = ResBlock(4, 8, 3, stride=2)
    x = torch.randn(2, 4, 10, 12)
    expected = F.elu(block.c3(x) + block.c2(F.elu(block.c1(x))))
    torch.testing.assert_close(block(x), expected)
    assert block(x).shape == (2, 8, 5, 6)
    # the shortcut is a 1x1 conv even when the shapes match (official c3 always exists)
    assert ResBlock(8, 8, 3).c3.kernel_size == (1, 1)
    old = ContextResBlock(8, 8, 3, dilation=2, pcn="se", rho=0.5, ratio=8, old=True)
    assert old.c3 is None and old.cn is not None and old.cn.mode == "fixed"
    mask = torch.zeros(2, 1, 10, 12)
    mask[:, :, 2:6, 3:9] = 1
    y = torch.randn(2, 8, 10, 12)
    torch.testing.assert_close(old(y, mask), F.elu(old.cn(old.c2(F.elu(old.c1(y))), mask)))
    names = [n for n, _ in create_model("vcnet", cnum=8).rin.blocks.named_children()]
    assert names[6:8] == ["cmp_conv5_atrous", "cmp_conv6_atrous"]
    model = create_model("vcnet", cnum=8)
    assert [model.rin.blocks[n].old for n in names] == [n in ("cmp_conv5_atrous", "cmp_conv6_atrous") for n in names]
    assert model.rin.blocks["cmp_conv7_atrous"].c1.dilation == (4, 4)


def _official_pcn(x: torch.Tensor, mask: torch.Tensor, beta: torch.Tensor | float, eps: float = 1e-5) -> torch.Tensor:
    """arsenal.py context_normalization, written out term by term."""
    known = F.interpolate(1 - mask, size=x.shape[-2:], mode="nearest")
    hole = 1 - known

    def stats(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cnt = w.sum((2, 3), keepdim=True).clamp_min(eps)
        mean = (x * w).sum((2, 3), keepdim=True) / cnt
        return mean, ((x * w - mean) ** 2).sum((2, 3), keepdim=True) / cnt

    mk, vk = stats(known)
    mh, vh = stats(hole)
    transferred = (x * hole - mh) / torch.sqrt(vh + eps) * torch.sqrt(vk) + mk
    x_unknown = beta * transferred + (1 - beta) * x * hole
    return x_unknown * hole + x * known


@pytest.mark.parametrize("mode", ["fixed", "se"])
def test_pcn_equals_the_official_formula(mode: str) -> None:
    torch.manual_seed(0)
    x = torch.randn(3, 16, 12, 10) * 2 + 0.5
    cn = ContextNorm(16, mode, rho=0.3, ratio=8)
    hard = (torch.rand(3, 1, 24, 20) > 0.7).float()
    for mask in (hard, torch.rand(3, 1, 24, 20), torch.zeros(3, 1, 24, 20)):
        beta = cn.beta(x)
        torch.testing.assert_close(cn(x, mask), _official_pcn(x, mask, beta), rtol=1e-4, atol=1e-4)
    if mode == "se":  # beta: sigmoid(fc2(relu(fc1(mean over H, W)))), per image and channel
        beta = cn.beta(x)
        assert beta.shape == (3, 16, 1, 1) and ((beta > 0) & (beta < 1)).all()
    # known features pass unchanged; hole features take the known ones' statistics (beta = 1)
    full = ContextNorm(16, "fixed", rho=1.0)
    out = full(x, hard)
    known = F.interpolate(1 - hard, size=x.shape[-2:], mode="nearest").bool().expand_as(x)
    assert torch.equal(out[known], x[known])
    # a constant feature map without a hole gives finite gradients (the clamped square root)
    flat = torch.ones(1, 16, 8, 8, requires_grad=True)
    full(flat, torch.zeros(1, 1, 8, 8)).sum().backward()
    assert torch.isfinite(flat.grad).all()


def test_forward_blind_and_with_a_given_mask() -> None:
    torch.manual_seed(0)
    model = create_model("vcnet", cnum=8).eval()
    image = torch.rand(2, 3, 32, 36) * 2 - 1
    out = model(image)
    assert isinstance(out, VCNetOutput)
    assert out.mask_logits.shape == (2, 1, 32, 36) and out.fill.shape == image.shape
    torch.testing.assert_close(out.mask, out.mask_logits.clamp(0, 1))  # official mask_pred: a clip, not a sigmoid
    torch.testing.assert_close(out.output, out.fill * out.mask + image * (1 - out.mask))
    mask = torch.zeros(2, 1, 32, 36)
    mask[:, :, 8:20, 4:30] = 1
    given = model(image, mask)
    assert torch.equal(given.mask, mask) and torch.equal(given.mask_logits, out.mask_logits)
    assert torch.equal(given.output[(mask == 0).expand_as(image)], image[(mask == 0).expand_as(image)])
    # the RIN fuses the MPN's mask_conv5_atrous features: they change the fill
    with torch.no_grad():
        model.mpn.mask_conv5_atrous.c3.bias.add_(1.0)
    assert not torch.allclose(model(image, mask).fill, given.fill)
    assert torch.allclose(model(image, mask).mask_logits, given.mask_logits)  # but not the mask (official quirk)
    result, found = model.predict_blind(image)
    assert result.shape == image.shape and found.shape == (2, 1, 32, 36)


def test_embrace_zeroes_the_hole_for_the_rin() -> None:
    torch.manual_seed(0)
    model = create_model("vcnet", cnum=8, embrace=True).eval()
    image = torch.rand(1, 3, 32, 32) * 2 - 1
    mask = torch.zeros(1, 1, 32, 32)
    mask[:, :, 8:20, 8:20] = 1
    noisy = image + mask * torch.randn(1, 3, 32, 32)
    # with a given mask, the RIN sees only the known pixels (the MPN still reads everything)
    features = model.mpn(image)[1]
    torch.testing.assert_close(model.rin(image * (1 - mask), mask, features), model.rin(noisy * (1 - mask), mask, features))
    assert not torch.equal(model(image, mask).fill, create_model("vcnet", cnum=8).eval()(image, mask).fill)


def test_bad_inputs_and_options_are_one_line_errors() -> None:
    model = create_model("vcnet", cnum=8)
    with pytest.raises(InvalidArgumentError, match="multiples of 4"):
        model(torch.zeros(1, 3, 30, 32))
    with pytest.raises(InvalidArgumentError, match="N3HW"):
        model(torch.zeros(1, 1, 32, 32))
    with pytest.raises(InvalidArgumentError, match="mask must be N1HW"):
        model(torch.zeros(1, 3, 32, 32), torch.zeros(1, 1, 16, 16))
    with pytest.raises(ConfigError, match="pcn"):
        create_model("vcnet", pcn="bn")
    with pytest.raises(ConfigError, match="cnum"):
        create_model("vcnet", cnum=7)
    with pytest.raises(ConfigError, match="rho"):
        create_model("vcnet", rho=1.5)
    with pytest.raises(ConfigError, match="se_ratio"):
        create_model("vcnet", cnum=8, se_ratio=16)


def test_official_variable_map_covers_the_state_dict() -> None:
    for options in ({}, {"pcn": "fixed"}, {"use_cn": False}):
        model = create_model("vcnet", cnum=8, **options)
        names = official_variable_map(model.config)
        keys = [key for key, _ in names.values()]
        assert sorted(keys) == sorted(model.state_dict())
        state = model.state_dict()
        for tf_name, (key, transform) in names.items():
            assert tf_name.startswith("blind_inpaint_net/")
            if transform == "conv":
                assert state[key].dim() == 4 and tf_name.endswith("/kernel")
            elif transform == "dense":
                assert state[key].dim() == 2 and "/cn_se/" in tf_name
    names = official_variable_map()
    assert names["blind_inpaint_net/mask_conv2/c1/kernel"] == ("mpn.mask_conv2.c1.weight", "conv")
    assert names["blind_inpaint_net/cmp_output/bias"] == ("rin.cmp_output.bias", "bias")
    assert "blind_inpaint_net/cmp_conv5_atrous/c3/kernel" not in names  # the "old" blocks have no shortcut
    critic = VCNetDiscriminator(image_size=64, cnum=8)
    assert sorted(k for k, _ in official_discriminator_map().values()) == sorted(critic.state_dict())


def test_patch_critic_averages_over_the_hole_patches() -> None:
    torch.manual_seed(0)
    critic = PatchCritic(cnum=4)
    image = torch.randn(2, 3, 64, 64)
    mask = torch.zeros(2, 1, 64, 64)
    mask[0, :, :32, :32] = 1  # top-left quarter: patches (0, 0) of the 2x2 map
    mask[1] = 1
    scores = critic(image, mask)
    x = image
    for conv in critic.convs:
        x = F.leaky_relu(conv(x), 0.2)
    patches = critic.out(x)
    assert patches.shape == (2, 1, 2, 2)
    torch.testing.assert_close(scores[0, 0], patches[0, 0, 0, 0])
    torch.testing.assert_close(scores[1, 0], patches[1].mean())
    d = VCNetDiscriminator(image_size=64, cnum=4)
    g, p = d(image, mask)
    assert g.shape == p.shape == (2, 1)
    with pytest.raises(InvalidArgumentError, match="64x64"):
        d(torch.zeros(1, 3, 32, 32), torch.ones(1, 1, 32, 32))


def test_registered_as_blind() -> None:
    model = create_model("vcnet", cnum=8)
    assert isinstance(model, VCNet) and model.blind and model.size_multiple == 4
    assert not create_model("deepfill_v2", cnum=8).blind
