"""What runs inside the server's worker processes: decode, check the limits, fill, encode PNG.

A fill runs in a worker process, never in the server's own process, so that it can be
stopped at any moment: when its time budget is spent, when its client hangs up or cancels,
and when the server shuts down, the server kills the process and starts another. A
classical method that is one long library call (biharmonic on a big hole, FSR) cannot be
interrupted any other way.

This module imports no web framework: the server's process pool preloads it in a fork
server, so a new worker starts in milliseconds. Each worker keeps its own cache of built
fillers and runs one job at a time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import traceback
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from holefill.errors import HolefillError, HolefillWarning, ImageTooLargeError, InvalidArgumentError, MaskSizeError
from holefill.fillers import Blender, BlindFiller, Filler, progress_to
from holefill.io import read_image, read_image_with_alpha, read_mask
from holefill.methods import (
    DEFAULT_BLIND_METHOD,
    default_method,
    get_blender,
    get_blind_filler,
    get_filler,
    get_guided_filler,
    get_method,
)

#: Progress messages are sent at most this often (seconds).
PROGRESS_INTERVAL = 0.1


# --- the filler cache -----------------------------------------------------------------


class _CacheEntry:
    def __init__(self) -> None:
        self.filler: Filler | None = None
        self.build_lock = threading.Lock()
        self.run_lock = threading.Lock()


class FillerCache:
    """Built fillers keyed by method + weights + options, least recently used dropped first.

    Thread-safe: concurrent requests for a filler not yet built wait for one build. The
    options are keyed as checked (so ``4`` and ``4.0`` for a float option are one entry).
    """

    def __init__(self, *, weights: Mapping[str, Path] | None = None, device: str | None = None,
                 max_entries: int = 8, backend: str | None = None) -> None:
        self.weights = dict(weights or {})
        self.device = device
        self.backend = backend
        self.max_entries = max_entries
        self.builds = 0
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[Any, ...], _CacheEntry] = OrderedDict()

    @staticmethod
    def _key(name: str, weights: Path | None, options: Mapping[str, Any]) -> tuple[Any, ...]:
        opts = tuple(sorted((k, type(v).__name__, v) for k, v in options.items()))
        return (name, None if weights is None else str(weights), opts)

    def get(self, method: str | None, options: Mapping[str, Any],
            task: str = "inpaint") -> tuple[Filler | Blender, contextlib.AbstractContextManager[Any]]:
        """The filler (``task``'s default when ``method`` is None; for ``blend`` a Blender: a
        blending model, or an inpainting filler on the canvas), and the lock to hold while it
        runs (a no-op for classical methods)."""
        from holefill.options import check_options

        info = get_method(method or default_method(task), task)
        options = check_options(info.options_for(task), dict(options), method=info.name)
        weights = self.weights.get(info.name)
        key = self._key(info.name, weights, options) + ((task,) if task in ("blend", "guided") else ())
        backend = self.backend if info.kind == "learned" else None
        build = {"blend": get_blender, "guided": get_guided_filler}.get(task) or partial(get_filler, task=task)
        entry = self._built(key, lambda: build(info.name, weights=weights, device=self.device, backend=backend,
                                               **options))
        guard: contextlib.AbstractContextManager[Any] = (
            entry.run_lock if info.kind == "learned" else contextlib.nullcontext())
        return entry.filler, guard

    def get_blind(self, method: str | None, finder: str | None,
                  options: Mapping[str, Any]) -> tuple[BlindFiller, contextlib.AbstractContextManager[Any]]:
        """The blind filler (a blind method, or an inpainting method that fills what ``finder``
        finds), and the lock to hold while it runs (a blind filler runs a model)."""
        info = get_method(method or DEFAULT_BLIND_METHOD)
        finder_name = None if "blind" in info.tasks or finder is None else get_method(finder).name
        weights = self.weights.get(info.name)
        finder_weights = self.weights.get(finder_name or DEFAULT_BLIND_METHOD) if "blind" not in info.tasks else None
        opts = tuple(sorted((k, type(v).__name__, v) for k, v in options.items()))
        key = ("blind", info.name, None if weights is None else str(weights), opts, finder_name,
               None if finder_weights is None else str(finder_weights))
        entry = self._built(key, lambda: get_blind_filler(info.name, weights=weights, finder=finder_name,
                                                          finder_weights=finder_weights, device=self.device,
                                                          **options))
        return entry.filler, entry.run_lock  # type: ignore[return-value]

    def _built(self, key: tuple[Any, ...], build: Callable[[], Any]) -> _CacheEntry:
        """The cache entry under ``key``, its method built by ``build`` once (concurrent callers
        wait for that one build; a failed build leaves no entry), least recently used dropped first."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = _CacheEntry()
                self._entries[key] = entry
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(key)
        with entry.build_lock:
            if entry.filler is None:
                try:
                    entry.filler = build()
                except BaseException:
                    self._forget(key, entry)
                    raise
                with self._lock:
                    self.builds += 1
        return entry

    def _forget(self, key: tuple[Any, ...], entry: _CacheEntry) -> None:
        with self._lock:
            if self._entries.get(key) is entry:
                del self._entries[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


# --- the jobs -------------------------------------------------------------------------


@dataclass(frozen=True)
class FillResult:
    png: bytes
    width: int
    height: int
    hole_pixels: int
    seconds: float
    method: str
    warning: str | None = None
    #: Blind jobs: the damage threshold used (the page re-thresholds the probability map).
    threshold: float | None = None


@dataclass(frozen=True)
class Job:
    """One fill request as the worker receives it: ``kind`` is inpaint, outpaint, blend,
    inpaint-blind or find-damage."""

    kind: str
    method: str | None
    options: Mapping[str, Any]
    files: Mapping[str, bytes | None]
    params: Mapping[str, Any] = field(default_factory=dict)


def check_canvas(width: int, height: int, what: str, limit: int) -> None:
    if width * height > limit:
        raise ImageTooLargeError(f"the {what} canvas would be {width}x{height} = {width * height:,} pixels,"
                                 f" over the limit of {limit:,}")


def _canvas(job: Job, max_pixels: int) -> tuple[np.ndarray, np.ndarray]:
    """The image to fill and its hole, from the job's files and parameters."""
    files, params = job.files, job.params
    if job.kind == "inpaint":
        image_data, mask_data = files["image"], files.get("mask")
        assert image_data is not None
        image, alpha_hole = read_image_with_alpha(image_data, name="image", max_pixels=max_pixels)
        if mask_data is None:
            if alpha_hole is None:
                raise InvalidArgumentError(
                    "missing: send a mask (white = hole), or an image whose transparent pixels are the hole", "mask")
            return image, alpha_hole
        try:
            mask = read_mask(mask_data, shape=image.shape[:2], resize=bool(params.get("resize_mask")), name="mask",
                             max_pixels=max_pixels)
        except MaskSizeError as err:
            raise MaskSizeError(err.problem.replace("pass --resize-mask", "send resize_mask=true"), "mask") from None
        return image, mask
    if job.kind == "outpaint":
        from holefill.api import outpaint_canvas

        left, right, top, bottom = (int(params[k]) for k in ("left", "right", "top", "bottom"))
        image = read_image(files["image"], name="image", max_pixels=max_pixels)  # type: ignore[arg-type]
        h, w = image.shape[:2]
        check_canvas(w + left + right, h + top + bottom, "outpaint", max_pixels)
        return outpaint_canvas(image, left=left, right=right, top=top, bottom=bottom)
    raise ValueError(f"unknown job kind {job.kind!r}")


def _blend_job(job: Job, cache: FillerCache, max_pixels: int) -> FillResult:
    """Two photos joined by the blender (the panorama's size checked before any work)."""
    gap = int(job.params["gap"])
    left = read_image(job.files["left"], name="left", max_pixels=max_pixels)  # type: ignore[arg-type]
    right = read_image(job.files["right"], name="right", max_pixels=max_pixels)  # type: ignore[arg-type]
    blender, guard = cache.get(job.method, job.options, "blend")
    start = time.perf_counter()
    with guard:
        out = blender.blend(left, right, gap, max_pixels=max_pixels)
    seconds = time.perf_counter() - start
    h = out.shape[0]
    return FillResult(encode_png_fast(out), out.shape[1], h, h * gap, seconds, blender.name)


def _blind_job(job: Job, cache: FillerCache, max_pixels: int) -> FillResult:
    """``inpaint-blind``: find the damage and fill it; ``find-damage``: the damage mask (white =
    damage) or, with ``probability``, the 8-bit damage probability."""
    image = read_image(job.files["image"], name="image", max_pixels=max_pixels)  # type: ignore[arg-type]
    filler, guard = cache.get_blind(job.method, job.params.get("finder"), job.options)
    h, w = image.shape[:2]
    start = time.perf_counter()
    if job.kind == "inpaint-blind":
        with guard:
            out, mask = filler.fill_blind(image)
        warning = None if mask.any() else "no damage was found, so the output is the input"
    else:
        with guard:
            prob = filler.find_damage(image)
        mask = filler.mask_from(prob)
        out = np.rint(prob * 255).astype(np.uint8) if job.params.get("probability") else mask.astype(np.uint8) * 255
        warning = None if mask.any() else "no damage was found"
    seconds = time.perf_counter() - start
    return FillResult(encode_png_fast(out), w, h, int(mask.sum()), seconds, filler.name, warning, filler.threshold)


def run_job(job: Job, cache: FillerCache, max_pixels: int) -> FillResult:
    """Decode, check, fill and encode one job. HolefillWarnings become the result's warning."""
    if job.kind == "blend":
        return _blend_job(job, cache, max_pixels)
    if job.kind in ("inpaint-blind", "find-damage"):
        return _blind_job(job, cache, max_pixels)
    canvas, mask = _canvas(job, max_pixels)
    guided = bool(job.params.get("guided"))
    guide = read_image(job.files["guide"], name="guide", max_pixels=max_pixels) if guided else None  # type: ignore[arg-type]
    filler, guard = cache.get(job.method, job.options, "guided" if guided else job.kind)
    h, w = canvas.shape[:2]
    if not mask.any():
        return FillResult(encode_png_fast(canvas), w, h, 0, 0.0, filler.name,
                          "the mask has no hole, so the output is the input")
    start = time.perf_counter()
    with guard, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", HolefillWarning)
        out = filler.fill(canvas, mask) if guide is None else filler.fill(canvas, mask, guide)
    seconds = time.perf_counter() - start
    said = [str(w.message) for w in caught if issubclass(w.category, HolefillWarning)]
    warning = " ".join("; ".join(dict.fromkeys(said)).split()) or None
    return FillResult(encode_png_fast(out), w, h, int(mask.sum()), seconds, filler.name, warning)


def encode_png_fast(image: Any) -> bytes:
    """PNG at zlib level 1: lossless like any PNG, a few times faster to write than the
    default level, for a bit more size; a server answering many requests wants the speed."""
    import io as _io

    from PIL import Image

    buf = _io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


# --- the worker process ---------------------------------------------------------------


@dataclass(frozen=True)
class WorkerConfig:
    """What a worker process needs to know; sent to it once, when it starts."""

    weights: Mapping[str, Path]
    device: str | None
    cache_size: int
    max_pixels: int
    #: Threads for the math libraries inside one worker (cores / workers).
    threads: int
    #: How learned methods run: None or "torch", or "onnxruntime" (the folders' model.onnx).
    backend: str | None = None
    #: Called once in each new worker before its first job (a picklable callable), e.g. to
    #: register extra methods; None for nothing.
    setup: Callable[[], None] | None = None


def _limit_threads(threads: int) -> None:
    """Keep one worker's math libraries to ``threads`` threads, so workers share the cores
    (torch is usually imported already, by the fork server, so it is told directly)."""
    import sys

    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    import cv2

    cv2.setNumThreads(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def _watch_lifeline(lifeline: Connection) -> None:
    """End this process when the server's end of ``lifeline`` closes (the server died, or
    dropped this worker), even in the middle of a fill."""
    try:
        lifeline.recv()
    except (EOFError, OSError):
        pass
    os._exit(0)


def worker_main(conn: Connection, lifeline: Connection, config: WorkerConfig) -> None:
    """A worker's loop: receive a :class:`Job`, answer ``("done", FillResult)``,
    ``("error", kind, message)`` for bad input or ``("crash", traceback)``; send
    ``("progress", fraction)`` while a method reports progress."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the server's to handle
    threading.Thread(target=_watch_lifeline, args=(lifeline,), daemon=True, name="holefill-lifeline").start()
    _limit_threads(config.threads)
    if config.setup is not None:
        config.setup()
    cache = FillerCache(weights=config.weights, device=config.device, max_entries=config.cache_size,
                        backend=config.backend)
    sent = 0.0

    def progress(fraction: float) -> None:
        nonlocal sent
        now = time.monotonic()
        if now - sent >= PROGRESS_INTERVAL:
            sent = now
            conn.send(("progress", fraction))

    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        try:
            with progress_to(progress):
                result = run_job(job, cache, config.max_pixels)
            message: tuple[Any, ...] = ("done", result)
        except HolefillError as err:
            message = ("error", type(err).__name__, str(err))
        except Exception:  # noqa: BLE001 - reported to the server, which logs it
            message = ("crash", traceback.format_exc())
        try:
            conn.send(message)
        except (EOFError, OSError):
            return
