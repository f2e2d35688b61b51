"""Turn the authors' released checkpoints into holefill weights folders.

``holefill convert MODEL SOURCE... -o OUT`` loads an official checkpoint through the model's
own key-remapping loader (strict: any unmapped, missing or misshapen tensor is an error) and
writes it with ``save_pretrained``, so ``holefill inpaint --method MODEL --weights OUT`` runs
the authors' weights. Supported:

- ``deepfill_v1``, ``deepfill_v2`` (JiahuiYu/generative_inpainting, v1.0.0 / v2.0.0): the
  released TensorFlow 1 model folder (with its ``checkpoint`` or ``checkpoint.txt`` file), a
  checkpoint prefix or its ``.index``; see :mod:`holefill.models.convert_tf`.
- ``vcnet`` (shepnerd/blindinpainting_vcnet, ``tensorflow_version``): the released TF1 model
  folder (FFHQ or CelebA-HQ), a checkpoint prefix or its ``.index``; the converted model is
  blind (``holefill inpaint --blind -m vcnet --weights OUT``); see :mod:`holefill.models.convert_tf`.
- ``glcic`` (satoshiiizuka/siggraph2017_inpainting): a ``completionnet_*.t7``; ``context_encoder``
  (pathak22/context-encoder): a ``*_inpaintCenter.t7``; see :mod:`holefill.models.convert_torch7`.
- ``edgeconnect`` (knazeri/edge-connect): the folder of a released model
  (``checkpoints/places2`` etc., holding ``EdgeModel_gen.pth`` and ``InpaintingModel_gen.pth``),
  or those two files (in either order when they keep their official names, else edge first).
  The ``*_dis.pth`` discriminators are not needed.
- ``pennet`` (researchmm/PEN-Net-for-Inpainting, branch pytorch): one ``gen_XXXXX.pth``.
- ``bct_blend`` (julia0607/Wide-Range-Image-Blending): the released ``Gen`` file (a plain
  state dict of the generator under the official names, which are ours; ``Dis`` is not
  needed). Use it with ``holefill blend``.

The folder's ``config.json`` records, under ``converted_from``, the files read and their
SHA-256, which tensors were used and which left out (and why), and the settings read from
the file; ``WEIGHTS_LICENCE.txt`` beside it states the authors' licence, which for most of
these releases forbids commercial use.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from holefill.errors import (
    InputNotFoundError,
    InvalidArgumentError,
    OutputExistsError,
    UnknownMethodError,
    WeightsError,
)
from holefill.models.base import CONFIG_NAME, WEIGHTS_NAME, InpaintModel
from holefill.models.foreign import LICENCE_FILE, LICENCES, Converted, Report, file_sha256, licence_text

__all__ = ["CONVERTIBLE", "convert_checkpoint", "convert_official", "load_official", "sniff_format"]

PathLike = str | os.PathLike[str]

#: The top-level key of each official generator file, and the model it belongs to.
_FILE_KEYS = {"generator": "edgeconnect", "netG": "pennet"}
_SHOWN = {"edgeconnect": "an EdgeConnect", "pennet": "a PEN-Net"}


def _peek(path: Path) -> Mapping[str, Any] | None:
    """The top level of a checkpoint file, or None when it cannot be read."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 (the loader has already reported why)
        return None
    return data if isinstance(data, Mapping) else None


def sniff_format(path: Path) -> str:
    """The format a checkpoint file or folder is in: "tf1", "torch7", "pytorch" or "" (unknown)."""
    from holefill.formats.torch7 import is_t7

    if path.is_dir():
        if any(path.glob("*.index")):
            return "tf1"
        return ""
    if path.suffix in (".index", ".meta") or ".data-" in path.name or Path(f"{path}.index").is_file():
        return "tf1"
    if not path.is_file():
        return ""
    if is_t7(path):
        return "torch7"
    with path.open("rb") as fh:
        head = fh.read(4)
    return "pytorch" if head[:2] == b"PK" or head[:1] == b"\x80" else ""  # a zip, or a pickle


_FORMAT_MODELS = {"tf1": ("a TensorFlow 1 checkpoint", ("deepfill_v1", "deepfill_v2", "vcnet")),
                  "torch7": ("a Torch7 file", ("glcic", "context_encoder")),
                  "pytorch": ("a PyTorch checkpoint", ("edgeconnect", "pennet"))}
_MODEL_FORMAT = {model: fmt for fmt, (_, models) in _FORMAT_MODELS.items() for model in models}


def _hint(path: Path, model: str) -> str:
    """A clue to what a checkpoint that did not load holds instead ('' when there is none)."""
    found = sniff_format(path)
    if found and found != _MODEL_FORMAT.get(model):
        what, models = _FORMAT_MODELS[found]
        named = ", ".join(models[:-1]) + f" or {models[-1]}"
        return f"; it is {what}, as {named} releases theirs: use holefill convert {'|'.join(models)}"
    data = _peek(path) if path.is_file() else None
    if data is None:
        return ""
    for key, owner in _FILE_KEYS.items():
        if key in data and owner != model:
            return f"; it looks like {_SHOWN[owner]} checkpoint (key {key!r}): use holefill convert {owner}"
    if "discriminator" in data or "netD" in data:
        return "; it holds a discriminator: give the generator's checkpoint (*_gen.pth / gen_*.pth)"
    if "optimG" in data:
        return "; it holds optimiser state: give the generator's checkpoint (gen_*.pth)"
    return ""


def _with_hint(err: WeightsError, paths: Sequence[Path], model: str) -> WeightsError:
    for path in paths:
        if err.path is None or str(path) in err.path:
            hint = _hint(path, model)
            if hint:
                return WeightsError(err.problem + hint, err.path)
    return err


def _edgeconnect(sources: Sequence[Path]) -> InpaintModel:
    from holefill.models.edgeconnect import OFFICIAL_EDGE_FILE, OFFICIAL_INPAINT_FILE, load_official_edgeconnect

    if len(sources) == 1:
        folder = sources[0]
        if not folder.is_dir():
            raise InvalidArgumentError(f"edgeconnect needs the folder holding {OFFICIAL_EDGE_FILE} and "
                                       f"{OFFICIAL_INPAINT_FILE}, or both files{_hint(folder, 'edgeconnect')}",
                                       folder)
        edge, inpaint = folder / OFFICIAL_EDGE_FILE, folder / OFFICIAL_INPAINT_FILE
        for path in (edge, inpaint):
            if not path.is_file():
                raise InputNotFoundError(f"no {path.name} here; an EdgeConnect model folder holds "
                                         f"{OFFICIAL_EDGE_FILE} and {OFFICIAL_INPAINT_FILE}", folder)
    elif len(sources) == 2:
        edge, inpaint = sources
        if edge.name == OFFICIAL_INPAINT_FILE and inpaint.name == OFFICIAL_EDGE_FILE:
            edge, inpaint = inpaint, edge
    else:
        raise InvalidArgumentError(f"edgeconnect takes one folder or two files (edge generator, then inpainting "
                                   f"generator), got {len(sources)} paths")
    for path in (edge, inpaint):
        if path.is_dir():
            raise InvalidArgumentError("is a folder; give the two generator files, or the folder alone", path)
    try:
        return load_official_edgeconnect(edge, inpaint)
    except WeightsError as err:
        raise _with_hint(err, [edge, inpaint], "edgeconnect") from None


def _pennet(sources: Sequence[Path]) -> InpaintModel:
    from holefill.models.pennet import load_official_pennet

    if len(sources) != 1:
        raise InvalidArgumentError(f"pennet takes one generator file (gen_XXXXX.pth), got {len(sources)} paths")
    source = sources[0]
    if source.is_dir():
        found = sorted(source.glob("gen_*.pth"))
        if not found:
            raise InputNotFoundError("holds no gen_*.pth; give the generator checkpoint file", source)
        if len(found) > 1:
            raise InvalidArgumentError(f"holds {len(found)} generator checkpoints ({found[0].name}, ...);"
                                       " name the one to convert", source)
        source = found[0]
    try:
        return load_official_pennet(source)
    except WeightsError as err:
        raise _with_hint(err, [source], "pennet") from None


def _pytorch(load: Callable[[Sequence[Path]], InpaintModel], in_folder: Callable[[Path], list[Path]]
             ) -> Callable[[Sequence[Path]], Converted]:
    """A PyTorch-checkpoint loader as a converter; ``in_folder`` names the files it reads in a folder."""
    def convert(sources: Sequence[Path]) -> Converted:
        model = load(sources)
        files: list[Path] = []
        for source in sources:
            files += in_folder(source) if source.is_dir() else [source]
        return Converted(model=model, files=files, report=Report(used=len(model.state_dict())))
    return convert


def _edgeconnect_files(folder: Path) -> list[Path]:
    from holefill.models.edgeconnect import OFFICIAL_EDGE_FILE, OFFICIAL_INPAINT_FILE

    return [folder / OFFICIAL_EDGE_FILE, folder / OFFICIAL_INPAINT_FILE]


def _one_source(model: str, sources: Sequence[Path], what: str) -> Path:
    if len(sources) != 1:
        raise InvalidArgumentError(f"{model} takes one {what}, got {len(sources)} paths")
    return sources[0]


def _tf1(model: str) -> Callable[[Sequence[Path]], Converted]:
    def convert(sources: Sequence[Path]) -> Converted:
        from holefill.models.convert_tf import load_official_deepfill, load_official_vcnet

        source = _one_source(model, sources, "TensorFlow checkpoint (its folder, prefix or .index)")
        found = sniff_format(source)
        if found and found != "tf1":
            raise WeightsError(f"is not a TensorFlow 1 checkpoint{_hint(source, model)}", source)
        return load_official_vcnet(source) if model == "vcnet" else load_official_deepfill(model, source)
    return convert


def _torch7(model: str) -> Callable[[Sequence[Path]], Converted]:
    def convert(sources: Sequence[Path]) -> Converted:
        from holefill.models.convert_torch7 import TORCH7_CONVERTERS

        source = _one_source(model, sources, "Torch7 file (.t7)")
        if sniff_format(source) not in ("torch7", ""):
            raise WeightsError(f"is not a Torch7 file{_hint(source, model)}", source)
        if source.is_dir():
            found = sorted(source.glob("*.t7"))
            if len(found) != 1:
                raise InvalidArgumentError(f"holds {len(found)} .t7 files; name the one to convert", source)
            source = found[0]
        return TORCH7_CONVERTERS[model](source)
    return convert


def _bct_blend(sources: Sequence[Path]) -> InpaintModel:
    from holefill.models.bct_blend import load_official_bct_blend

    source = _one_source("bct_blend", sources, "generator file (the released Gen)")
    if source.is_dir():
        raise InvalidArgumentError("bct_blend takes one generator file (the released Gen), not a folder", source)
    return load_official_bct_blend(source)


#: Models with official checkpoints that :func:`convert_official` converts.
CONVERTIBLE: dict[str, Callable[[Sequence[Path]], Converted]] = {
    "deepfill_v1": _tf1("deepfill_v1"), "deepfill_v2": _tf1("deepfill_v2"), "vcnet": _tf1("vcnet"),
    "glcic": _torch7("glcic"), "context_encoder": _torch7("context_encoder"),
    "edgeconnect": _pytorch(_edgeconnect, _edgeconnect_files),
    "pennet": _pytorch(_pennet, lambda folder: sorted(folder.glob("gen_*.pth"))),
    "bct_blend": _pytorch(_bct_blend, lambda folder: []),
}


def convert_checkpoint(model: str, sources: Sequence[PathLike]) -> Converted:
    """Load the official checkpoint(s) ``sources`` of ``model``, with the files read and a report."""
    if model not in CONVERTIBLE:
        raise UnknownMethodError(f"no converter for {model!r}; choose one of {', '.join(CONVERTIBLE)}")
    paths = [Path(s) for s in sources]
    if not paths:
        raise InvalidArgumentError(f"give the official checkpoint of {model} to convert")
    for path in paths:
        if not path.exists() and not Path(f"{path}.index").is_file():
            raise InputNotFoundError("no such file or folder", path)
    return CONVERTIBLE[model](paths)


def load_official(model: str, sources: Sequence[PathLike]) -> InpaintModel:
    """The model with the official checkpoint(s) ``sources`` of ``model`` loaded (see the module docstring)."""
    return convert_checkpoint(model, sources).model


def convert_official(model: str, sources: Sequence[PathLike], out: PathLike, *, overwrite: bool = False,
                     dtype: torch.dtype | None = None, echo: Callable[[str], None] | None = None) -> Path:
    """Convert official checkpoint(s) of ``model`` into the weights folder ``out``; returns it.

    ``out`` must be new or empty (or hold weights, with ``overwrite``). ``dtype`` (e.g.
    ``torch.float16``) casts the tensors for shipping. The folder's ``config.json`` records
    which files it came from (with their SHA-256) and the conversion report;
    ``WEIGHTS_LICENCE.txt`` holds the licence note, which ``echo`` (if given) also receives,
    with the report, line by line.
    """
    target = Path(out)
    if target.exists() and not target.is_dir():
        raise OutputExistsError("is a file; the weights go into a folder", target)
    if target.is_dir() and not overwrite:
        held = sorted(p.name for p in target.iterdir())
        if held:
            what = "already holds weights" if {CONFIG_NAME, WEIGHTS_NAME} & set(held) else \
                f"is not empty ({', '.join(held[:3])})"
            raise OutputExistsError(f"{what}; choose a new folder or pass --overwrite", target)
    converted = convert_checkpoint(model, sources)
    read = [str(f) for f in converted.files if f.is_file()]
    extra = {"converted_from": {
        "model": model, "files": [str(Path(s)) for s in sources],
        "sha256": {f: file_sha256(f) for f in read},
        "report": converted.report.as_json(), "settings_from_file": converted.carried,
        "licence": LICENCES[model].summary() if model in LICENCES else "unknown: check the authors' terms",
    }}
    from holefill.io import write_bytes_atomic

    note = licence_text(model, read)
    try:
        folder = converted.model.save_pretrained(target, overwrite=overwrite, dtype=dtype, extra=extra)
        write_bytes_atomic(folder / LICENCE_FILE, note.encode())
    except OSError as exc:
        raise InvalidArgumentError(f"cannot be written ({exc.strerror or exc})", target) from None
    if echo is not None:
        for line in converted.report.lines():
            echo(line)
        for line in note.rstrip().splitlines():
            echo(line)
    return folder
