"""FID, KID and LPIPS: the formulas against direct NumPy/SciPy computations, and the backbones
loading random weights saved in the standard files' key layouts (the real files are not here).

Layouts: the FID port's ``pt_inception-2015-12-05-*.pth`` is torchvision's Inception3 state dict
(``Conv2d_1a_3x3.conv.weight``, ``Mixed_7c.branch_pool.bn.running_var``, ``fc.weight`` with 1008
classes); LPIPS's ``alex.pth``/``vgg.pth`` hold ``lin{k}.model.1.weight`` of shape (1, C, 1, 1);
the trunks are torchvision's ``features.*`` (with ``classifier.*`` beside them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view
from scipy import linalg

from holefill.errors import InvalidArgumentError, WeightsError
from holefill.layers.inception import FIDInceptionV3, load_fid_inception
from holefill.metrics.fid import (fid_from_features, frechet_distance, inception_features, kid_from_features,
                                  polynomial_mmd_unbiased)
from holefill.metrics.lpips import CHANNELS, load_lpips, lpips_distance


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- FID and KID -------------------------------------------------------------------------------------

def _gaussian(rng: np.random.Generator, n: int, d: int, shift: float = 0.0) -> np.ndarray:
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    return rng.standard_normal((n, d)) @ mix + shift


def test_fid_matches_a_direct_scipy_computation() -> None:
    rng = np.random.default_rng(0)
    a, b = _gaussian(rng, 400, 16), _gaussian(rng, 300, 16, shift=0.3)
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a.T), np.cov(b.T)
    # Tr((S1 S2)^(1/2)) = Tr((S1^(1/2) S2 S1^(1/2))^(1/2)), a symmetric PSD matrix: eigenvalues
    root1 = linalg.sqrtm(s1).real
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root1 @ s2 @ root1), 0, None)).sum()
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * cross
    assert fid_from_features(a, b) == pytest.approx(expected, rel=1e-6)
    assert fid_from_features(a, a) == pytest.approx(0.0, abs=1e-8)  # FID(x, x) = 0
    # equal covariances: the distance is the squared distance of the means
    assert frechet_distance(mu1, s1, mu1 + 0.5, s1) == pytest.approx(0.25 * 16, rel=1e-6)
    with pytest.raises(InvalidArgumentError, match="N >= 2"):
        fid_from_features(a[:1], b)


def test_kid_is_the_unbiased_polynomial_mmd() -> None:
    # a case by hand: d = 1, k(a, b) = (ab + 1)^3; x = {0, 1}, y = {0, 2}
    x, y = np.array([[0.0], [1.0]]), np.array([[0.0], [2.0]])
    kxx = 2 * (0 * 1 + 1) ** 3  # off-diagonal pairs (0, 1) and (1, 0)
    kyy = 2 * (0 * 2 + 1) ** 3
    kxy = (0 + 1) ** 3 + (0 + 1) ** 3 + (0 + 1) ** 3 + (1 * 2 + 1) ** 3
    expected = (kxx + kyy) / (2 * 1) - 2 * kxy / 4
    assert polynomial_mmd_unbiased(x, y) == pytest.approx(expected)  # = 2 - 15 = -13
    # unbiased: over many pairs of samples from one distribution, the mean is 0 (a V-statistic is not)
    rng = np.random.default_rng(1)
    values, biased = [], []
    for _ in range(300):
        p, q = rng.standard_normal((20, 4)), rng.standard_normal((20, 4))
        values.append(polynomial_mmd_unbiased(p, q))
        kpp, kqq, kpq = ((p @ p.T / 4 + 1) ** 3, (q @ q.T / 4 + 1) ** 3, (p @ q.T / 4 + 1) ** 3)
        biased.append(kpp.mean() + kqq.mean() - 2 * kpq.mean())
    se = np.std(values) / np.sqrt(len(values))
    assert abs(np.mean(values)) < 3 * se
    assert np.mean(biased) > 10 * se and min(values) < 0
    # KID's subsets: with one subset as large as the sets it is the full estimate (a permutation)
    a, b = rng.standard_normal((30, 8)), rng.standard_normal((30, 8)) + 0.2
    whole = kid_from_features(a, b, subsets=1, subset_size=1000)
    assert whole.subset_size == 30 and whole.mean == pytest.approx(polynomial_mmd_unbiased(a, b))
    kid = kid_from_features(a, b, subsets=50, subset_size=10, seed=3)
    picks = np.random.default_rng(3)
    direct = [polynomial_mmd_unbiased(a[picks.choice(30, 10, replace=False)], b[picks.choice(30, 10, replace=False)])
              for _ in range(50)]
    assert kid.mean == pytest.approx(np.mean(direct)) and kid.std == pytest.approx(np.std(direct))


def _inception_file(tmp_path: Path, seed: int) -> Path:
    """Random weights in the FID port's key layout (no num_batches_tracked, as the 2019 file)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in FIDInceptionV3().state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        if key.endswith("running_var"):
            state[key] = torch.rand(value.shape, generator=gen) + 0.5
        elif key.endswith("conv.weight"):
            fan_in = value[0].numel()
            state[key] = torch.randn(value.shape, generator=gen) * (2.0 / fan_in) ** 0.5
        else:
            state[key] = torch.randn(value.shape, generator=gen) * 0.1 + (1.0 if key.endswith("bn.weight") else 0.0)
    path = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(state, path)
    return path


def test_fid_inception_has_the_ports_layout_and_loads_strictly(tmp_path: Path) -> None:
    net = FIDInceptionV3()
    state = net.state_dict()
    convs = [k for k in state if k.endswith("conv.weight")]
    assert len(convs) == 94  # torchvision Inception3 without AuxLogits
    assert sum(v.numel() for k, v in net.named_parameters() if not k.startswith("fc.")) == 21_785_568
    for key, shape in {"Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3), "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
                       "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
                       "Mixed_7a.branch3x3_2.conv.weight": (320, 192, 3, 3),
                       "Mixed_7c.branch3x3dbl_1.conv.weight": (448, 2048, 1, 1), "fc.weight": (1008, 2048)}.items():
        assert tuple(state[key].shape) == shape, key
    path = _inception_file(tmp_path, 0)
    model = load_fid_inception(path, resize=False)
    assert model.ignored_keys == ("fc.bias", "fc.weight")
    assert torch.equal(model.Mixed_6b.branch7x7_2.bn.running_var, torch.load(path)["Mixed_6b.branch7x7_2.bn.running_var"])
    # the full pipeline: images -> pool3 features -> FID(x, x) = 0, FID(x, y) > 0
    rng = np.random.default_rng(2)
    images = [rng.integers(0, 256, (80, 80, 3), dtype=np.uint8) for _ in range(4)]
    feats = inception_features(images, model=model, batch_size=3)
    assert feats.shape == (4, 2048) and np.isfinite(feats).all() and feats.std() > 0
    assert np.allclose(inception_features(images[::-1], model=model)[::-1], feats, atol=1e-5)  # per image, in order
    others = inception_features([np.ascontiguousarray(img[::-1]) for img in images], model=model)
    # FID(x, x) = 0 and FID(x, y) > 0 on these features (a 2048-d sqrtm takes minutes on this CPU:
    # the formula is checked on all dimensions above, the pipeline here on the first 48)
    assert fid_from_features(feats[:, :48], feats[:, :48]) == pytest.approx(0.0, abs=1e-6)
    assert fid_from_features(feats[:, :48], others[:, :48]) > 0
    # other files are one clear error
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, tmp_path / "vgg.pth")
    with pytest.raises(WeightsError, match="is not the FID Inception weights file .*missing"):
        load_fid_inception(tmp_path / "vgg.pth")
    with pytest.raises(WeightsError, match="FID and KID need the Inception weights .*HOLEFILL_FID_WEIGHTS"):
        inception_features(images)


# -- LPIPS -------------------------------------------------------------------------------------------

def _np_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """Cross-correlation of CHW ``x`` with OIHW ``w``: windows, then a tensor contraction."""
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    k = w.shape[2]
    win = sliding_window_view(xp, (k, k), axis=(1, 2))[:, ::stride, ::stride]  # C, oh, ow, k, k
    return np.tensordot(w, win, axes=([1, 2, 3], [0, 3, 4])) + b[:, None, None]


def _np_maxpool(x: np.ndarray, k: int, s: int) -> np.ndarray:
    return sliding_window_view(x, (k, k), axis=(1, 2))[:, ::s, ::s].max(axis=(3, 4))


# (kind, index in features, stride, pad): conv / relu (a tap when marked) / pool
_ALEX = [("conv", 0, 4, 2), ("tap",), ("pool",), ("conv", 3, 1, 2), ("tap",), ("pool",), ("conv", 6, 1, 1), ("tap",),
         ("conv", 8, 1, 1), ("tap",), ("conv", 10, 1, 1), ("tap",)]


def _vgg_plan() -> list[tuple[Any, ...]]:
    plan: list[tuple[Any, ...]] = []
    index = 0
    for block, convs in enumerate((2, 2, 3, 3, 3)):
        for i in range(convs):
            plan.append(("conv", index, 1, 1))
            plan.append(("tap",) if i == convs - 1 else ("relu",))
            index += 2
        if block < 4:
            plan.append(("pool",))
            index += 1
    return plan


def numpy_lpips(trunk: dict[str, np.ndarray], heads: list[np.ndarray], plan: list[tuple[Any, ...]],
                a: np.ndarray, b: np.ndarray) -> float:
    """LPIPS v0.1 straight from its definition, in NumPy (float64)."""
    shift = np.array([-0.030, -0.088, -0.188])[:, None, None]
    scale = np.array([0.458, 0.448, 0.450])[:, None, None]

    def taps(img: np.ndarray) -> list[np.ndarray]:
        x = (img.transpose(2, 0, 1) / 127.5 - 1 - shift) / scale
        out = []
        for step in plan:
            if step[0] == "conv":
                _, i, s, p = step
                x = _np_conv(x, trunk[f"features.{i}.weight"], trunk[f"features.{i}.bias"], s, p)
            elif step[0] in ("relu", "tap"):
                x = np.maximum(x, 0)
                if step[0] == "tap":
                    out.append(x)
            else:
                x = _np_maxpool(x, 3, 2) if plan is _ALEX else _np_maxpool(x, 2, 2)
        return out

    total = 0.0
    for f0, f1, head in zip(taps(a.astype(np.float64)), taps(b.astype(np.float64)), heads):
        n0 = f0 / (np.sqrt((f0 ** 2).sum(0, keepdims=True)) + 1e-10)
        n1 = f1 / (np.sqrt((f1 ** 2).sum(0, keepdims=True)) + 1e-10)
        total += float((((n0 - n1) ** 2) * head.reshape(-1, 1, 1)).sum(0).mean())
    return total


def _lpips_files(tmp_path: Path, net: str, seed: int) -> tuple[Path, Path, dict[str, np.ndarray], list[np.ndarray]]:
    """Random LPIPS heads (alex.pth / vgg.pth layout) and a torchvision-layout trunk file."""
    gen = torch.Generator().manual_seed(seed)
    if net == "alex":
        convs = {0: (64, 3, 11), 3: (192, 64, 5), 6: (384, 192, 3), 8: (256, 384, 3), 10: (256, 256, 3)}
    else:
        convs, ch, i = {}, 3, 0
        for width, n in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
            for _ in range(n):
                convs[i] = (width, ch, 3)
                ch, i = width, i + 2
            i += 1
    trunk = {}
    for i, (o, c, k) in convs.items():
        trunk[f"features.{i}.weight"] = torch.randn(o, c, k, k, generator=gen) * (2.0 / (c * k * k)) ** 0.5
        trunk[f"features.{i}.bias"] = torch.randn(o, generator=gen) * 0.1
    heads = {f"lin{k}.model.1.weight": torch.rand(1, ch, 1, 1, generator=gen) * 0.1
             for k, ch in enumerate(CHANNELS[net])}
    torch.save({**trunk, "classifier.1.weight": torch.zeros(4, 4)}, tmp_path / f"{net}-trunk.pth")
    torch.save(heads, tmp_path / f"{net}.pth")
    return (tmp_path / f"{net}.pth", tmp_path / f"{net}-trunk.pth", {k: v.double().numpy() for k, v in trunk.items()},
            [heads[f"lin{k}.model.1.weight"].double().numpy() for k in range(5)])


@pytest.mark.parametrize("net, size", [("alex", 64), ("vgg", 32)])
def test_lpips_matches_its_definition(net: str, size: int, tmp_path: Path) -> None:
    heads_path, trunk_path, trunk, heads = _lpips_files(tmp_path, net, seed=4)
    model = load_lpips(heads_path, trunk_path)
    assert model.net == net
    rng = np.random.default_rng(5)
    a = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 41, a.shape), 0, 255).astype(np.uint8)
    plan = _ALEX if net == "alex" else _vgg_plan()
    expected = numpy_lpips(trunk, heads, plan, a, b)
    got = lpips_distance(model, a, b)
    assert expected > 1e-3
    assert got == pytest.approx(expected, rel=1e-4)
    assert lpips_distance(model, a, a) == 0.0
    assert lpips_distance(model, b, a) == pytest.approx(got, rel=1e-5)


def test_lpips_files_in_other_layouts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    heads_path, trunk_path, _, _ = _lpips_files(tmp_path, "alex", seed=6)
    reference = load_lpips(heads_path, trunk_path)
    # a full LPIPS state dict: heads plus the trunk as net.slice{k}.{torchvision index}.*
    slices = {1: (0,), 2: (3,), 3: (6,), 4: (8,), 5: (10,)}
    trunk = torch.load(trunk_path)
    full = dict(torch.load(heads_path))
    for k, indices in slices.items():
        for i in indices:
            for part in ("weight", "bias"):
                full[f"net.slice{k}.{i}.{part}"] = trunk[f"features.{i}.{part}"]
    full["scaling_layer.shift"] = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    torch.save(full, tmp_path / "full.pth")
    model = load_lpips(tmp_path / "full.pth")
    x = torch.rand(1, 3, 48, 48) * 2 - 1
    y = torch.rand(1, 3, 48, 48) * 2 - 1
    assert torch.equal(model(x, y), reference(x, y))
    # the environment names the files when no path is given
    monkeypatch.setenv("HOLEFILL_LPIPS_WEIGHTS", str(heads_path))
    monkeypatch.setenv("HOLEFILL_LPIPS_TRUNK", str(trunk_path))
    assert torch.equal(load_lpips()(x, y), reference(x, y))
    monkeypatch.delenv("HOLEFILL_LPIPS_TRUNK")
    with pytest.raises(WeightsError, match="also needs torchvision's alex trunk weights .*alexnet-owt"):
        load_lpips()
    with pytest.raises(WeightsError, match="not an LPIPS weight file"):
        load_lpips(trunk_path)
    with pytest.raises(WeightsError, match="not torchvision's alex trunk"):
        load_lpips(heads_path, tmp_path / "full.pth")


# -- in the benchmark ------------------------------------------------------------------------------

def test_bench_adds_lpips_fid_kid_or_says_why_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import holefill.metrics.perceptual as perceptual_module
    from holefill import benchmark as B
    from holefill.methods import get_filler
    from holefill.metrics.perceptual import PerceptualScorer, perceptual_scorer

    rng = np.random.default_rng(7)
    images = [(f"img{i}.png", rng.integers(0, 256, (80, 80, 3), dtype=np.uint8)) for i in range(3)]
    hole = np.zeros((80, 80), bool)
    hole[20:50, 25:60] = True
    mask_sets = {"box": [("box.png", hole)]}
    fillers = {name: get_filler(name) for name in ("telea", "ns")}
    # without files: no columns, and the report says why
    none = perceptual_scorer(environ={})
    assert not none.active
    evaluator = B.run_benchmark(fillers, images, mask_sets, progress=False, perceptual=none)
    paths = B.write_report(evaluator, tmp_path / "plain", perceptual=none)
    text = paths["report"].read_text()
    assert "FID, KID: not computed: no Inception weights (give --fid-weights FILE" in text
    assert "LPIPS: not computed: no LPIPS weights" in text and "perceptual" not in paths
    # with random weights in the standard layouts (a 2048-d sqrtm takes minutes here, so FID is
    # taken on the first 32 feature dimensions; its formula is tested above)
    heads, trunk, _, _ = _lpips_files(tmp_path, "alex", seed=8)
    scorer = perceptual_scorer(lpips_weights=heads, lpips_trunk=trunk, environ={})
    scorer.inception = load_fid_inception(_inception_file(tmp_path, 9), resize=False)
    seen: list[tuple[np.ndarray, np.ndarray]] = []

    def fid_on_32(real: np.ndarray, fake: np.ndarray) -> float:
        seen.append((real, fake))
        return fid_from_features(real[:, :32], fake[:, :32])

    monkeypatch.setattr(perceptual_module, "fid_from_features", fid_on_32)
    evaluator = B.run_benchmark(fillers, images, mask_sets, progress=False, perceptual=scorer)
    rows = {r["method"]: r for r in scorer.rows()}
    assert set(rows) == {"telea", "ns"} and rows["ns"]["images"] == 3
    filled = get_filler("telea").fill(images[0][1], hole)
    direct = [lpips_distance(scorer.lpips, img, get_filler("telea").fill(img, hole)) for _, img in images]
    assert rows["telea"]["lpips"] == pytest.approx(np.mean(direct), rel=1e-6) and rows["telea"]["lpips"] > 0
    real, fake = seen[0]
    assert real.shape == fake.shape == (3, 2048)
    assert np.allclose(real[0], inception_features([images[0][1]], model=scorer.inception)[0], atol=1e-5)
    assert np.allclose(fake[0], inception_features([filled], model=scorer.inception)[0], atol=1e-5)
    assert rows["telea"]["kid_subset_size"] == 3 and np.isfinite(rows["telea"]["kid_mean"])
    paths = B.write_report(evaluator, tmp_path / "full", perceptual=scorer)
    text = paths["report"].read_text()
    assert "| telea | LPIPS |" in text and "| ns | FID |" in text and "| ns | KID |" in text
    assert "LPIPS: not computed" not in text and paths["perceptual"].read_text().startswith("method,bucket,images")
    assert isinstance(scorer, PerceptualScorer)


def test_bench_cli_takes_the_weight_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image
    from typer.testing import CliRunner

    from holefill.cli import app

    for name in ("HOLEFILL_FID_WEIGHTS", "HOLEFILL_LPIPS_WEIGHTS", "HOLEFILL_LPIPS_TRUNK"):
        monkeypatch.delenv(name, raising=False)
    rng = np.random.default_rng(10)
    (tmp_path / "imgs").mkdir()
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "imgs" / f"{i}.png")
    heads, trunk, _, _ = _lpips_files(tmp_path, "alex", seed=11)
    runner = CliRunner()
    base = ["bench", "--images", str(tmp_path / "imgs"), "--generate", "--sets", "center", "--methods", "telea", "-q"]
    r = runner.invoke(app, base + ["-o", str(tmp_path / "a"), "--lpips-weights", str(heads), "--lpips-trunk", str(trunk)])
    assert r.exit_code == 0, r.output
    assert "| telea | LPIPS |" in r.stdout and "no Inception weights" in r.stderr
    assert (tmp_path / "a" / "perceptual.csv").is_file()
    r = runner.invoke(app, base + ["-o", str(tmp_path / "b")])
    assert r.exit_code == 0 and "LPIPS" not in r.stdout and "no LPIPS weights" in r.stderr
    assert not (tmp_path / "b" / "perceptual.csv").exists()
    r = runner.invoke(app, base + ["-o", str(tmp_path / "c"), "--lpips-weights", str(trunk)])
    assert r.exit_code == 2 and "not an LPIPS weight file" in r.stderr and len(r.stderr.strip().splitlines()) == 1
