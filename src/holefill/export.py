"""Export a generator to ONNX, and run an exported graph with ONNX Runtime.

The graph computes a model's final prediction, what :meth:`InpaintModel.predict` returns:

- inputs ``image`` (N3HW float32 in [-1, 1], hole zeroed) and ``mask`` (N1HW float32,
  1 = hole), then the model's :meth:`~holefill.models.base.InpaintModel.graph_inputs`
  (Canny edges, a classical prefill: pre-processing no graph can do), in that order;
- output ``output`` (N3HW in [-1, 1], not composited).

Batch, height and width are dynamic, the sides multiples of the model's ``size_multiple``,
except for fixed-size models (Context Encoder), whose graph has their one size. The
attention layers export in their traceable forms (:func:`~holefill.layers.contextual_attention.fuse_dense`,
PEN-Net's row groups), written in operations ONNX has. Instance norms export as staged
means (:func:`_staged_instance_norm`), which keep ONNX Runtime's float32 sums accurate on
large maps.

The file's metadata (``holefill.*`` keys) names the architecture, its config, the size
multiple and the extra inputs, so :class:`OnnxGenerator` can serve it without the weights
folder. Exporting needs the ``onnx`` extra (onnx, onnxscript, onnxruntime); running needs
onnxruntime only.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from holefill.errors import InvalidArgumentError, MissingDependencyError, OutputExistsError, WeightsError
from holefill.io import write_bytes_atomic
from holefill.models.base import InpaintModel

#: ONNX operator set of exported graphs (Col2Im, which the attention's paste uses, needs 18).
OPSET = 18
#: Largest error allowed between the exported graph and PyTorch on the check input.
TOLERANCE = 1e-4
#: Largest side the dynamic axes allow (the pipeline never runs a model above its resize limit).
MAX_SIDE = 8192
_INSTALL = "pip install 'holefill[onnx]'"
_META = "holefill."


class _Prediction(nn.Module):
    """What the graph computes: ``model(image, mask, **extra).output``."""

    def __init__(self, model: InpaintModel, extra: list[str]) -> None:
        super().__init__()
        self.model = model
        self.extra = extra

    def forward(self, image: torch.Tensor, mask: torch.Tensor, *extra: torch.Tensor) -> torch.Tensor:
        return self.model(image, mask, **dict(zip(self.extra, extra))).output


@dataclass(frozen=True)
class ExportResult:
    """Where the graph went, its inputs, whether its sides are dynamic, and how far it was
    from PyTorch on the check input."""

    path: Path
    inputs: tuple[str, ...]
    dynamic: bool
    max_error: float


def sample_inputs(model: InpaintModel, n: int = 2, size: tuple[int, int] | None = None,
                  seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of random images with a box hole each, at ``size`` or a small size the model
    takes (no side equal to one multiple, so no axis is mistaken for a constant)."""
    if size is None:
        if model.fixed_size is not None:
            size = model.fixed_size
        else:
            k = model.size_multiple
            size = (max(2 * k, -(-48 // k) * k), max(3 * k, -(-64 // k) * k))
    h, w = size
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(n, 3, h, w, generator=g) * 2 - 1
    mask = torch.zeros(n, 1, h, w)
    for i in range(n):
        top = int(torch.randint(0, max(1, h // 2), (1,), generator=g))
        left = int(torch.randint(0, max(1, w // 2), (1,), generator=g))
        mask[i, :, top:top + max(1, h // 3), left:left + max(1, w // 3)] = 1
    return image * (1 - mask), mask


def _export_copy(model: InpaintModel) -> InpaintModel:
    """A copy in eval mode with spectral norms baked into plain weights and attention in its
    traceable form; the caller's model is left as it was.

    The copy is built afresh from the registry and loaded with the model's state: a deep copy
    would share PyTorch's per-module parametrized classes with the original, and removing a
    parametrization from the copy would then strip the original's weights too.
    """
    from torch.nn.utils import parametrize

    from holefill.models.registry import create_model

    clone = create_model(model.architecture, **model.config_dict())
    clone.load_state_dict(model.state_dict())
    clone = clone.cpu().float().eval()
    for module in clone.modules():
        if parametrize.is_parametrized(module):
            for name in list(module.parametrizations.keys()):
                parametrize.remove_parametrizations(module, name, leave_parametrized=True)
    clone.traceable()
    return clone


def _require(*packages: str) -> None:
    import importlib.util

    missing = [p for p in packages if importlib.util.find_spec(p) is None]
    if missing:
        raise MissingDependencyError(f"ONNX export needs {', '.join(missing)}: {_INSTALL}")


def metadata(model: InpaintModel, extra: list[str], dynamic: bool) -> dict[str, str]:
    """The ``holefill.*`` metadata written into an exported graph."""
    return {
        _META + "architecture": model.architecture,
        _META + "config": json.dumps(model.config_dict(), sort_keys=True),
        _META + "size_multiple": str(model.size_multiple),
        _META + "fixed_size": json.dumps(list(model.fixed_size) if model.fixed_size else None),
        _META + "needs_context": json.dumps(bool(model.needs_context)),
        _META + "extra_inputs": json.dumps(extra),
        _META + "dynamic": json.dumps(dynamic),
    }


def export_onnx(model: InpaintModel, output: str | os.PathLike[str], *, overwrite: bool = False,
                check: bool = True) -> ExportResult:
    """Write ``model``'s prediction graph to ``output`` (a ``.onnx`` file).

    The graph is checked with ONNX Runtime against PyTorch on a sample batch (``check``);
    a difference above :data:`TOLERANCE` is an error and nothing is written. An existing
    file is replaced only with ``overwrite``.
    """
    _require("onnx", "onnxscript", "onnxruntime")
    import onnx
    from torch.export import Dim

    out = Path(output)
    if out.suffix.lower() != ".onnx":
        raise InvalidArgumentError("an ONNX graph is written to a .onnx file", out)
    if out.is_dir():
        raise OutputExistsError("is a folder; give a file name", out)
    if out.exists() and not overwrite:
        raise OutputExistsError("already exists; pass --overwrite to replace it", out)
    if not model.architecture:
        raise WeightsError("model has no registry name; build it with holefill.create_model")
    if not isinstance(model, InpaintModel):
        raise InvalidArgumentError(f"{model.architecture} is not an inpainting model; holefill export writes the "
                                   "(image, mask) graphs of inpainting models")

    net = _export_copy(model)
    image, mask = sample_inputs(net)
    with torch.no_grad():
        extra = net.graph_inputs(image, mask)
    names = list(extra)
    args = (image, mask, *extra.values())
    dynamic = net.fixed_size is None
    batch = Dim("batch", min=1, max=256)
    if dynamic:
        k = net.size_multiple
        height = k * Dim("height_blocks", min=1, max=MAX_SIDE // k)
        width = k * Dim("width_blocks", min=1, max=MAX_SIDE // k)
        spec = {0: batch, 2: height, 3: width}
    else:
        spec = {0: batch}
    wrapper = _Prediction(net, names).eval()
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # (it warns of every torchvision operator it cannot register)
    try:
        program = _export(wrapper, args, names, spec)
    finally:
        quiet.setLevel(level)
    proto = program.model_proto
    for key, value in metadata(model, names, dynamic).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    data = proto.SerializeToString()
    error = float("nan")
    if check:
        with torch.no_grad():
            expected = net(image, mask, **extra).output.numpy()
        got = OnnxGenerator(data, threads=torch.get_num_threads()).run(image, mask, extra)
        error = float(np.abs(got - expected).max())
        if not error <= TOLERANCE:
            raise WeightsError(f"the exported graph differs from PyTorch by {error:.3g} (more than {TOLERANCE}); "
                               "nothing was written", out)
    onnx.checker.check_model(proto)
    write_bytes_atomic(out, data)  # with the permissions the umask gives
    return ExportResult(out, ("image", "mask", *names), dynamic, error)


def _staged_instance_norm(input: torch.Tensor, running_mean: torch.Tensor | None = None,  # noqa: A002
                          running_var: torch.Tensor | None = None, weight: torch.Tensor | None = None,
                          bias: torch.Tensor | None = None, use_input_stats: bool = True, momentum: float = 0.1,
                          eps: float = 1e-5) -> torch.Tensor:
    """Instance normalisation in plain operations whose means are taken along the rows, then
    down the column of row means. ONNX Runtime sums a reduction in float32 one value after
    another, so a mean over a whole feature map (its InstanceNormalization, or one ReduceMean)
    loses digits in proportion to the map's size, which the division by a small spread then
    magnifies: EdgeConnect's graph drifted 2e-3 from PyTorch at 512x512 (PyTorch's float32 is
    2e-5 from float64). Two shorter sums of the same mean bring the stem's normalisation from
    5e-4 to 4e-6 of float64 there."""
    if not use_input_stats:  # running statistics: no sums over the map, nothing to fix
        return _ORIGINAL_INSTANCE_NORM(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)

    def mean(x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=3, keepdim=True).mean(dim=2, keepdim=True)

    centred = input - mean(input)
    out = centred * torch.rsqrt(mean(centred * centred) + eps)
    if weight is not None:
        out = out * weight.view(1, -1, 1, 1)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


_ORIGINAL_INSTANCE_NORM = torch.nn.functional.instance_norm


@contextlib.contextmanager
def _stable_instance_norm() -> Any:
    """``F.instance_norm`` (which ``nn.InstanceNorm2d`` calls too) as :func:`_staged_instance_norm`
    while a graph is traced."""
    torch.nn.functional.instance_norm = _staged_instance_norm
    try:
        yield
    finally:
        torch.nn.functional.instance_norm = _ORIGINAL_INSTANCE_NORM


def _export(wrapper: _Prediction, args: tuple[torch.Tensor, ...], names: list[str], spec: dict[int, Any]) -> Any:
    """``torch.onnx.export`` (the torch.export-based exporter) with quiet output, instance
    norms with staged means (:func:`_staged_instance_norm`)."""
    with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), _stable_instance_norm():
        warnings.simplefilter("ignore")
        return torch.onnx.export(wrapper, args, input_names=["image", "mask", *names], output_names=["output"],
                                 dynamic_shapes=(spec, spec, tuple(spec for _ in names)) if names else (spec, spec), dynamo=True,
                                 opset_version=OPSET, verbose=False)


class OnnxGenerator:
    """An exported graph in an ONNX Runtime session: ``run(image, mask, extra)`` returns the
    prediction as numpy (N3HW in [-1, 1]). ``source`` is a ``.onnx`` path or its bytes.

    ``threads`` sets the session's intra-op threads (default: torch's thread count, so both
    backends use the same cores).
    """

    def __init__(self, source: str | os.PathLike[str] | bytes, *, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise MissingDependencyError(f"the onnxruntime backend needs the onnxruntime package: {_INSTALL}") from None
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or torch.get_num_threads())
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        name = "<graph>" if isinstance(source, bytes) else str(source)
        if not isinstance(source, bytes):
            path = Path(source)
            if not path.is_file():
                raise WeightsError("no such ONNX file", path)
            source = path.read_bytes()
        try:
            self.session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 (onnxruntime raises its own exception types)
            raise WeightsError(f"cannot be loaded by ONNX Runtime ({type(exc).__name__}: {str(exc)[:200]})",
                               name) from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if _META + "architecture" not in meta:
            raise WeightsError("is not a graph exported by holefill (no holefill metadata)", name)
        self.source = name
        self.architecture: str = meta[_META + "architecture"]
        self.config: dict[str, Any] = json.loads(meta[_META + "config"])
        self.size_multiple = int(meta[_META + "size_multiple"])
        fixed = json.loads(meta[_META + "fixed_size"])
        self.fixed_size: tuple[int, int] | None = tuple(fixed) if fixed else None  # type: ignore[assignment]
        self.needs_context = bool(json.loads(meta[_META + "needs_context"]))
        self.extra_inputs: list[str] = json.loads(meta[_META + "extra_inputs"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    def run(self, image: torch.Tensor, mask: torch.Tensor, extra: dict[str, torch.Tensor] | None = None) -> np.ndarray:
        """The graph's output for N3HW ``image`` and N1HW ``mask`` (and the extra inputs)."""
        extra = extra or {}
        missing = [name for name in self.extra_inputs if name not in extra]
        if missing:
            raise InvalidArgumentError(f"{self.source}: the graph also needs {', '.join(missing)}")
        h, w = image.shape[-2:]
        if self.fixed_size is not None and (h, w) != self.fixed_size:
            raise InvalidArgumentError(f"{self.source}: the graph takes {self.fixed_size[0]}x{self.fixed_size[1]} "
                                       f"images, got {h}x{w}")
        k = self.size_multiple
        if h % k or w % k:
            raise InvalidArgumentError(f"{self.source}: the graph takes sides that are multiples of {k}, got {h}x{w}"
                                       " (holefill's pipeline pads to them)")
        n = image.shape[0]
        feeds = {"image": _array(image), "mask": _array(mask.expand(n, 1, *mask.shape[-2:]))}
        for name in self.extra_inputs:
            feeds[name] = _array(extra[name])
        return self.session.run(["output"], feeds)[0]


def _array(x: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
