"""The one table of methods. The API, CLI, batch mode, benchmark and web app look fillers up here.

A method is classical (ready to use) or learned (a registered model architecture, which
needs weights: a folder from ``save_pretrained`` given with ``weights=``, or weights shipped
in the package). Each row names its task: ``inpaint`` (a :class:`~holefill.fillers.Filler`,
image and mask) or ``guided`` (a :class:`~holefill.fillers.GuidedFiller`, which also takes a
guide photo); :func:`get_filler` and :func:`get_guided_filler` build them. Adding a classical method means adding one row to :func:`_classical_rows`;
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
from holefill.fillers import Filler, GuidedFiller

#: The method used when none is named. The rule (README, "Benchmark"): a shipped model
#: becomes the default only if it beats every classical method on both PSNR and SSIM on the
#: corpus test split (buckets 20-30 ... 50-60, centre box, 25 % outpainting strip); until
#: one does, the best classical method is the default. Biharmonic leads the classical
#: methods on every one of those sets but the outpainting strip, where it is within 0.02 dB.
DEFAULT_METHOD = "biharmonic"
#: The guided method used when none is named: the shipped guided inpainting model.
DEFAULT_GUIDED_METHOD = "guided_lite"
TASKS = ("inpaint", "guided")


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
    #: What the method does: "inpaint" (image, mask -> image) or "guided" (image, mask, guide -> image).
    task: str = "inpaint"
    #: Options the method cannot run without (scene completion: its photo database, ``db``).
    requires: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        """Whether the method runs without ``weights=``."""
        return not self.needs_weights or self.shipped_weights is not None


def _classical_rows() -> list[MethodInfo]:
    from holefill import classical as c
    from holefill.scene import SceneCompletion

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
        MethodInfo("scene", "Scene completion: the best-matching scenes of a photo folder (--db), aligned, "
                   "cut along a graph-cut seam and Poisson-blended", "classical", SceneCompletion,
                   paper="Hays and Efros, Scene Completion Using Millions of Photographs, SIGGRAPH 2007",
                   requires=("db",)),
    ]


def _learned_rows() -> list[MethodInfo]:
    """One row per registered architecture (it needs ``weights=``) and one per weights folder
    shipped in the package (ready to use), when the learning extra (torch) is installed."""
    if importlib.util.find_spec("torch") is None:
        return []
    try:
        from holefill.models import registry
        from holefill.models.shipped import list_shipped
        from holefill.pipeline import GuidedModelFiller, ModelFiller
    except ImportError:  # torch is broken
        return []

    def builder(architecture: str, name: str) -> Callable[..., Any]:
        guided = registry.model_entry(architecture).task == "guided"
        return partial((GuidedModelFiller if guided else ModelFiller).from_pretrained, expect=architecture, name=name)

    shipped = {s.name: s for s in list_shipped()}
    rows = []
    for name in registry.list_models():
        entry = registry.model_entry(name)
        own = shipped.pop(name, None)
        rows.append(MethodInfo(name=name, summary=entry.summary, kind="learned", build=builder(name, name),
                               needs_weights=True, shipped_weights=own.path if own else None, paper=entry.paper,
                               task=entry.task))
    known = set(registry.list_models())
    for s in shipped.values():
        if s.architecture not in known:
            continue
        entry = registry.model_entry(s.architecture)
        summary = s.summary or f"{s.architecture} with weights shipped in the package"
        rows.append(MethodInfo(name=s.name, summary=summary, kind="learned", build=builder(s.architecture, s.name),
                               needs_weights=True, shipped_weights=s.path, paper=entry.paper, task=entry.task))
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
    """Every method in the table (optionally one ``kind`` and one ``task``), classical first, then by name."""
    if task is not None and task not in TASKS:
        raise InvalidArgumentError(f"unknown task {task!r}; tasks: {', '.join(TASKS)}")
    rows = [r for r in _table().values() if (kind is None or r.kind == kind) and (task is None or r.task == task)]
    return sorted(rows, key=lambda r: (r.kind != "classical", r.name))


def method_names(kind: str | None = None, task: str | None = None) -> list[str]:
    return [r.name for r in list_methods(kind, task)]


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
        from holefill.pipeline import GuidedModelFiller, ModelFiller

        cls = GuidedModelFiller if info.task == "guided" else ModelFiller
        allowed = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "model", "device", "name")]
    else:
        allowed = method_options(info)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InvalidArgumentError(
            f"method {info.name!r} has no option {', '.join(unknown)}; its options: {', '.join(allowed) or 'none'}")


def get_filler(name: str | None = None, *, weights: str | Path | None = None, device: str | None = None,
               **options: Any) -> Filler:
    """Build the filler for method ``name`` (the default method when None).

    ``weights`` names a ``save_pretrained`` folder for a learned method; ``device`` picks
    where a learned model runs (cpu, cuda, mps). Other keyword options go to the method.
    """
    info = get_method(name or DEFAULT_METHOD)
    if info.task == "guided":
        raise InvalidArgumentError(f"method {info.name!r} fills the hole from a guide photo: give one with --guide FILE"
                                   " (guide= in the Python API)")
    return _build(info, weights, device, options)


def get_guided_filler(name: str | None = None, *, weights: str | Path | None = None, device: str | None = None,
                      **options: Any) -> GuidedFiller:
    """Build the guided filler for method ``name`` (the default guided method when None): it
    fills a hole with content pulled from a guide photo, ``fill(image, mask, guide)``."""
    if name is None and DEFAULT_GUIDED_METHOD not in _table():
        raise WeightsError(f"the default guided method {DEFAULT_GUIDED_METHOD!r} is not installed: pass"
                           " --method guided_inpainting --weights DIR (a folder written by holefill train)")
    info = get_method(name or DEFAULT_GUIDED_METHOD)
    if info.task != "guided":
        raise InvalidArgumentError(f"method {info.name!r} takes no guide photo; guided methods:"
                                   f" {', '.join(method_names(task='guided')) or 'none installed'}")
    return _build(info, weights, device, options)


def _build(info: MethodInfo, weights: str | Path | None, device: str | None, options: dict[str, Any]) -> Any:
    _check_options(info, options)
    if info.kind == "classical":
        if weights is not None:
            raise WeightsError(f"method {info.name!r} is classical and takes no weights")
        missing = [r for r in info.requires if options.get(r) is None]
        if missing:
            raise InvalidArgumentError(f"method {info.name!r} needs --{missing[0]} (-O {missing[0]}=...)")
        return info.build(**options)
    if weights is None and info.shipped_weights is None:
        raise WeightsError(
            f"method {info.name!r} is a learned model and needs weights: pass --weights DIR"
            " (a folder written by save_pretrained or holefill train)"
        )
    return info.build(weights=weights if weights is not None else info.shipped_weights, device=device, **options)
