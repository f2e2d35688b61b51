"""The model registry: ``@register_model`` factories, ``create_model``, ``list_models`` and
``load_model``.

A factory is a function named after the variant that takes the config's fields as keyword
arguments and returns a :class:`~holefill.models.base.HolefillModel` (an inpainting, upscaling
or generative model; ``tasks`` names what it serves). Registering happens
when the model's module is imported. :mod:`holefill.models` imports every model module, and
Python runs a package's ``__init__`` before any of its modules can be imported from outside,
so by the time a caller reaches this module every model is registered. The registry knows
nothing of the method table or the pipeline: :mod:`holefill.methods` reads it.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from holefill.errors import ConfigError, UnknownMethodError, WeightsError
from holefill.models.base import WEIGHTS_NAME, HolefillModel, load_state_strict, read_config


#: What an inpainting generator serves (the method table's task names).
INPAINT_TASKS = ("inpaint", "outpaint", "blend")
#: Every task a model may serve: the canvas tasks, enlarging (``upscale``) and drawing images (``generate``).
MODEL_TASKS = (*INPAINT_TASKS, "upscale", "generate", "blind", "guided")


@dataclass(frozen=True)
class ModelEntry:
    """A registered architecture variant."""

    name: str
    factory: Callable[..., HolefillModel]
    summary: str
    paper: str
    code: str
    module: str
    #: Config overrides for a small, fast variant (used by the registry-wide tests).
    tiny: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: The tasks the model serves, as the method table names them: an inpainting generator
    #: fills any canvas, so it inpaints, outpaints and blends.
    tasks: tuple[str, ...] = INPAINT_TASKS

_REGISTRY: dict[str, ModelEntry] = {}


def register_model(factory: Callable[..., HolefillModel] | None = None, *, paper: str = "", code: str = "",
                   tiny: dict[str, Any] | None = None, tasks: tuple[str, ...] = INPAINT_TASKS) -> Any:
    """Register a factory under its function name; its docstring's first line is the summary.

    Use bare (``@register_model``) or with metadata::

        @register_model(paper="Yu et al., ICCV 2019", code="https://github.com/...", tiny={"cnum": 8})
        def deepfill_v2(**cfg): ...

    ``tiny`` holds config overrides for a small, fast variant that the registry-wide tests
    build; ``tasks`` the tasks it serves (default: inpaint, outpaint and blend; see
    :data:`MODEL_TASKS`; ``("blind", "inpaint")`` for VCNet, whose damage finder can also take
    a given mask). The model module's docstring cites the paper and the official code as well.
    """
    unknown = sorted(set(tasks) - set(MODEL_TASKS))
    if unknown or not tasks:
        raise RuntimeError(f"register_model: tasks must be some of {', '.join(MODEL_TASKS)}, got {tasks!r}")

    def register(fn: Callable[..., HolefillModel]) -> Callable[..., HolefillModel]:
        name = fn.__name__
        if name in _REGISTRY and _REGISTRY[name].factory is not fn:
            raise RuntimeError(f"model {name!r} is registered twice")
        doc = inspect.getdoc(fn) or ""
        _REGISTRY[name] = ModelEntry(
            name=name,
            factory=fn,
            summary=doc.splitlines()[0] if doc else name,
            paper=paper or getattr(fn, "paper", ""),
            code=code or getattr(fn, "code", ""),
            module=fn.__module__,
            tiny=dict(tiny if tiny is not None else getattr(fn, "tiny", {}) or {}),
            tasks=tuple(tasks),
        )
        return fn

    return register if factory is None else register(factory)


def list_models() -> list[str]:
    """Names of every registered architecture variant, sorted."""
    return sorted(_REGISTRY)


def model_entry(name: str) -> ModelEntry:
    if name not in _REGISTRY:
        raise UnknownMethodError(f"unknown model {name!r}; choose from {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def create_model(name: str, **overrides: Any) -> HolefillModel:
    """Build the architecture ``name`` with its default config, changed by ``overrides``.

    An unknown config key is a :class:`~holefill.errors.ConfigError` naming the key.
    """
    entry = model_entry(name)
    try:
        model = entry.factory(**overrides)
    except TypeError as exc:
        raise ConfigError(f"model {name!r}: {exc}") from None
    model.architecture = name
    return model


def build_config(config_cls: type, name: str, overrides: dict[str, Any], defaults: dict[str, Any] | None = None) -> Any:
    """Instantiate a model's config dataclass from defaults plus overrides; unknown keys fail clearly."""
    fields = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ConfigError(f"model {name!r} has no option {', '.join(map(repr, unknown))}; options: {', '.join(sorted(fields))}")
    values = dict(defaults or {})
    values.update(overrides)
    for key, value in list(values.items()):  # JSON gives lists where the config wants tuples
        if isinstance(value, list):
            values[key] = tuple(value)
    return config_cls(**values)


def load_model(directory: str | os.PathLike[str], *, device: str | torch.device | None = None,
               expect: str | None = None, dtype: torch.dtype = torch.float32) -> HolefillModel:
    """Rebuild the model saved in ``directory`` and load its weights strictly, in eval mode.

    ``expect`` is the architecture the caller asked for; weights of another one are an error.
    Missing or unexpected tensors, and shape mismatches, are listed in the error.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(directory)
    cfg = read_config(folder)
    arch = cfg["architecture"]
    if expect is not None and arch != expect:
        raise WeightsError(f"holds weights for {arch!r}, not {expect!r} (use --method {arch})", folder)
    model = create_model(arch, **cfg.get("config", {}))
    try:
        state = load_file(str(folder / WEIGHTS_NAME))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"cannot be read ({exc})", folder / WEIGHTS_NAME) from None
    load_state_strict(model, state, source=str(folder / WEIGHTS_NAME))
    model.to(device=device or "cpu", dtype=dtype)
    model.eval()
    return model
