"""Filling commands: inpaint (one image or a folder), outpaint, blend, and the method list."""

from __future__ import annotations

import math
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
    MethodOptionsCommand,
    OptionOpt,
    OverwriteOpt,
    QuietOpt,
    WeightsOpt,
    check_outputs,
    echo_err,
    elapsed_ticker,
    handles_errors,
    load_pair,
    make_filler,
    method_option_defaults,
    parse_options,
    resolve_method,
)
from holefill.errors import HolefillError, HolefillWarning, InvalidArgumentError, OutputExistsError


def register(app: typer.Typer) -> None:
    """Add this group's commands to ``app``."""
    app.command(cls=MethodOptionsCommand)(inpaint)
    app.command(cls=MethodOptionsCommand)(outpaint)
    app.command(cls=MethodOptionsCommand)(blend)
    app.command()(methods)


#: ``--format`` choices of batch mode, and the extension each writes.
BATCH_FORMATS = {"png": ".png", "tiff": ".tif", "bmp": ".bmp", "jpg": ".jpg", "webp": ".webp"}
LOSSY_FORMATS = ("jpg", "webp")


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
    out_format: Optional[str] = typer.Option(None, "--format", help="Batch mode: the output format, png (default), "
                                             "tiff or bmp (lossless: known pixels stay exact), jpg or webp (lossy: "
                                             "re-encoding changes known pixels)."),
    skip_existing: bool = typer.Option(False, "--skip-existing", help="Batch mode: leave outputs that exist alone "
                                       "and fill the rest (re-running after an interrupt)."),
    blind: bool = typer.Option(False, "--blind", help="No mask: find the damage (strokes, text, scratches) and "
                               "fill it. With -m METHOD of an inpainting method, it fills what --finder found."),
    save_mask: Optional[Path] = typer.Option(None, "--save-mask", help="--blind: also write the damage mask found "
                                             "(white = damage); a folder in batch mode."),
    finder: Optional[str] = typer.Option(None, "--finder", help="--blind with an inpainting method: the blind "
                                         "method that finds the damage (default: the shipped VCNet)."),
    finder_weights: Optional[Path] = typer.Option(None, "--finder-weights", help="Weights folder of --finder."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="--blind: damage probability above which "
                                              "a pixel is damage (default 0.5)."),
    dilate: Optional[int] = typer.Option(None, "--dilate", help="--blind: grow the damage found by this many pixels."),
    guide: Optional[Path] = typer.Option(None, "--guide", help="Fill the hole with content pulled from this photo "
                                         "(guided inpainting; see `holefill methods --task guided`)."),
    db: Optional[Path] = typer.Option(None, "--db", help="Scene completion (-m scene): a folder of photos to take the "
                                      "hole's content from; indexed once, the index is cached in the folder."),
    overwrite: bool = OverwriteOpt,
    max_pixels: Optional[int] = MaxPixelsOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Fill the hole that a mask marks in IMAGE (or in every image of a folder); with --blind,
    find the damage first."""
    from holefill import io
    from holefill.viz import comparison

    blind_only = {"--save-mask": save_mask, "--finder": finder, "--finder-weights": finder_weights,
                  "--threshold": threshold, "--dilate": dilate}
    if blind:
        clash = [flag for flag, given in (("--mask", mask), ("--mask-dir", mask_dir), ("--mask-from-alpha", mask_from_alpha),
                                          ("--resize-mask", resize_mask), ("--flow", flow)) if given]
        if clash or samples != 1 or seed != 0:
            what = clash[0] if clash else "--samples/--seed"
            raise InvalidArgumentError(f"--blind finds the damage itself: it takes no {what}")
        _inpaint_blind(image, output, method=method, weights=weights, device=device, option=option,
                       save_mask=save_mask, finder=finder, finder_weights=finder_weights, threshold=threshold,
                       dilate=dilate, compare=compare, overwrite=overwrite, max_pixels=max_pixels, quiet=quiet)
        return
    given = [flag for flag, value in blind_only.items() if value is not None]
    if given:
        raise InvalidArgumentError(f"{given[0]} goes with --blind (no mask: the damage is found)")
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
        if compare is not None:
            raise InvalidArgumentError("--compare is for one image: give an image file, not a folder", image)
        if guide is not None:
            raise InvalidArgumentError("--guide is for one image: give an image file, not a folder", image)
        _inpaint_batch(image, mask_dir, output, method=method, weights=weights, device=device, option=option,
                       backend=backend, mask_from_alpha=mask_from_alpha, resize_mask=resize_mask, overwrite=overwrite,
                       skip_existing=skip_existing, out_format=out_format, max_pixels=max_pixels, quiet=quiet,
                       extra=extra)
        return
    if mask_dir is not None:
        raise InvalidArgumentError("--mask-dir is for batch mode: give a folder of images", image)
    if skip_existing or out_format is not None:
        raise InvalidArgumentError(f"{'--skip-existing' if skip_existing else '--format'} is for batch mode (a folder"
                                   " of images); for one image the extension of -o sets the format", image)
    if guide is not None and (samples > 1 or seed or flow is not None):
        raise InvalidArgumentError("a guided fill gives one answer and has no attention flow: drop --samples, --seed"
                                   " and --flow")
    inputs = [image] + ([mask] if mask else []) + ([guide] if guide else [])
    outputs = [output] if samples == 1 else [sample_path(output, i) for i in range(1, samples + 1)]
    named: dict[str, Path | None] = {("-o" if samples == 1 else f"-o (sample {i})"): p
                                     for i, p in enumerate(outputs, 1)}
    check_outputs({**named, "--compare": compare, "--flow": flow}, overwrite=overwrite, inputs=inputs)
    img, hole = load_pair(image, mask, mask_from_alpha=mask_from_alpha, resize_mask=resize_mask, max_pixels=max_pixels)
    if guide is not None:
        from holefill.methods import get_guided_filler

        guide_img = io.read_image(guide, max_pixels=max_pixels)
        guided = get_guided_filler(method, weights=weights, device=device, **parse_options(option))
        start = time.perf_counter()
        with elapsed_ticker(f"{guided.name}: filling {image.name} from {guide.name}", enabled=not quiet):
            fills = [guided.fill(img, hole, guide_img)]
        name = guided.name
    else:
        filler = make_filler(method, weights, device, option, backend=backend, **extra)
        if flow is not None:
            from holefill.pipeline import check_flow

            check_flow(filler)
        start = time.perf_counter()
        with elapsed_ticker(f"{filler.name}: filling {image.name}", enabled=not quiet):
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


def _inpaint_blind(image: Path, output: Path, *, method: str | None, weights: Path | None, device: str | None,
                   option: list[str] | None, save_mask: Path | None, finder: str | None, finder_weights: Path | None,
                   threshold: float | None, dilate: int | None, compare: Path | None, overwrite: bool,
                   max_pixels: int | None, quiet: bool) -> None:
    """``inpaint --blind``: one image, or every image of a folder (``--save-mask`` a folder then)."""
    from tqdm import tqdm

    from holefill import io
    from holefill.cli.common import parse_options
    from holefill.methods import get_blind_filler
    from holefill.viz import comparison

    options = parse_options(option)
    options.update({k: v for k, v in (("threshold", threshold), ("dilate", dilate)) if v is not None})
    if image.is_dir():
        if compare is not None:
            raise InvalidArgumentError("--compare is for one image: give an image file, not a folder", image)
        for folder in (output, save_mask):
            if folder is not None and folder.exists() and not folder.is_dir():
                raise InvalidArgumentError("batch mode writes into a folder, and this is a file", folder)
        paths = io.list_images(image)
        if not paths:
            raise InvalidArgumentError("holds no images (PNG, JPEG, WebP, BMP or TIFF)", image)
    else:
        paths = [image]
        for target in [p for p in (output, save_mask, compare) if p is not None]:
            io.check_output_path(target, overwrite=overwrite, inputs=[image])
    filler = get_blind_filler(method, weights=weights, finder=finder, finder_weights=finder_weights, device=device,
                              **options)
    failures: list[str] = []
    found_pixels = 0
    start = time.perf_counter()
    bar = tqdm(paths, desc=f"inpaint --blind ({filler.name})", unit="img", disable=quiet or len(paths) == 1,
               file=sys.stderr)
    for path in bar:
        try:
            target = output / path.name if image.is_dir() else output
            mask_target = None if save_mask is None else (save_mask / f"{path.stem}.png" if image.is_dir() else save_mask)
            for t in [p for p in (target, mask_target) if p is not None]:
                io.check_output_path(t, overwrite=overwrite, inputs=[path])
            img = io.read_image(path, max_pixels=max_pixels)
            filled, found = filler.fill_blind(img)
            io.write_image(target, filled, overwrite=overwrite, inputs=[path])
            if mask_target is not None:
                io.write_mask(mask_target, found, overwrite=overwrite)
            if compare is not None:
                io.write_image(compare, comparison(img, found, filled), overwrite=overwrite, inputs=[path])
            found_pixels += int(found.sum())
        except HolefillError as err:
            if not image.is_dir():
                raise
            failures.append(str(err))
            tqdm.write(f"error: {err}", file=sys.stderr)
    bar.close()
    seconds = time.perf_counter() - start
    if not quiet:
        done = len(paths) - len(failures)
        echo_err(f"{filler.name}: found and filled {found_pixels:,} damaged pixels in {done} of {len(paths)} "
                 f"image(s) in {seconds:.2f} s -> {output}" + (f"; {len(failures)} failed" if failures else ""))
    if failures:
        raise typer.Exit(2)


def sample_path(output: Path, index: int) -> Path:
    """Where sample ``index`` (from 1) of ``--samples`` goes: ``out.png`` -> ``out-1.png``."""
    return output.with_name(f"{output.stem}-{index}{output.suffix}")


def _batch_format(out_format: str | None) -> str:
    name = (out_format or "png").strip().lower()
    name = {"jpeg": "jpg", "tif": "tiff"}.get(name, name)
    if name not in BATCH_FORMATS:
        raise InvalidArgumentError(f"--format is one of {', '.join(BATCH_FORMATS)}, got {out_format!r}")
    return name


def _batch_targets(images: list[Path], out_dir: Path, suffix: str) -> dict[Path, Path]:
    """Each image's output file (its stem with the output format's extension); two images that
    would write the same file are an error before any work."""
    targets: dict[Path, Path] = {}
    writers: dict[Path, Path] = {}
    for path in images:
        target = out_dir / f"{path.stem}{suffix}"
        if target in writers:
            raise InvalidArgumentError(f"{writers[target].name} and {path.name} would both be written to {target};"
                                       " rename one of them", path.parent)
        writers[target] = path
        targets[path] = target
    return targets


def _inpaint_batch(folder: Path, mask_dir: Path | None, out_dir: Path, *, method: str | None, weights: Path | None,
                   device: str | None, option: list[str] | None, backend: str | None, mask_from_alpha: bool,
                   resize_mask: bool, overwrite: bool, skip_existing: bool, out_format: str | None,
                   max_pixels: int | None, quiet: bool, extra: dict | None = None) -> None:
    """Fill every image of ``folder`` into ``out_dir``. Every output is checked before any
    work; outputs that exist are refused, replaced (``--overwrite``) or left alone and counted
    (``--skip-existing``); temporary files of an interrupted earlier run are removed."""
    from tqdm import tqdm

    from holefill import io

    if mask_dir is None and not mask_from_alpha:
        raise InvalidArgumentError("batch mode needs --mask-dir DIR (or --mask-from-alpha)", folder)
    if skip_existing and overwrite:
        raise InvalidArgumentError("--skip-existing keeps existing outputs and --overwrite replaces them; give one")
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidArgumentError("batch mode writes into a folder, and this is a file", out_dir)
    fmt = _batch_format(out_format)
    images = io.list_images(folder)
    if not images:
        raise InvalidArgumentError("holds no images (PNG, JPEG, WebP, BMP or TIFF)", folder)
    targets = _batch_targets(images, out_dir, BATCH_FORMATS[fmt])
    existing = [t for t in targets.values() if t.exists()]
    if existing and not (overwrite or skip_existing):
        shown = ", ".join(t.name for t in existing[:3]) + (", ..." if len(existing) > 3 else "")
        raise OutputExistsError(f"already holds {len(existing)} of the {len(targets)} outputs ({shown}); pass"
                                " --skip-existing to fill only the others, or --overwrite to replace them", out_dir)
    io.check_writable_folder(out_dir / "probe.png")
    masks: dict[str, Path] = {}
    if mask_dir is not None:
        for m in io.list_images(mask_dir):
            masks.setdefault(m.stem, m)
    filler = make_filler(method, weights, device, option, backend=backend, **(extra or {}))
    if fmt in LOSSY_FORMATS:
        echo_err(f"warning: --format {fmt} is lossy: re-encoding changes known pixels too (png keeps them exact)")
    if out_dir.is_dir():
        io.remove_stale_temps(out_dir)
    failures: list[str] = []
    done = skipped = 0
    start = time.perf_counter()
    bar = tqdm(images, desc=f"inpaint ({filler.name})", unit="img", disable=quiet, file=sys.stderr)
    for path in bar:
        target = targets[path]
        if skip_existing and target.exists():
            skipped += 1
            continue
        try:
            mask_path = None if mask_from_alpha else masks.get(path.stem)
            if not mask_from_alpha and mask_path is None:
                raise InvalidArgumentError(f"no mask named {path.stem}.* in {mask_dir}", path)
            inputs = [path] + ([mask_path] if mask_path else [])
            io.check_output_path(target, overwrite=overwrite, inputs=inputs, probe=False)  # folder probed above
            img, hole = load_pair(path, mask_path, mask_from_alpha=mask_from_alpha, resize_mask=resize_mask,
                                   max_pixels=max_pixels)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", HolefillWarning)
                filled = filler.fill(img, hole)
            for w in caught:
                tqdm.write(f"warning: {path}: {w.message}", file=sys.stderr)
            io.write_image(target, filled, overwrite=overwrite, inputs=inputs)
            done += 1
        except HolefillError as err:
            failures.append(str(err))
            tqdm.write(f"error: {err}", file=sys.stderr)
    bar.close()
    seconds = time.perf_counter() - start
    if not quiet:
        notes = []
        if skipped:
            notes.append(f"{skipped} skipped (their outputs exist; --skip-existing)")
        if failures:
            notes.append(f"{len(failures)} failed")
        echo_err(f"filled {done} of {len(images)} images with {filler.name} in {seconds:.1f} s -> {out_dir}"
                 f" ({fmt})" + ("; " + "; ".join(notes) if notes else ""))
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
            if not (math.isfinite(pct) and pct >= 0):
                raise ValueError
            return int(round(size * pct / 100.0))
        pixels = int(text)
        if pixels < 0:
            raise ValueError
        return pixels
    except ValueError:
        raise InvalidArgumentError(f"--{name} takes pixels (64) or a finite percentage (25%), got {value!r}") from None


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
    quiet: bool = QuietOpt,
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
    named: dict[str, Path | None] = {("-o" if samples == 1 else f"-o (sample {i})"): p
                                     for i, p in enumerate(outputs, 1)}
    check_outputs({**named, "--compare": compare}, overwrite=overwrite, inputs=[image])
    img = io.read_image(image, max_pixels=max_pixels)
    h, w = img.shape[:2]
    canvas, hole = outpaint_canvas(img, left=_parse_side(left, w, "left"), right=_parse_side(right, w, "right"),
                                   top=_parse_side(top, h, "top"), bottom=_parse_side(bottom, h, "bottom"),
                                   max_pixels=max_pixels)
    filler = make_filler(method, weights, device, option, backend=backend, task="outpaint")
    with elapsed_ticker(f"{filler.name}: extending {image.name}", enabled=not quiet):
        if samples == 1 and seed == 0:
            fills = [filler.fill(canvas, hole)]
        else:
            fills = filler.fill_samples(canvas, hole, samples, seed)
    for target, filled in zip(outputs, fills):
        io.write_image(target, filled, overwrite=overwrite, inputs=[image])
    if compare is not None:
        io.write_image(compare, comparison(canvas, hole, fills[0]), overwrite=overwrite, inputs=[image])
    if not quiet:
        where = output if samples == 1 else f"{outputs[0]} ... {outputs[-1]}"
        echo_err(f"extended {w}x{h} to {fills[0].shape[1]}x{fills[0].shape[0]} -> {where}")


@handles_errors
def blend(
    left: Path = typer.Argument(..., help="The left photo."),
    right: Path = typer.Argument(..., help="The right photo (resized to the left one's height)."),
    output: Path = typer.Option(..., "--output", "-o", help="Output file."),
    gap: int = typer.Option(128, "--gap", help="Columns of generated content between the photos (at least 1)."),
    method: Optional[str] = MethodOpt,
    weights: Optional[Path] = WeightsOpt,
    device: Optional[str] = DeviceOpt,
    backend: Optional[str] = BackendOpt,
    option: Optional[list[str]] = OptionOpt,
    overwrite: bool = OverwriteOpt,
    max_pixels: Optional[int] = MaxPixelsOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Join LEFT and RIGHT with generated content between them (wide-range blending).

    A blending model (e.g. bct_blend_lite) joins the photos itself; any inpainting method fills
    the gap of the LEFT | gap | RIGHT canvas.
    """
    from holefill import io
    from holefill.methods import get_blender

    if gap < 1:
        raise InvalidArgumentError(f"--gap must be at least 1 pixel, got {gap}")
    check_outputs({"-o": output}, overwrite=overwrite, inputs=[left, right])
    a = io.read_image(left, max_pixels=max_pixels)
    b = io.read_image(right, max_pixels=max_pixels)
    name = resolve_method(method, weights, "blend")
    options = parse_options(option, method_option_defaults(name, "blend") if option else None)
    blender = get_blender(name, weights=weights, device=device, backend=backend, **options)
    with elapsed_ticker(f"{blender.name}: blending", enabled=not quiet):
        panorama = blender.blend(a, b, gap, max_pixels=max_pixels)
    io.write_image(output, panorama, overwrite=overwrite, inputs=[left, right])
    if not quiet:
        echo_err(f"blended into {panorama.shape[1]}x{panorama.shape[0]} with {blender.name} -> {output}")


@handles_errors
def methods(
    kind: Optional[str] = typer.Option(None, "--kind", help="Only 'classical' or 'learned'."),
    task: Optional[str] = typer.Option(None, "--task", help="Only the methods of one task: inpaint, outpaint, blend, "
                                       "upscale, generate, blind, guided."),
) -> None:
    """List the methods, one line each: the tasks each serves, and those it is the default of."""
    from holefill.methods import DEFAULT_BLIND_METHOD, DEFAULT_GUIDED_METHOD, DEFAULT_METHODS, list_methods

    if kind not in (None, "classical", "learned"):
        raise InvalidArgumentError(f"--kind is 'classical' or 'learned', got {kind!r}")
    rows = list_methods(kind, task)
    width = max((len(r.name) for r in rows), default=4)
    task_width = max((len(",".join(r.tasks)) for r in rows), default=5)
    for r in rows:
        status = f"needs --{r.requires[0]}" if r.requires else "ready" if r.ready else "needs --weights"
        defaults = [t for t, name in {**DEFAULT_METHODS, "blind": DEFAULT_BLIND_METHOD,
                                                        "guided": DEFAULT_GUIDED_METHOD}.items()
                    if name == r.name and (task is None or t == task)]
        star = f" (default: {', '.join(defaults)})" if defaults else ""
        tasks = ",".join(r.tasks)
        typer.echo(f"{r.name:<{width}}  {r.kind:<9}  {tasks:<{task_width}}  {status:<15}  {r.summary}{star}")

