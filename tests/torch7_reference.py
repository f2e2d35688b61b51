"""The official GLCIC and Context Encoder networks as Lua Torch builds them, for conversion tests.

- :func:`glcic_network`: the completion network of Table 1 (Iizuka et al. 2017) as nn modules
  (the layer list ``inpaint.lua`` runs from ``completionnet_places2.t7``: convolution,
  SpatialBatchNormalization, ReLU; dilated convolutions in the middle; two
  SpatialFullConvolution 4x4/2 upsamplings; a last convolution and Sigmoid), wrapped in the
  file's ``{model, mean}`` table.
- :func:`context_encoder_network`: ``netG`` exactly as ``train.lua`` (pathak22/context-encoder,
  lines 96-141) builds it, ``netE`` nested inside.
- :func:`torch7_forward`: runs such a tree the way Lua Torch's nn modules compute, module by
  module on NCHW float64: convolutions with their stored pads and dilations, full convolutions
  with their adjustments, batch normalisation in evaluation mode from ``running_var`` (or the
  old ``running_std``, an inverse standard deviation), and the activations.

Weights are random; they share no code with holefill's converter.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from torch7_writer import Module, activation, batch_norm, conv, full_conv, sequential


def _conv_weights(rng: np.random.Generator, n_out: int, n_in: int, k: int, gain: float = 1.4
                  ) -> tuple[np.ndarray, np.ndarray]:
    w = rng.standard_normal((n_out, n_in, k, k)) * gain / np.sqrt(n_in * k * k)
    return w.astype(np.float32), (rng.standard_normal(n_out) * 0.1).astype(np.float32)


def _full_weights(rng: np.random.Generator, n_in: int, n_out: int, k: int, gain: float = 1.4
                  ) -> tuple[np.ndarray, np.ndarray]:
    """SpatialFullConvolution's (in, out, kH, kW) weight and its bias."""
    w = rng.standard_normal((n_in, n_out, k, k)) * gain / np.sqrt(n_in * k * k / 4)
    return w.astype(np.float32), (rng.standard_normal(n_out) * 0.1).astype(np.float32)


def _bn(rng: np.random.Generator, n: int, old_std: bool) -> Module:
    weight = (1 + 0.1 * rng.standard_normal(n)).astype(np.float32)
    bias = (0.1 * rng.standard_normal(n)).astype(np.float32)
    mean = (0.2 * rng.standard_normal(n)).astype(np.float32)
    var = rng.uniform(0.5, 2.0, n).astype(np.float32)
    return batch_norm(weight, bias, mean, var, old_std=old_std)


def glcic_network(cnum: int, seed: int, *, old_std: bool = False,
                  dilations: tuple[int, ...] = (2, 4, 8, 16)) -> Module:
    """The completion network (Table 1) with random weights; ``cnum`` = 64 in the paper."""
    rng = np.random.default_rng(seed)
    c = cnum
    rows: list[tuple[str, int, int, int, int]] = [  # (type, out, kernel, stride, dilation)
        ("conv", c, 5, 1, 1), ("conv", 2 * c, 3, 2, 1), ("conv", 2 * c, 3, 1, 1), ("conv", 4 * c, 3, 2, 1),
        ("conv", 4 * c, 3, 1, 1), ("conv", 4 * c, 3, 1, 1)]
    rows += [("conv", 4 * c, 3, 1, d) for d in dilations]
    rows += [("conv", 4 * c, 3, 1, 1), ("conv", 4 * c, 3, 1, 1), ("full", 2 * c, 4, 2, 1),
             ("conv", 2 * c, 3, 1, 1), ("full", c, 4, 2, 1), ("conv", c // 2, 3, 1, 1)]
    modules: list[Module] = []
    ch = 4
    for kind, out, k, s, d in rows:
        if kind == "full":
            w, b = _full_weights(rng, ch, out, k)
            modules.append(full_conv(w, b, k, s, 1))
        else:
            w, b = _conv_weights(rng, out, ch, k)
            modules.append(conv(w, b, k, s, d * (k - 1) // 2, dilation=d))
        modules += [_bn(rng, out, old_std), activation("relu")]
        ch = out
    w, b = _conv_weights(rng, 3, ch, 3)
    modules += [conv(w, b, 3, 1, 1), activation("sigmoid")]
    return sequential(modules)


def context_encoder_network(seed: int, *, image_size: int = 128, n_bottleneck: int = 4000, nef: int = 64,
                            ngf: int = 64, old_std: bool = True) -> Module:
    """netG of train.lua (centre mode) with random weights; 128/4000/64/64 as in the README."""
    rng = np.random.default_rng(seed)
    n_down = int(np.log2(image_size // 4))
    widths = [nef * 2 ** max(0, i - (n_down - 4)) for i in range(n_down)]
    enc: list[Module] = []
    ch = 3
    for i, width in enumerate(widths):
        w, b = _conv_weights(rng, width, ch, 4)
        enc.append(conv(w, b, 4, 2, 1))
        if i > 0:
            enc.append(_bn(rng, width, old_std))
        enc.append(activation("lrelu", 0.2))
        ch = width
    w, b = _conv_weights(rng, n_bottleneck, ch, 4)
    enc.append(conv(w, b, 4, 1, 0))
    net: list[Module] = [sequential(enc), _bn(rng, n_bottleneck, old_std), activation("lrelu", 0.2)]
    ch = n_bottleneck
    w, b = _full_weights(rng, ch, 8 * ngf, 4)
    net += [full_conv(w, b, 4, 1, 0), _bn(rng, 8 * ngf, old_std), activation("relu")]
    ch = 8 * ngf
    for width in (4 * ngf, 2 * ngf, ngf)[: n_down - 2]:
        w, b = _full_weights(rng, ch, width, 4)
        net += [full_conv(w, b, 4, 2, 1), _bn(rng, width, old_std), activation("relu")]
        ch = width
    w, b = _full_weights(rng, ch, 3, 4)
    net += [full_conv(w, b, 4, 2, 1), activation("tanh")]
    return sequential(net)


def _t(a: Any) -> torch.Tensor:
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


def torch7_forward(module: Module, x: torch.Tensor) -> torch.Tensor:
    """Lua Torch's forward pass of ``module`` on NCHW ``x`` (float64), module by module."""
    f = module.fields
    name = module.class_name
    if name == "nn.Sequential":
        for child in f["modules"]:
            x = torch7_forward(child, x)
        return x
    if name in ("nn.SpatialConvolution", "nn.SpatialDilatedConvolution"):
        d = int(f.get("dilationW", 1))
        return F.conv2d(x, _t(f["weight"]), _t(f["bias"]), stride=int(f["dW"]), padding=int(f["padW"]), dilation=d)
    if name == "nn.SpatialFullConvolution":
        return F.conv_transpose2d(x, _t(f["weight"]), _t(f["bias"]), stride=int(f["dW"]), padding=int(f["padW"]),
                                  output_padding=int(f.get("adjW", 0)))
    if name == "nn.SpatialBatchNormalization":
        shape = (1, -1, 1, 1)
        if "running_std" in f:  # nn before 2016: (x - mean) * running_std
            normed = (x - _t(f["running_mean"]).view(shape)) * _t(f["running_std"]).view(shape)
        else:
            normed = (x - _t(f["running_mean"]).view(shape)) / torch.sqrt(_t(f["running_var"]).view(shape) + f["eps"])
        return normed * _t(f["weight"]).view(shape) + _t(f["bias"]).view(shape)
    if name == "nn.ReLU":
        return torch.relu(x)
    if name == "nn.LeakyReLU":
        return torch.where(x > 0, x, x * f["negval"])
    if name == "nn.Sigmoid":
        return torch.sigmoid(x)
    if name == "nn.Tanh":
        return torch.tanh(x)
    raise ValueError(f"no reference for {name}")
