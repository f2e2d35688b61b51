"""Typed training configs: frozen dataclasses read from YAML, with strict checking.

A training config has five sections::

    model:    name: deepfill_v2          # a registered architecture (holefill models)
              args: {width: 32}          # its config fields; create_model checks them
    recipe:   name: reconstruction       # a registered recipe (what differs per paper)
              args: {hole_weight: 6.0}   # checked against the recipe's own Config dataclass
    data:     train, val, crop, scale, hflip, masks, batch_size, workers, ...
    optim:    lr_g, lr_d, betas, weight_decay, grad_clip, ...
    train:    steps, seed, amp, ema_decay, grad_accum, log_every, ...

Every key is checked: an unknown key anywhere, a wrong type or an out-of-range value is a
:class:`~holefill.errors.ConfigError` whose one-line message names the file, the key path and
(for unknown keys) the allowed keys. No machine path is built in: paths come from the YAML or
from ``--set`` overrides on the command line (``train.steps=100``), and relative paths are
taken relative to the current folder.
"""

from __future__ import annotations

import dataclasses
import math
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml

from holefill.errors import ConfigError


@dataclass(frozen=True)
class ModelSection:
    """The generator: a registered architecture and its config fields (checked by create_model)."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecipeSection:
    """The recipe: a registered name and arguments for the recipe's own Config dataclass."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MaskSpec:
    """One mask generator of the training mix: a ``holefill.masks`` kind, its params and weight."""

    kind: str
    weight: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)

    def _problems(self) -> list[tuple[str, str]]:
        if not (self.weight >= 0 and math.isfinite(self.weight)):
            return [("weight", f"must be a finite number >= 0, got {self.weight!r}")]
        return []


@dataclass(frozen=True)
class DataConfig:
    """Where training images come from and how crops and masks are drawn.

    ``train`` and ``val`` are a folder of images (searched recursively), a text file listing
    one image path per line (relative lines are taken relative to ``root``, else to the list's
    folder), or a corpus folder written by ``holefill data photos`` (then its ``photos/train``
    and, when ``val`` is not given, ``photos/val`` are used). Each image is first scaled so its
    short side is ``resize`` (if set), then by a random factor drawn from ``scale`` (multi-scale
    crops), and upscaled further if it is still smaller than ``crop``; a ``crop`` x ``crop``
    window is then cut at random and flipped left-right with probability 1/2 when ``hflip``.
    Up to ``cache_mb`` megabytes of decoded images stay in memory, so a small corpus is
    decoded once per loader process rather than once per sample.
    """

    train: str
    val: str | None = None
    root: str | None = None
    crop: int = 256
    resize: int | None = None
    scale: tuple[float, float] = (1.0, 1.0)
    hflip: bool = True
    masks: tuple[MaskSpec, ...] = (MaskSpec("mixture"),)
    batch_size: int = 8
    workers: int = 2
    #: Keep up to this many MB of decoded images in memory (per loader process).
    cache_mb: int = 1024

    def _problems(self) -> list[tuple[str, str]]:
        out = []
        if self.cache_mb < 0:
            out.append(("cache_mb", f"must be >= 0, got {self.cache_mb}"))
        if not self.train.strip():
            out.append(("train", "must name a folder of images, a file list or a corpus folder"))
        if self.crop < 8:
            out.append(("crop", f"must be >= 8 pixels, got {self.crop}"))
        if self.resize is not None and self.resize < 1:
            out.append(("resize", f"must be a positive side in pixels, got {self.resize}"))
        lo, hi = self.scale
        if not (0 < lo <= hi and math.isfinite(hi)):
            out.append(("scale", f"must be [low, high] with 0 < low <= high, got {list(self.scale)}"))
        if not self.masks:
            out.append(("masks", "needs at least one mask generator"))
        elif sum(m.weight for m in self.masks) <= 0:
            out.append(("masks", "the mask weights must have a positive sum"))
        if self.batch_size < 1:
            out.append(("batch_size", f"must be >= 1, got {self.batch_size}"))
        if self.workers < 0:
            out.append(("workers", f"must be >= 0, got {self.workers}"))
        return out


@dataclass(frozen=True)
class OptimConfig:
    """Optimisers of the generator (G) and the discriminator (D), and the learning-rate schedule.

    ``betas`` are Adam's; ``momentum`` is SGD's; ``rho`` is ADADELTA's decay rate (Zeiler 2012,
    which GLCIC trains with; Torch7's ``optim.adadelta`` is ``lr: 1.0, rho: 0.9``). The rate
    rises linearly over ``warmup_steps``, then stays (``constant``) or falls to zero at the
    last step (``linear``, ``cosine``). ``grad_clip`` clips the global gradient norm.
    """

    name: Literal["adam", "adamw", "sgd", "adadelta"] = "adam"
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.999)
    momentum: float = 0.9
    rho: float = 0.9
    weight_decay: float = 0.0
    grad_clip: float | None = None
    warmup_steps: int = 0
    schedule: Literal["constant", "linear", "cosine"] = "constant"

    def _problems(self) -> list[tuple[str, str]]:
        out = []
        for key in ("lr_g", "lr_d"):
            value = getattr(self, key)
            if not (value > 0 and math.isfinite(value)):
                out.append((key, f"must be a positive number, got {value!r}"))
        if not all(0 <= b < 1 for b in self.betas):
            out.append(("betas", f"must both lie in [0, 1), got {list(self.betas)}"))
        if not 0 <= self.momentum < 1:
            out.append(("momentum", f"must lie in [0, 1), got {self.momentum}"))
        if not 0 <= self.rho <= 1:
            out.append(("rho", f"must lie in [0, 1], got {self.rho}"))
        if self.weight_decay < 0:
            out.append(("weight_decay", f"must be >= 0, got {self.weight_decay}"))
        if self.grad_clip is not None and not self.grad_clip > 0:
            out.append(("grad_clip", f"must be positive (or null for none), got {self.grad_clip}"))
        if self.warmup_steps < 0:
            out.append(("warmup_steps", f"must be >= 0, got {self.warmup_steps}"))
        return out


@dataclass(frozen=True)
class TrainConfig:
    """The loop: length, seed, precision, EMA, accumulation, and how often to log and save.

    ``amp``: ``auto`` is bf16 on GPUs that have it, else fp16 with a gradient scaler; mixed
    precision is always off on the CPU. ``ema_decay: null`` keeps no EMA (the raw generator is
    exported). ``every`` settings count optimiser steps; 0 turns the thing off. ``out`` is the
    run folder (``--out`` overrides it; default ``runs/<config name>``). ``threads`` is the
    training process's intra-op CPU threads (null: chosen from the CPUs, see
    :mod:`holefill.train.threads`; ``--threads`` overrides it).
    """

    steps: int = 10_000
    seed: int = 0
    amp: Literal["auto", "bf16", "fp16", "off"] = "auto"
    ema_decay: float | None = 0.999
    ema_warmup: bool = True
    grad_accum: int = 1
    log_every: int = 50
    sample_every: int = 1000
    ckpt_every: int = 1000
    keep_last: int = 3
    eval_every: int = 0
    eval_images: int = 64
    export_every_ckpt: bool = False
    device: str = "auto"
    deterministic: bool = False
    threads: int | None = None
    out: str | None = None

    def _problems(self) -> list[tuple[str, str]]:
        out = []
        if self.steps < 1:
            out.append(("steps", f"must be >= 1, got {self.steps}"))
        if self.seed < 0:
            out.append(("seed", f"must be >= 0, got {self.seed}"))
        if self.ema_decay is not None and not 0 <= self.ema_decay < 1:
            out.append(("ema_decay", f"must lie in [0, 1) (or null for no EMA), got {self.ema_decay}"))
        if self.grad_accum < 1:
            out.append(("grad_accum", f"must be >= 1, got {self.grad_accum}"))
        for key in ("log_every", "sample_every", "ckpt_every", "eval_every"):
            if getattr(self, key) < 0:
                out.append((key, f"must be >= 0 (0 = never), got {getattr(self, key)}"))
        if self.keep_last < 1:
            out.append(("keep_last", f"must be >= 1, got {self.keep_last}"))
        if self.eval_images < 1:
            out.append(("eval_images", f"must be >= 1, got {self.eval_images}"))
        if self.threads is not None and not 1 <= self.threads <= 1024:
            out.append(("threads", f"must be 1 to 1024 (or null: chosen from the CPUs), got {self.threads}"))
        return out


@dataclass(frozen=True)
class Config:
    """A whole training config. ``source`` is the file it came from (for error messages)."""

    model: ModelSection
    recipe: RecipeSection
    data: DataConfig
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    source: str = field(default="<config>", compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the config (lists for tuples), as written to a run's ``config.yaml``."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "source"}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


# ----------------------------------------------------------------------------- parsing


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if tp is type(None):
        return "null"
    if tp is Any:
        return "any value"
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_type_name(args[0])}"
        return f"a list of {len(args)} ({', '.join(_type_name(a) for a in args)})"
    if origin in (dict, Mapping):
        return "a mapping"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string"}.get(tp, getattr(tp, "__name__", str(tp)))


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "mapping",
            type(None): "null"}.get(type(value), type(value).__name__)
    return f"{kind} {text}"


def _convert(value: Any, tp: Any, key: str, source: str) -> Any:
    """``value`` as type ``tp``, or a ConfigError naming ``key`` in ``source``."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(value, option, key, source)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {_describe(value)}", source)
    if origin is Literal:
        if value in get_args(tp) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {_describe(value)}", source)
    if dataclasses.is_dataclass(tp):
        return parse_dataclass(tp, value, key, source)
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif origin is tuple:
        args = get_args(tp)
        if isinstance(value, (list, tuple)):
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(_convert(v, args[0], f"{key}[{i}]", source) for i, v in enumerate(value))
            if len(value) == len(args):
                return tuple(_convert(v, a, f"{key}[{i}]", source) for i, (v, a) in enumerate(zip(value, args)))
    elif origin in (dict, Mapping):
        if isinstance(value, Mapping):
            bad = [k for k in value if not isinstance(k, str)]
            if bad:
                raise ConfigError(f"{key}: keys must be strings, got {bad[0]!r}", source)
            vtype = get_args(tp)[1] if get_args(tp) else Any
            return {k: _convert(v, vtype, f"{key}.{k}", source) for k, v in value.items()}
    else:  # pragma: no cover - a type this parser was not taught
        raise TypeError(f"config field {key} has an unsupported type {tp!r}")
    raise ConfigError(f"{key}: expected {_type_name(tp)}, got {_describe(value)}", source)


def parse_dataclass(cls: type, data: Any, key: str, source: str) -> Any:
    """Build dataclass ``cls`` from a mapping, checking keys, types and values.

    ``key`` is the dotted path of ``data`` in the file (for messages), ``source`` the file.
    Recipes use this to read their ``recipe.args`` into their own Config dataclass.
    """
    where = key or "the top level"
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping of keys, got {_describe(data)}", source)
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and f.name != "source"}
    prefix = f"{key}." if key else ""
    for name in data:
        if name not in fields:
            allowed = ", ".join(fields) or "(none)"
            raise ConfigError(f"unknown key {prefix}{name}; allowed keys in {where}: {allowed}", source)
    values = {}
    for name, f in fields.items():
        if name in data:
            values[name] = _convert(data[name], hints[name], f"{prefix}{name}", source)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"missing key {prefix}{name} ({_type_name(hints[name])})", source)
    try:
        obj = cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}", source) from None
    problems = getattr(obj, "_problems", None)
    if problems is not None:
        for name, problem in problems():
            raise ConfigError(f"{prefix}{name}: {problem}", source)
    return obj


def parse_value(raw: str) -> Any:
    """A ``--set`` value: integers, numbers (``1e-4`` too), true/false, null, [lists], else text."""
    text = raw.strip()
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            continue
    try:
        return yaml.safe_load(text) if text else ""
    except yaml.YAMLError:
        return text


def _schema_check(path: list[str], override: str, source: str) -> None:
    """Reject an override whose key path does not exist in the schema (free-form args excepted)."""
    tp: Any = Config
    done: list[str] = []
    for part in path:
        while get_origin(tp) in (Union, types.UnionType):
            tp = next(a for a in get_args(tp) if a is not type(None))
        if get_origin(tp) in (dict, Mapping) or tp is Any:
            return
        if get_origin(tp) is tuple:
            if not part.isdigit():
                raise ConfigError(f"--set {override}: {'.'.join(done)} is a list; index it with a number", source)
            tp = get_args(tp)[0]
        elif dataclasses.is_dataclass(tp):
            hints = get_type_hints(tp)
            names = [f.name for f in dataclasses.fields(tp) if f.name != "source"]
            if part not in names:
                where = ".".join(done) or "the top level"
                raise ConfigError(f"--set {override}: unknown key {'.'.join(done + [part])};"
                                  f" allowed keys in {where}: {', '.join(names)}", source)
            tp = hints[part]
        else:
            raise ConfigError(f"--set {override}: {'.'.join(done)} is a single value, not a section", source)
        done.append(part)


def apply_override(data: dict[str, Any], override: str, source: str) -> None:
    """Apply one ``key.path=value`` override to the raw config mapping in place."""
    if "=" not in override:
        raise ConfigError(f"--set takes key.path=value, got {override!r}", source)
    key, raw = override.split("=", 1)
    path = [p for p in key.strip().split(".")]
    if not all(path):
        raise ConfigError(f"--set {override}: malformed key path {key!r}", source)
    _schema_check(path, override, source)
    node: Any = data
    for i, part in enumerate(path[:-1]):
        if isinstance(node, list):
            idx = int(part)
            if idx >= len(node):
                raise ConfigError(f"--set {override}: {'.'.join(path[:i])} has only {len(node)} entries", source)
            node = node[idx]
            continue
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, (dict, list)):
            raise ConfigError(f"--set {override}: {'.'.join(path[:i + 1])} is a single value, not a section", source)
        node = child
    last = path[-1]
    value = parse_value(raw)
    if isinstance(node, list):
        idx = int(last)
        if idx >= len(node):
            raise ConfigError(f"--set {override}: {'.'.join(path[:-1])} has only {len(node)} entries", source)
        node[idx] = value
    else:
        node[last] = value


def read_yaml(path: str | PathLike[str]) -> dict[str, Any]:
    """The raw mapping in a YAML config file, with one-line errors for missing or bad files."""
    file = Path(path)
    if not file.exists():
        raise ConfigError("no such config file", file)
    if file.is_dir():
        raise ConfigError("is a folder, not a YAML config file", file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot be read ({exc})", file) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"is not valid YAML{where}: {problem}", file) from None
    if data is None:
        raise ConfigError("is empty; a config needs model, recipe and data sections", file)
    if not isinstance(data, dict):
        raise ConfigError(f"must hold a mapping of sections, got {_describe(data)}", file)
    return data


def config_from_dict(data: Mapping[str, Any], source: str = "<config>", overrides: Sequence[str] = ()) -> Config:
    """Build and check a :class:`Config` from a raw mapping plus ``--set`` overrides."""
    import copy

    raw = copy.deepcopy(dict(data))
    for override in overrides:
        apply_override(raw, override, source)
    config = parse_dataclass(Config, raw, "", source)
    return dataclasses.replace(config, source=source)


def load_config(path: str | PathLike[str], overrides: Sequence[str] = ()) -> Config:
    """Read a YAML training config, apply dotted ``--set`` overrides, and check everything."""
    return config_from_dict(read_yaml(path), str(path), overrides)


def bundled_configs() -> dict[str, Path]:
    """The example configs shipped in ``holefill/configs/``, by name (file stem)."""
    folder = Path(__file__).resolve().parent.parent / "configs"
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}
