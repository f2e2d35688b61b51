"""Inference speed-ups keep the numbers: batch-norm folding, channels-last, the filler's own
work, and the API's cache of built fillers. (Their timings live in benchmarks/.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import holefill
import holefill.api as api
from holefill.export import sample_inputs
from holefill.models import create_model, list_models
from holefill.models.registry import INPAINT_TASKS, model_entry
from holefill.models.speed import fold_batch_norms, optimize_for_inference
from holefill.pipeline import ModelFiller


def with_statistics(name: str) -> torch.nn.Module:
    """The tiny model in eval mode, its batch norms given non-trivial statistics and affines
    (with the defaults, mean 0 and variance 1, folding would change almost nothing)."""
    torch.manual_seed(0)
    model = create_model(name, **model_entry(name).tiny).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.3)
                m.running_var.uniform_(0.3, 3.0)
                m.weight.normal_(1.0, 0.3)
                m.bias.normal_(0.0, 0.3)
    return model


@pytest.mark.parametrize("name", [n for n in list_models() if model_entry(n).tasks == INPAINT_TASKS])
def test_optimized_model_predicts_the_same(name: str) -> None:
    model = with_statistics(name)
    fast = optimize_for_inference(model)
    assert fast is not model
    has_bn = any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules()) or not has_bn
    image, mask = sample_inputs(model, n=2, seed=3)
    with torch.inference_mode():
        expected = model.predict(image, mask)
        got = fast.predict(image.contiguous(memory_format=torch.channels_last), mask)
    scale = float(expected.abs().max())
    assert float((got - expected).abs().max()) <= 1e-4 * max(1.0, scale)
    assert float((got - expected).abs().max()) <= 1e-3 * scale + 1e-9  # relative too: outputs may be small


def test_folding_counts_and_needs_eval_mode() -> None:
    glcic = with_statistics("glcic")
    n_bn = sum(isinstance(m, torch.nn.BatchNorm2d) for m in glcic.modules())
    assert fold_batch_norms(glcic) == n_bn == 16  # every conv of Table 1 but the output one
    ce = with_statistics("context_encoder")
    n_ce = sum(isinstance(m, torch.nn.BatchNorm2d) for m in ce.modules())
    assert fold_batch_norms(ce) == n_ce == 5  # encoder 2, bottleneck 1, decoder 2 at the tiny size
    train = create_model("pggan", **model_entry("pggan").tiny).train()
    with pytest.raises(ValueError, match="eval"):
        fold_batch_norms(train)


def test_filler_uses_the_fast_copy_and_fills_like_the_plain_model() -> None:
    model = with_statistics("glcic")
    filler = ModelFiller(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in filler.model.modules())
    rng = np.random.default_rng(0)
    image = (rng.random((36, 52, 3)) * 255).astype(np.uint8)
    mask = np.zeros((36, 52), bool)
    mask[8:20, 10:30] = True
    plain = ModelFiller(model, optimize=False)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in plain.model.modules())
    a, b = filler.fill(image, mask), plain.fill(image, mask)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    assert np.array_equal(a[~mask], image[~mask])


def test_api_keeps_built_fillers(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    api.clear_cache()
    builds = []
    real = api.get_filler

    def counting(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        builds.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "get_filler", counting)
    rng = np.random.default_rng(0)
    image = (rng.random((32, 40, 3)) * 255).astype(np.uint8)
    mask = np.zeros((32, 40), bool)
    mask[8:16, 8:24] = True
    weights = tmp_path / "w"
    create_model("glcic", cnum=8).save_pretrained(weights)
    first = holefill.inpaint(image, mask, method="glcic", weights=weights)
    second = holefill.inpaint(image, mask, method="glcic", weights=weights)
    assert len(builds) == 1 and np.array_equal(first, second)
    holefill.inpaint(image, mask, method="telea")
    holefill.inpaint(image, mask, method="telea", radius=5)  # other options: another filler
    assert len(builds) == 3
    create_model("glcic", cnum=8).save_pretrained(weights, overwrite=True)  # weights rewritten in place
    holefill.inpaint(image, mask, method="glcic", weights=weights)
    assert len(builds) == 4
    for k in range(api.CACHE_SIZE + 1):
        holefill.inpaint(image, mask, method="telea", radius=k + 1)
    assert len(api._cache) == api.CACHE_SIZE
    api.clear_cache()
    assert not api._cache
