"""The ``holefill`` command line: one Typer app.

Bad input never shows a traceback: a :class:`~holefill.errors.HolefillError` prints as one
line, ``error: FILE: problem``, and the command exits with code 2. Warnings print as one
``warning:`` line each.
"""

from __future__ import annotations

import functools
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional, TypeVar

import typer

from holefill.errors import HolefillError, InvalidArgumentError, HolefillWarning

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="holefill",
    help="Fill holes in images: inpaint, outpaint, blend; compare methods on one benchmark.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Build datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")


def echo_err(message: str) -> None:
    typer.echo(message, err=True)


def handles_errors(func: F) -> F:
    """Run a command so that bad input prints one line and exits 2, and holefill's warnings
    print as one ``warning:`` line each, as they happen (a long training run shows them at once)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("always", HolefillWarning)
            default_show = warnings.showwarning

            def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
                if issubclass(category, HolefillWarning):
                    echo_err(f"warning: {message}")
                else:
                    default_show(message, category, filename, lineno, file, line)

            warnings.showwarning = show
            try:
                return func(*args, **kwargs)
            except HolefillError as err:
                echo_err(f"error: {err}")
                raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _parse_options(pairs: list[str] | None) -> dict[str, Any]:
    """``--option key=value`` pairs to keyword arguments (numbers parsed, else strings)."""
    options: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise InvalidArgumentError(f"--option takes key=value, got {pair!r}")
        key, raw = pair.split("=", 1)
        value: Any = raw
        for cast in (int, float):
            try:
                value = cast(raw)
                break
            except ValueError:
                continue
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        options[key.strip().replace("-", "_")] = value
    return options


MethodOpt = typer.Option(None, "--method", "-m", help="Method name (see `holefill methods`); default: the best classical.")
WeightsOpt = typer.Option(None, "--weights", "-w", help="Weights folder for a learned method.")
DeviceOpt = typer.Option(None, "--device", help="Where a learned model runs: cpu, cuda or mps.")
OverwriteOpt = typer.Option(False, "--overwrite", help="Allow replacing existing files, inputs included.")
MaxPixelsOpt = typer.Option(None, "--max-pixels", help="Refuse images with more pixels (default 100 M, or HOLEFILL_MAX_PIXELS).")
OptionOpt = typer.Option(None, "--option", "-O", help="A method option as key=value, e.g. -O radius=5. Repeatable.")


def _make_filler(method: str | None, weights: Path | None, device: str | None, option: list[str] | None):
    from holefill.methods import get_filler

    return get_filler(method, weights=weights, device=device, **_parse_options(option))


def _load_pair(image_path: Path, mask_path: Path | None, *, mask_from_alpha: bool, resize_mask: bool,
               max_pixels: int | None):
    from holefill import io

    image, alpha_hole = io.read_image_with_alpha(image_path, max_pixels=max_pixels)
    if mask_from_alpha:
        if mask_path is not None:
            raise InvalidArgumentError("give either --mask or --mask-from-alpha, not both")
        if alpha_hole is None:
            raise InvalidArgumentError("has no alpha channel to take the mask from", image_path)
        return image, alpha_hole
    if mask_path is None:
        raise InvalidArgumentError("a mask is needed: pass --mask FILE (or --mask-from-alpha)")
    mask = io.read_mask(mask_path, shape=image.shape[:2], resize=resize_mask, max_pixels=max_pixels)
    return image, mask


@app.command()
@handles_errors
def inpaint(
    image: Path = typer.Argument(..., help="An image file, or a folder of images for batch mode."),
    output: Path = typer.Option(..., "--output", "-o", help="Output file (a folder in batch mode)."),
    mask: Optional[Path] = typer.Option(None, "--mask", help="Mask file: white = hole."),
    mask_dir: Optional[Path] = typer.Option(None, "--mask-dir", help="Batch mode: masks matched to images by file stem."),
    method: Optional[str] = MethodOpt,
    weights: Optional[Path] = WeightsOpt,
    device: Optional[str] = DeviceOpt,
    option: Optional[list[str]] = OptionOpt,
    mask_from_alpha: bool = typer.Option(False, "--mask-from-alpha", help="Use the image's transparent pixels as the hole."),
    resize_mask: bool = typer.Option(False, "--resize-mask", help="Resize a mask of another size (nearest)."),
    compare: Optional[Path] = typer.Option(None, "--compare", help="Also write a before/after picture here."),
    flow: Optional[Path] = typer.Option(None, "--flow", help="Also write the contextual attention as a colour-coded "
                                        "flow picture here (deepfill_v1, deepfill_v2, foreground_aware)."),
    samples: int = typer.Option(1, "--samples", help="Write K different fills (OUT-1, OUT-2, ...); stochastic "
                                "methods only: patchmatch, models with contextual attention."),
    seed: int = typer.Option(0, "--seed", help="Seed of the first sample (sample i uses seed + i)."),
    overwrite: bool = OverwriteOpt,
    max_pixels: Optional[int] = MaxPixelsOpt,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Fill the hole that a mask marks in IMAGE (or in every image of a folder)."""
    from holefill import io
    from holefill.viz import comparison

    if samples < 1:
        raise InvalidArgumentError(f"--samples must be at least 1, got {samples}")
    if seed < 0:
        raise InvalidArgumentError(f"--seed must be >= 0, got {seed}")
    if image.is_dir():
        if flow is not None:
            raise InvalidArgumentError("--flow draws one image's attention: give an image file, not a folder", image)
        if samples > 1:
            raise InvalidArgumentError("--samples is for one image: give an image file, not a folder", image)
        _inpaint_batch(image, mask_dir, output, method=method, weights=weights, device=device, option=option,
                       mask_from_alpha=mask_from_alpha, resize_mask=resize_mask, overwrite=overwrite,
                       max_pixels=max_pixels, quiet=quiet)
        return
    if mask_dir is not None:
        raise InvalidArgumentError("--mask-dir is for batch mode: give a folder of images", image)
    inputs = [image] + ([mask] if mask else [])
    outputs = [output] if samples == 1 else [sample_path(output, i) for i in range(1, samples + 1)]
    for target in outputs + [p for p in (compare, flow) if p is not None]:
        io.check_output_path(target, overwrite=overwrite, inputs=inputs)
    img, hole = _load_pair(image, mask, mask_from_alpha=mask_from_alpha, resize_mask=resize_mask, max_pixels=max_pixels)
    filler = _make_filler(method, weights, device, option)
    if flow is not None:
        _check_flow(filler)
    start = time.perf_counter()
    if samples == 1 and seed == 0:
        fills = [filler.fill(img, hole)]
    else:
        fills = filler.fill_samples(img, hole, samples, seed)
    seconds = time.perf_counter() - start
    for target, filled in zip(outputs, fills):
        io.write_image(target, filled, overwrite=overwrite, inputs=inputs)
    filled = fills[0]
    if compare is not None:
        io.write_image(compare, comparison(img, hole, filled), overwrite=overwrite, inputs=[image])
    if flow is not None:
        io.write_image(flow, attention_flow(filler, img, hole), overwrite=overwrite, inputs=[image])
    if not quiet:
        where = output if samples == 1 else f"{outputs[0]} ... {outputs[-1]}"
        echo_err(f"{filler.name}: filled {int(hole.sum()):,} pixels of {image} in {seconds:.2f} s -> {where}")


def sample_path(output: Path, index: int) -> Path:
    """Where sample ``index`` (from 1) of ``--samples`` goes: ``out.png`` -> ``out-1.png``."""
    return output.with_name(f"{output.stem}-{index}{output.suffix}")


def flow_methods() -> list[str]:
    """Registered models whose forward pass can return contextual-attention offsets (``return_flow``)."""
    import inspect
    from typing import get_type_hints

    from holefill.models.registry import list_models, model_entry

    names = []
    for name in list_models():
        try:
            cls = get_type_hints(model_entry(name).factory).get("return")
        except (NameError, TypeError):  # an annotation that does not resolve: not a flow model
            continue
        if isinstance(cls, type) and "return_flow" in inspect.signature(cls.forward).parameters:
            names.append(name)
    return names


def _supports_flow(filler: Any) -> bool:
    import inspect

    from holefill.pipeline import ModelFiller

    return isinstance(filler, ModelFiller) and "return_flow" in inspect.signature(filler.model.forward).parameters


def _check_flow(filler: Any) -> None:
    if not _supports_flow(filler):
        raise InvalidArgumentError(f"--flow: method {filler.name!r} has no contextual attention to draw; "
                                   f"it works with {', '.join(flow_methods())}")


def attention_flow(filler: Any, image: Any, mask: Any) -> Any:
    """The attention offsets of ``filler``'s model on (image, mask) as a flow picture of the image's size.

    The network runs once more, on the whole image (shrunk to the filler's ``resize_limit``
    when larger, as the ``resize`` strategy does), with ``return_flow=True``; the offsets
    (one per 8x8 pixels) are drawn by :func:`holefill.layers.contextual_attention.flow_to_image`
    and enlarged (nearest neighbour) to the image's size.
    """
    import cv2
    import numpy as np
    import torch
    import torch.nn.functional as F

    from holefill.layers.contextual_attention import flow_to_image
    from holefill.pipeline import to_tensor

    _check_flow(filler)
    h, w = mask.shape
    scale = min(1.0, filler.resize_limit / max(h, w))
    sh, sw = max(1, round(h * scale)), max(1, round(w * scale))
    if (sh, sw) != (h, w):
        image = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask.astype(np.uint8), (sw, sh), interpolation=cv2.INTER_NEAREST) > 0
    x, m = to_tensor(np.array(image), mask, filler.device)  # a writable copy: torch warns about read-only arrays
    k = filler.model.size_multiple
    ph, pw = (-sh) % k, (-sw) % k
    if ph or pw:
        mode = "reflect" if ph < sh and pw < sw else "replicate"
        x, m = F.pad(x, (0, pw, 0, ph), mode=mode), F.pad(m, (0, pw, 0, ph), mode=mode)
    with torch.inference_mode():
        offsets = filler.model(x, m, return_flow=True).offsets
    picture = flow_to_image(offsets[0], size=(sh + ph, sw + pw))[:sh, :sw]
    if (sh, sw) != (h, w):
        picture = cv2.resize(picture, (w, h), interpolation=cv2.INTER_NEAREST)
    return np.ascontiguousarray(picture)


def _inpaint_batch(folder: Path, mask_dir: Path | None, out_dir: Path, *, method: str | None, weights: Path | None,
                   device: str | None, option: list[str] | None, mask_from_alpha: bool, resize_mask: bool,
                   overwrite: bool, max_pixels: int | None, quiet: bool) -> None:
    from tqdm import tqdm

    from holefill import io

    if mask_dir is None and not mask_from_alpha:
        raise InvalidArgumentError("batch mode needs --mask-dir DIR (or --mask-from-alpha)", folder)
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidArgumentError("batch mode writes into a folder, and this is a file", out_dir)
    images = io.list_images(folder)
    if not images:
        raise InvalidArgumentError("holds no images (PNG, JPEG, WebP, BMP or TIFF)", folder)
    masks: dict[str, Path] = {}
    if mask_dir is not None:
        for m in io.list_images(mask_dir):
            masks.setdefault(m.stem, m)
    filler = _make_filler(method, weights, device, option)
    failures: list[str] = []
    done = 0
    start = time.perf_counter()
    bar = tqdm(images, desc=f"inpaint ({filler.name})", unit="img", disable=quiet, file=sys.stderr)
    for path in bar:
        try:
            mask_path = None if mask_from_alpha else masks.get(path.stem)
            if not mask_from_alpha and mask_path is None:
                raise InvalidArgumentError(f"no mask named {path.stem}.* in {mask_dir}", path)
            target = out_dir / path.name
            io.check_output_path(target, overwrite=overwrite, inputs=[path] + ([mask_path] if mask_path else []))
            img, hole = _load_pair(path, mask_path, mask_from_alpha=mask_from_alpha, resize_mask=resize_mask,
                                   max_pixels=max_pixels)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", HolefillWarning)
                filled = filler.fill(img, hole)
            for w in caught:
                tqdm.write(f"warning: {path}: {w.message}", file=sys.stderr)
            io.write_image(target, filled, overwrite=overwrite, inputs=[path] + ([mask_path] if mask_path else []))
            done += 1
        except HolefillError as err:
            failures.append(str(err))
            tqdm.write(f"error: {err}", file=sys.stderr)
    bar.close()
    seconds = time.perf_counter() - start
    echo_err(f"filled {done} of {len(images)} images with {filler.name} in {seconds:.1f} s -> {out_dir}"
             + (f"; {len(failures)} failed" if failures else ""))
    if failures:
        raise typer.Exit(2)


def _parse_side(value: str | None, size: int, name: str) -> int:
    """A side width in pixels ("64") or as a percentage of the image's size ("25%")."""
    if value is None:
        return 0
    text = value.strip()
    try:
        if text.endswith("%"):
            pct = float(text[:-1])
            if pct < 0:
                raise ValueError
            return int(round(size * pct / 100.0))
        pixels = int(text)
        if pixels < 0:
            raise ValueError
        return pixels
    except ValueError:
        raise InvalidArgumentError(f"--{name} takes pixels (64) or a percentage (25%), got {value!r}") from None


@app.command()
@handles_errors
def outpaint(
    image: Path = typer.Argument(..., help="The image to extend."),
    output: Path = typer.Option(..., "--output", "-o", help="Output file."),
    left: Optional[str] = typer.Option(None, "--left", help="Pixels (64) or percent of the width (25%) to add."),
    right: Optional[str] = typer.Option(None, "--right", help="Likewise, on the right."),
    top: Optional[str] = typer.Option(None, "--top", help="Pixels or percent of the height to add on top."),
    bottom: Optional[str] = typer.Option(None, "--bottom", help="Likewise, at the bottom."),
    method: Optional[str] = MethodOpt,
    weights: Optional[Path] = WeightsOpt,
    device: Optional[str] = DeviceOpt,
    option: Optional[list[str]] = OptionOpt,
    compare: Optional[Path] = typer.Option(None, "--compare", help="Also write a before/after picture here."),
    overwrite: bool = OverwriteOpt,
    max_pixels: Optional[int] = MaxPixelsOpt,
) -> None:
    """Extend IMAGE past its borders."""
    from holefill import io
    from holefill.api import outpaint_canvas
    from holefill.viz import comparison

    io.check_output_path(output, overwrite=overwrite, inputs=[image])
    img = io.read_image(image, max_pixels=max_pixels)
    h, w = img.shape[:2]
    canvas, hole = outpaint_canvas(img, left=_parse_side(left, w, "left"), right=_parse_side(right, w, "right"),
                                   top=_parse_side(top, h, "top"), bottom=_parse_side(bottom, h, "bottom"))
    filled = _make_filler(method, weights, device, option).fill(canvas, hole)
    io.write_image(output, filled, overwrite=overwrite, inputs=[image])
    if compare is not None:
        io.write_image(compare, comparison(canvas, hole, filled), overwrite=overwrite, inputs=[image])
    echo_err(f"extended {w}x{h} to {filled.shape[1]}x{filled.shape[0]} -> {output}")


@app.command()
@handles_errors
def blend(
    left: Path = typer.Argument(..., help="The left photo."),
    right: Path = typer.Argument(..., help="The right photo (resized to the left one's height)."),
    output: Path = typer.Option(..., "--output", "-o", help="Output file."),
    gap: int = typer.Option(128, "--gap", help="Columns of generated content between the photos."),
    method: Optional[str] = MethodOpt,
    weights: Optional[Path] = WeightsOpt,
    device: Optional[str] = DeviceOpt,
    option: Optional[list[str]] = OptionOpt,
    overwrite: bool = OverwriteOpt,
    max_pixels: Optional[int] = MaxPixelsOpt,
) -> None:
    """Join LEFT and RIGHT with generated content between them (wide-range blending)."""
    from holefill import io
    from holefill.api import blend_canvas

    io.check_output_path(output, overwrite=overwrite, inputs=[left, right])
    a = io.read_image(left, max_pixels=max_pixels)
    b = io.read_image(right, max_pixels=max_pixels)
    canvas, hole = blend_canvas(a, b, gap=gap)
    filled = _make_filler(method, weights, device, option).fill(canvas, hole)
    io.write_image(output, filled, overwrite=overwrite, inputs=[left, right])
    echo_err(f"blended into {filled.shape[1]}x{filled.shape[0]} -> {output}")


@app.command()
@handles_errors
def methods(
    kind: Optional[str] = typer.Option(None, "--kind", help="Only 'classical' or 'learned'."),
) -> None:
    """List the methods, one line each."""
    from holefill.methods import DEFAULT_METHOD, list_methods

    if kind not in (None, "classical", "learned"):
        raise InvalidArgumentError(f"--kind is 'classical' or 'learned', got {kind!r}")
    rows = list_methods(kind)
    width = max((len(r.name) for r in rows), default=4)
    for r in rows:
        status = "ready" if r.ready else "needs --weights"
        star = " (default)" if r.name == DEFAULT_METHOD else ""
        typer.echo(f"{r.name:<{width}}  {r.kind:<9}  {status:<15}  {r.summary}{star}")


def _parse_weights(pairs: list[str] | None) -> dict[str, Path]:
    """``--weights NAME=DIR`` pairs (bench, serve): which folder each learned method loads."""
    out: dict[str, Path] = {}
    for pair in pairs or []:
        name, sep, folder = pair.partition("=")
        if not sep or not name.strip() or not folder.strip():
            raise InvalidArgumentError(f"--weights takes METHOD=DIR, got {pair!r}")
        path = Path(folder.strip())
        if not path.is_dir():
            raise InvalidArgumentError("no such weights folder", path)
        out[name.strip()] = path
    return out


def _parse_size(value: str) -> tuple[int, int]:
    """``--size`` as (h, w): "256" is 256x256, "256x192" is 256 wide and 192 high."""
    text = value.strip().lower()
    parts = text.split("x")
    try:
        if len(parts) not in (1, 2) or not all(p.strip().isdigit() for p in parts):
            raise ValueError
        w = int(parts[0])
        h = int(parts[1]) if len(parts) == 2 else w
        if not (1 <= w <= 16384 and 1 <= h <= 16384):
            raise ValueError
    except ValueError:
        raise InvalidArgumentError(f"--size takes W or WxH in pixels (1..16384), e.g. 256 or 256x192, got {value!r}") from None
    return h, w


@app.command()
@handles_errors
def masks(
    output: Path = typer.Option(..., "--output", "-o", help="Folder to write the masks into (000.png, 001.png, ...)."),
    kind: Optional[str] = typer.Option(None, "--kind", "-k", help="Mask kind: center, box, region, freeform, irregular, outpaint, mixture (default mixture)."),
    ratio: Optional[str] = typer.Option(None, "--ratio", "-r", help="Hole-ratio range, e.g. 20-30 (percent) or 0.2-0.3; default any."),
    count: Optional[int] = typer.Option(None, "--count", "-n", help="Masks per set (default 100)."),
    size: str = typer.Option("256", "--size", "-s", help="Mask size: W or WxH, e.g. 256 or 256x192."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the set (default 0); the same seed gives the same masks."),
    standard: bool = typer.Option(False, "--standard", help="Write every set of the standard benchmark into OUTPUT/<label>/."),
    option: Optional[list[str]] = typer.Option(None, "--option", "-O", help="A generator parameter as key=value, e.g. -O sides=left. Repeatable."),
    overwrite: bool = OverwriteOpt,
) -> None:
    """Write a fixed, seeded mask set for one hole-ratio bucket, or the standard benchmark's sets."""
    from holefill.masks import (
        STANDARD_COUNT,
        STANDARD_SEED,
        hole_ratio,
        mask_set,
        parse_ratio,
        standard_mask_sets,
        write_mask_set,
        write_mask_sets,
    )

    h, w = _parse_size(size)
    n = STANDARD_COUNT if count is None else count
    if n < 1:
        raise InvalidArgumentError(f"--count must be at least 1, got {n}")
    s = STANDARD_SEED if seed is None else seed
    if s < 0:
        raise InvalidArgumentError(f"--seed must be a non-negative integer, got {s}")
    if standard:
        if kind is not None or ratio is not None or option:
            raise InvalidArgumentError("--standard writes the fixed protocol sets; it takes no --kind, --ratio or --option")
        sets = standard_mask_sets(size=(h, w), count=n, seed=s)
        write_mask_sets(sets, output, overwrite=overwrite)
        means = ", ".join(f"{label} {sum(hole_ratio(m) for m in ms) / len(ms):.3f}" for label, ms in sets.items())
        total = sum(len(ms) for ms in sets.values())
        echo_err(f"wrote {total} masks ({w}x{h}, {len(sets)} sets of {n}, seed {s}) to {output}; mean hole ratio: {means}")
        return
    lo, hi = parse_ratio(ratio) if ratio is not None else (0.0, 1.0)
    name = kind or "mixture"
    made = mask_set(name, lo, hi, n, (h, w), s, **_parse_options(option))
    write_mask_set(made, output, overwrite=overwrite)
    mean = sum(hole_ratio(m) for m in made) / len(made)
    echo_err(f"wrote {len(made)} {name} masks ({w}x{h}, hole ratio {100 * lo:g}-{100 * hi:g} %, seed {s})"
             f" to {output}; mean hole ratio {mean:.3f}")


def _mask_sets_for(images: Path, imgs: list, masks: Path | None, generate: bool, sets: str | list[str] | None,
                   count: int | None, seed: int) -> tuple[dict, str]:
    """The mask sets for bench/eval, and the report line that says where they came from."""
    from holefill import benchmark as B
    from holefill.masks.protocol import read_mask_sets

    if (masks is None) == (not generate):
        raise InvalidArgumentError("give either --masks DIR or --generate")
    if isinstance(sets, str):
        sets = [x for x in sets.split(",")]
    chosen = [x.strip() for x in sets or [] if x.strip()] or None
    if generate:
        size = imgs[0][1].shape[:2]
        n = count if count is not None else min(len(imgs), 100)
        if n < 1:
            raise InvalidArgumentError(f"--count must be at least 1, got {n}")
        return B.generated_mask_sets(size, n, seed, chosen), B.protocol_notes(images, len(imgs), "generated", size, n, seed)
    assert masks is not None
    loaded = read_mask_sets(masks)
    if chosen:
        missing = [c for c in chosen if c not in loaded]
        if missing:
            raise InvalidArgumentError(f"has no mask set {', '.join(missing)}; it has {', '.join(loaded)}", masks)
        loaded = {c: loaded[c] for c in chosen}
    return loaded, B.protocol_notes(images, len(imgs), str(masks), None, None, seed)


def _run_bench(fillers: dict, images: Path, masks: Path | None, generate: bool, sets: str | list[str] | None,
               count: int | None, seed: int, limit: int | None, out_dir: Path | None, overwrite: bool, quiet: bool,
               title: str, base=None):
    """Shared by ``bench`` and ``eval``: load, pair, fill, score and (optionally) write the report.

    ``base`` (an Evaluator read from an earlier report in ``out_dir``) gets the new records
    after a check that this run pairs the same images and masks.
    """
    from holefill import benchmark as B
    from holefill.metrics import Evaluator

    if out_dir is not None and base is None:
        B.check_report_dir(out_dir, overwrite=overwrite)
    imgs = B.load_images(images, limit)
    mask_sets, notes = _mask_sets_for(images, imgs, masks, generate, sets, count, seed)
    if base is not None:
        B.check_same_pairs(base, B.pairs(imgs, mask_sets), out_dir)
        base.notes = notes
    evaluator = B.run_benchmark(fillers, imgs, mask_sets, evaluator=base or Evaluator(title=title, notes=notes),
                                progress=not quiet)
    if out_dir is not None:
        paths = B.write_report(evaluator, out_dir, overwrite=overwrite)
        echo_err(f"report: {paths['report']}, {paths['summary']}, {paths['results']}, {paths['chart']}")
    return evaluator


@app.command()
@handles_errors
def bench(
    images: Path = typer.Option(..., "--images", help="Folder of ground-truth images (e.g. the corpus test crops)."),
    methods: Optional[str] = typer.Option(None, "--methods", help="Comma-separated methods; default: every ready method."),
    masks: Optional[Path] = typer.Option(None, "--masks", help="Folder of mask sets (one subfolder per set)."),
    generate: bool = typer.Option(False, "--generate", help="Use the standard protocol's mask sets, generated."),
    sets: Optional[str] = typer.Option(None, "--sets", help="Only these mask sets, comma-separated (e.g. 20-30,center)."),
    count: Optional[int] = typer.Option(None, "--count", help="Masks per generated set (default: one per image, at most 100)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the generated mask sets."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Use only the first N images."),
    weights: Optional[list[str]] = typer.Option(None, "--weights", "-w", help="Weights for a learned method: name=DIR. Repeatable."),
    device: Optional[str] = DeviceOpt,
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Report folder (default: bench-<date-time>)."),
    add_to: Optional[Path] = typer.Option(None, "--add-to", help="Add these methods to an earlier report folder "
                                          "(same images and masks); its results are kept and the report rewritten."),
    overwrite: bool = OverwriteOpt,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Compare methods on fixed mask sets: PSNR, SSIM, hole L1 and s/img per method and set."""
    from holefill import benchmark as B
    from holefill.methods import get_filler, list_methods
    from holefill.metrics import Evaluator

    base = None
    if add_to is not None:
        if output is not None:
            raise InvalidArgumentError("give --add-to or --output, not both")
        if not (add_to / "results.csv").is_file():
            raise InvalidArgumentError("holds no results.csv of an earlier holefill bench", add_to)
        base = Evaluator.read_csv(add_to / "results.csv", title="holefill bench")
        out_dir, overwrite = add_to, True  # the rewritten report holds every earlier record
    else:
        out_dir = output or Path(time.strftime("bench-%Y%m%d-%H%M%S"))
        B.check_report_dir(out_dir, overwrite=overwrite)
    if (masks is None) == (not generate):
        raise InvalidArgumentError("give either --masks DIR or --generate")
    named_weights = _parse_weights(weights)
    names = [m.strip() for m in methods.split(",") if m.strip()] if methods else \
        [m.name for m in list_methods() if m.ready and not (base and m.name in base.methods)]
    if not names:
        raise InvalidArgumentError("--methods names no method" if methods or base is None
                                   else "every ready method is in the report already")
    stray = sorted(set(named_weights) - set(names))
    if stray:
        raise InvalidArgumentError(f"--weights for {', '.join(stray)}, which is not in --methods")
    if base is not None:
        again = [n for n in names if n in base.methods]
        if again:
            raise InvalidArgumentError(f"already has results for {', '.join(again)}; leave them out of --methods, "
                                       "or write a new report with -o", add_to)
    fillers = {n: get_filler(n, weights=named_weights.get(n), device=device) for n in names}
    evaluator = _run_bench(fillers, images, masks, generate, sets, count, seed, limit, out_dir, overwrite, quiet,
                           "holefill bench", base=base)
    typer.echo(B.summary_table(evaluator))


@app.command("eval")
@handles_errors
def eval_cmd(
    images: Path = typer.Option(..., "--images", help="Folder of ground-truth images."),
    method: Optional[str] = MethodOpt,
    weights: Optional[Path] = WeightsOpt,
    masks: Optional[Path] = typer.Option(None, "--masks", help="Folder of masks, or of mask sets (one subfolder each)."),
    generate: bool = typer.Option(False, "--generate", help="Use the standard protocol's mask sets, generated."),
    sets: Optional[str] = typer.Option(None, "--sets", help="Only these mask sets, comma-separated."),
    count: Optional[int] = typer.Option(None, "--count", help="Masks per generated set (default: one per image, at most 100)."),
    seed: int = typer.Option(0, "--seed", help="Seed of generated mask sets."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Use only the first N images."),
    device: Optional[str] = DeviceOpt,
    option: Optional[list[str]] = OptionOpt,
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write the report files (CSV, Markdown, chart) here."),
    overwrite: bool = OverwriteOpt,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Score one method (e.g. a trained model: --method M --weights DIR) on the benchmark protocol."""
    filler = _make_filler(method, weights, device, option)
    evaluator = _run_bench({filler.name: filler}, images, masks, generate, sets, count, seed, limit, output,
                           overwrite, quiet, f"holefill eval: {filler.name}")
    typer.echo(evaluator.to_markdown())


def _config_path(config: str) -> Path:
    """A config file, or the name of a config shipped in holefill/configs."""
    from holefill.train.config import bundled_configs

    path = Path(config)
    if not path.exists() and path.suffix == "" and config in bundled_configs():
        return bundled_configs()[config]
    return path


@app.command("train")
@handles_errors
def train_cmd(
    config: str = typer.Argument(..., help="A YAML training config (or the name of a bundled one)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder (default: train.out, else runs/<config name>)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in the run folder from its last checkpoint."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start again in a run folder that holds a run."),
    set_: Optional[list[str]] = typer.Option(None, "--set", "-s", help="Override a config key: --set train.steps=100. Repeatable."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Train a model as CONFIG says; the EMA generator ends up in RUN/final (use it with --weights).

    Under torchrun every process runs this command; the global batch is data.batch_size times the number of processes.
    """
    from holefill.train.config import load_config
    from holefill.train.trainer import train as run_training

    cfg = load_config(_config_path(config), set_ or [])
    start = time.perf_counter()
    final = run_training(cfg, out, resume=resume, overwrite=overwrite, progress=not quiet)
    echo_err(f"trained {cfg.model.name} with recipe {cfg.recipe.name} for {cfg.train.steps} steps"
             f" in {time.perf_counter() - start:.0f} s -> {final} (use --method {cfg.model.name} --weights {final})")


@app.command("models")
@handles_errors
def models_cmd() -> None:
    """List the model architectures (parameter counts of their paper configs) and the weights
    shipped in the package (ready methods)."""
    from holefill.models.base import read_config
    from holefill.models.registry import create_model, list_models, model_entry
    from holefill.models.shipped import list_shipped

    names = list_models()
    shipped = list_shipped()
    if not names:
        typer.echo("no model architectures are registered")
        return
    width = max(len(n) for n in names + [s.name for s in shipped])
    typer.echo("architectures (train them, or pass --weights):")
    for name in names:
        params = create_model(name).num_parameters()
        typer.echo(f"  {name:<{width}}  {params / 1e6:>6.2f} M params  {model_entry(name).summary}")
    typer.echo("shipped weights (ready: --method NAME; model card in the folder):")
    if not shipped:
        typer.echo("  none")
    for s in shipped:
        params = read_config(s.path).get("num_parameters", 0)
        typer.echo(f"  {s.name:<{width}}  {params / 1e6:>6.2f} M params  {s.summary or s.architecture}")


@app.command("convert")
@handles_errors
def convert_cmd(
    model: str = typer.Argument(..., help="The model: edgeconnect or pennet."),
    sources: list[Path] = typer.Argument(..., help="The official checkpoint: edgeconnect a model folder (or its "
                                                   "EdgeModel_gen.pth and InpaintingModel_gen.pth), pennet a gen_XXXXX.pth."),
    output: Path = typer.Option(..., "--output", "-o", help="The weights folder to write (new or empty)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace weights already in the folder."),
) -> None:
    """Turn the authors' released checkpoints into a weights folder for --weights."""
    from holefill.models.convert import convert_official

    folder = convert_official(model, sources, output, overwrite=overwrite)
    echo_err(f"converted {model} from {', '.join(str(s) for s in sources)} -> {folder}"
             f" (use --method {model} --weights {folder})")


@data_app.command("photos")
@handles_errors
def data_photos(
    output: Path = typer.Option(..., "--output", "-o", help="Folder to build the corpus in (new or empty)."),
    size: int = typer.Option(256, "--size", help="Side of the square crops, in pixels."),
    short_side: int = typer.Option(512, "--short-side", help="Photos are scaled to this short side before cropping."),
    sources: str = typer.Option("lomiri-16.04,lomiri-20.04,mate,skimage", "--sources",
                                help="Comma-separated sources: lomiri-16.04, lomiri-20.04, mate, skimage."),
    backgrounds_root: Path = typer.Option(Path("/usr/share/backgrounds"), "--backgrounds-root",
                                          help="Where the Debian wallpaper packages put their photos."),
    allow_missing: bool = typer.Option(False, "--allow-missing", help="Warn about missing packages and build without them."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a corpus already in the folder."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Build the photo corpus (crops, scaled photos, manifest, licences, splits) from free photos."""
    from holefill.data.corpus import build_photo_corpus

    summary = build_photo_corpus(output, size=size, short_side=short_side, sources=sources,
                                 backgrounds_root=backgrounds_root, allow_missing=allow_missing,
                                 overwrite=overwrite, progress=not quiet)
    typer.echo(summary.describe())
@app.command()
@handles_errors
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; anything but loopback is reachable by others."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    study: Optional[Path] = typer.Option(None, "--study", help="Also serve this study folder at /study."),
    max_upload_mb: float = typer.Option(20.0, "--max-upload-mb", help="Largest request body, in MB (413 above)."),
    max_pixels: Optional[int] = typer.Option(None, "--max-pixels", help="Largest image, in pixels (default 25 M)."),
    workers: int = typer.Option(2, "--workers", help="Fills that run at the same time (threads)."),
    max_queue: int = typer.Option(64, "--max-queue", help="Fill requests that may run or wait; more get 503."),
    weights: Optional[list[str]] = typer.Option(None, "--weights", "-w", help="METHOD=DIR: weights for a learned method. Repeatable."),
    device: Optional[str] = DeviceOpt,
    log_level: str = typer.Option("info", "--log-level", help="uvicorn's log level."),
) -> None:
    """Run the web app and REST API (docs at /docs)."""
    try:
        import uvicorn

        from holefill.web.app import DEFAULT_SERVER_MAX_PIXELS, ServerSettings, bind_warning, create_app, is_loopback
    except ImportError as exc:
        from holefill.errors import MissingDependencyError

        raise MissingDependencyError(f"the web app needs the serve extra ({exc.name} is missing):"
                                     " pip install 'holefill[serve]'") from None
    if not 0 < port < 65536:
        raise InvalidArgumentError(f"--port must be 1 to 65535, got {port}")
    if not max_upload_mb > 0:
        raise InvalidArgumentError(f"--max-upload-mb must be positive, got {max_upload_mb}")
    warning = bind_warning(host)
    if warning:
        echo_err(f"warning: {warning}")
    loopback = ("127.0.0.1", "localhost", "[::1]", "::1")
    settings = ServerSettings(
        max_upload_bytes=int(max_upload_mb * 1024 * 1024),
        max_pixels=max_pixels if max_pixels is not None else DEFAULT_SERVER_MAX_PIXELS,
        workers=workers,
        max_queue=max_queue,
        weights=_parse_weights(weights),
        device=device,
        study_dir=study,
        allowed_hosts=loopback if is_loopback(host) else None,
    )
    web_app = create_app(settings)
    shown = f"[{host}]" if ":" in host else host
    echo_err(f"holefill is serving on http://{shown}:{port}/ (API docs at /docs"
             + (", study at /study" if study else "") + "); Ctrl+C stops it")
    # Connections beyond the fill queue plus some room for pages and health checks get 503
    # from uvicorn, so a flood cannot make the server buffer unbounded uploads.
    uvicorn.run(web_app, host=host, port=port, log_level=log_level, limit_concurrency=max_queue + 64)


study_app = typer.Typer(help="Realism studies: do people take the fills for real photos?", no_args_is_help=True)
app.add_typer(study_app, name="study")


@study_app.command("create")
@handles_errors
def study_create(
    real: Path = typer.Option(..., "--real", help="Folder of real photos."),
    fake: list[str] = typer.Option(..., "--fake", help="Folder of one method's results, or NAME=DIR. Repeatable."),
    mode: str = typer.Option("pair", "--mode", help="pair: which of two is real? single: is this one real?"),
    out: Path = typer.Option(Path("holefill-study"), "--out", "-o", help="The study folder to create."),
    count: Optional[int] = typer.Option(None, "--count", help="At most this many images per method (and real ones in single mode)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for sampling, pairing, order and sides (default: random, recorded)."),
    per_participant: Optional[int] = typer.Option(None, "--per-participant", help="Questions per participant (default: all)."),
    question: Optional[str] = typer.Option(None, "--question", help="The question shown (default depends on --mode)."),
    max_pixels: Optional[int] = MaxPixelsOpt,
) -> None:
    """Create a realism study folder (serve it with `holefill serve --study DIR`)."""
    from holefill.web.study import create_study, parse_fake

    made = create_study(out, real, [parse_fake(f) for f in fake], mode=mode, count=count, seed=seed,
                        per_participant=per_participant, question=question, max_pixels=max_pixels)
    methods_word = "method" if len(made.methods) == 1 else "methods"
    echo_err(f"created a {made.mode}-mode study with {len(made.trials)} trials over {len(made.methods)} {methods_word}"
             f" (seed {made.seed}) -> {out}; run: holefill serve --study {out}")


@study_app.command("report")
@handles_errors
def study_report(
    study_dir: Path = typer.Argument(..., help="The study folder."),
    csv_path: Optional[Path] = typer.Option(None, "--csv", help="Also write the table as CSV here."),
    overwrite: bool = OverwriteOpt,
) -> None:
    """Print each method's fooling rate with a 95 % Wilson interval, against chance."""
    from holefill.errors import OutputExistsError
    from holefill.web.study import Study, format_report, report, write_report_csv

    study = Study(study_dir)
    if csv_path is not None:
        if csv_path.suffix.lower() != ".csv":
            raise InvalidArgumentError("--csv needs a file name ending in .csv", csv_path)
        if csv_path.exists() and not overwrite:
            raise OutputExistsError("already exists; pass --overwrite to replace it", csv_path)
    rows = report(study)
    typer.echo(format_report(study, rows))
    if csv_path is not None:
        write_report_csv(rows, csv_path, study.mode)
        echo_err(f"wrote {csv_path}")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
