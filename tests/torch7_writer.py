"""A small writer of Torch7 ``.t7`` files (binary ``torch.save``), for tests only.

Follows torch7's ``File.lua`` ``writeObject``: a 32-bit type tag per value; tables and Torch
objects carry a reference index (an object written twice is written as its index the second
time); Torch objects carry ``"V <version>"`` and their class name; tensors write their sizes,
strides and 1-based storage offset as longs (8 bytes) and then their storage; other classes
(``nn.*`` modules) write their field table. :class:`Module` stands for an ``nn`` object;
:class:`SharedTensor` writes a tensor as a view into a storage shared with others, as Lua
Torch does after ``getParameters()``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_CLASS = {np.dtype("float32"): "Float", np.dtype("float64"): "Double", np.dtype("int64"): "Long",
          np.dtype("uint8"): "Byte", np.dtype("int32"): "Int"}


@dataclass(eq=False)
class Module:
    """An ``nn`` object: its Torch class name and fields."""

    class_name: str
    fields: dict[str, Any] = field(default_factory=dict)
    version: int = 1


@dataclass(eq=False)
class Storage:
    data: np.ndarray  # 1-D


@dataclass(eq=False)
class SharedTensor:
    """A tensor of ``shape`` starting at element ``offset`` (0-based) of ``storage``, contiguous."""

    storage: Storage
    offset: int
    shape: tuple[int, ...]


class _Writer:
    def __init__(self) -> None:
        self.out = bytearray()
        self.seen: dict[int, int] = {}
        self.keep: list[Any] = []

    def int32(self, v: int) -> None:
        self.out += struct.pack("<i", v)

    def long(self, v: int) -> None:
        self.out += struct.pack("<q", v)

    def string(self, s: str) -> None:
        raw = s.encode()
        self.int32(len(raw))
        self.out += raw

    def ref(self, obj: Any) -> bool:
        """Write the reference index; True when the object was written before."""
        key = id(obj)
        if key in self.seen:
            self.int32(self.seen[key])
            return True
        self.seen[key] = len(self.seen) + 1
        self.keep.append(obj)
        self.int32(self.seen[key])
        return False

    def write(self, obj: Any) -> None:
        if obj is None:
            self.int32(0)
        elif isinstance(obj, bool):
            self.int32(5)
            self.int32(int(obj))
        elif isinstance(obj, (int, float)):
            self.int32(1)
            self.out += struct.pack("<d", float(obj))
        elif isinstance(obj, str):
            self.int32(2)
            self.string(obj)
        elif isinstance(obj, (dict, list)):
            self.int32(3)
            if self.ref(obj):
                return
            items = list(obj.items()) if isinstance(obj, dict) else [(i + 1, v) for i, v in enumerate(obj)]
            self.int32(len(items))
            for k, v in items:
                self.write(k)
                self.write(v)
        elif isinstance(obj, Module):
            self.int32(4)
            if self.ref(obj):
                return
            self.string(f"V {obj.version}")
            self.string(obj.class_name)
            self.write(obj.fields)
        elif isinstance(obj, Storage):
            self.int32(4)
            if self.ref(obj):
                return
            self.string("V 1")
            self.string(f"torch.{_CLASS[obj.data.dtype]}Storage")
            self.long(obj.data.size)
            self.out += obj.data.astype(obj.data.dtype.newbyteorder("<")).tobytes()
        elif isinstance(obj, (np.ndarray, SharedTensor)):
            if isinstance(obj, np.ndarray):
                arr = np.array(obj, order="C")
                tensor = SharedTensor(Storage(arr.reshape(-1)), 0, arr.shape)
                self.keep.append(tensor)
            else:
                tensor = obj
            self.int32(4)
            if self.ref(obj):
                return
            self.string("V 1")
            self.string(f"torch.{_CLASS[tensor.storage.data.dtype]}Tensor")
            shape = tensor.shape
            self.int32(len(shape))
            for n in shape:
                self.long(n)
            stride = 1
            strides = []
            for n in reversed(shape):
                strides.append(stride)
                stride *= n
            for s in reversed(strides):
                self.long(s)
            self.long(tensor.offset + 1)
            self.write(tensor.storage)
        else:
            raise TypeError(f"cannot write {type(obj).__name__}")


def write_t7(path: Path, obj: Any) -> Path:
    """Write ``obj`` (dicts, lists, numbers, strings, arrays, :class:`Module`) to ``path``."""
    writer = _Writer()
    writer.write(obj)
    Path(path).write_bytes(bytes(writer.out))
    return Path(path)


# -- nn modules as Lua Torch builds them (fields of torch/nn's constructors) ---------------------

def conv(weight: np.ndarray | SharedTensor, bias: np.ndarray | SharedTensor, k: int, stride: int, pad: int,
         dilation: int = 1, n_in: int = 0, n_out: int = 0, cls: str = "") -> Module:
    shape = weight.shape
    fields = {"nInputPlane": n_in or shape[1], "nOutputPlane": n_out or shape[0], "kW": k, "kH": k,
              "dW": stride, "dH": stride, "padW": pad, "padH": pad, "weight": weight, "bias": bias,
              "train": False, "output": np.zeros((0,), np.float32), "gradInput": np.zeros((0,), np.float32)}
    if dilation != 1 or cls == "nn.SpatialDilatedConvolution":
        fields.update(dilationW=dilation, dilationH=dilation)
        cls = cls or "nn.SpatialDilatedConvolution"
    return Module(cls or "nn.SpatialConvolution", fields)


def full_conv(weight: np.ndarray, bias: np.ndarray, k: int, stride: int, pad: int, adj: int = 0) -> Module:
    return Module("nn.SpatialFullConvolution", {
        "nInputPlane": weight.shape[0], "nOutputPlane": weight.shape[1], "kW": k, "kH": k, "dW": stride,
        "dH": stride, "padW": pad, "padH": pad, "adjW": adj, "adjH": adj, "weight": weight, "bias": bias,
        "train": False})


def batch_norm(weight: np.ndarray, bias: np.ndarray, mean: np.ndarray, var: np.ndarray, eps: float = 1e-5,
               old_std: bool = False) -> Module:
    """nn.SpatialBatchNormalization; ``old_std`` writes the pre-2016 field (``running_std``, the
    inverse standard deviation) the way nn then stored it, with version 1."""
    fields: dict[str, Any] = {"weight": weight, "bias": bias, "running_mean": mean, "eps": eps,
                              "momentum": 0.1, "affine": True, "train": False}
    if old_std:
        fields["running_std"] = (1.0 / np.sqrt(var + eps)).astype(var.dtype)
        return Module("nn.SpatialBatchNormalization", fields, version=1)
    fields["running_var"] = var
    return Module("nn.SpatialBatchNormalization", fields, version=2)


def activation(kind: str, slope: float = 0.2) -> Module:
    if kind == "relu":
        return Module("nn.ReLU", {"threshold": 0.0, "val": 0.0, "inplace": True, "train": False})
    if kind == "lrelu":
        return Module("nn.LeakyReLU", {"negval": slope, "inplace": True, "train": False})
    return Module({"sigmoid": "nn.Sigmoid", "tanh": "nn.Tanh"}[kind], {"train": False})


def sequential(modules: list[Module]) -> Module:
    return Module("nn.Sequential", {"modules": list(modules), "train": False})
