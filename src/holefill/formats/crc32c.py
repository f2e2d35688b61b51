"""CRC-32C (Castagnoli), vectorised with NumPy: TF checkpoints store one per tensor.

The standard library has only zlib's CRC-32; this computes CRC-32C (reflected polynomial
0x82F63B78, initial value and final XOR 0xFFFFFFFF, as RFC 3720 and TensorFlow use it) fast
enough for tens of megabytes without a compiled extension:

- the data is cut into equal lanes, and one table-driven step advances every lane's
  register per NumPy operation;
- lanes are joined in a binary tree with the linearity of CRC: with a zero initial register,
  ``crc(A + B) = shift(crc(A), len(B)) ^ crc(B)``, where ``shift`` (feeding ``len(B)`` zero
  bytes) is a fixed linear map, applied through four byte-indexed tables;
- the initial all-ones register equals complementing the first four bytes of the message.
"""

from __future__ import annotations

import numpy as np

__all__ = ["crc32c", "mask", "unmask"]

_POLY = 0x82F63B78
_MASK_DELTA = 0xA282EAD8


def _table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        table[i] = crc
    return table


_TABLE = _table()
_TABLE_PY = [int(v) for v in _TABLE]


def _raw_python(data: bytes, crc: int = 0) -> int:
    """The register after feeding ``data`` (no initial or final XOR), byte by byte."""
    for byte in data:
        crc = _TABLE_PY[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


def _shift_tables(columns: list[int]) -> np.ndarray:
    """Four 256-entry tables applying the linear map whose image of bit b is ``columns[b]``."""
    tables = np.zeros((4, 256), dtype=np.uint32)
    for part in range(4):
        for value in range(256):
            out = 0
            for bit in range(8):
                if value >> bit & 1:
                    out ^= columns[8 * part + bit]
            tables[part, value] = out
    return tables


def _apply(tables: np.ndarray, x: np.ndarray) -> np.ndarray:
    return (tables[0][x & 0xFF] ^ tables[1][(x >> 8) & 0xFF]
            ^ tables[2][(x >> 16) & 0xFF] ^ tables[3][x >> 24])


def _raw_lanes(data: np.ndarray) -> int:
    """The zero-initialised register after ``data`` (uint8), lanes in parallel then joined."""
    n = data.size
    lane_len = 1024
    lanes = 1
    while lanes * lane_len < n:
        lanes *= 2
    padded = np.zeros(lanes * lane_len, dtype=np.uint8)
    padded[padded.size - n:] = data  # leading zeros leave a zero register unchanged
    steps = np.ascontiguousarray(padded.reshape(lanes, lane_len).T)
    reg = np.zeros(lanes, dtype=np.uint32)
    for column in steps:
        reg = _TABLE[(reg ^ column) & 0xFF] ^ (reg >> 8)
    # shift by lane_len zero bytes: the images of the 32 basis vectors
    columns = [_raw_python(bytes(lane_len), 1 << bit) for bit in range(32)]
    while reg.size > 1:
        tables = _shift_tables(columns)
        reg = _apply(tables, reg[0::2]) ^ reg[1::2]
        columns = [int(v) for v in _apply(tables, np.array(columns, dtype=np.uint32))]  # shift by twice as many
    return int(reg[0])


def crc32c(data: bytes | bytearray | memoryview | np.ndarray) -> int:
    """The CRC-32C of ``data``, as an unsigned 32-bit integer."""
    buf = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8) if not isinstance(data, np.ndarray) \
        else data.reshape(-1).view(np.uint8)
    if buf.size < 4096:
        return _raw_python(buf.tobytes(), 0xFFFFFFFF) ^ 0xFFFFFFFF
    head = buf[:4] ^ np.uint8(0xFF)
    return _raw_lanes(np.concatenate([head, buf[4:]])) ^ 0xFFFFFFFF


def mask(crc: int) -> int:
    """TensorFlow's (LevelDB's) masked form of a CRC, as stored in checkpoints."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def unmask(masked: int) -> int:
    rot = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF
