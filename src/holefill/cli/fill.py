"""Filling commands: inpaint (one image or a folder), outpaint, blend, and the method list."""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path
from typing import Optional

import typer

from holefill.cli.common import (
    BackendOpt,
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
    backend: Optional[str] = BackendOpt,
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
                       backend=backend, mask_from_alpha=mask_from_alpha, resize_mask=resize_mask, overwrite=overwrite,
                       max_pixels=max_pixels, quiet=quiet)
        return
    if mask_dir is not None:
        raise InvalidArgumentError("--mask-dir is for batch mode: give a folder of images", image)
    inputs = [image] + ([mask] if mask else [])
    outputs = [output] if samples == 1 else [sample_path(output, i) for i in range(1, samples + 1)]
    for target in outputs + [p for p in (compare, flow) if p is not None]:
        io.check_output_path(target, overwrite=overwrite, inputs=inputs)
    img, hole = load_pair(image, mask, mask_from_alpha=mask_from_alpha, resize_mask=resize_mask, max_pixels=max_pixels)
    filler = make_filler(method, weights, device, option, backend=backend)
    if flow is not None:
        from holefill.pipeline import check_flow

        check_flow(filler)
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
        from holefill.pipeline import attention_flow

        io.write_image(flow, attention_flow(filler, img, hole), overwrite=overwrite, inputs=[image])
    if not quiet:
        where = output if samples == 1 else f"{outputs[0]} ... {outputs[-1]}"
        echo_err(f"{filler.name}: filled {int(hole.sum()):,} pixels of {image} in {seconds:.2f} s -> {where}")


def sample_path(output: Path, index: int) -> Path:
    """Where sample ``index`` (from 1) of ``--samples`` goes: ``out.png`` -> ``out-1.png``."""
    return output.with_name(f"{output.stem}-{index}{output.suffix}")


def _inpaint_batch(folder: Path, mask_dir: Path | None, out_dir: Path, *, method: str | None, weights: Path | None,
                   device: str | None, option: list[str] | None, backend: str | None, mask_from_alpha: bool,
                   resize_mask: bool, overwrite: bool, max_pixels: int | None, quiet: bool) -> None:
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
    filler = make_filler(method, weights, device, option, backend=backend)
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
    backend: Optional[str] = BackendOpt,
    option: Optional[list[str]] = OptionOpt,
    compare: Optional[Path] = typer.Option(None, "--compare", help="Also write a before/after picture here."),
    samples: int = typer.Option(1, "--samples", help="Write K different extensions (OUT-1, OUT-2, ...); stochastic "
                                "methods only: cto_gan (one layout per sample), patchmatch, models with attention."),
    seed: int = typer.Option(0, "--seed", help="Seed of the first sample (sample i uses seed + i)."),
    overwrite: bool = OverwriteOpt,
    max_pixels: Optional[int] = MaxPixelsOpt,
) -> None:
    """Extend IMAGE past its borders."""
    from holefill import io
    from holefill.api import outpaint_canvas
    from holefill.viz import comparison

    if samples < 1:
        raise InvalidArgumentError(f"--samples must be at least 1, got {samples}")
    if seed < 0:
        raise InvalidArgumentError(f"--seed must be >= 0, got {seed}")
    outputs = [output] if samples == 1 else [sample_path(output, i) for i in range(1, samples + 1)]
    for target in outputs + ([compare] if compare is not None else []):
        io.check_output_path(target, overwrite=overwrite, inputs=[image])
    img = io.read_image(image, max_pixels=max_pixels)
    h, w = img.shape[:2]
    canvas, hole = outpaint_canvas(img, left=_parse_side(left, w, "left"), right=_parse_side(right, w, "right"),
                                   top=_parse_side(top, h, "top"), bottom=_parse_side(bottom, h, "bottom"))
    filler = make_filler(method, weights, device, option, backend=backend, task="outpaint")
    fills = [filler.fill(canvas, hole)] if samples == 1 and seed == 0 else filler.fill_samples(canvas, hole, samples, seed)
    for target, filled in zip(outputs, fills):
        io.write_image(target, filled, overwrite=overwrite, inputs=[image])
    if compare is not None:
        io.write_image(compare, comparison(canvas, hole, fills[0]), overwrite=overwrite, inputs=[image])
    where = output if samples == 1 else f"{outputs[0]} ... {outputs[-1]}"
    echo_err(f"extended {w}x{h} to {fills[0].shape[1]}x{fills[0].shape[0]} -> {where}")


@handles_errors
def blend(
    left: Path = typer.Argument(..., help="The left photo."),
    right: Path = typer.Argument(..., help="The right photo (resized to the left one's height)."),
    output: Path = typer.Option(..., "--output", "-o", help="Output file."),
    gap: int = typer.Option(128, "--gap", help="Columns of generated content between the photos."),
    method: Optional[str] = MethodOpt,
    weights: Optional[Path] = WeightsOpt,
    device: Optional[str] = DeviceOpt,
    backend: Optional[str] = BackendOpt,
    option: Optional[list[str]] = OptionOpt,
    overwrite: bool = OverwriteOpt,
    max_pixels: Optional[int] = MaxPixelsOpt,
) -> None:
    """Join LEFT and RIGHT with generated content between them (wide-range blending).

    A blending model (e.g. bct_blend_lite) joins the photos itself; any inpainting method fills
    the gap of the LEFT | gap | RIGHT canvas.
    """
    from holefill import io
    from holefill.methods import get_blender

    io.check_output_path(output, overwrite=overwrite, inputs=[left, right])
    a = io.read_image(left, max_pixels=max_pixels)
    b = io.read_image(right, max_pixels=max_pixels)
    blender = get_blender(method, weights=weights, device=device, backend=backend, **parse_options(option))
    panorama = blender.blend(a, b, gap)
    io.write_image(output, panorama, overwrite=overwrite, inputs=[left, right])
    echo_err(f"blended into {panorama.shape[1]}x{panorama.shape[0]} with {blender.name} -> {output}")


@handles_errors
def methods(
    kind: Optional[str] = typer.Option(None, "--kind", help="Only 'classical' or 'learned'."),
    task: Optional[str] = typer.Option(None, "--task", help="Only the methods of one task: inpaint, outpaint, blend."),
) -> None:
    """List the methods, one line each, with the tasks each is the default of."""
    from holefill.methods import DEFAULT_METHODS, list_methods

    if kind not in (None, "classical", "learned"):
        raise InvalidArgumentError(f"--kind is 'classical' or 'learned', got {kind!r}")
    rows = list_methods(kind, task)
    width = max((len(r.name) for r in rows), default=4)
    for r in rows:
        status = "ready" if r.ready else "needs --weights"
        defaults = [t for t, name in DEFAULT_METHODS.items() if name == r.name and (task is None or t == task)]
        star = f" (default: {', '.join(defaults)})" if defaults else ""
        typer.echo(f"{r.name:<{width}}  {r.kind:<9}  {status:<15}  {r.summary}{star}")

