"""Training checkpoints: atomic files in ``RUN/checkpoints/``, the last K kept, and RNG state.

A checkpoint is one ``torch.save`` file, ``step_00001000.pt``, written through a temporary
file and a rename (:func:`holefill.io.write_bytes_atomic`), so a run killed while saving
leaves the previous checkpoint intact, and the temporary files of killed writes are removed
by the next save. It holds only tensors and plain Python values, and is read back with
``weights_only=True``: loading a checkpoint never runs pickled code.

Each checkpoint stores a SHA-256 of its content (every tensor's bytes, dtype and shape, and
every other value), and loading verifies it: a flipped bit in a weight, which ``torch.load``
reads without complaint, is a :class:`~holefill.errors.WeightsError`, and the trainer then
resumes from the previous checkpoint.
"""

from __future__ import annotations

import hashlib
import io as _io
import random
import re
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch

from holefill.errors import WeightsError
from holefill.io import remove_stale_temps, write_bytes_atomic

CHECKPOINT_DIR = "checkpoints"
_NAME = re.compile(r"^step_(\d{8,})\.pt$")


def checkpoint_path(run_dir: str | PathLike[str], step: int) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / f"step_{step:08d}.pt"


def list_checkpoints(run_dir: str | PathLike[str]) -> list[Path]:
    """The run's checkpoint files, oldest step first."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name)) and p.is_file()]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: str | PathLike[str]) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


#: The key under which a checkpoint stores the digest of the rest of its content.
CHECKSUM_KEY = "checksum"


def _feed(h: Any, value: Any) -> None:
    """Add ``value`` to the hash ``h`` with its type and structure, so that equal content (and
    only equal content) gives equal digests, however it was stored."""
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy())
    elif isinstance(value, np.ndarray):
        h.update(f"A{value.dtype}{value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, dict):
        h.update(f"D{len(value)}".encode())
        for key in sorted(value, key=repr):
            _feed(h, key)
            _feed(h, value[key])
    elif isinstance(value, (list, tuple)):
        h.update(f"L{len(value)}".encode())
        for item in value:
            _feed(h, item)
    else:
        h.update(f"V{type(value).__name__}:{value!r};".encode())


def state_digest(state: dict[str, Any]) -> str:
    """SHA-256 (hex) of a checkpoint's content, the stored checksum left out."""
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in state.items() if k != CHECKSUM_KEY})
    return h.hexdigest()


def save_checkpoint(state: dict[str, Any], run_dir: str | PathLike[str], step: int, keep_last: int) -> Path:
    """Write ``state`` atomically, with its checksum, as the checkpoint of ``step``; delete all but
    the newest ``keep_last`` and any temporary file that a killed write left behind."""
    buf = _io.BytesIO()
    torch.save({**state, CHECKSUM_KEY: state_digest(state)}, buf)
    path = write_bytes_atomic(checkpoint_path(run_dir, step), buf.getvalue())
    for old in list_checkpoints(run_dir)[:-keep_last]:
        old.unlink(missing_ok=True)
    remove_stale_temps(path.parent)
    return path


def load_checkpoint(path: str | PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint onto the CPU and verify its checksum; a missing, truncated, damaged or
    foreign file is a WeightsError. (Checkpoints from before checksums load unverified.)"""
    file = Path(path)
    if not file.is_file():
        raise WeightsError("no such checkpoint file", file)
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for damaged or foreign files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"is not a readable holefill checkpoint ({first[:200]})", file) from None
    if not isinstance(state, dict) or state.get("format") != "holefill-train":
        raise WeightsError("is not a holefill training checkpoint", file)
    stored = state.get(CHECKSUM_KEY)
    if stored is not None and stored != state_digest(state):
        raise WeightsError("is damaged: its content does not match its checksum", file)
    return state


def set_aside(path: str | PathLike[str]) -> Path:
    """Rename a damaged checkpoint to ``<name>.damaged`` (kept, but no longer listed)."""
    file = Path(path)
    target = file.with_name(file.name + ".damaged")
    file.replace(target)
    return target


# ----------------------------------------------------------------------------- RNG state


def capture_rng_state() -> dict[str, Any]:
    """Every global random stream (Python, NumPy, torch CPU and CUDA), in a weights_only-safe form."""
    np_state = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"name": np_state[0], "keys": torch.from_numpy(np_state[1].astype(np.int64)),
                  "pos": int(np_state[2]), "has_gauss": int(np_state[3]), "gauss": float(np_state[4])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Put back what :func:`capture_rng_state` took."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


class preserved_rng:
    """Context manager: whatever runs inside leaves every global random stream as it found it.

    Sample grids and evaluation run inside it, so how often they run never changes the
    training trajectory.
    """

    def __enter__(self) -> "preserved_rng":
        self._state = capture_rng_state()
        return self

    def __exit__(self, *exc: object) -> None:
        restore_rng_state(self._state)
