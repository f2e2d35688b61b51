"""What every command group of the CLI shares: the one error handler, the common options and
the parsing of method options, weights and image/mask pairs.

Bad input never shows a traceback: a :class:`~holefill.errors.HolefillError` prints as one
line, ``error: FILE: problem``, and the command exits with code 2. Warnings print as one
``warning:`` line each, as they happen.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from holefill.errors import HolefillError, HolefillWarning, InvalidArgumentError

F = TypeVar("F", bound=Callable[..., Any])


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


def parse_options(pairs: list[str] | None) -> dict[str, Any]:
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


def make_filler(method: str | None, weights: Path | None, device: str | None, option: list[str] | None,
                **extra: Any):
    """The filler for ``method`` with its ``-O`` options; ``extra`` options (typed, from other flags) win."""
    from holefill.methods import get_filler

    return get_filler(method, weights=weights, device=device, **{**parse_options(option), **extra})


def load_pair(image_path: Path, mask_path: Path | None, *, mask_from_alpha: bool, resize_mask: bool,
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



def parse_weights(pairs: list[str] | None) -> dict[str, Path]:
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

