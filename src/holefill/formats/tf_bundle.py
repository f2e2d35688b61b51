"""Read TensorFlow 1 checkpoints (the "V2" tensor bundle) without TensorFlow.

A checkpoint ``PREFIX`` is two or more files, as ``tf.train.Saver`` writes them:

- ``PREFIX.index``: an SSTable (LevelDB's table format) mapping each variable's name to a
  ``BundleEntryProto`` (dtype, shape, shard, offset, size, masked CRC-32C of the bytes); the
  empty key holds the ``BundleHeaderProto`` (shard count, endianness).
- ``PREFIX.data-00000-of-0000N``: the tensors' raw bytes, little-endian, C order.

This module parses both with the standard library and NumPy: the table's footer, index and
data blocks (uncompressed, as TF writes bundles), and the few protobuf fields it needs. Every
length, offset and size is checked against the file before it is used, each tensor's
checksum is verified, and nothing in the file is executed. A folder written by a TF trainer
(with its ``checkpoint`` text file naming the newest prefix) is accepted too; see
:func:`resolve_checkpoint`. Partitioned (sliced) variables and string tensors are listed but
cannot be read (no released inpainting checkpoint has them).
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from holefill.errors import InputNotFoundError, WeightsError
from holefill.formats.crc32c import crc32c, mask

__all__ = ["TABLE_MAGIC", "TFCheckpoint", "TensorEntry", "open_checkpoint", "resolve_checkpoint"]

PathLike = str | os.PathLike[str]

#: The last eight bytes of every LevelDB/TF table.
TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_LEN = 48
#: Refuse index files larger than this (a real one is a few hundred kB).
MAX_INDEX_BYTES = 256 * 1024 * 1024

#: The dtypes that read as NumPy arrays (bfloat16 is widened to float32).
_READABLE = frozenset({"float32", "float64", "int32", "uint8", "int16", "int8", "int64", "bool", "bfloat16",
                       "uint16", "float16", "uint32", "uint64"})
#: TensorFlow's DataType enum.
_DTYPE_NAMES = {1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string",
                8: "complex64", 9: "int64", 10: "bool", 14: "bfloat16", 17: "uint16", 18: "complex128",
                19: "float16", 20: "resource", 21: "variant", 22: "uint32", 23: "uint64"}


@dataclass(frozen=True)
class TensorEntry:
    """Where one variable's bytes are and what they hold."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    #: The masked CRC-32C as stored (None when the entry has none).
    crc: int | None
    sliced: bool = False

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1


# -- varints, blocks and protobuf ---------------------------------------------------------------

def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise ValueError("truncated or overlong varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _proto_fields(buf: bytes) -> dict[int, list[int | bytes]]:
    """A protobuf message's fields: number -> values (ints, or bytes for length-delimited)."""
    fields: dict[int, list[int | bytes]] = {}
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(buf, pos, end)
        elif wire == 1:
            if pos + 8 > end:
                raise ValueError("truncated fixed64")
            value = struct.unpack_from("<Q", buf, pos)[0]
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos, end)
            if pos + length > end:
                raise ValueError("truncated field")
            value = bytes(buf[pos:pos + length])
            pos += length
        elif wire == 5:
            if pos + 4 > end:
                raise ValueError("truncated fixed32")
            value = struct.unpack_from("<I", buf, pos)[0]
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        fields.setdefault(number, []).append(value)
    return fields


def _int(fields: dict[int, list[int | bytes]], number: int, default: int = 0, signed: bool = True) -> int:
    values = fields.get(number)
    if not values:
        return default
    value = values[-1]
    if not isinstance(value, int):
        raise ValueError(f"field {number} is not an integer")
    if signed and value >= 1 << 63:
        value -= 1 << 64
    return value


def _block_entries(block: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) pairs of one table block (prefix-compressed keys, restart array at the end)."""
    if len(block) < 4:
        raise ValueError("block too short")
    restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 - 4 * restarts
    if restarts < 1 or limit < 0:
        raise ValueError("bad restart array")
    pos, key = 0, b""
    while pos < limit:
        shared, pos = _varint(block, pos, limit)
        unshared, pos = _varint(block, pos, limit)
        vlen, pos = _varint(block, pos, limit)
        if shared > len(key) or pos + unshared + vlen > limit:
            raise ValueError("entry runs past its block")
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        yield key, block[pos:pos + vlen]
        pos += vlen


def _handle(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    offset, pos = _varint(buf, pos, end)
    size, pos = _varint(buf, pos, end)
    return offset, size, pos


def _read_block(table: bytes, offset: int, size: int) -> bytes:
    if offset + size + 5 > len(table) - _FOOTER_LEN:
        raise ValueError("block handle points past the table")
    block = table[offset:offset + size]
    kind = table[offset + size]
    if kind != 0:
        raise ValueError(f"compressed blocks (type {kind}) are not supported; TF writes bundles uncompressed")
    stored = struct.unpack_from("<I", table, offset + size + 1)[0]
    if mask(crc32c(block + bytes([kind]))) != stored:
        raise ValueError(f"block at byte {offset} fails its checksum")
    return block


def _table_entries(table: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Every (key, value) of an SSTable held in memory, in key order."""
    if len(table) < _FOOTER_LEN:
        raise ValueError("too short for a table")
    footer = table[-_FOOTER_LEN:]
    if struct.unpack_from("<Q", footer, 40)[0] != TABLE_MAGIC:
        raise ValueError("no table magic number at the end")
    _, _, pos = _handle(footer, 0, 40)  # the metaindex block: nothing in it is needed
    index_offset, index_size, _ = _handle(footer, pos, 40)
    for _, value in _block_entries(_read_block(table, index_offset, index_size)):
        offset, size, _ = _handle(value, 0, len(value))
        yield from _block_entries(_read_block(table, offset, size))


def _parse_entry(name: str, value: bytes) -> TensorEntry:
    fields = _proto_fields(value)
    dtype_id = _int(fields, 1)
    dims: list[int] = []
    for shape_msg in fields.get(2, []):
        if not isinstance(shape_msg, bytes):
            raise ValueError("shape is not a message")
        shape_fields = _proto_fields(shape_msg)
        if _int(shape_fields, 3):
            raise ValueError("unknown rank")
        for dim in shape_fields.get(2, []):
            if not isinstance(dim, bytes):
                raise ValueError("dim is not a message")
            dims.append(_int(_proto_fields(dim), 1))
    if any(d < 0 for d in dims):
        raise ValueError(f"negative dimension in {dims}")
    crc_values = fields.get(6)
    crc = int(crc_values[-1]) if crc_values else None  # type: ignore[arg-type]
    return TensorEntry(name=name, dtype=_DTYPE_NAMES.get(dtype_id, f"dtype {dtype_id}"), shape=tuple(dims),
                       shard=_int(fields, 3), offset=_int(fields, 4), size=_int(fields, 5), crc=crc,
                       sliced=bool(fields.get(7)))


# -- finding the files --------------------------------------------------------------------------

_DATA_RE = re.compile(r"^(?P<prefix>.+)\.data-\d{5}-of-\d{5}$")
_CKPT_LINE = re.compile(r'^\s*model_checkpoint_path\s*:\s*"(?P<path>(?:[^"\\]|\\.)*)"\s*$', re.M)


def resolve_checkpoint(path: PathLike) -> Path:
    """The checkpoint prefix that ``path`` names.

    ``path`` may be the prefix itself (``model_logs/snap-0``), its ``.index``, ``.meta`` or a
    ``.data-*`` file, or a folder: the one its ``checkpoint`` (or ``checkpoint.txt``, as the
    DeepFill downloads are named) file points at, else its only ``*.index``.
    """
    p = Path(path)
    if p.is_dir():
        for name in ("checkpoint", "checkpoint.txt"):
            state = p / name
            if state.is_file():
                return _from_state_file(state)
        found = sorted(p.glob("*.index"))
        if len(found) == 1:
            return found[0].with_suffix("")
        if not found:
            raise InputNotFoundError("holds no TensorFlow checkpoint (no checkpoint file, no *.index)", p)
        raise WeightsError(f"holds {len(found)} checkpoints ({', '.join(f.stem for f in found[:3])}) and no "
                           "checkpoint file saying which is newest; give one prefix or its .index", p)
    if p.name in ("checkpoint", "checkpoint.txt") and p.is_file():
        return _from_state_file(p)
    if p.suffix in (".index", ".meta"):
        prefix = p.with_suffix("")
    elif (m := _DATA_RE.match(p.name)) is not None:
        prefix = p.with_name(m.group("prefix"))
    else:
        prefix = p
    if not Path(str(prefix) + ".index").is_file():
        if not p.exists():
            raise InputNotFoundError("no such file or folder", p)
        raise WeightsError("is not a TensorFlow checkpoint (no matching .index file beside it)", p)
    return prefix


def _from_state_file(state: Path) -> Path:
    try:
        text = state.read_text(errors="replace")[:1_000_000]
    except OSError as exc:
        raise WeightsError(f"cannot be read ({exc.strerror or exc})", state) from None
    match = _CKPT_LINE.search(text)
    if match is None:
        raise WeightsError("names no model_checkpoint_path", state)
    named = Path(match.group("path").encode().decode("unicode_escape"))
    for candidate in ((named if named.is_absolute() else state.parent / named), state.parent / named.name):
        if Path(str(candidate) + ".index").is_file():
            return candidate
    raise InputNotFoundError(f"names checkpoint {named.name!r}, but {named.name}.index is not beside it", state)


# -- the reader ----------------------------------------------------------------------------------

class TFCheckpoint:
    """The variables of one TF1 checkpoint: names, shapes, dtypes, and their values on demand."""

    def __init__(self, prefix: Path, entries: dict[str, TensorEntry], num_shards: int, big_endian: bool) -> None:
        self.prefix = prefix
        self.entries = entries
        self.num_shards = num_shards
        self.big_endian = big_endian

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def names(self) -> list[str]:
        return sorted(self.entries)

    def shard_path(self, shard: int) -> Path:
        return Path(f"{self.prefix}.data-{shard:05d}-of-{self.num_shards:05d}")

    @property
    def files(self) -> list[Path]:
        """The index file and every data shard."""
        return [Path(f"{self.prefix}.index")] + [self.shard_path(i) for i in range(self.num_shards)]

    def read(self, name: str) -> np.ndarray:
        """The value of variable ``name`` (checksum verified), as a NumPy array."""
        entry = self.entries.get(name)
        if entry is None:
            raise WeightsError(f"has no variable {name!r}", f"{self.prefix}.index")
        where = f"{self.prefix}.index: {name}"
        if entry.sliced:
            raise WeightsError("is a partitioned (sliced) variable, which is not supported", where)
        dtype_name = entry.dtype
        if dtype_name not in _READABLE:
            raise WeightsError(f"holds {entry.dtype} values, which cannot be read as an array", where)
        itemsize = 2 if dtype_name == "bfloat16" else np.dtype(dtype_name).itemsize
        if entry.size != entry.numel * itemsize:
            raise WeightsError(f"says {entry.size} bytes for shape {list(entry.shape)} of {entry.dtype}", where)
        path = self.shard_path(entry.shard)
        if not 0 <= entry.shard < self.num_shards or not path.is_file():
            raise WeightsError(f"lives in {path.name}, which is missing", where)
        if entry.offset < 0 or entry.offset + entry.size > path.stat().st_size:
            raise WeightsError(f"runs past the end of {path.name} (a truncated download?)", where)
        with path.open("rb") as fh:
            fh.seek(entry.offset)
            raw = fh.read(entry.size)
        if entry.crc is not None and mask(crc32c(raw)) != entry.crc:
            raise WeightsError(f"fails its checksum in {path.name} (the file is damaged)", where)
        order = ">" if self.big_endian else "<"
        if dtype_name == "bfloat16":
            half = np.frombuffer(raw, dtype=f"{order}u2").astype(np.uint32) << 16
            return half.view(np.float32).reshape(entry.shape)
        return np.frombuffer(raw, dtype=np.dtype(dtype_name).newbyteorder(order)).astype(dtype_name).reshape(entry.shape)


def open_checkpoint(path: PathLike) -> TFCheckpoint:
    """Parse the index of the TF1 checkpoint at ``path`` (see :func:`resolve_checkpoint`)."""
    prefix = resolve_checkpoint(path)
    index = Path(f"{prefix}.index")
    size = index.stat().st_size
    if size > MAX_INDEX_BYTES:
        raise WeightsError(f"is {size} bytes; a checkpoint index is far smaller", index)
    table = index.read_bytes()
    entries: dict[str, TensorEntry] = {}
    header: dict[int, list[int | bytes]] | None = None
    try:
        for key, value in _table_entries(table):
            if key == b"":
                header = _proto_fields(value)
                continue
            name = key.decode("utf-8", errors="replace")
            entries[name] = _parse_entry(name, value)
    except (ValueError, struct.error) as exc:
        raise WeightsError(f"is not a TensorFlow checkpoint index ({exc})", index) from None
    if header is None:
        raise WeightsError("is not a TensorFlow checkpoint index (no bundle header)", index)
    num_shards = _int(header, 1, default=1)
    if not 1 <= num_shards <= 100_000:
        raise WeightsError(f"claims {num_shards} data shards", index)
    return TFCheckpoint(prefix, entries, num_shards, big_endian=_int(header, 2) == 1)
