"""Filling commands: inpaint (one image or a folder), outpaint, blend, and the method list."""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path
from typing import Optional

import typer

from holefill.cli.common import (
    DeviceOpt,
    MaxPixelsOpt,
    MethodOpt,
    OptionOpt,
    OverwriteOpt,
    WeightsOpt,
    echo_err,
    handles_errors,
    load_pair,
    make_filler,
    parse_options,
)
from holefill.errors import HolefillError, HolefillWarning, InvalidArgumentError


def register(app: typer.Typer) -> None:
    """Add this group's commands to ``app``."""
    app.command()(inpaint)
    app.command()(outpaint)
    app.command()(blend)
    app.command()(methods)


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
    guide: Optional[Path] = typer.Option(None, "--guide", help="Fill the hole with content pulled from this photo "
                                         "(guided inpainting; see `holefill methods --task guided`)."),
    db: Optional[Path] = typer.Option(None, "--db", help="Scene completion (-m scene): a folder of photos to take the "
                                      "hole's content from; indexed once, the index is cached in the folder."),
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
    if guide is not None and db is not None:
        raise InvalidArgumentError("give --guide (one photo to fill from) or --db (a folder to search), not both")
    extra: dict = {}
    if db is not None:
        if (method or "scene") != "scene":
            raise InvalidArgumentError(f"--db is the photo database of scene completion (-m scene), not of {method!r}")
        method = "scene"
        # the input photo itself, if it lies in the database, is not a source for its own hole
        extra = {"db": db, "progress": not quiet, **({} if image.is_dir() else {"exclude": image})}
    if image.is_dir():
        if flow is not None:
            raise InvalidArgumentError("--flow draws one image's attention: give an image file, not a folder", image)
        if samples > 1:
            raise InvalidArgumentError("--samples is for one image: give an image file, not a folder", image)
        if guide is not None:
            raise InvalidArgumentError("--guide is for one image: give an image file, not a folder", image)
        _inpaint_batch(image, mask_dir, output, method=method, weights=weights, device=device, option=option,
                       mask_from_alpha=mask_from_alpha, resize_mask=resize_mask, overwrite=overwrite,
                       max_pixels=max_pixels, quiet=quiet, extra=extra)
        return
    if mask_dir is not None:
        raise InvalidArgumentError("--mask-dir is for batch mode: give a folder of images", image)
    if guide is not None and (samples > 1 or seed or flow is not None):
        raise InvalidArgumentError("a guided fill gives one answer and has no attention flow: drop --samples, --seed"
                                   " and --flow")
    inputs = [image] + ([mask] if mask else []) + ([guide] if guide else [])
    outputs = [output] if samples == 1 else [sample_path(output, i) for i in range(1, samples + 1)]
    for target in outputs + [p for p in (compare, flow) if p is not None]:
        io.check_output_path(target, overwrite=overwrite, inputs=inputs)
    img, hole = load_pair(image, mask, mask_from_alpha=mask_from_alpha, resize_mask=resize_mask, max_pixels=max_pixels)
    if guide is not None:
        from holefill.methods import get_guided_filler

        guide_img = io.read_image(guide, max_pixels=max_pixels)
        guided = get_guided_filler(method, weights=weights, device=device, **parse_options(option))
        start = time.perf_counter()
        fills = [guided.fill(img, hole, guide_img)]
        name = guided.name
    else:
        filler = make_filler(method, weights, device, option, **extra)
        if flow is not None:
            from holefill.pipeline import check_flow

            check_flow(filler)
        start = time.perf_counter()
        if samples == 1 and seed == 0:
            fills = [filler.fill(img, hole)]
        else:
            fills = filler.fill_samples(img, hole, samples, seed)
        name = filler.name
    seconds = time.perf_counter() - start
    for target, filled in zip(outputs, fills):
        io.write_image(target, filled, overwrite=overwrite, inputs=inputs)
    filled = fills[0]
    if compare is not None:
        io.write_image(compare, comparison(img, hole, filled), overwrite=overwrite, inputs=[image])
    if flow is not None:
        from holefill.pipeline import attention_flow

        io.write_image(flow, attention_flow(filler, img, hole), overwrite=overwrite, inputs=[image])
    if not quiet:
        where = output if samples == 1 else f"{outputs[0]} ... {outputs[-1]}"
        source = f" from {guide}" if guide is not None else f" from {db}" if db is not None else ""
        echo_err(f"{name}: filled {int(hole.sum()):,} pixels of {image}{source} in {seconds:.2f} s -> {where}")


def sample_path(output: Path, index: int) -> Path:
    """Where sample ``index`` (from 1) of ``--samples`` goes: ``out.png`` -> ``out-1.png``."""
    return output.with_name(f"{output.stem}-{index}{output.suffix}")


def _inpaint_batch(folder: Path, mask_dir: Path | None, out_dir: Path, *, method: str | None, weights: Path | None,
                   device: str | None, option: list[str] | None, mask_from_alpha: bool, resize_mask: bool,
                   overwrite: bool, max_pixels: int | None, quiet: bool, extra: dict | None = None) -> None:
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
    filler = make_filler(method, weights, device, option, **(extra or {}))
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
            img, hole = load_pair(path, mask_path, mask_from_alpha=mask_from_alpha, resize_mask=resize_mask,
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
    filled = make_filler(method, weights, device, option).fill(canvas, hole)
    io.write_image(output, filled, overwrite=overwrite, inputs=[image])
    if compare is not None:
        io.write_image(compare, comparison(canvas, hole, filled), overwrite=overwrite, inputs=[image])
    echo_err(f"extended {w}x{h} to {filled.shape[1]}x{filled.shape[0]} -> {output}")


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
    filled = make_filler(method, weights, device, option).fill(canvas, hole)
    io.write_image(output, filled, overwrite=overwrite, inputs=[left, right])
    echo_err(f"blended into {filled.shape[1]}x{filled.shape[0]} -> {output}")


@handles_errors
def methods(
    kind: Optional[str] = typer.Option(None, "--kind", help="Only 'classical' or 'learned'."),
    task: Optional[str] = typer.Option(None, "--task", help="Only 'inpaint' (image and mask) or 'guided' (a guide "
                                       "photo too)."),
) -> None:
    """List the methods, one line each: name, kind, task, readiness, summary."""
    from holefill.methods import DEFAULT_GUIDED_METHOD, DEFAULT_METHOD, list_methods

    if kind not in (None, "classical", "learned"):
        raise InvalidArgumentError(f"--kind is 'classical' or 'learned', got {kind!r}")
    rows = list_methods(kind, task)
    width = max((len(r.name) for r in rows), default=4)
    for r in rows:
        status = f"needs --{r.requires[0]}" if r.requires else "ready" if r.ready else "needs --weights"
        star = " (default)" if r.name in (DEFAULT_METHOD, DEFAULT_GUIDED_METHOD) else ""
        typer.echo(f"{r.name:<{width}}  {r.kind:<9}  {r.task:<7}  {status:<15}  {r.summary}{star}")

