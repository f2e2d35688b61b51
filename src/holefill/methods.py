"""The one table of methods. The API, CLI, batch mode, benchmark and web app look methods up here.

Each row names the tasks it serves and has a builder per protocol: a
:class:`~holefill.fillers.Filler` for the canvas tasks (inpaint, outpaint, blend), an
:class:`~holefill.upscalers.Upscaler` for ``upscale``, a :class:`~holefill.generators.Generator`
for ``generate``. :func:`get_filler`, :func:`get_upscaler` and :func:`get_generator` build them.

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

import difflib
import importlib.util
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from holefill.errors import (
    InvalidArgumentError,
    MissingDependencyError,
    UnknownMethodError,
    WeightsError,
)
from holefill.fillers import BLIND_MASK_KEYS, Blender, BlindFiller, CanvasBlender, Filler, FoundMaskFiller, GuidedFiller
from holefill.generators import Generator
from holefill.options import Option, check_options, describe_options
from holefill.upscalers import Upscaler

#: The jobs a method can do. Inpainting fillers also outpaint and blend (on a larger canvas);
#: upscalers enlarge an image by any factor; generators draw new images.
#: Blind inpainting finds the damage itself and fills it (no mask).
#: Guided inpainting fills the hole with content pulled from a second photo, the guide.
TASKS = ("inpaint", "outpaint", "blend", "upscale", "generate", "blind", "guided")
#: What a filler of ``fill(image, mask)`` serves: every canvas task.
FILL_TASKS = ("inpaint", "outpaint", "blend")

#: The method each task uses when none is named, set by the rule that
#: ``benchmarks/default_rule.py`` applies to a benchmark report (README, "The default method"):
#: PatchMatch is the only method whose fills keep the truth's texture (median hole TV ratio
#: 0.93-0.95) without inventing colours, on 68 crops of the 34 corpus photos (inpaint, outpaint)
#: and on the blend protocol's 50 panoramas of the 25 training photos (blend).
#: Upscaling's default is the learned upscaler shipped in the package when it beats bicubic and
#: Lanczos on every score at every scale of ``benchmarks/upscale.py`` (README, "Upscaling and
#: generation"), else Lanczos: ``meta_rdn_lite`` does (its MODEL_CARD.md has the table). Without
#: PyTorch the default cannot run; :func:`get_upscaler` then says so and names ``-m lanczos``.
#: Generation has no default: a generator is named (``-m dcgan --weights DIR``).
DEFAULT_METHODS: dict[str, str] = {"inpaint": "patchmatch", "outpaint": "patchmatch", "blend": "patchmatch",
                                   "upscale": "meta_rdn_lite"}
#: The inpainting default (``holefill inpaint`` without ``-m``).
DEFAULT_METHOD = DEFAULT_METHODS["inpaint"]
#: The blind default, and the damage finder that ``--blind`` pairs with inpainting-only
#: methods: the VCNet shipped in the package (:func:`get_blind_filler` says how to get one
#: when this version ships none).
DEFAULT_BLIND_METHOD = "vcnet_lite"
#: The guided method used when none is named: the shipped guided inpainting model.
DEFAULT_GUIDED_METHOD = "guided_lite"


@dataclass(frozen=True)
class MethodInfo:
    """One row of the table."""

    name: str
    summary: str
    kind: str  # "classical" or "learned"
    #: Builds its :class:`Filler` (rows that serve a canvas task).
    build: Callable[..., Filler] | None = field(default=None, repr=False, compare=False)
    needs_weights: bool = False
    #: Weights that ship with the package, if any (a ``save_pretrained`` folder).
    shipped_weights: Path | None = None
    #: Citation of the method's paper.
    paper: str = ""
    #: The tasks it serves (:data:`TASKS`).
    tasks: tuple[str, ...] = FILL_TASKS
    #: The keyword options of its first task's builder, each with its valid range
    #: (:meth:`options_for` gives another task's).
    options: tuple[Option, ...] = ()
    #: Whether ``build`` makes a :class:`~holefill.fillers.Blender` (a dedicated blending
    #: model, two photos in) rather than a :class:`~holefill.fillers.Filler`.
    blender: bool = False
    #: Builds its :class:`Upscaler` (rows that serve ``upscale``).
    build_upscaler: Callable[..., Upscaler] | None = field(default=None, repr=False, compare=False)
    #: Builds its :class:`Generator` (rows that serve ``generate``).
    build_generator: Callable[..., Generator] | None = field(default=None, repr=False, compare=False)
    #: Builds its :class:`~holefill.fillers.BlindFiller` (rows that serve ``blind``).
    build_blind: Callable[..., BlindFiller] | None = field(default=None, repr=False, compare=False)
    #: Builds its :class:`~holefill.fillers.GuidedFiller` (rows that serve ``guided``).
    build_guided: Callable[..., GuidedFiller] | None = field(default=None, repr=False, compare=False)
    #: Options the method cannot run without (scene completion: its photo database, ``db``).
    requires: tuple[str, ...] = ()

    def builder(self, task: str) -> Callable[..., Any]:
        """The builder of the protocol ``task`` needs."""
        built = {"upscale": self.build_upscaler, "generate": self.build_generator,
                 "blind": self.build_blind, "guided": self.build_guided}.get(task, self.build)
        if task not in self.tasks or built is None:
            raise InvalidArgumentError(f"method {self.name!r} does not {task} (it serves {', '.join(self.tasks)}); "
                                       f"methods that {task}: {', '.join(method_names(task=task))}")
        return built

    def options_for(self, task: str) -> tuple[Option, ...]:
        """The keyword options the builder of ``task`` takes, with their ranges."""
        return _options_of(self.builder(task))

    @property
    def ready(self) -> bool:
        """Whether the method runs without ``weights=``."""
        return not self.needs_weights or self.shipped_weights is not None


def _classical_rows() -> list[MethodInfo]:
    from holefill import classical as c
    from holefill.scene import SceneCompletion

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
        MethodInfo("bicubic", "Bicubic interpolation (a = -0.5, the kernel of MATLAB's imresize; Pillow)", "classical",
                   paper="Keys, IEEE Trans. Acoustics, Speech and Signal Processing 1981", tasks=("upscale",),
                   build_upscaler=c.Bicubic),
        MethodInfo("lanczos", "Lanczos interpolation (windowed sinc, a = 3; Pillow)", "classical",
                   paper="Duchon, J. Applied Meteorology 1979", tasks=("upscale",), build_upscaler=c.Lanczos),
        MethodInfo("scene", "Scene completion: the best-matching scenes of a photo folder (--db), aligned, "
                   "cut along a graph-cut seam and Poisson-blended", "classical", SceneCompletion,
                   paper="Hays and Efros, Scene Completion Using Millions of Photographs, SIGGRAPH 2007",
                   tasks=("inpaint",), options=SceneCompletion.options, requires=("db",)),
    ]


def _learned_rows() -> list[MethodInfo]:
    """One row per registered architecture (it needs ``weights=``) and one per weights folder
    shipped in the package (ready to use), when the learning extra (torch) is installed."""
    if not learning_available():
        return []
    try:
        from holefill.models import registry
        from holefill.models.shipped import list_shipped
    except ImportError:  # torch is broken
        return []

    shipped = {s.name: s for s in list_shipped()}
    rows = []
    for name in registry.list_models():
        own = shipped.pop(name, None)
        entry = registry.model_entry(name)
        rows.append(MethodInfo(name=name, summary=entry.summary, kind="learned", needs_weights=True,
                               shipped_weights=own.path if own else None, paper=entry.paper, tasks=entry.tasks,
                               **_learned_builders(name, name, entry.tasks)))
    known = set(registry.list_models())
    for s in shipped.values():
        if s.architecture not in known:
            continue
        entry = registry.model_entry(s.architecture)
        summary = s.summary or f"{s.architecture} with weights shipped in the package"
        rows.append(MethodInfo(name=s.name, summary=summary, kind="learned", needs_weights=True,
                               shipped_weights=s.path, paper=entry.paper, tasks=entry.tasks,
                               **_learned_builders(s.architecture, s.name, entry.tasks)))
    return rows


def _learned_builders(architecture: str, name: str, tasks: tuple[str, ...]) -> dict[str, Any]:
    """A learned row's builders, and the options of its first task's: an inpainting model fills
    through the pipeline; an upscaling model upscales; a generative model generates, and fills
    by latent search when it inpaints."""
    from holefill.blending import ModelBlender
    from holefill.blind_pipeline import ModelBlindFiller
    from holefill.model_tasks import LatentSearchFiller, ModelGenerator, ModelUpscaler
    from holefill.pipeline import GuidedModelFiller, ModelFiller

    known = {"expect": architecture, "name": name}
    builders: dict[str, Callable[..., Any]] = {}
    fills = any(t in FILL_TASKS for t in tasks)
    if "generate" in tasks:
        builders["build_generator"] = partial(ModelGenerator.from_pretrained, **known)
        if fills:
            builders["build"] = partial(LatentSearchFiller.from_pretrained, **known)
    elif "blend" in tasks and "inpaint" not in tasks:  # a blending model: two photos in, not a canvas
        builders["build"] = partial(ModelBlender.from_pretrained, **known)
    else:
        if "upscale" in tasks:
            builders["build_upscaler"] = partial(ModelUpscaler.from_pretrained, **known)
        if fills:
            builders["build"] = partial(ModelFiller.from_pretrained, **known)
    if "blind" in tasks:
        builders["build_blind"] = partial(ModelBlindFiller.from_pretrained, **known)
    if "guided" in tasks:
        builders["build_guided"] = partial(GuidedModelFiller.from_pretrained, **known)
    first = {"upscale": "build_upscaler", "generate": "build_generator", "blind": "build_blind",
             "guided": "build_guided"}.get(tasks[0], "build")
    blender = builders.get("build") is not None and builders["build"].func == ModelBlender.from_pretrained
    return {**builders, "options": _options_of(builders[first]), "blender": blender}


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
    """The method ``task`` uses when none is named (generation has none: name a generator)."""
    if _check_task(task) not in DEFAULT_METHODS:
        raise InvalidArgumentError(f"{task} needs a method: name one with -m; choose from "
                                   f"{', '.join(method_names(task=task)) or '(none)'}")
    return DEFAULT_METHODS[task]


def get_method(name: str, task: str | None = None) -> MethodInfo:
    """The table row for ``name``, or an :class:`UnknownMethodError` listing the choices (those
    that serve ``task`` when it is given) and the closest name, if one is close.

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
        task = task if task in TASKS else None
        choices = method_names(task=task) if task is not None else method_names()
        close = difflib.get_close_matches(str(name), list(table), n=1, cutoff=0.7)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownMethodError(f"unknown method {name!r}{hint}; choose from "
                                 f"{'the ' + task + ' methods ' if task else ''}{', '.join(choices)}")
    return table[name]


def method_of_weights(weights: str | Path) -> str:
    """The method a weights folder is for: the architecture its ``config.json`` names."""
    if not learning_available():
        raise MissingDependencyError(f"weights need PyTorch: {LEARN_HINT}", weights)
    from holefill.models.base import read_config

    return str(read_config(weights)["architecture"])


def method_options(info: MethodInfo, task: str | None = None) -> list[str]:
    """The names of the keyword options a method accepts for ``task`` (default: its first task)."""
    return [o.name for o in info.options_for(task or info.tasks[0])]


def options_help(info: MethodInfo) -> str:
    """The method's options with their ranges, in one line (for help texts and errors)."""
    return describe_options(info.options)


def check_method_options(name: str | None, options: dict[str, Any], task: str = "inpaint") -> dict[str, Any]:
    """``options`` for method ``name`` (``task``'s default when None) checked against its
    declared ranges, before any work: every name known, every value in range (one
    :class:`InvalidArgumentError` line if not)."""
    info = get_method(name or default_method(task), task)
    return check_options(info.options_for(task), options, method=info.name)


def _options_of(builder: Callable[..., Any]) -> tuple[Option, ...]:
    """The options a builder takes: its class's ``options`` (a filler class, or the class whose
    ``from_pretrained`` it is)."""
    target = builder.func if isinstance(builder, partial) else builder
    owner = getattr(target, "__self__", None)
    return tuple(getattr(owner if isinstance(owner, type) else target, "options", ()))


def _builder_parameters(info: MethodInfo, task: str) -> list[str]:
    """The named parameters of ``info``'s builder for ``task``, or for a learned model those of
    the class its builder loads (``ModelFiller.from_pretrained`` -> ``ModelFiller``)."""
    builder = info.builder(task)
    target = builder.func if isinstance(builder, partial) else builder
    owner = getattr(target, "__self__", None)
    function = owner.__init__ if isinstance(owner, type) else target
    params = inspect.signature(function).parameters.values()
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]




def _build(name: str | None, task: str, weights: str | Path | None, device: str | None,
           options: dict[str, Any], backend: str | None = None) -> Any:
    """The ``task`` protocol of method ``name`` (``task``'s default when None), built."""
    info = get_method(name or default_method(task), task)
    builder = info.builder(task)
    options = check_options(info.options_for(task), options, method=info.name)
    if isinstance(options.get("upscaler"), str):  # a fill's enlarger, named like any upscaling method
        options = {**options, "upscaler": get_upscaler(options["upscaler"], device=device)}
    if info.kind == "classical":
        if weights is not None:
            raise WeightsError(f"method {info.name!r} is classical and takes no weights")
        if backend not in (None, "torch"):
            raise InvalidArgumentError(f"method {info.name!r} is classical; --backend is for learned methods")
        missing = [r for r in info.requires if options.get(r) is None]
        if missing:
            raise InvalidArgumentError(f"method {info.name!r} needs --{missing[0]} (-O {missing[0]}=...)")
        return builder(**options)
    if weights is None and info.shipped_weights is None:
        raise WeightsError(
            f"method {info.name!r} is a learned model and needs weights: pass --weights DIR"
            " (a folder written by save_pretrained or holefill train)"
        )
    if backend is not None:
        if "backend" not in _builder_parameters(info, task):
            if backend != "torch":
                raise InvalidArgumentError(f"method {info.name!r} runs in PyTorch only (--backend {backend} is for "
                                           "inpainting models exported with holefill export)")
        else:
            options = {**options, "backend": backend}
    return builder(weights=weights if weights is not None else info.shipped_weights, device=device, **options)


def get_upscaler(name: str | None = None, *, weights: str | Path | None = None, device: str | None = None,
                 **options: Any) -> Upscaler:
    """Build the upscaler of method ``name`` (the upscaling default when None)."""
    if name is None and DEFAULT_METHODS["upscale"] not in _classical_table() and not learning_available():
        raise MissingDependencyError(f"the default upscaler {DEFAULT_METHODS['upscale']!r} is a learned model and "
                                     f"needs PyTorch: {LEARN_HINT}, or name a classical one (-m lanczos)")
    return _build(name, "upscale", weights, device, options)


def get_generator(name: str, *, weights: str | Path | None = None, device: str | None = None,
                  **options: Any) -> Generator:
    """Build the image generator of method ``name`` (a learned model: ``weights`` or shipped ones)."""
    return _build(name, "generate", weights, device, options)


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
    if _check_task(task) not in FILL_TASKS:
        raise InvalidArgumentError(f"{task} is not a fill task; use get_upscaler or get_generator")
    info = get_method(name or default_method(task), task)
    if info.blender and task in info.tasks:
        raise InvalidArgumentError(f"method {info.name!r} joins two photos rather than filling a canvas; "
                                   "use holefill.blend (holefill blend LEFT RIGHT) or get_blender")
    if "guided" in info.tasks and task not in info.tasks:
        raise InvalidArgumentError(f"method {info.name!r} fills the hole from a guide photo: give one with --guide FILE"
                                   " (guide= in the Python API)")
    return _build(info.name, task, weights, device, options, backend)


def get_guided_filler(name: str | None = None, *, weights: str | Path | None = None, device: str | None = None,
                      backend: str | None = None, **options: Any) -> GuidedFiller:
    """Build the guided filler for method ``name`` (the default guided method when None): it
    fills a hole with content pulled from a guide photo, ``fill(image, mask, guide)``. Guided
    models run in PyTorch only: ``backend`` may be None or ``"torch"`` (the server passes its
    own to every learned builder)."""
    if name is None and weights is not None:
        name = method_of_weights(weights)
    if name is None and DEFAULT_GUIDED_METHOD not in _table():
        raise WeightsError(f"the default guided method {DEFAULT_GUIDED_METHOD!r} is not installed: pass"
                           " --method guided_inpainting --weights DIR (a folder written by holefill train)")
    info = get_method(name or DEFAULT_GUIDED_METHOD)
    if "guided" not in info.tasks:
        raise InvalidArgumentError(f"method {info.name!r} takes no guide photo; guided methods:"
                                   f" {', '.join(method_names(task='guided')) or 'none installed'}")
    return _build(info.name, "guided", weights, device, options, backend)


def get_blender(name: str | None = None, *, weights: str | Path | None = None, device: str | None = None,
                backend: str | None = None, **options: Any) -> Blender:
    """Build the blending method ``name`` (the blending default when None).

    A dedicated blending model joins the two photos itself; an inpainting method fills the gap
    of the ``left | gap | right`` canvas (:class:`~holefill.fillers.CanvasBlender`).
    """
    if name is None and weights is not None:
        name = method_of_weights(weights)
    info = get_method(name or default_method("blend"), "blend")
    if info.blender and backend not in (None, "torch"):
        raise InvalidArgumentError(f"method {info.name!r} runs in PyTorch only (no --backend {backend})")
    built = _build(info.name, "blend", weights, device, options, backend)
    return built if info.blender else CanvasBlender(built)


def _blind_options(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split the options that shape a blind filler's mask (:data:`~holefill.fillers.BLIND_MASK_KEYS`) from the filler's own."""
    own = {k: options.pop(k) for k in BLIND_MASK_KEYS if k in options}
    return own, options


def _blind_method(name: str) -> MethodInfo:
    """The default blind method's row, or a line that says how to get one when it does not ship."""
    try:
        return get_method(name)
    except UnknownMethodError:
        raise WeightsError(f"no blind model ships with this version ({name!r} is not in the package): train one "
                           "(holefill train vcnet_lite) and pass -m vcnet --weights RUN/final") from None


def options_help_for(info: MethodInfo, task: str) -> str:
    """The options of ``info``'s builder for ``task`` with their ranges, in one line."""
    return describe_options(info.options_for(task))


def get_blind_filler(name: str | None = None, *, weights: str | Path | None = None, device: str | None = None,
                     finder: str | None = None, finder_weights: str | Path | None = None,
                     **options: Any) -> BlindFiller:
    """Build a blind filler: method ``name`` finds the damage and fills it.

    ``name`` defaults to :data:`DEFAULT_BLIND_METHOD`. An inpainting-only method (``patchmatch``)
    fills the damage that ``finder`` (a blind method, :data:`DEFAULT_BLIND_METHOD` by default,
    with ``finder_weights``) finds. ``threshold`` (damage probability), ``dilate`` (pixels),
    ``scale`` (the size the model works at), ``second_scale`` (a second look, averaged),
    ``seed`` and ``seed_pixels`` (hysteresis) shape the
    mask, their defaults those of the weights; other options go to the method.
    """
    if name is None and weights is not None:
        name = method_of_weights(weights)
    shape, rest = _blind_options(dict(options))
    info = _blind_method(name or DEFAULT_BLIND_METHOD) if name is None else get_method(name)
    if "blind" in info.tasks:
        if finder is not None or finder_weights is not None:
            raise InvalidArgumentError(f"method {info.name!r} finds the damage itself; it takes no finder")
        if rest:
            raise InvalidArgumentError(f"blind method {info.name!r} has no option {', '.join(sorted(rest))}; "
                                       f"its options: {options_help_for(info, 'blind')}")
        return _build(info.name, "blind", weights, device, shape)
    finder_info = _blind_method(finder or DEFAULT_BLIND_METHOD) if finder is None else get_method(finder)
    if "blind" not in finder_info.tasks:
        blind = ", ".join(method_names(task="blind")) or "none"
        raise InvalidArgumentError(f"finder {finder_info.name!r} cannot find damage; blind methods: {blind}")
    found = get_blind_filler(finder_info.name, weights=finder_weights, device=device, **shape)
    filler = get_filler(info.name, weights=weights, device=device, **rest)
    return FoundMaskFiller(found, filler)
