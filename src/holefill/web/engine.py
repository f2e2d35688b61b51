"""Running fills for the web app: a bounded worker pool, a cache of built fillers, and the
fill jobs of each endpoint (decode, check the limits, fill, encode PNG).

- Fills run in a bounded thread pool, never on the event loop, and at most ``max_queue``
  requests wait for it (more get 503), so a slow method cannot stall the server.
- A filler (a learned model above all) is built once per method + weights + options and
  shared by later requests (:class:`FillerCache`). Learned models run one request at a time
  each; classical fillers are stateless and run concurrently.
- Every request's data lives in local variables only; nothing per-request is shared.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from holefill.errors import HolefillError, ImageTooLargeError, InvalidArgumentError, MaskSizeError
from holefill.fillers import Filler, GuidedFiller
from holefill.io import read_image, read_image_with_alpha, read_mask
from holefill.methods import DEFAULT_GUIDED_METHOD, DEFAULT_METHOD, get_filler, get_guided_filler, get_method
from holefill.web.server import ServerSettings

logger = logging.getLogger("holefill.web")


class ServerBusyError(Exception):
    """More fill requests are waiting than ``max_queue`` allows."""


class InternalFillError(Exception):
    """A fill failed for a reason that is not the client's input (logged with a traceback)."""



# --- the filler cache -----------------------------------------------------------------


class _CacheEntry:
    def __init__(self) -> None:
        self.filler: Filler | GuidedFiller | None = None
        self.build_lock = threading.Lock()
        self.run_lock = threading.Lock()


class FillerCache:
    """Built fillers keyed by method + weights + options, least recently used dropped first.

    Thread-safe: concurrent requests for a filler not yet built wait for one build.
    """

    def __init__(self, *, weights: Mapping[str, Path] | None = None, device: str | None = None,
                 max_entries: int = 8) -> None:
        self.weights = dict(weights or {})
        self.device = device
        self.max_entries = max_entries
        self.builds = 0
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[Any, ...], _CacheEntry] = OrderedDict()

    @staticmethod
    def _key(name: str, weights: Path | None, options: Mapping[str, Any]) -> tuple[Any, ...]:
        # The type is part of the key: True, 1 and 1.0 are equal in Python but not as options.
        opts = tuple(sorted((k, type(v).__name__, v) for k, v in options.items()))
        return (name, None if weights is None else str(weights), opts)

    def get(self, method: str | None, options: Mapping[str, Any], *, guided: bool = False
            ) -> tuple[Any, contextlib.AbstractContextManager[Any]]:
        """The filler (a :class:`GuidedFiller` when ``guided``), and the lock to hold while it runs
        (a no-op for classical methods)."""
        default = DEFAULT_GUIDED_METHOD if guided else DEFAULT_METHOD
        if method is None and guided and DEFAULT_GUIDED_METHOD not in self.weights:
            get_guided_filler(None)  # the one-line error when no guided weights are installed
        info = get_method(method or default)
        if info.requires:
            raise InvalidArgumentError(f"method {info.name!r} needs a {info.requires[0]} on the server and is not"
                                       " served over HTTP; use the command line", "method")
        build = get_guided_filler if guided else get_filler
        weights = self.weights.get(info.name)
        key = self._key(info.name, weights, options) + (guided,)
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
                    entry.filler = build(info.name, weights=weights, device=self.device, **dict(options))
                except TypeError as exc:
                    self._forget(key, entry)
                    if not options:
                        raise
                    raise InvalidArgumentError(f"method {info.name!r} does not take these options ({exc})",
                                               "options") from None
                except BaseException:
                    self._forget(key, entry)
                    raise
                with self._lock:
                    self.builds += 1
        guard: contextlib.AbstractContextManager[Any] = (
            entry.run_lock if info.kind == "learned" else contextlib.nullcontext())
        return entry.filler, guard

    def _forget(self, key: tuple[Any, ...], entry: _CacheEntry) -> None:
        with self._lock:
            if self._entries.get(key) is entry:
                del self._entries[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


# --- running fills ------------------------------------------------------------------------


@dataclass(frozen=True)
class FillResult:
    png: bytes
    width: int
    height: int
    hole_pixels: int
    seconds: float
    method: str
    warning: str | None = None


class _Slots:
    """A thread-safe count of fill requests in the server, capped."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        with self._lock:
            if self.used >= self.limit:
                return False
            self.used += 1
            return True

    def release(self, *_: Any) -> None:
        with self._lock:
            self.used -= 1


class Engine:
    """What the fill endpoints share for the app's lifetime: settings, cache, thread pool."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.cache = FillerCache(weights=settings.weights, device=settings.device, max_entries=settings.cache_size)
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=settings.workers,
                                                              thread_name_prefix="holefill-fill")
        self.slots = _Slots(settings.max_queue)

    async def run(self, job: Callable[[], FillResult], what: str) -> FillResult:
        """Run ``job`` in the pool; the slot is held until the job really ends."""
        if not self.slots.acquire():
            raise ServerBusyError()
        try:
            future = self.executor.submit(job)
        except BaseException:
            self.slots.release()
            raise
        future.add_done_callback(self.slots.release)
        try:
            return await asyncio.wrap_future(future)
        except HolefillError:
            raise
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("%s failed", what)
            raise InternalFillError() from None

    # The jobs below run in a worker thread.

    def _fill(self, canvas: Any, mask: Any, method: str | None, options: Mapping[str, Any],
              guide: Any = None) -> FillResult:
        filler, guard = self.cache.get(method, options, guided=guide is not None)
        name = filler.name
        h, w = canvas.shape[:2]
        if not mask.any():
            return FillResult(encode_png_fast(canvas), w, h, 0, 0.0, name,
                              "the mask has no hole, so the output is the input")
        start = time.perf_counter()
        with guard:
            out = filler.fill(canvas, mask) if guide is None else filler.fill(canvas, mask, guide)
        seconds = time.perf_counter() - start
        return FillResult(encode_png_fast(out), w, h, int(mask.sum()), seconds, name)

    def _check_canvas(self, width: int, height: int, what: str) -> None:
        limit = self.settings.max_pixels
        if width * height > limit:
            raise ImageTooLargeError(f"the {what} canvas would be {width}x{height} = {width * height:,} pixels,"
                                     f" over the limit of {limit:,}")

    def inpaint_job(self, image_data: bytes, mask_data: bytes | None, method: str | None,
                    options: Mapping[str, Any], resize_mask: bool, guide_data: bytes | None = None) -> FillResult:
        limit = self.settings.max_pixels
        image, alpha_hole = read_image_with_alpha(image_data, name="image", max_pixels=limit)
        guide = None if guide_data is None else read_image(guide_data, name="guide", max_pixels=limit)
        if mask_data is None:
            if alpha_hole is None:
                raise InvalidArgumentError(
                    "missing: send a mask (white = hole), or an image whose transparent pixels are the hole", "mask")
            mask = alpha_hole
        else:
            try:
                mask = read_mask(mask_data, shape=image.shape[:2], resize=resize_mask, name="mask", max_pixels=limit)
            except MaskSizeError as err:
                raise MaskSizeError(err.problem.replace("pass --resize-mask", "send resize_mask=true"), "mask") from None
        return self._fill(image, mask, method, options, guide)

    def outpaint_job(self, image_data: bytes, sides: tuple[int, int, int, int], method: str | None,
                     options: Mapping[str, Any]) -> FillResult:
        from holefill.api import outpaint_canvas

        left, right, top, bottom = sides
        image = read_image(image_data, name="image", max_pixels=self.settings.max_pixels)
        h, w = image.shape[:2]
        self._check_canvas(w + left + right, h + top + bottom, "outpaint")
        canvas, mask = outpaint_canvas(image, left=left, right=right, top=top, bottom=bottom)
        return self._fill(canvas, mask, method, options)

    def blend_job(self, left_data: bytes, right_data: bytes, gap: int, method: str | None,
                  options: Mapping[str, Any]) -> FillResult:
        from holefill.api import blend_canvas

        limit = self.settings.max_pixels
        left = read_image(left_data, name="left", max_pixels=limit)
        right = read_image(right_data, name="right", max_pixels=limit)
        h = left.shape[0]
        right_w = right.shape[1] if right.shape[0] == h else max(1, round(right.shape[1] * h / right.shape[0]))
        self._check_canvas(left.shape[1] + gap + right_w, h, "blend")
        canvas, mask = blend_canvas(left, right, gap=gap)
        return self._fill(canvas, mask, method, options)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def encode_png_fast(image: Any) -> bytes:
    """PNG at zlib level 1: lossless like any PNG, a few times faster to write than the
    default level, for a bit more size; a server answering many requests wants the speed."""
    import io as _io

    from PIL import Image

    buf = _io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()

