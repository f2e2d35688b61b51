"""The authors' Torch7 models of GLCIC and Context Encoder as holefill models.

Files are read by :mod:`holefill.formats.torch7` (no Lua, no code from the file runs). Both
networks are ``nn.Sequential`` trees; the converter flattens them into their leaf modules and
matches them one by one against the holefill model's layers: type, kernel, stride, padding,
dilation and channel counts must agree, or the error names the module that does not.

GLCIC (github.com/satoshiiizuka/siggraph2017_inpainting; ``completionnet_places2.t7``,
``completionnet_places2_freeform.t7``, ``completionnet_celeba.t7`` from its
``download_model.sh``): the file is a table ``{model = <nn.Sequential>, mean = <3 values>}``.
``inpaint.lua`` subtracts ``mean`` from the RGB image in [0, 1], sets the hole to 0, appends
the mask as a fourth channel and reads the sigmoid output in [0, 1]. Holefill's
:class:`~holefill.models.glcic.GLCIC` does exactly that with ``pixel_mean`` in its config, so
the converter copies ``mean`` there. Layers: ``SpatialConvolution`` / ``SpatialDilatedConvolution``
/ ``SpatialFullConvolution`` each followed by ``SpatialBatchNormalization`` and ``ReLU``, then
a last ``SpatialConvolution`` and ``Sigmoid`` (Table 1 of the paper).

Context Encoder (github.com/pathak22/context-encoder; ``paris_inpaintCenter.t7`` and
``imagenet_inpaintCenter.t7`` from ``models/scripts/download_inpaintCenter_models.sh``): the file
is the generator itself, ``nn.Sequential{netE, BN, LeakyReLU, SpatialFullConvolution, ...,
Tanh}`` as ``train.lua`` builds it, saved by ``util.save`` (CPU types, no gradients). Input
size, centre or full-image mode, bottleneck width and the filter counts are read from the
layers, so the converted config needs no flags; the hole fill stays the official constant.

Batch normalisation: the layers hold ``running_mean`` and ``running_var``, or, in files saved by
nn before 2016 (Context Encoder's ``util.save`` copies fbnn's statistics into them),
``running_std``, which nn stored as the inverse standard deviation ``1 / sqrt(var + eps)``;
the converter turns it into ``var = running_std^-2 - eps`` as nn's own reader does. A layer's
``eps`` other than PyTorch's 1e-5 is an error (no released file has one).

Colour: Lua Torch's ``image.load`` gives RGB, as holefill uses, so no channel is reversed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from holefill.errors import WeightsError
from holefill.formats.torch7 import TorchObject, load_t7, lua_list
from holefill.models.base import InpaintModel, load_state_strict
from holefill.models.foreign import Converted, Report

__all__ = ["describe_t7", "flatten_modules", "load_official_context_encoder", "load_official_glcic"]

PathLike = str | os.PathLike[str]

CONTAINERS = ("nn.Sequential",)
CONV = ("nn.SpatialConvolution", "nn.SpatialConvolutionMM", "cudnn.SpatialConvolution", "nn.SpatialDilatedConvolution",
        "cudnn.SpatialDilatedConvolution")
FULL_CONV = ("nn.SpatialFullConvolution", "cudnn.SpatialFullConvolution")
BATCH_NORM = ("nn.SpatialBatchNormalization", "cudnn.SpatialBatchNormalization")
ACTIVATIONS = {"nn.ReLU": "relu", "cudnn.ReLU": "relu", "nn.Sigmoid": "sigmoid", "cudnn.Sigmoid": "sigmoid",
               "nn.Tanh": "tanh", "cudnn.Tanh": "tanh", "nn.LeakyReLU": "leaky_relu"}
BN_EPS = 1e-5


@dataclass
class Leaf:
    """One official leaf module, with its position in the flattened tree for messages."""

    index: int
    module: TorchObject

    @property
    def kind(self) -> str:
        name = self.module.class_name
        if name in CONV:
            return "conv"
        if name in FULL_CONV:
            return "full_conv"
        if name in BATCH_NORM:
            return "batch_norm"
        if name == "nn.LeakyReLU" and float(self.module.get("negval", 0.01)) == 0.0:
            return "relu"
        return ACTIVATIONS.get(name, name)

    def where(self) -> str:
        return f"module {self.index} ({self.module.class_name})"


def flatten_modules(root: Any, where: str) -> list[Leaf]:
    """The leaf modules of a tree of ``nn.Sequential`` containers, in execution order."""
    leaves: list[Leaf] = []

    def walk(obj: Any) -> None:
        if not isinstance(obj, TorchObject):
            raise WeightsError(f"holds a {type(obj).__name__} where an nn module should be", where)
        if obj.class_name in CONTAINERS:
            for child in lua_list(obj.get("modules")):
                walk(child)
            return
        if obj.class_name in ("nn.ParallelTable", "nn.ConcatTable", "nn.JoinTable", "nn.gModule"):
            raise WeightsError(f"uses {obj.class_name}, which is not in the official layout the converter "
                               "reads (a noiseGen or nngraph model?)", where)
        leaves.append(Leaf(len(leaves) + 1, obj))

    walk(root)
    return leaves


def _array(leaf: Leaf, key: str, where: str) -> np.ndarray:
    value = leaf.module.get(key)
    if not isinstance(value, np.ndarray) or value.size == 0:
        raise WeightsError(f"{leaf.where()} has no {key}", where)
    return np.asarray(value, dtype=np.float32)


def _num(leaf: Leaf, key: str, default: float | None = None) -> float:
    value = leaf.module.get(key, default)
    return float(value) if isinstance(value, (int, float)) else float("nan")


def _conv_state(leaf: Leaf, layer: nn.Module, where: str) -> dict[str, torch.Tensor]:
    """Weight and bias of a (full) convolution, after checking its hyper-parameters."""
    full = isinstance(layer, nn.ConvTranspose2d)
    assert isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d))
    want = {"kW": layer.kernel_size[1], "kH": layer.kernel_size[0], "dW": layer.stride[1], "dH": layer.stride[0],
            "padW": layer.padding[1], "padH": layer.padding[0]}  # type: ignore[index]
    if full:
        want.update(adjW=layer.output_padding[1], adjH=layer.output_padding[0])
    else:
        want.update(dilationW=layer.dilation[1], dilationH=layer.dilation[0])
    for key, expected in want.items():
        got = _num(leaf, key, 1 if key.startswith("dilation") else 0 if key.startswith("adj") else None)
        if got != expected:
            raise WeightsError(f"{leaf.where()} has {key}={got:g}; the official layout has {expected}", where)
    weight = _array(leaf, "weight", where)
    n_in, n_out = layer.in_channels, layer.out_channels
    kh, kw = layer.kernel_size  # type: ignore[misc]
    shape = (n_in, n_out, kh, kw) if full else (n_out, n_in, kh, kw)
    if weight.size != int(np.prod(shape)):
        raise WeightsError(f"{leaf.where()} has a weight of shape {list(weight.shape)}; this layer needs "
                           f"{list(shape)}", where)
    weight = weight.reshape(shape)  # SpatialConvolutionMM keeps (out, in*kh*kw)
    bias_value = leaf.module.get("bias")
    bias = np.zeros(n_out, np.float32) if bias_value is None else _array(leaf, "bias", where)
    if bias.shape != (n_out,):
        raise WeightsError(f"{leaf.where()} has a bias of shape {list(bias.shape)}, not [{n_out}]", where)
    return {"weight": torch.from_numpy(weight.copy()), "bias": torch.from_numpy(bias.copy())}


def _bn_state(leaf: Leaf, layer: nn.BatchNorm2d, where: str) -> dict[str, torch.Tensor]:
    eps = _num(leaf, "eps", BN_EPS)
    if abs(eps - layer.eps) > 1e-12:
        raise WeightsError(f"{leaf.where()} has eps={eps:g}; holefill's layer uses {layer.eps:g}", where)
    n = layer.num_features
    mean = _array(leaf, "running_mean", where)
    if isinstance(leaf.module.get("running_var"), np.ndarray):
        var = _array(leaf, "running_var", where)
    elif isinstance(leaf.module.get("running_std"), np.ndarray):
        inv_std = _array(leaf, "running_std", where).astype(np.float64)
        if (inv_std <= 0).any():
            raise WeightsError(f"{leaf.where()} has a non-positive running_std", where)
        var = (inv_std ** -2 - eps).astype(np.float32)
    else:
        raise WeightsError(f"{leaf.where()} has neither running_var nor running_std", where)
    affine = leaf.module.get("affine", True) is not False and leaf.module.get("weight") is not None
    weight = _array(leaf, "weight", where) if affine else np.ones(n, np.float32)
    bias = _array(leaf, "bias", where) if affine else np.zeros(n, np.float32)
    for name, value in (("running_mean", mean), ("running_var", var), ("weight", weight), ("bias", bias)):
        if value.shape != (n,):
            raise WeightsError(f"{leaf.where()} has {name} of shape {list(value.shape)}, not [{n}]", where)
    return {"weight": torch.from_numpy(weight.copy()), "bias": torch.from_numpy(bias.copy()),
            "running_mean": torch.from_numpy(mean.copy()), "running_var": torch.from_numpy(var.copy()),
            "num_batches_tracked": torch.tensor(0)}


def _kind_of(layer: nn.Module) -> str:
    if isinstance(layer, nn.ConvTranspose2d):
        return "full_conv"
    if isinstance(layer, nn.Conv2d):
        return "conv"
    if isinstance(layer, nn.BatchNorm2d):
        return "batch_norm"
    if isinstance(layer, nn.LeakyReLU):
        return "leaky_relu"
    if isinstance(layer, nn.ReLU):
        return "relu"
    if isinstance(layer, nn.Tanh):
        return "tanh"
    if isinstance(layer, nn.Sigmoid):
        return "sigmoid"
    return ""


def match_layers(leaves: list[Leaf], model: nn.Module, tail: tuple[str, ...], where: str,
                 name: str) -> dict[str, torch.Tensor]:
    """The state dict of ``model`` from the official leaves, matched in order.

    ``tail`` lists the activations the official net applies after the last holefill layer
    (holefill applies them in ``forward``), e.g. GLCIC's sigmoid.
    """
    ours = [(path, m) for path, m in model.named_modules() if _kind_of(m)]
    expected = [_kind_of(m) for _, m in ours] + list(tail)
    found = [leaf.kind for leaf in leaves]
    if found != expected:
        at = next((i for i, (a, b) in enumerate(zip(found, expected)) if a != b), min(len(found), len(expected)))
        got = leaves[at].where() if at < len(leaves) else "the end of the network"
        want = expected[at] if at < len(expected) else "the end of the network"
        raise WeightsError(f"is not the official {name} layout: {len(found)} modules where {len(expected)} are "
                           f"expected; {got} where a {want} should be", where)
    state: dict[str, torch.Tensor] = {}
    for leaf, (path, layer) in zip(leaves, ours):
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            part = _conv_state(leaf, layer, where)
        elif isinstance(layer, nn.BatchNorm2d):
            part = _bn_state(leaf, layer, where)
        elif isinstance(layer, nn.LeakyReLU):
            slope = _num(leaf, "negval", 0.01)
            if abs(slope - layer.negative_slope) > 1e-9:
                raise WeightsError(f"{leaf.where()} has slope {slope:g}, the layout {layer.negative_slope:g}", where)
            continue
        else:
            continue
        state.update({f"{path}.{k}": v for k, v in part.items()})
    return state


def _official_tensors(state: dict[str, torch.Tensor]) -> int:
    """How many of the state's tensors came from the file (PyTorch's BN step counter did not)."""
    return sum(1 for key in state if not key.endswith("num_batches_tracked"))


def describe_t7(obj: Any) -> str | None:
    """What an official Torch7 file looks like: "glcic", "context_encoder", or None."""
    if isinstance(obj, dict) and isinstance(obj.get("model"), TorchObject) and "mean" in obj:
        return "glcic"
    if isinstance(obj, TorchObject) and obj.class_name in CONTAINERS:
        try:
            leaves = flatten_modules(obj, "")
        except WeightsError:
            return None
        if leaves and leaves[-1].kind == "tanh":
            return "context_encoder"
        if leaves and leaves[-1].kind == "sigmoid":
            return "glcic (a bare network, without its mean pixel)"
    return None


def _load(path: PathLike, model: str) -> tuple[Any, str]:
    obj = load_t7(path)
    where = str(path)
    kind = describe_t7(obj)
    if kind is not None and not kind.startswith(model):
        raise WeightsError(f"looks like a {kind} model, not {model}: use holefill convert {kind.split()[0]}", where)
    return obj, where


def _mean(value: Any, where: str) -> tuple[float, float, float]:
    if isinstance(value, np.ndarray):
        values = [float(v) for v in value.reshape(-1)]
    else:
        values = [float(v) for v in lua_list(value) if isinstance(v, (int, float))]
    if len(values) != 3 or not all(np.isfinite(values)) or not all(-1.0 <= v <= 2.0 for v in values):
        raise WeightsError(f"has mean {values}; GLCIC's mean is three values, one per RGB channel, in [0, 1]", where)
    return values[0], values[1], values[2]


def load_official_glcic(path: PathLike) -> Converted:
    """GLCIC with the weights and mean pixel of an official ``completionnet_*.t7``."""
    from holefill.models.registry import create_model

    obj, where = _load(path, "glcic")
    if not isinstance(obj, dict) or not isinstance(obj.get("model"), TorchObject):
        raise WeightsError("is not an official GLCIC file (a table with 'model' and 'mean')", where)
    report = Report()
    for key in obj:
        if key not in ("model", "mean"):
            report.skip("other entries of the file's table", str(key))
    if "mean" not in obj:
        raise WeightsError("has no 'mean' entry (GLCIC subtracts its training set's mean pixel)", where)
    mean = _mean(obj["mean"], where)
    leaves = flatten_modules(obj["model"], where)
    convs = [leaf for leaf in leaves if leaf.kind == "conv"]
    if not convs:
        raise WeightsError("has no convolutions", where)
    cnum = int(_num(convs[0], "nOutputPlane"))
    dilations = tuple(int(_num(leaf, "dilationW", 1)) for leaf in convs if _num(leaf, "dilationW", 1) > 1)
    config = {"cnum": cnum, "pixel_mean": mean, "dilations": dilations or (2, 4, 8, 16)}
    try:
        model: InpaintModel = create_model("glcic", **config)
    except Exception as exc:  # noqa: BLE001 (a ConfigError here means no GLCIC has these shapes)
        raise WeightsError(f"has layers no GLCIC can have ({exc})", where) from None
    state = match_layers(leaves, model, ("sigmoid",), where, "GLCIC completion network")
    load_state_strict(model, state, source=where)
    report.used = _official_tensors(state)
    return Converted(model=model.eval(), files=[Path(path)], report=report,
                     carried={"pixel_mean": list(mean), "cnum": cnum, "dilations": list(config["dilations"])})


def load_official_context_encoder(path: PathLike) -> Converted:
    """Context Encoder with the weights of an official generator ``.t7`` (netG, as util.save writes it)."""
    from holefill.models.registry import create_model

    obj, where = _load(path, "context_encoder")
    if not isinstance(obj, TorchObject) or obj.class_name not in CONTAINERS:
        raise WeightsError("is not an official Context Encoder generator (an nn.Sequential)", where)
    leaves = flatten_modules(obj, where)
    convs = [leaf for leaf in leaves if leaf.kind == "conv"]
    fulls = [leaf for leaf in leaves if leaf.kind == "full_conv"]
    if len(convs) < 2 or len(fulls) < 2:
        raise WeightsError("has too few convolutions for a Context Encoder", where)
    down = sum(1 for leaf in convs if _num(leaf, "dW") == 2)
    up = sum(1 for leaf in fulls if _num(leaf, "dW") == 2)
    image_size, output_size = 4 * 2 ** down, 4 * 2 ** up
    mode = "center" if output_size * 2 == image_size else "full" if output_size == image_size else "?"
    if mode == "?":
        raise WeightsError(f"maps {image_size}x{image_size} inputs to {output_size}x{output_size} outputs; the "
                           "official models predict the centre half or the whole image", where)
    config = {"image_size": image_size, "mode": mode, "bottleneck": "conv",
              "n_bottleneck": int(_num(convs[-1], "nOutputPlane")), "nef": int(_num(convs[-2], "nOutputPlane")) // 8,
              "ngf": int(_num(fulls[0], "nOutputPlane")) // 8}
    try:
        model: InpaintModel = create_model("context_encoder", **config)
    except Exception as exc:  # noqa: BLE001
        raise WeightsError(f"has layers no Context Encoder can have ({exc})", where) from None
    state = match_layers(leaves, model, (), where, "Context Encoder generator")
    load_state_strict(model, state, source=where)
    return Converted(model=model.eval(), files=[Path(path)], report=Report(used=_official_tensors(state)),
                     carried=config)


#: Converters by model name.
TORCH7_CONVERTERS: dict[str, Callable[[PathLike], Converted]] = {
    "glcic": load_official_glcic, "context_encoder": load_official_context_encoder,
}
