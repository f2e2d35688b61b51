"""The one table of methods. The API, CLI, batch mode, benchmark and web app look fillers up here.

A method is classical (ready to use) or learned (a registered model architecture, which
needs weights: a folder from ``save_pretrained`` given with ``weights=``, or weights shipped
in the package). Adding a classical method means adding one row to :func:`_classical_rows`;
a learned model appears here once it is registered in :mod:`holefill.models`: this module
reads the model registry and the shipped weights and builds the learned rows itself (the
models know nothing of the table).

Each row names its tasks (:data:`TASKS`): ``inpaint`` (a :class:`~holefill.fillers.Filler`,
:func:`get_filler`) and ``blind`` (a :class:`~holefill.fillers.BlindFiller`, the damage found
by the method itself, :func:`get_blind_filler`). A blind model (VCNet) serves both: given a
mask, it fills it. Blind inpainting with an inpainting-only method pairs it with the damage
finder of :data:`DEFAULT_BLIND_METHOD` (:class:`~holefill.fillers.FoundMaskFiller`).
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
from holefill.fillers import BlindFiller, Filler, FoundMaskFiller

#: The method used when none is named. The rule (README, "Benchmark"): a shipped model
#: becomes the default only if it beats every classical method on both PSNR and SSIM on the
#: corpus test split (buckets 20-30 ... 50-60, centre box, 25 % outpainting strip); until
#: one does, the best classical method is the default. Biharmonic leads the classical
#: methods on every one of those sets but the outpainting strip, where it is within 0.02 dB.
DEFAULT_METHOD = "biharmonic"
#: The blind method used when none is named, and the damage finder that ``--blind`` pairs
#: with inpainting-only methods: the shipped VCNet.
DEFAULT_BLIND_METHOD = "vcnet_lite"
#: What a row can do: fill a given mask, or find the damage and fill it.
TASKS = ("inpaint", "blind")


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
    #: The tasks the method serves (:data:`TASKS`).
    tasks: tuple[str, ...] = ("inpaint",)
    #: Builds the method's :class:`BlindFiller` (rows whose tasks include ``blind``).
    build_blind: Callable[..., BlindFiller] | None = field(default=None, repr=False, compare=False)

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
        from holefill.models import registry
        from holefill.models.shipped import list_shipped
        from holefill.pipeline import ModelFiller
    except ImportError:  # torch is broken
        return []

    from holefill.blind_pipeline import ModelBlindFiller

    def blind_builder(tasks: tuple[str, ...], expect: str, name: str) -> Callable[..., BlindFiller] | None:
        return partial(ModelBlindFiller.from_pretrained, expect=expect, name=name) if "blind" in tasks else None

    shipped = {s.name: s for s in list_shipped()}
    rows = []
    for name in registry.list_models():
        entry = registry.model_entry(name)
        own = shipped.pop(name, None)
        rows.append(MethodInfo(name=name, summary=entry.summary, kind="learned",
                               build=partial(ModelFiller.from_pretrained, expect=name, name=name),
                               needs_weights=True, shipped_weights=own.path if own else None, paper=entry.paper,
                               tasks=entry.tasks, build_blind=blind_builder(entry.tasks, name, name)))
    known = set(registry.list_models())
    for s in shipped.values():
        if s.architecture not in known:
            continue
        entry = registry.model_entry(s.architecture)
        summary = s.summary or f"{s.architecture} with weights shipped in the package"
        rows.append(MethodInfo(name=s.name, summary=summary, kind="learned",
                               build=partial(ModelFiller.from_pretrained, expect=s.architecture, name=s.name),
                               needs_weights=True, shipped_weights=s.path, paper=entry.paper, tasks=entry.tasks,
                               build_blind=blind_builder(entry.tasks, s.architecture, s.name)))
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
    """Every method in the table (optionally one ``kind``, and only those serving ``task``),
    classical first, then by name."""
    if task is not None and task not in TASKS:
        raise InvalidArgumentError(f"unknown task {task!r}; tasks: {', '.join(TASKS)}")
    rows = [r for r in _table().values() if (kind is None or r.kind == kind) and (task is None or task in r.tasks)]
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
        from holefill.pipeline import ModelFiller

        allowed = [p for p in inspect.signature(ModelFiller.__init__).parameters if p not in ("self", "model", "device", "name")]
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
    _check_options(info, options)
    if info.kind == "classical":
        if weights is not None:
            raise WeightsError(f"method {info.name!r} is classical and takes no weights")
        return info.build(**options)
    if weights is None and info.shipped_weights is None:
        raise WeightsError(
            f"method {info.name!r} is a learned model and needs weights: pass --weights DIR"
            " (a folder written by save_pretrained or holefill train)"
        )
    return info.build(weights=weights if weights is not None else info.shipped_weights, device=device, **options)


def _blind_options(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split the options of a blind filler (threshold, dilate, scale) from the filler's own."""
    own = {k: options.pop(k) for k in ("threshold", "dilate", "scale") if k in options}
    return own, options


def get_blind_filler(name: str | None = None, *, weights: str | Path | None = None, device: str | None = None,
                     finder: str | None = None, finder_weights: str | Path | None = None,
                     **options: Any) -> BlindFiller:
    """Build a blind filler: method ``name`` finds the damage and fills it.

    ``name`` defaults to :data:`DEFAULT_BLIND_METHOD`. An inpainting-only method (``patchmatch``)
    fills the damage that ``finder`` (a blind method, :data:`DEFAULT_BLIND_METHOD` by default,
    with ``finder_weights``) finds. ``threshold`` (damage probability), ``dilate`` (pixels) and
    ``scale`` (the size the model works at) shape the mask, their defaults those of the
    weights; other options go to the method.
    """
    shape, rest = _blind_options(dict(options))
    info = get_method(name or DEFAULT_BLIND_METHOD)
    if "blind" in info.tasks:
        if finder is not None or finder_weights is not None:
            raise InvalidArgumentError(f"method {info.name!r} finds the damage itself; it takes no finder")
        if rest:
            raise InvalidArgumentError(f"blind method {info.name!r} has no option {', '.join(sorted(rest))}; "
                                       "its options: threshold, dilate, scale")
        if weights is None and info.shipped_weights is None:
            raise WeightsError(f"method {info.name!r} is a learned model and needs weights: pass --weights DIR"
                               " (a folder written by save_pretrained or holefill train)")
        assert info.build_blind is not None
        return info.build_blind(weights=weights if weights is not None else info.shipped_weights, device=device,
                                **shape)
    finder_info = get_method(finder or DEFAULT_BLIND_METHOD)
    if "blind" not in finder_info.tasks:
        blind = ", ".join(method_names(task="blind")) or "none"
        raise InvalidArgumentError(f"finder {finder_info.name!r} cannot find damage; blind methods: {blind}")
    found = get_blind_filler(finder_info.name, weights=finder_weights, device=device, **shape)
    filler = get_filler(info.name, weights=weights, device=device, **rest)
    return FoundMaskFiller(found, filler)
