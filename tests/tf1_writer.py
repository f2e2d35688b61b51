"""A small writer of TensorFlow 1 checkpoints (tensor bundles), for tests only.

Writes what ``tf.train.Saver`` writes, from the format's definition rather than from
holefill's reader: ``PREFIX.index``, a LevelDB-format table (prefix-compressed keys with a
restart point every 16 entries, data blocks of about ``block_size`` bytes, an index block, an
empty metaindex block, the 48-byte footer with the magic number, a masked CRC-32C per block)
mapping names to ``BundleEntryProto`` messages, and ``PREFIX.data-00000-of-00001`` with the
raw little-endian bytes. The CRC here is the plain bitwise definition, independent of the
vectorised one in holefill.formats.crc32c.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

MAGIC = 0xDB4775248B80FB57
DTYPES = {np.dtype("float32"): 1, np.dtype("float64"): 2, np.dtype("int32"): 3, np.dtype("uint8"): 4,
          np.dtype("int64"): 9, np.dtype("float16"): 19}


def crc32c_bitwise(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def masked(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value) if value else b""


def field_bytes(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def field_fixed32(number: int, value: int) -> bytes:
    return varint(number << 3 | 5) + struct.pack("<I", value)


def entry_proto(dtype: int, shape: tuple[int, ...], offset: int, size: int, crc: int | None) -> bytes:
    dims = b"".join(field_bytes(2, field_varint(1, d) if d else b"") for d in shape)
    out = field_varint(1, dtype) + field_bytes(2, dims) + field_varint(4, offset) + field_varint(5, size)
    if crc is not None:
        out += field_fixed32(6, crc)
    return out


def header_proto(num_shards: int = 1) -> bytes:
    version = field_varint(1, 1)  # VersionDef.producer
    return field_varint(1, num_shards) + field_bytes(3, version)


class _Block:
    def __init__(self) -> None:
        self.buf = bytearray()
        self.restarts = [0]
        self.count = 0
        self.last = b""

    def add(self, key: bytes, value: bytes) -> None:
        if self.count and self.count % 16 == 0:
            self.restarts.append(len(self.buf))
            shared = 0
        else:
            shared = 0
            while shared < min(len(key), len(self.last)) and key[shared] == self.last[shared]:
                shared += 1
        self.buf += varint(shared) + varint(len(key) - shared) + varint(len(value)) + key[shared:] + value
        self.last = key
        self.count += 1

    def finish(self) -> bytes:
        return bytes(self.buf) + b"".join(struct.pack("<I", r) for r in self.restarts) + \
            struct.pack("<I", len(self.restarts))


def write_table(entries: list[tuple[bytes, bytes]], block_size: int = 4096) -> bytes:
    """An SSTable of the (sorted) ``entries``."""
    out = bytearray()
    index = _Block()

    def emit(contents: bytes) -> tuple[int, int]:
        offset = len(out)
        out.extend(contents)
        out.append(0)
        out.extend(struct.pack("<I", masked(crc32c_bitwise(contents + b"\x00"))))
        return offset, len(contents)

    block = _Block()
    for key, value in sorted(entries):
        block.add(key, value)
        if len(block.buf) >= block_size:
            offset, size = emit(block.finish())
            index.add(block.last, varint(offset) + varint(size))
            block = _Block()
    if block.count:
        offset, size = emit(block.finish())
        index.add(block.last, varint(offset) + varint(size))
    meta_offset, meta_size = emit(_Block().finish())
    index_offset, index_size = emit(index.finish())
    handles = varint(meta_offset) + varint(meta_size) + varint(index_offset) + varint(index_size)
    out += handles + bytes(40 - len(handles)) + struct.pack("<Q", MAGIC)
    return bytes(out)


def write_checkpoint(prefix: Path, tensors: dict[str, np.ndarray], *, block_size: int = 4096,
                     with_crc: bool = True, crc_limit: int = 16_384) -> Path:
    """Write ``tensors`` (name -> array) as the TF1 checkpoint ``prefix``; returns the prefix.

    The bitwise CRC is slow in Python, so tensors above ``crc_limit`` bytes are written without
    one (TF always writes it; the reader then skips the check).
    """
    prefix = Path(prefix)
    data = bytearray()
    entries = [(b"", header_proto())]
    for name in sorted(tensors):
        arr = np.array(tensors[name], order="C")
        raw = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        crc = masked(crc32c_bitwise(raw)) if with_crc and len(raw) <= crc_limit else None
        entries.append((name.encode(), entry_proto(DTYPES[arr.dtype], arr.shape, len(data), len(raw), crc)))
        data += raw
    Path(f"{prefix}.index").write_bytes(write_table(entries, block_size))
    Path(f"{prefix}.data-00000-of-00001").write_bytes(bytes(data))
    return prefix
