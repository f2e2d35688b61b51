"""Read Torch7 ``.t7`` files (Lua Torch's ``torch.save``, binary mode) without Lua.

The format (torch7's ``File.lua``, ``writeObject``/``readObject``) is a tree of typed values,
each starting with a 32-bit type tag:

- 0 nil; 1 number (float64); 2 string (int32 length + bytes); 5 boolean (int32);
- 3 table: an int32 reference index (a table seen before is written as its index alone),
  an int32 count, then that many key and value objects;
- 4 Torch object: a reference index, a version string ``"V <n>"`` (older files write the class
  name directly), the class name, then the class's payload: for ``torch.*Tensor`` the number
  of dimensions, sizes and strides (each a "long"), the 1-based storage offset and the storage
  object; for ``torch.*Storage`` a long element count and the raw elements; for any other
  class (``nn.SpatialConvolution``, ...) the object's field table as one more object;
- 6-8 Lua functions, which this reader refuses (it never runs code from a file).

"long" is 8 bytes on the 64-bit Linux machines the released models were saved on; files from
32-bit or Windows builds use 4, and :func:`load_t7` retries with 4 when 8 does not parse. A
parse counts only if it ends exactly at the end of the file (``torch.save`` writes one object).

Values come back as Python: ``None``, ``float``, ``str``, ``bool``, ``dict`` for tables (keys as
stored: strings, or floats for Lua's array part; :func:`lua_list` orders the array part),
NumPy arrays for tensors and storages, and :class:`TorchObject` for other classes. Every count
and size is checked against the bytes left before anything is allocated.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from holefill.errors import InputNotFoundError, WeightsError

__all__ = ["TorchObject", "is_t7", "load_t7", "lua_list"]

PathLike = str | os.PathLike[str]

T_NIL, T_NUMBER, T_STRING, T_TABLE, T_TORCH, T_BOOLEAN, T_FUNCTION, T_RECUR_LEGACY, T_RECUR = range(9)

#: Element type of each storage class (CUDA tensors are written as their host copies).
_STORAGE = {
    "Byte": "u1", "Char": "i1", "Short": "<i2", "Int": "<i4", "Long": "long", "Float": "<f4", "Double": "<f8",
    "Half": "<f2", "Cuda": "<f4", "CudaDouble": "<f8", "CudaLong": "long", "CudaByte": "u1", "CudaInt": "<i4",
    "CudaHalf": "<f2",
}
MAX_DEPTH = 200
MAX_DIMS = 16


@dataclass
class TorchObject:
    """An object of a Torch class that is not a tensor: its class name, version and fields."""

    class_name: str
    version: int
    fields: dict[Any, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)


class _Reader:
    def __init__(self, data: bytes, long_size: int) -> None:
        self.data = data
        self.pos = 0
        self.long = "<q" if long_size == 8 else "<i"
        self.long_size = long_size
        self.memo: dict[int, Any] = {}

    def need(self, n: int) -> None:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError(f"needs {n} bytes at offset {self.pos}, past the end of the file")

    def int32(self) -> int:
        self.need(4)
        value = struct.unpack_from("<i", self.data, self.pos)[0]
        self.pos += 4
        return value

    def long_int(self) -> int:
        self.need(self.long_size)
        value = struct.unpack_from(self.long, self.data, self.pos)[0]
        self.pos += self.long_size
        return value

    def raw_string(self) -> str:
        n = self.int32()
        self.need(n)
        text = self.data[self.pos:self.pos + n].decode("utf-8", errors="replace")
        self.pos += n
        return text

    def read(self, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ValueError(f"nests deeper than {MAX_DEPTH} levels")
        tag = self.int32()
        if tag == T_NIL:
            return None
        if tag == T_NUMBER:
            self.need(8)
            value = struct.unpack_from("<d", self.data, self.pos)[0]
            self.pos += 8
            return value
        if tag == T_STRING:
            return self.raw_string()
        if tag == T_BOOLEAN:
            return self.int32() == 1
        if tag == T_TABLE:
            index = self.int32()
            if index in self.memo:
                return self.memo[index]
            count = self.int32()
            if count < 0 or count * 8 > len(self.data) - self.pos:
                raise ValueError(f"a table claims {count} entries")
            table: dict[Any, Any] = {}
            self.memo[index] = table
            for _ in range(count):
                key = self.read(depth + 1)
                if isinstance(key, (dict, np.ndarray, TorchObject)):
                    key = id(key)  # Lua allows table keys; nothing here needs them
                table[key] = self.read(depth + 1)
            return table
        if tag == T_TORCH:
            index = self.int32()
            if index in self.memo:
                return self.memo[index]
            version_or_class = self.raw_string()
            if version_or_class.startswith("V "):
                version = int(version_or_class[2:].strip() or 0)
                class_name = self.raw_string()
            else:
                version, class_name = 0, version_or_class
            return self.torch_object(index, class_name, version, depth)
        if tag in (T_FUNCTION, T_RECUR_LEGACY, T_RECUR):
            raise ValueError("holds a Lua function; holefill reads weights only and never runs code from a file")
        raise ValueError(f"unknown type tag {tag} at offset {self.pos - 4}")

    def torch_object(self, index: int, class_name: str, version: int, depth: int) -> Any:
        base = class_name[len("torch."):] if class_name.startswith("torch.") else None
        if base is not None and base.endswith("Storage") and base[:-len("Storage")] in _STORAGE:
            storage = self.storage(_STORAGE[base[:-len("Storage")]])
            self.memo[index] = storage
            return storage
        if base is not None and base.endswith("Tensor") and base[:-len("Tensor")] in _STORAGE:
            tensor = self.tensor(depth)
            self.memo[index] = tensor
            return tensor
        obj = TorchObject(class_name, version)
        self.memo[index] = obj
        payload = self.read(depth + 1)
        if isinstance(payload, dict):
            obj.fields = payload
        elif payload is not None:
            raise ValueError(f"{class_name} has a payload of type {type(payload).__name__}, not a table")
        return obj

    def storage(self, dtype: str) -> np.ndarray:
        if dtype == "long":
            dtype = self.long
        dt = np.dtype(dtype)
        n = self.long_int()
        if n < 0:
            raise ValueError(f"a storage claims {n} elements")
        self.need(n * dt.itemsize)
        arr = np.frombuffer(self.data, dtype=dt, count=n, offset=self.pos)
        self.pos += n * dt.itemsize
        return arr

    def tensor(self, depth: int) -> np.ndarray:
        ndim = self.int32()
        if not 0 <= ndim <= MAX_DIMS:
            raise ValueError(f"a tensor claims {ndim} dimensions")
        sizes = [self.long_int() for _ in range(ndim)]
        strides = [self.long_int() for _ in range(ndim)]
        offset = self.long_int() - 1
        storage = self.read(depth + 1)
        if ndim == 0 or storage is None:
            return np.zeros((0,), dtype=np.float32)
        if not isinstance(storage, np.ndarray) or storage.ndim != 1:
            raise ValueError("a tensor's storage is not a storage")
        if any(s < 0 for s in sizes) or any(s < 0 for s in strides) or offset < 0:
            raise ValueError(f"a tensor has sizes {sizes}, strides {strides}, offset {offset + 1}")
        if 0 not in sizes:
            last = offset + sum((n - 1) * s for n, s in zip(sizes, strides))
            if last >= storage.size:
                raise ValueError(f"a tensor of sizes {sizes} runs past its storage of {storage.size} elements")
        item = storage.itemsize
        view = np.lib.stride_tricks.as_strided(storage[offset:] if 0 not in sizes else storage[:0],
                                               shape=sizes, strides=[s * item for s in strides])
        return np.array(view, dtype=storage.dtype.newbyteorder("="))


def is_t7(path: PathLike) -> bool:
    """Whether ``path`` starts like a binary Torch7 file holding a table or a Torch object."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
    except OSError:
        return False
    if len(head) < 12:
        return False
    tag, _index = struct.unpack_from("<ii", head)
    return tag in (T_TABLE, T_TORCH) and (tag != T_TORCH or struct.unpack_from("<i", head, 8)[0] in range(1, 256))


def load_t7(path: PathLike, *, long_size: int | None = None) -> Any:
    """The object saved in the Torch7 file ``path`` (see the module docstring)."""
    p = Path(path)
    if not p.is_file():
        raise InputNotFoundError("no such file", p)
    data = p.read_bytes()
    errors = []
    for size in ((long_size,) if long_size else (8, 4)):
        reader = _Reader(data, size)
        try:
            obj = reader.read()
            if reader.pos != len(data):
                raise ValueError(f"{len(data) - reader.pos} bytes follow the saved object")
            return obj
        except (ValueError, struct.error, OverflowError, MemoryError) as exc:
            errors.append(str(exc))
    raise WeightsError(f"is not a Torch7 file holefill can read ({errors[0]})", p)


def lua_list(table: Any) -> list[Any]:
    """The array part of a Lua table (keys 1, 2, ... n, stored as numbers), in order."""
    if not isinstance(table, dict):
        return []
    out = []
    i = 1
    while float(i) in table or i in table:
        out.append(table.get(float(i), table.get(i)))
        i += 1
    return out
