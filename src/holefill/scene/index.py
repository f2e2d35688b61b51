"""A photo folder as a scene database: indexed once, cached in the folder, refreshed when files change.

:func:`open_index` lists the folder's images (recursively; hidden files and folders are
skipped), reads the cached index ``.holefill-scene-index.npz`` from the folder when there is
one, describes only the files that are new or changed (size or modification time) with a
progress bar, drops the ones that are gone, and writes the cache back atomically when
anything changed. That file is the only thing holefill ever writes into the folder; when
the folder is read-only the index lives in memory and a warning says so.

Unreadable files (not images, truncated) are remembered in the index, so they are not
retried until they change; a folder with no readable image at all is a one-line error.
Search is a weighted nearest-neighbour query over every descriptor at once (NumPy
matrix-vector products, :func:`holefill.scene.descriptors.weighted_distances`): the weights
depend on each query's hole, which rules out a prebuilt tree, and a flat scan of 100,000
descriptors takes tens of milliseconds (``benchmarks/scene_index.py`` measures it).
"""

from __future__ import annotations

import io as _io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from holefill import io
from holefill.errors import HolefillError, HolefillWarning, InputNotFoundError, InvalidArgumentError
from holefill.scene.descriptors import DESCRIPTOR_VERSION, DIMS, Descriptor, describe, weighted_distances

INDEX_NAME = ".holefill-scene-index.npz"
#: The most image files a database folder may hold.
MAX_FILES = 1_000_000


@dataclass(frozen=True)
class Match:
    """A database scene and its descriptor distance to the query."""

    path: Path
    distance: float


@dataclass
class SceneIndex:
    """Descriptors of a folder's readable images (rows of ``vectors``), with each file's stamp."""

    root: Path
    files: list[str]  # paths relative to root, sorted, readable and unreadable alike
    stamps: np.ndarray  # (F, 2) int64: size, mtime_ns
    readable: np.ndarray  # (F,) bool
    vectors: np.ndarray  # (F, DIMS) float32 (rows of unreadable files are zeros)

    def __len__(self) -> int:
        return int(self.readable.sum())

    def search(self, query: Descriptor, k: int, *, colour_weight: float = 1.0,
               exclude: Path | None = None) -> list[Match]:
        """The ``k`` nearest readable scenes, nearest first (``exclude``: a file to leave out)."""
        ok = self.readable.copy()
        if exclude is not None:
            try:
                rel = Path(exclude).resolve().relative_to(self.root.resolve()).as_posix()
                ok &= np.array([f != rel for f in self.files], bool)
            except ValueError:
                pass
        rows = np.flatnonzero(ok)
        if len(rows) == 0:
            return []
        dist = weighted_distances(self.vectors[rows], query, colour_weight)
        k = min(int(k), len(rows))
        top = np.argpartition(dist, k - 1)[:k] if k < len(rows) else np.arange(len(rows))
        top = top[np.argsort(dist[top], kind="stable")]
        return [Match(self.root / self.files[rows[i]], float(dist[i])) for i in top]


def list_database(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files (by extension) under ``folder``, recursively, skipping hidden names; sorted."""
    root = Path(folder)
    if not root.exists():
        raise InputNotFoundError("no such photo database folder", root)
    if not root.is_dir():
        raise InvalidArgumentError("is a file; a scene database is a folder of photos", root)
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and Path(name).suffix.lower() in io.IMAGE_SUFFIXES:
                found.append(Path(dirpath) / name)
                if len(found) > MAX_FILES:
                    raise InvalidArgumentError(f"holds more than {MAX_FILES:,} image files; use a smaller folder", root)
    if not found:
        raise InvalidArgumentError("holds no images (PNG, JPEG, WebP, BMP or TIFF), not even in subfolders", root)
    return sorted(found)


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return int(st.st_size), int(st.st_mtime_ns)


def _read_cache(root: Path) -> SceneIndex | None:
    """The cached index in ``root``, or None when there is none or it cannot be used."""
    path = root / INDEX_NAME
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["version"]) != DESCRIPTOR_VERSION or data["vectors"].shape[1:] != (DIMS,):
                return None
            return SceneIndex(root, [str(f) for f in data["files"]], data["stamps"].astype(np.int64),
                              data["readable"].astype(bool), data["vectors"].astype(np.float32))
    except (OSError, ValueError, KeyError, EOFError):  # a damaged or foreign file: rebuild
        return None


def _write_cache(index: SceneIndex) -> None:
    buf = _io.BytesIO()
    files = np.array(index.files, dtype=str) if index.files else np.zeros(0, dtype="<U1")
    np.savez(buf, version=np.array(DESCRIPTOR_VERSION), files=files, stamps=index.stamps,
             readable=index.readable, vectors=index.vectors)
    try:
        io.write_bytes_atomic(index.root / INDEX_NAME, buf.getvalue())
    except OSError as exc:
        warnings.warn(f"{index.root}: cannot write the scene index there ({exc.strerror or exc}); "
                      "it is kept in memory for this run only", HolefillWarning, stacklevel=3)


def open_index(folder: str | os.PathLike[str], *, progress: bool = True, max_pixels: int | None = None) -> SceneIndex:
    """The scene index of ``folder``, built or refreshed as needed (see the module docstring)."""
    from tqdm import tqdm

    root = Path(folder)
    paths = list_database(root)
    rel = [p.relative_to(root).as_posix() for p in paths]
    stamps = np.array([_stamp(p) for p in paths], np.int64).reshape(-1, 2)
    cached = _read_cache(root)
    old = {} if cached is None else {f: i for i, f in enumerate(cached.files)}
    vectors = np.zeros((len(paths), DIMS), np.float32)
    readable = np.zeros(len(paths), bool)
    todo = []
    for i, f in enumerate(rel):
        j = old.get(f)
        if cached is not None and j is not None and np.array_equal(cached.stamps[j], stamps[i]):
            vectors[i], readable[i] = cached.vectors[j], cached.readable[j]
        else:
            todo.append(i)
    problems: list[str] = []
    for i in tqdm(todo, desc=f"indexing {root}", unit="photo", disable=not progress or not todo):
        try:
            vectors[i] = describe(io.read_image(paths[i], max_pixels=max_pixels)).vector
            readable[i] = True
        except HolefillError as err:
            problems.append(str(err))
    index = SceneIndex(root, rel, stamps, readable, vectors)
    changed = cached is None or bool(todo) or len(old) != len(rel)
    if not readable.any():
        example = f" (e.g. {problems[0]})" if problems else ""
        raise InvalidArgumentError(f"none of its {len(rel)} image files could be read{example}", root)
    if problems:
        warnings.warn(f"{root}: skipped {len(problems)} unreadable image file(s), e.g. {problems[0]}",
                      HolefillWarning, stacklevel=2)
    if changed:
        _write_cache(index)
    return index


__all__ = ["INDEX_NAME", "MAX_FILES", "Match", "SceneIndex", "list_database", "open_index"]
