"""Checks every registered model passes, parametrised over ``holefill.models.list_models()``.

Convention (every model module follows it): the factory is registered with a ``tiny`` dict
of ``create_model`` overrides that builds a small, fast variant of that architecture for
tests, e.g.::

    @register_model(paper=..., code=..., tiny={"cnum": 8})
    def deepfill_v2(**cfg): ...

A model without ``tiny`` fails :func:`test_factory_declares_a_tiny_config`. The tiny model
runs at a small size that is a multiple of its ``size_multiple`` (or at its ``fixed_size``).
Generators may return extra tensors in their output dataclass (coarse stages, edges);
gradients are checked through all of them. Blending models (``task == "blend"``) get a canvas
whose hole is the middle third of the columns, the gap between two photos; the inpainting
filler's checks run for inpainting models only (blenders have their own, e.g. in
tests/test_bct_blend.py).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import torch

from holefill.errors import ConfigError
from holefill.models import create_model, list_models, load_model
from holefill.models.base import InpaintModel, InpaintOutput
from holefill.models.registry import INPAINT_TASKS, model_entry
from holefill.pipeline import ModelFiller


#: The registered inpainting generators: these checks feed them (image, mask). Upscalers and
#: image generators (which also "inpaint", by latent search) have their own tests.
MODELS = [n for n in list_models() if model_entry(n).tasks in (INPAINT_TASKS, ("blind", "inpaint"))]


def model_task(name: str) -> str:
    """What the model does: ``inpaint`` (any hole) or ``blend`` (the gap between two photos)."""
    return getattr(create_model(name, **model_entry(name).tiny), "task", "inpaint")


INPAINT_MODELS = [name for name in MODELS if model_task(name) == "inpaint"]


def tiny_overrides(name: str) -> dict[str, Any]:
    tiny = model_entry(name).tiny
    assert isinstance(tiny, dict) and tiny, f"{name}: register the factory with a `tiny` dict of small-config overrides"
    return dict(tiny)


def tiny_model(name: str, seed: int = 0) -> InpaintModel:
    """The tiny variant in eval mode. Batch-norm statistics first see a few random batches:
    with the initial running statistics (mean 0, variance 1) an untrained deep stack can
    shrink its signal to nothing, so different inputs would give the same output."""
    torch.manual_seed(seed)
    model = create_model(name, **tiny_overrides(name))
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if norms:
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.momentum = None  # a plain average over the warm-up batches
            m.reset_running_stats()
        model.train()
        with torch.no_grad():
            for k in range(3):
                image, mask = inputs(model, n=2, seed=100 + k)
                model(image, mask, *extras(model, image))
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
    return model.eval()


def size_for(model: InpaintModel, base: tuple[int, int] = (40, 56)) -> tuple[int, int]:
    if model.fixed_size is not None:
        return model.fixed_size
    k = model.size_multiple
    return (-(-base[0] // k) * k, -(-base[1] // k) * k)


def inputs(model: InpaintModel, n: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    h, w = size_for(model)
    g = torch.Generator().manual_seed(seed)
    if getattr(model, "task", "inpaint") == "blend":  # left | gap | right: 2, 1 and 2 strides wide, 2 tall
        k = model.size_multiple
        h, w = 2 * k, 5 * k
        image = torch.rand(n, 3, h, w, generator=g) * 2 - 1
        mask = torch.zeros(n, 1, h, w)
        mask[..., 2 * k:3 * k] = 1
        return image * (1 - mask), mask
    image = torch.rand(n, 3, h, w, generator=g) * 2 - 1
    mask = torch.zeros(n, 1, h, w)
    for i in range(n):
        top, left = int(torch.randint(0, h // 2, (1,), generator=g)), int(torch.randint(0, w // 2, (1,), generator=g))
        mask[i, :, top:top + h // 3, left:left + w // 3] = 1
    return image * (1 - mask), mask


def extras(model: InpaintModel, image: torch.Tensor, seed: int = 1) -> list[torch.Tensor]:
    """What the model takes after (image, mask) (its ``extra_inputs``): a guide photo of the
    image's size, a smooth random field (warping a smooth guide by float-rounding-sized
    differences in the estimated alignment changes little, as with real photos)."""
    out = []
    for name in model.extra_inputs:
        assert name == "guide", f"{type(model).__name__}: no test input for extra_inputs entry {name!r}"
        g = torch.Generator().manual_seed(seed)
        coarse = torch.rand(image.shape[0], 3, 5, 7, generator=g) * 2 - 1
        out.append(torch.nn.functional.interpolate(coarse, size=image.shape[-2:], mode="bicubic",
                                                   align_corners=False).clamp(-1, 1))
    return out


def tensors_of(out: InpaintOutput) -> dict[str, torch.Tensor]:
    """Every floating tensor the output names, including those inside tuples (a pyramid)."""
    found: dict[str, torch.Tensor] = {}
    for f in dataclasses.fields(out):
        value = getattr(out, f.name)
        items = list(enumerate(value)) if isinstance(value, (tuple, list)) else [(None, value)]
        for i, t in items:
            if isinstance(t, torch.Tensor) and t.is_floating_point():
                found[f.name if i is None else f"{f.name}.{i}"] = t
    return found


def test_registry_is_not_empty() -> None:
    assert "deepfill_v2" in MODELS


@pytest.mark.parametrize("name", MODELS)
def test_factory_declares_a_tiny_config(name: str) -> None:
    entry = model_entry(name)
    assert tiny_overrides(name)
    assert entry.summary and entry.summary != name
    assert entry.paper and entry.code, f"{name}: cite the paper and the official code"


@pytest.mark.parametrize("name", MODELS)
def test_shapes_and_finite_outputs(name: str) -> None:
    model = tiny_model(name)
    image, mask = inputs(model)
    with torch.no_grad():
        out = model(image, mask, *extras(model, image))
    assert isinstance(out, InpaintOutput)
    assert out.output.shape == image.shape
    for key, t in tensors_of(out).items():
        assert torch.isfinite(t).all(), f"{name}.{key} has non-finite values"
    assert out.output.abs().max() <= 1.0 + 1e-6
    assert model.predict(image, mask, *extras(model, image)).shape == image.shape


#: Blind models (VCNet) must read the damaged pixels to find them: their own test replaces this one.
BLIND = [name for name in MODELS if "blind" in model_entry(name).tasks]
NOT_BLIND = [name for name in MODELS if name not in BLIND]


@pytest.mark.parametrize("name", NOT_BLIND)
def test_hole_content_does_not_change_the_output(name: str) -> None:
    model = tiny_model(name)
    image, mask = inputs(model)
    noisy = image + mask * torch.randn(image.shape, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        guide = extras(model, image)
        a, b = model(image, mask, *guide), model(noisy, mask, *guide)
    for key, t in tensors_of(a).items():
        assert torch.equal(t, tensors_of(b)[key]), f"{name}.{key} depends on the hole's pixels"


@pytest.mark.parametrize("name", MODELS)
def test_batch_equals_single(name: str) -> None:
    model = tiny_model(name)
    image, mask = inputs(model, n=3)
    if model_task(name) == "blend":
        # Instance norm over the 2x2 maps of a tiny blender amplifies float32 rounding (batched
        # and single matmuls round differently) to ~1e-4; in float64 the two agree to 1e-15.
        model, image, mask = model.double(), image.double(), mask.double()
    with torch.no_grad():
        extra = extras(model, image)
        batch = model.predict(image, mask, *extra)
        scale = float(batch.abs().max())  # untrained outputs can be tiny: compare relative to them
        assert scale > 0
        for i in range(3):
            single = model.predict(image[i:i + 1], mask[i:i + 1], *(e[i:i + 1] for e in extra))
            torch.testing.assert_close(batch[i:i + 1], single, rtol=1e-4, atol=1e-5 * scale)
        assert not torch.allclose(batch[0], batch[1], rtol=0, atol=1e-3 * scale)  # images differ, outputs too


@pytest.mark.parametrize("name", MODELS)
def test_registry_tasks_match_the_model(name: str) -> None:
    entry = model_entry(name)
    assert entry.tasks and set(entry.tasks) <= {*INPAINT_TASKS, "blind"}
    assert tiny_model(name).blind == ("blind" in entry.tasks)


@pytest.mark.parametrize("name", BLIND)
def test_blind_models_find_the_mask_themselves(name: str) -> None:
    model = tiny_model(name)
    image, mask = inputs(model)
    with torch.no_grad():
        blind, given = model(image), model(image, mask)
        painted = model(image + mask * 0.5)
    assert blind.output.shape == image.shape and torch.isfinite(blind.output).all()
    assert blind.output.abs().max() <= 1.0 + 1e-6
    assert not torch.equal(blind.output, given.output)  # without a mask, its own mask is used
    assert not torch.equal(blind.output, painted.output)  # and the damaged pixels are read


@pytest.mark.parametrize("name", MODELS)
def test_every_parameter_gets_a_gradient(name: str) -> None:
    model = tiny_model(name).train()
    image, mask = inputs(model)
    out = model(image, mask, *extras(model, image))
    loss = sum(t.float().abs().mean() for t in tensors_of(out).values() if t.requires_grad)
    assert isinstance(loss, torch.Tensor)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"{name}: no (finite) gradient for {missing[:5]}"
    dead = [n for n, p in model.named_parameters() if p.grad is not None and not p.grad.abs().sum() > 0]
    assert not dead, f"{name}: zero gradient for {dead[:5]}"


@pytest.mark.parametrize("name", MODELS)
def test_save_and_load_give_identical_outputs(name: str, tmp_path) -> None:  # noqa: ANN001
    model = tiny_model(name, seed=3)
    model.save_pretrained(tmp_path / "w")
    loaded = load_model(tmp_path / "w", expect=name)
    assert type(loaded) is type(model) and loaded.config_dict() == model.config_dict()
    image, mask = inputs(model)
    with torch.no_grad():
        extra = extras(model, image)
        assert torch.equal(model.predict(image, mask, *extra), loaded.predict(image, mask, *extra))


@pytest.mark.parametrize("name", INPAINT_MODELS)
def test_filler_keeps_known_pixels_at_odd_sizes(name: str, photo: np.ndarray) -> None:
    model = tiny_model(name)
    filler = ModelFiller(model, device="cpu")
    for h, w in ((37, 51), (photo.shape[0], photo.shape[1]), (29, 64)):
        image = np.ascontiguousarray(photo[:h, :w])
        mask = np.zeros((h, w), bool)
        mask[h // 3: 2 * h // 3, w // 4: w // 2 + 3] = True
        out = filler.fill(image, mask)
        assert out.shape == image.shape and out.dtype == np.uint8
        assert np.array_equal(out[~mask], image[~mask])


@pytest.mark.parametrize("name", MODELS)
def test_unknown_option_is_a_config_error(name: str) -> None:
    with pytest.raises(ConfigError, match="no option"):
        create_model(name, not_an_option=1)
