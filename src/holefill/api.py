"""The public Python API: inpaint (from the context, or from a guide photo), blind inpainting,
outpaint, blend, upscale and generate on numpy arrays.

Outpainting and blending are inpainting on a larger canvas: they build the canvas and its
mask, then call the same filler as :func:`inpaint`. :func:`upscale` and :func:`generate` use
the upscaler and generator protocols (:mod:`holefill.upscalers`, :mod:`holefill.generators`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from holefill import fillers
from holefill.errors import ImageTooLargeError, InvalidArgumentError
from holefill.fillers import Blender, BlindFiller, CanvasBlender, Filler, GuidedFiller, prepare_blend
from holefill.generators import Generator
from holefill.io import check_image, max_pixels_default
from holefill.methods import (
    default_method,
    get_blender,
    get_blind_filler,
    get_filler,
    get_generator,
    get_guided_filler,
    get_method,
    get_upscaler,
)
from holefill.upscalers import Upscaler

#: How many built methods :func:`inpaint` and friends keep (a loop over images then loads
#: a model's weights once, not per call).
CACHE_SIZE = 4
_cache: OrderedDict[tuple[Any, ...], Filler | Blender] = OrderedDict()
_cache_lock = threading.Lock()


def _stamp(weights: str | Path | None) -> tuple[Any, ...]:
    """The weights as part of a cache key: the path and its files' modification times, so
    weights rewritten in place (a new training checkpoint) are loaded again."""
    if weights is None:
        return (None,)
    path = Path(weights).resolve()
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    return (str(path), *((f.name, f.stat().st_mtime_ns) for f in files if f.is_file()))


def _key(method: str | None, task: str, weights: str | Path | None, device: str | None,
         options: dict[str, Any]) -> tuple[Any, ...] | None:
    try:
        opts = tuple(sorted((k, type(v).__name__, v) for k, v in options.items()))
        hash(opts)
    except TypeError:  # an option that cannot be a key: build the filler anew
        return None
    # The method's table row itself (resolved now: the default may change, and a changed
    # table must not hand out a filler it would refuse to build).
    row = get_method(method or default_method(task.rstrip("*")), task.rstrip("*"))
    return (id(row), row.name, task, _stamp(weights), device, opts)


def clear_cache() -> None:
    """Forget the methods :func:`inpaint`, :func:`outpaint`, :func:`blend`, :func:`upscale` and
    :func:`generate` built."""
    with _cache_lock:
        _cache.clear()


def _resolve(method: Any, weights: str | Path | None, device: str | None, options: dict[str, Any],
             task: str = "inpaint") -> Any:
    """The built method for ``task`` (a filler, an upscaler or a generator), from the cache when
    it was built before with the same weights and options."""
    protocol: type = {"upscale": Upscaler, "generate": Generator}.get(task, Filler)
    if isinstance(method, protocol):
        if weights is not None or options:
            raise InvalidArgumentError("weights and options go to the method's constructor, not here")
        return method
    builders = {"upscale": get_upscaler, "generate": get_generator}
    if task in builders:
        return _cached(method, task, weights, device, options,
                       lambda: builders[task](method, weights=weights, device=device, **options))
    return _cached(method, task, weights, device, options,
                   lambda: get_filler(method, task=task, weights=weights, device=device, **options))


def _cached(method: str | None, task: str, weights: str | Path | None, device: str | None, options: dict[str, Any],
            build: Any) -> Any:
    """The filler or blender ``build()`` makes, from the cache when the same one was built."""
    key = _key(method, task, weights, device, options) if weights is None or Path(weights).exists() else None
    if key is not None:
        with _cache_lock:
            if key in _cache:
                _cache.move_to_end(key)
                return _cache[key]
    built = build()
    if key is not None:
        with _cache_lock:
            _cache[key] = built
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return built


def inpaint(image: np.ndarray, mask: np.ndarray, method: str | Filler | GuidedFiller | None = None, *,
            guide: np.ndarray | None = None, weights: str | Path | None = None, device: str | None = None,
            **options: Any) -> np.ndarray:
    """Fill the holes of ``image`` (HxWx3 uint8 RGB) where ``mask`` (HxW bool) is True.

    ``method`` is a name from :func:`holefill.list_methods` (the inpainting default when None)
    or a ready :class:`~holefill.fillers.Filler`. With ``guide`` (another photo, HxWx3 uint8
    RGB of any size) the hole is filled with content pulled from it, by a guided method (one
    whose tasks include ``guided``; the default guided method when None) or a ready
    :class:`~holefill.fillers.GuidedFiller`. Known pixels come back unchanged. The last few
    fillers built from names are kept (:data:`CACHE_SIZE`), so calling this in a loop loads a
    model once; :func:`clear_cache` forgets them.
    """
    if guide is not None or isinstance(method, GuidedFiller):
        if guide is None:
            raise InvalidArgumentError(f"method {method.name!r} fills from a guide photo: pass guide=")  # type: ignore[union-attr]
        if isinstance(method, GuidedFiller):
            if weights is not None or options:
                raise InvalidArgumentError("weights and options go to the filler's constructor, not here")
            return method.fill(image, mask, guide)
        if isinstance(method, Filler):
            raise InvalidArgumentError(f"method {method.name!r} takes no guide photo")
        return get_guided_filler(method, weights=weights, device=device, **options).fill(image, mask, guide)
    return _resolve(method, weights, device, options).fill(image, mask)


def inpaint_blind(image: np.ndarray, method: str | BlindFiller | None = None, *, finder: str | None = None,
                  weights: str | Path | None = None, finder_weights: str | Path | None = None,
                  device: str | None = None, **options: Any) -> tuple[np.ndarray, np.ndarray]:
    """Find the damage in ``image`` (HxWx3 uint8 RGB) and fill it: ``(filled, mask)``.

    ``method`` is a blind method (default: the shipped VCNet, ``vcnet_lite``) or any
    inpainting method, which then fills the damage that ``finder`` (a blind method) found;
    or a ready :class:`~holefill.fillers.BlindFiller`. ``threshold`` (damage probability,
    default 0.5) and ``dilate`` (pixels) shape the mask. Pixels outside ``mask`` (HxW bool)
    come back unchanged.
    """
    if isinstance(method, BlindFiller):
        if weights is not None or finder is not None or finder_weights is not None or options:
            raise InvalidArgumentError("weights, finder and options go to the blind filler's constructor, not here")
        return method.fill_blind(image)
    blind = get_blind_filler(method, finder=finder, weights=weights, finder_weights=finder_weights, device=device,
                             **options)
    return blind.fill_blind(image)


def inpaint_samples(image: np.ndarray, mask: np.ndarray, samples: int, method: str | Filler | None = None, *,
                    seed: int = 0, weights: str | Path | None = None, device: str | None = None,
                    **options: Any) -> list[np.ndarray]:
    """``samples`` different plausible fills of one hole (sample i drawn with seed ``seed + i``).

    Works for stochastic methods: ``patchmatch`` (its randomised search) and models with
    contextual attention (stochastic attention: each hole patch is drawn from the attention
    distribution). A deterministic method raises an error for ``samples > 1``.
    """
    return _resolve(method, weights, device, options).fill_samples(image, mask, samples, seed)


def _side(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidArgumentError(f"{name} must be a whole number of pixels, got {value!r}")
    if value < 0:
        raise InvalidArgumentError(f"{name} must be >= 0, got {value}")
    return int(value)


def check_canvas(width: int, height: int, what: str, max_pixels: int | None = None) -> None:
    """Refuse a canvas over the pixel limit (``max_pixels``, default ``HOLEFILL_MAX_PIXELS`` or
    100 M) before it is allocated: outpainting and blending make images larger than their inputs."""
    limit = max_pixels_default() if max_pixels is None else int(max_pixels)
    if width * height > limit:
        raise ImageTooLargeError(f"the {what} canvas would be {width}x{height} = {width * height:,} pixels,"
                                 f" over the limit of {limit:,} (raise it with --max-pixels or HOLEFILL_MAX_PIXELS)")


def outpaint_canvas(image: np.ndarray, *, left: int = 0, right: int = 0, top: int = 0,
                    bottom: int = 0, max_pixels: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The enlarged canvas (new area black) and its mask (True on the new area); a canvas over
    ``max_pixels`` (see :func:`check_canvas`) is refused before it is allocated."""
    image = check_image(image)
    left, right = _side(left, "left"), _side(right, "right")
    top, bottom = _side(top, "top"), _side(bottom, "bottom")
    if left + right + top + bottom == 0:
        raise InvalidArgumentError("outpaint needs at least one of left, right, top, bottom > 0")
    h, w = image.shape[:2]
    check_canvas(w + left + right, h + top + bottom, "outpaint", max_pixels)
    canvas = np.zeros((h + top + bottom, w + left + right, 3), np.uint8)
    canvas[top:top + h, left:left + w] = image
    mask = np.ones(canvas.shape[:2], bool)
    mask[top:top + h, left:left + w] = False
    return canvas, mask


def outpaint(image: np.ndarray, *, left: int = 0, right: int = 0, top: int = 0, bottom: int = 0,
             method: str | Filler | None = None, weights: str | Path | None = None,
             device: str | None = None, max_pixels: int | None = None, **options: Any) -> np.ndarray:
    """Extend ``image`` past its borders by the given numbers of pixels on each side."""
    canvas, mask = outpaint_canvas(image, left=left, right=right, top=top, bottom=bottom, max_pixels=max_pixels)
    return _resolve(method, weights, device, options, "outpaint").fill(canvas, mask)


def blend_canvas(left: np.ndarray, right: np.ndarray, *, gap: int,
                 max_pixels: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Place ``left`` and ``right`` side by side with ``gap`` empty columns between them.

    ``right`` is resized (keeping its aspect ratio) to ``left``'s height when they differ. A
    canvas over ``max_pixels`` (see :func:`check_canvas`) is refused before it is allocated.
    """
    left, right, gap = prepare_blend(left, right, gap, max_pixels)
    return fillers.blend_canvas(left, right, gap)


def _resolve_blender(method: str | Filler | Blender | None, weights: str | Path | None, device: str | None,
                     options: dict[str, Any]) -> Blender:
    if isinstance(method, Blender):
        if weights is not None or options:
            raise InvalidArgumentError("weights and options go to the blender's constructor, not here")
        return method
    if isinstance(method, Filler):
        return CanvasBlender(_resolve(method, weights, device, options, "blend"))
    # "blend*": the cache keeps blenders apart from the fillers of the same rows.
    return _cached(method, "blend*", weights, device, options,
                   lambda: get_blender(method, weights=weights, device=device, **options))


def blend(left: np.ndarray, right: np.ndarray, *, gap: int = 128, method: str | Filler | Blender | None = None,
          weights: str | Path | None = None, device: str | None = None, max_pixels: int | None = None,
          **options: Any) -> np.ndarray:
    """Wide-range blending: join two photos with ``gap`` columns of generated content between.

    ``method`` is a blending method (a :class:`~holefill.fillers.Blender`) or any inpainting
    method, which then fills the gap of the ``left | gap | right`` canvas. The photos come
    back unchanged (``right`` resized to ``left``'s height when the heights differ). A
    panorama over ``max_pixels`` is refused before any work.
    """
    return _resolve_blender(method, weights, device, options).blend(left, right, gap, max_pixels=max_pixels)


def upscale(image: np.ndarray, scale: float, method: str | Upscaler | None = None, *,
            weights: str | Path | None = None, device: str | None = None, max_pixels: int | None = None,
            **options: Any) -> np.ndarray:
    """Enlarge ``image`` (HxWx3 uint8 RGB) by ``scale`` (above 1, e.g. 2.5) to ``floor(scale H) x floor(scale W)``.

    ``method`` is an upscaler's name (``holefill.list_methods(task="upscale")``; the upscaling
    default when None) or a ready :class:`~holefill.upscalers.Upscaler`. An output of more than
    ``max_pixels`` pixels (default: holefill's image limit) is refused before any work.
    """
    return _resolve(method, weights, device, options, "upscale").upscale(image, scale, max_pixels=max_pixels)


def generate(method: str | Generator, n: int = 1, *, seed: int = 0, weights: str | Path | None = None,
             device: str | None = None, max_pixels: int | None = None, controls: dict[str, Any] | None = None,
             **options: Any) -> list[np.ndarray]:
    """``n`` new images (HxWx3 uint8 RGB) from the generator ``method``, drawn with ``seed``.

    ``controls`` edit what is drawn, for generators that have them (GIRAFFE:
    ``move_object=(dx, dy)``, ``rotate=degrees``, ``swap_appearance=True``).
    """
    return _resolve(method, weights, device, options, "generate").generate(n, seed, max_pixels=max_pixels,
                                                                            **(controls or {}))
