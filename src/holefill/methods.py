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
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from holefill.errors import InvalidArgumentError, UnknownMethodError, WeightsError
from holefill.fillers import Blender, CanvasBlender, Filler

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
    #: Whether ``build`` makes a :class:`~holefill.fillers.Blender` (a dedicated blending
    #: model, two photos in) rather than a :class:`~holefill.fillers.Filler`.
    blender: bool = False

    @property
    def ready(self) -> bool:
        """Whether the method runs without ``weights=``."""
        return not self.needs_weights or self.shipped_weights is not None


def _classical_rows() -> list[MethodInfo]:
    from holefill import classical as c

    return [
        MethodInfo("telea", "Fast-marching diffusion from the hole's border (OpenCV)", "classical", c.Telea,
                   paper="Telea, J. Graphics Tools 2004"),
        MethodInfo("ns", "Navier-Stokes isophote diffusion (OpenCV)", "classical", c.NavierStokes,
                   paper="Bertalmio, Bertozzi and Sapiro, CVPR 2001"),
        MethodInfo("fsr", "Frequency selective reconstruction: sparse Fourier models per block (OpenCV xphoto)",
                   "classical", c.FSR,
                   paper="Seiler, Jonscher, Schöberl and Kaup, IEEE TIP 2015; Genser, Seiler, Schilling and Kaup, PCS 2018"),
        MethodInfo("shiftmap", "Shift-map: copies at the dominant patch offsets, stitched by graph-cut (OpenCV xphoto)",
                   "classical", c.ShiftMap,
                   paper="He and Sun, Statistics of Patch Offsets for Image Completion, ECCV 2012"),
        MethodInfo("patchmatch", "PatchMatch: randomised nearest-patch search and voting (pypatchmatch)",
                   "classical", c.PatchMatch,
                   paper="Barnes, Shechtman, Finkelstein and Goldman, SIGGRAPH 2009"),
        MethodInfo("biharmonic", "Smooth biharmonic surface over the hole (scikit-image)", "classical", c.Biharmonic,
                   paper="Damelin and Hoang, Int. J. Math. Math. Sci. 2018"),
        MethodInfo("criminisi", "Exemplar-based: priority-ordered patch copying from the known area", "classical",
                   c.Criminisi, paper="Criminisi, Pérez and Toyama, IEEE TIP 2004"),
    ]


def _learned_rows() -> list[MethodInfo]:
    """One row per registered architecture (it needs ``weights=``) and one per weights folder
    shipped in the package (ready to use), when the learning extra (torch) is installed."""
    if importlib.util.find_spec("torch") is None:
        return []
    try:
        from holefill.blending import ModelBlender
        from holefill.models import registry
        from holefill.models.shipped import list_shipped
        from holefill.pipeline import ModelFiller
    except ImportError:  # torch is broken
        return []

    def row(name: str, architecture: str, summary: str, shipped_weights: Path | None) -> MethodInfo:
        entry = registry.model_entry(architecture)
        blender = "inpaint" not in entry.tasks and "blend" in entry.tasks  # two photos in, not a canvas
        loader = ModelBlender.from_pretrained if blender else ModelFiller.from_pretrained
        return MethodInfo(name=name, summary=summary, kind="learned",
                          build=partial(loader, expect=architecture, name=name), needs_weights=True,
                          shipped_weights=shipped_weights, paper=entry.paper, tasks=entry.tasks, blender=blender)

    shipped = {s.name: s for s in list_shipped()}
    rows = []
    for name in registry.list_models():
        own = shipped.pop(name, None)
        rows.append(row(name, name, registry.model_entry(name).summary, own.path if own else None))
    known = set(registry.list_models())
    for s in shipped.values():
        if s.architecture not in known:
            continue
        summary = s.summary or f"{s.architecture} with weights shipped in the package"
        rows.append(row(s.name, s.architecture, summary, s.path))
    return rows


@lru_cache(maxsize=1)
def _table() -> dict[str, MethodInfo]:
    rows = _classical_rows() + _learned_rows()
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
    """The table row for ``name``, or an :class:`UnknownMethodError` listing the choices."""
    table = _table()
    if name not in table:
        raise UnknownMethodError(
            f"unknown method {name!r}; choose from {', '.join(method_names())}"
        )
    return table[name]


def method_options(info: MethodInfo) -> list[str]:
    """The keyword options a method accepts (its builder's named parameters)."""
    skip = {"self", "weights", "device", "expect", "name"}
    params = inspect.signature(info.build).parameters.values()
    return [p.name for p in params if p.name not in skip and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _check_options(info: MethodInfo, options: dict[str, Any]) -> None:
    if not options:
        return
    if info.kind == "learned":
        from holefill.blending import ModelBlender
        from holefill.pipeline import ModelFiller

        init = (ModelBlender if info.blender else ModelFiller).__init__
        allowed = [p for p in inspect.signature(init).parameters if p not in ("self", "model", "device", "name", "graph")]
    else:
        allowed = method_options(info)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InvalidArgumentError(
            f"method {info.name!r} has no option {', '.join(unknown)}; its options: {', '.join(allowed) or 'none'}")


def get_filler(name: str | None = None, *, task: str = "inpaint", weights: str | Path | None = None,
               device: str | None = None, backend: str | None = None, **options: Any) -> Filler:
    """Build the filler for method ``name`` (``task``'s default method when None).

    ``weights`` names a ``save_pretrained`` folder for a learned method; ``device`` picks
    where a learned model runs (cpu, cuda, mps); ``backend`` runs it in PyTorch ("torch",
    the default) or ONNX Runtime ("onnxruntime", from the folder's exported ``model.onnx``).
    Other keyword options go to the method. A method that does not serve ``task`` is an
    error naming the ones that do.
    """
    info = get_method(name or default_method(task))
    if task not in info.tasks:
        raise InvalidArgumentError(f"method {info.name!r} does not {task} (it serves {', '.join(info.tasks)}); "
                                   f"methods that {task}: {', '.join(method_names(task=task))}")
    if info.blender:
        raise InvalidArgumentError(f"method {info.name!r} joins two photos rather than filling a canvas; "
                                   "use holefill.blend (holefill blend LEFT RIGHT) or get_blender")
    return _build(info, weights, device, backend, options)


def _build(info: MethodInfo, weights: str | Path | None, device: str | None, backend: str | None,
           options: dict[str, Any]) -> Any:
    _check_options(info, options)
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


def get_blender(name: str | None = None, *, weights: str | Path | None = None, device: str | None = None,
                backend: str | None = None, **options: Any) -> Blender:
    """Build the blending method ``name`` (the blending default when None).

    A dedicated blending model joins the two photos itself; an inpainting method fills the gap
    of the ``left | gap | right`` canvas (:class:`~holefill.fillers.CanvasBlender`).
    """
    info = get_method(name or default_method("blend"))
    if "blend" not in info.tasks:
        raise InvalidArgumentError(f"method {info.name!r} does not blend (it serves {', '.join(info.tasks)}); "
                                   f"methods that blend: {', '.join(method_names(task='blend'))}")
    if info.blender and backend not in (None, "torch"):
        raise InvalidArgumentError(f"method {info.name!r} runs in PyTorch only (no --backend {backend})")
    built = _build(info, weights, device, backend, options)
    return built if info.blender else CanvasBlender(built)
