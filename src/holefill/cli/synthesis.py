"""Synthesis commands: upscale (enlarge a photo by any factor) and generate (draw new images)."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Optional

import typer

from holefill.cli.common import (
    DeviceOpt,
    MaxPixelsOpt,
    OptionOpt,
    OverwriteOpt,
    WeightsOpt,
    echo_err,
    handles_errors,
    parse_options,
)
from holefill.errors import InvalidArgumentError


def register(app: typer.Typer) -> None:
    """Add this group's commands to ``app``."""
    app.command()(upscale)
    app.command()(generate)


@handles_errors
def upscale(
    image: Path = typer.Argument(..., help="The image to enlarge."),
    scale: float = typer.Option(..., "--scale", "-s", help="The factor, above 1 (e.g. 2.5); the output is "
                                "floor(scale x width) by floor(scale x height)."),
    output: Path = typer.Option(..., "--output", "-o", help="Output file."),
    method: Optional[str] = typer.Option(None, "--method", "-m", help="Upscaler (holefill methods --task upscale); "
                                         "default: the upscaling default."),
    weights: Optional[Path] = WeightsOpt,
    device: Optional[str] = DeviceOpt,
    option: Optional[list[str]] = OptionOpt,
    overwrite: bool = OverwriteOpt,
    max_pixels: Optional[int] = MaxPixelsOpt,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary line."),
) -> None:
    """Enlarge IMAGE by --scale (any factor; Meta-SR, bicubic or Lanczos)."""
    from holefill import io
    from holefill.methods import get_upscaler

    io.check_scale(scale, math.inf, "--scale")
    io.check_output_path(output, overwrite=overwrite, inputs=[image])
    img = io.read_image(image, max_pixels=max_pixels)
    upscaler = get_upscaler(method, weights=weights, device=device, **parse_options(option))
    if method is None and scale > upscaler.max_scale:  # the default's range, said with the way past it
        raise InvalidArgumentError(f"--scale {scale:g} is more than the default upscaler {upscaler.name} enlarges by"
                                   f" (at most {upscaler.max_scale:g}); name a classical one for more (-m lanczos)")
    h, w = upscaler.output_size(img.shape[0], img.shape[1], scale)
    io.check_output_pixels(h, w, max_pixels)
    start = time.perf_counter()
    big = upscaler.upscale(img, scale, max_pixels=max_pixels)
    seconds = time.perf_counter() - start
    io.write_image(output, big, overwrite=overwrite, inputs=[image])
    if not quiet:
        echo_err(f"{upscaler.name}: {img.shape[1]}x{img.shape[0]} -> {w}x{h} (x{scale:g}) in {seconds:.2f} s"
                 f" -> {output}")


def parse_pair(value: str, name: str) -> tuple[float, float]:
    """``"dx,dy"`` as two finite numbers."""
    parts = value.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        dx, dy = float(parts[0]), float(parts[1])
        if not (math.isfinite(dx) and math.isfinite(dy)):
            raise ValueError
    except ValueError:
        raise InvalidArgumentError(f"{name} takes two numbers as DX,DY (e.g. 0.5,0), got {value!r}") from None
    return dx, dy


@handles_errors
def generate(
    method: str = typer.Option(..., "--method", "-m", help="Generator (holefill methods --task generate): the shipped "
                               "dcgan_lite or giraffe_shapes, or dcgan or giraffe with --weights DIR."),
    output: Path = typer.Option(..., "--output", "-o", help="The picture of the images (a grid)."),
    count: int = typer.Option(16, "--count", "-n", help="How many images (1 to 256)."),
    seed: int = typer.Option(0, "--seed", help="The seed; the same seed gives the same images."),
    columns: Optional[int] = typer.Option(None, "--columns", help="Images per row of the grid (default: about square)."),
    move_object: Optional[str] = typer.Option(None, "--move-object", help="GIRAFFE: move the objects by DX,DY "
                                              "(fractions of half their range; +x right, +y down)."),
    rotate: Optional[float] = typer.Option(None, "--rotate", help="GIRAFFE: turn the objects by this many degrees."),
    swap_appearance: bool = typer.Option(False, "--swap-appearance", help="GIRAFFE: give each image the objects' "
                                         "appearance of the next one."),
    weights: Optional[Path] = WeightsOpt,
    device: Optional[str] = DeviceOpt,
    option: Optional[list[str]] = OptionOpt,
    overwrite: bool = OverwriteOpt,
    max_pixels: Optional[int] = MaxPixelsOpt,
) -> None:
    """Draw new images with a generator; with a GIRAFFE control, each image is shown before
    (top row) and after (bottom row) the edit."""
    from holefill import io
    from holefill.generators import check_count, check_seed, image_grid
    from holefill.methods import get_generator

    n, seed = check_count(count), check_seed(seed)
    if columns is not None and not 1 <= columns <= n:
        raise InvalidArgumentError(f"--columns must lie between 1 and --count ({n}), got {columns}")
    controls = {"move_object": parse_pair(move_object, "--move-object") if move_object is not None else None,
                "rotate": rotate, "swap_appearance": swap_appearance or None}
    controls = {k: v for k, v in controls.items() if v is not None}
    io.check_output_path(output, overwrite=overwrite)
    generator = get_generator(method, weights=weights, device=device, **parse_options(option))
    start = time.perf_counter()
    images = generator.generate(n, seed, max_pixels=max_pixels, **controls)
    if controls:
        before = generator.generate(n, seed, max_pixels=max_pixels)
        picture = image_grid(before + images, columns=n)
    else:
        picture = image_grid(images, columns=columns)
    seconds = time.perf_counter() - start
    io.check_output_pixels(picture.shape[0], picture.shape[1], max_pixels, what="the picture")
    io.write_image(output, picture, overwrite=overwrite)
    edits = f" ({', '.join(controls)})" if controls else ""
    echo_err(f"{generator.name}: {n} images{edits}, seed {seed}, in {seconds:.2f} s -> {output}")
