"""The one table of methods. The API, CLI, batch mode, benchmark and web app look fillers up here.

A method is classical (ready to use) or learned (a registered model architecture, which
needs weights: a folder from ``save_pretrained`` given with ``weights=``, or weights shipped
in the package). Adding a classical method means adding one row to :func:`_classical_rows`;
a learned model appears here once it is registered in :mod:`holefill.models`: this module
reads the model registry and the shipped weights and builds the learned rows itself (the
models know nothing of the table).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from holefill.errors import InvalidArgumentError, MissingDependencyError, UnknownMethodError, WeightsError
from holefill.fillers import Filler
from holefill.options import Option, check_options, describe_options

#: The jobs a method can do. Inpainting fillers also outpaint and blend (on a larger canvas).
TASKS = ("inpaint", "outpaint", "blend")
#: What a filler of ``fill(image, mask)`` serves: every canvas task.
FILL_TASKS = ("inpaint", "outpaint", "blend")

#: The method each task uses when none is named, set by the rule that
#: ``benchmarks/default_rule.py`` applies to a benchmark report (README, "The default method").
DEFAULT_METHODS: dict[str, str] = {"inpaint": "biharmonic", "outpaint": "biharmonic", "blend": "biharmonic"}
#: The inpainting default (``holefill inpaint`` without ``-m``).
DEFAULT_METHOD = DEFAULT_METHODS["inpaint"]


@dataclass(frozen=True)
class MethodInfo:
    """One row of the table."""

    name: str
    summary: str
    kind: str  # "classical" or "learned"
    build: Callable[..., Filler] = field(repr=False, compare=False)
    needs_weights: bool = False
    #: Weights that ship with the package, if any (a ``save_pretrained`` folder).
    shipped_weights: Path | None = None
    #: Citation of the method's paper.
    paper: str = ""
    #: The tasks it serves (:data:`TASKS`).
    tasks: tuple[str, ...] = FILL_TASKS
    #: The keyword options the method takes, each with its valid range (the filler's own).
    options: tuple[Option, ...] = ()

    @property
    def ready(self) -> bool:
        """Whether the method runs without ``weights=``."""
        return not self.needs_weights or self.shipped_weights is not None


def _classical_rows() -> list[MethodInfo]:
    from holefill import classical as c

    def row(name: str, summary: str, filler: type[Filler], paper: str) -> MethodInfo:
        return MethodInfo(name, summary, "classical", filler, paper=paper, options=filler.options)

    return [
        row("telea", "Fast-marching diffusion from the hole's border (OpenCV)", c.Telea,
            "Telea, J. Graphics Tools 2004"),
        row("ns", "Navier-Stokes isophote diffusion (OpenCV)", c.NavierStokes,
            "Bertalmio, Bertozzi and Sapiro, CVPR 2001"),
        row("fsr", "Frequency selective reconstruction: sparse Fourier models per block (OpenCV xphoto)", c.FSR,
            "Seiler, Jonscher, Schöberl and Kaup, IEEE TIP 2015; Genser, Seiler, Schilling and Kaup, PCS 2018"),
        row("shiftmap", "Shift-map: copies at the dominant patch offsets, stitched by graph-cut (OpenCV xphoto)",
            c.ShiftMap, "He and Sun, Statistics of Patch Offsets for Image Completion, ECCV 2012"),
        row("patchmatch", "PatchMatch: randomised nearest-patch search and voting (pypatchmatch)", c.PatchMatch,
            "Barnes, Shechtman, Finkelstein and Goldman, SIGGRAPH 2009"),
        row("biharmonic", "Smooth biharmonic surface over the hole (scikit-image)", c.Biharmonic,
            "Damelin and Hoang, Int. J. Math. Math. Sci. 2018"),
        row("criminisi", "Exemplar-based: priority-ordered patch copying from the known area", c.Criminisi,
            "Criminisi, Pérez and Toyama, IEEE TIP 2004"),
    ]


def _learned_rows() -> list[MethodInfo]:
    """One row per registered architecture (it needs ``weights=``) and one per weights folder
    shipped in the package (ready to use), when the learning extra (torch) is installed."""
    if not learning_available():
        return []
    try:
        from holefill.models import registry
        from holefill.models.shipped import list_shipped
        from holefill.pipeline import ModelFiller
    except ImportError:  # torch is broken
        return []

    shipped = {s.name: s for s in list_shipped()}
    rows = []
    for name in registry.list_models():
        entry = registry.model_entry(name)
        own = shipped.pop(name, None)
        rows.append(MethodInfo(name=name, summary=entry.summary, kind="learned",
                               build=partial(ModelFiller.from_pretrained, expect=name, name=name),
                               needs_weights=True, shipped_weights=own.path if own else None, paper=entry.paper,
                               tasks=entry.tasks, options=ModelFiller.options))
    known = set(registry.list_models())
    for s in shipped.values():
        if s.architecture not in known:
            continue
        summary = s.summary or f"{s.architecture} with weights shipped in the package"
        rows.append(MethodInfo(name=s.name, summary=summary, kind="learned",
                               build=partial(ModelFiller.from_pretrained, expect=s.architecture, name=s.name),
                               needs_weights=True, shipped_weights=s.path,
                               paper=registry.model_entry(s.architecture).paper,
                               tasks=registry.model_entry(s.architecture).tasks, options=ModelFiller.options))
    return rows


#: What to install for the learned methods.
LEARN_HINT = "pip install 'holefill[learn]'"


def learning_available() -> bool:
    """Whether the learning extra (torch) is installed; checked without importing it."""
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


@lru_cache(maxsize=1)
def _classical_table() -> dict[str, MethodInfo]:
    """The classical rows alone: looking one up never imports torch (``-m telea`` starts fast)."""
    return {row.name: row for row in _classical_rows()}


@lru_cache(maxsize=1)
def _table() -> dict[str, MethodInfo]:
    rows = list(_classical_table().values()) + _learned_rows()
    table: dict[str, MethodInfo] = {}
    for row in rows:
        if row.name in table:
            raise RuntimeError(f"method {row.name!r} is in the table twice")
        table[row.name] = row
    return table


def list_methods(kind: str | None = None, task: str | None = None) -> list[MethodInfo]:
    """Every method in the table (optionally one ``kind`` and one task), classical first, then by name."""
    if task is not None:
        _check_task(task)
    rows = [r for r in _table().values() if (kind is None or r.kind == kind) and (task is None or task in r.tasks)]
    return sorted(rows, key=lambda r: (r.kind != "classical", r.name))


def method_names(kind: str | None = None, task: str | None = None) -> list[str]:
    return [r.name for r in list_methods(kind, task)]


def _check_task(task: str) -> str:
    if task not in TASKS:
        raise InvalidArgumentError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    return task


def default_method(task: str = "inpaint") -> str:
    """The method ``task`` uses when none is named."""
    return DEFAULT_METHODS[_check_task(task)]


def get_method(name: str) -> MethodInfo:
    """The table row for ``name``, or an :class:`UnknownMethodError` listing the choices.

    A classical method is found without building the learned rows (which import torch). A
    name that is not classical when torch is missing says to install the learning extra."""
    classical = _classical_table()
    if name in classical:
        return classical[name]
    if not learning_available():
        raise MissingDependencyError(
            f"method {name!r} is not a classical method ({', '.join(classical)}), and the learned methods need"
            f" PyTorch: {LEARN_HINT}")
    table = _table()
    if name not in table:
        raise UnknownMethodError(
            f"unknown method {name!r}; choose from {', '.join(method_names())}"
        )
    return table[name]


def method_of_weights(weights: str | Path) -> str:
    """The method a weights folder is for: the architecture its ``config.json`` names."""
    if not learning_available():
        raise MissingDependencyError(f"weights need PyTorch: {LEARN_HINT}", weights)
    from holefill.models.base import read_config

    return str(read_config(weights)["architecture"])


def method_options(info: MethodInfo) -> list[str]:
    """The names of the keyword options a method accepts."""
    return [o.name for o in info.options]


def options_help(info: MethodInfo) -> str:
    """The method's options with their ranges, in one line (for help texts and errors)."""
    return describe_options(info.options)


def check_method_options(name: str | None, options: dict[str, Any], task: str = "inpaint") -> dict[str, Any]:
    """``options`` for method ``name`` (``task``'s default when None) checked against its
    declared ranges, before any work: every name known, every value in range (one
    :class:`InvalidArgumentError` line if not)."""
    info = get_method(name or default_method(task))
    return check_options(info.options, options, method=info.name)


def get_filler(name: str | None = None, *, task: str = "inpaint", weights: str | Path | None = None,
               device: str | None = None, backend: str | None = None, **options: Any) -> Filler:
    """Build the filler for method ``name`` (``task``'s default method when None).

    ``weights`` names a ``save_pretrained`` folder for a learned method (without ``name``, the
    method is the architecture its ``config.json`` names); ``device`` picks where a learned
    model runs (cpu, cuda, mps); ``backend`` runs it in PyTorch ("torch", the default) or ONNX
    Runtime ("onnxruntime", from the folder's exported ``model.onnx``). Other keyword options
    go to the method. A method that does not serve ``task`` is an error naming the ones that do.
    """
    if name is None and weights is not None:
        name = method_of_weights(weights)
    info = get_method(name or default_method(task))
    if task not in info.tasks:
        raise InvalidArgumentError(f"method {info.name!r} does not {task} (it serves {', '.join(info.tasks)}); "
                                   f"methods that {task}: {', '.join(method_names(task=task))}")
    options = check_options(info.options, options, method=info.name)
    if info.kind == "classical":
        if weights is not None:
            raise WeightsError(f"method {info.name!r} is classical and takes no weights")
        if backend not in (None, "torch"):
            raise InvalidArgumentError(f"method {info.name!r} is classical; --backend is for learned methods")
        return info.build(**options)
    if weights is None and info.shipped_weights is None:
        raise WeightsError(
            f"method {info.name!r} is a learned model and needs weights: pass --weights DIR"
            " (a folder written by save_pretrained or holefill train)"
        )
    if backend is not None:
        options["backend"] = backend
    return info.build(weights=weights if weights is not None else info.shipped_weights, device=device, **options)
