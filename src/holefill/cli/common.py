"""What every command group of the CLI shares: the one error handler, the common options and
the parsing of method options, weights and image/mask pairs.

Bad input never shows a traceback: a :class:`~holefill.errors.HolefillError` prints as one
line, ``error: FILE: problem``, and the command exits with code 2; so does a usage error that
the command-line parser finds (an unknown option, a number that is not one). Warnings print as
one ``warning:`` line each, as they happen. ``-q`` means the same for every command: nothing on
stderr but warnings and errors.
"""

from __future__ import annotations

import contextlib
import functools
import math
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple, TypeVar

import typer
from typer.core import TyperCommand, TyperGroup

from holefill.errors import HolefillError, HolefillWarning, InvalidArgumentError

F = TypeVar("F", bound=Callable[..., Any])


def echo_err(message: str) -> None:
    typer.echo(message, err=True)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _usage_error_types() -> tuple[type[BaseException], ...]:
    """The exceptions the command-line parser raises for usage errors (Typer vendors click since
    0.2x; older versions raise click's own)."""
    found: list[type[BaseException]] = []
    if hasattr(typer, "TyperException"):
        found.append(typer.TyperException)
    try:
        import click

        found.append(click.ClickException)
    except ImportError:
        pass
    return tuple(found)


class OneLineErrorsGroup(TyperGroup):
    """The root command group: a usage error (unknown option, a value of the wrong type) prints
    as one ``error:`` line and exits 2, like every other error, instead of a multi-line box."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, windows_expand_args: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False,
                                windows_expand_args=windows_expand_args, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False,
                              windows_expand_args=windows_expand_args, **extra)
        except _usage_error_types() as err:
            if type(err).__name__ == "NoArgsIsHelpError":  # a group called bare shows its help
                err.show()  # type: ignore[attr-defined]
                sys.exit(getattr(err, "exit_code", 2))
            ctx = getattr(err, "ctx", None)
            hint = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
            echo_err(f"error: {_one_line(err.format_message())}{hint}")  # type: ignore[attr-defined]
            sys.exit(getattr(err, "exit_code", 2))
        except typer.Abort:
            echo_err("aborted")
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


def sub_app(help_text: str) -> typer.Typer:
    """A command group under the root (``data``, ``study``), with the root's plain help."""
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)


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


# ----------------------------------------------------------------------------- method options

def option_pairs(pairs: list[str] | None) -> dict[str, str]:
    """``--option key=value`` pairs as raw strings by key (``-`` in a key becomes ``_``)."""
    raw: dict[str, str] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise InvalidArgumentError(f"--option takes key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        key = key.strip().replace("-", "_")
        if not key:
            raise InvalidArgumentError(f"--option takes key=value, got {pair!r}")
        raw[key] = value
    return raw


def _finite(value: float, key: str, raw: str) -> float:
    if not math.isfinite(value):
        raise InvalidArgumentError(f"-O {key} takes a finite number, got {raw!r}")
    return value


def _guess(key: str, raw: str) -> Any:
    """A value whose type nothing states: a whole number, a finite number, true/false, or text."""
    if raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return _finite(float(raw), key, raw)
    except ValueError:
        return raw


def _typed(key: str, raw: str, default: Any) -> Any:
    """``raw`` as the type of the option's default (bool, whole number, number, text)."""
    text = raw.strip()
    if isinstance(default, bool):
        lowered = text.lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise InvalidArgumentError(f"-O {key} takes true or false, got {raw!r}")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise InvalidArgumentError(f"-O {key} takes a whole number, got {raw!r}") from None
    if isinstance(default, float):
        try:
            return _finite(float(text), key, raw)
        except ValueError:
            raise InvalidArgumentError(f"-O {key} takes a number, got {raw!r}") from None
    if isinstance(default, str):
        return raw
    return _guess(key, raw)


def parse_options(pairs: list[str] | None, defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """``--option key=value`` pairs to keyword arguments. With ``defaults`` (an option's default
    value by name) each value is read as its default's type, so ``-O radius=abc`` is a one-line
    error here; otherwise numbers and true/false are recognised and the rest is text. A number
    that is not finite (inf, nan) is refused either way."""
    return typed_options(option_pairs(pairs), defaults)


def typed_options(raw: dict[str, str], defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """Raw option values by key (:func:`option_pairs`) read as :func:`parse_options` reads them."""
    known = defaults or {}
    return {key: _typed(key, value, known.get(key)) for key, value in raw.items()}


def method_option_defaults(method: str, task: str = "inpaint") -> dict[str, Any]:
    """The options of ``method`` for ``task`` with their defaults (the method table's
    declarations, :mod:`holefill.options`)."""
    from holefill.methods import get_method

    return {o.name: o.default for o in get_method(method, task).options_for(task)}


class MethodRow(NamedTuple):
    """One row of a benchmark: a method, its options, and its own weights folder (or None)."""

    method: str
    options: dict[str, Any]
    weights: Path | None = None


def method_rows(methods: str, task: str = "inpaint") -> dict[str, MethodRow]:
    """``--methods`` of a benchmark as rows, by row label.

    Rows are comma-separated; a row is ``NAME`` or ``NAME:KEY=VALUE;KEY=VALUE`` (options as
    ``-O`` takes them, typed by the method's declarations), labelled as written, so one report
    can hold a method at several settings (``patchmatch,patchmatch:patch_radius=5``). The key
    ``weights`` names that row's weights folder, so two runs of one architecture can be compared
    (``deepfill_v2:weights=runs/a/final,deepfill_v2:weights=runs/b/final``).
    """
    rows: dict[str, MethodRow] = {}
    for row in (r.strip() for r in methods.split(",")):
        if not row:
            continue
        name, colon, opts = (part.strip() for part in row.partition(":"))
        if not name:
            raise InvalidArgumentError(f"--methods: {row!r} names no method (write NAME or NAME:KEY=VALUE;KEY=VALUE)")
        if colon and not opts:
            raise InvalidArgumentError(f"--methods: {row!r} has a ':' but no options after it")
        pairs = [p.strip() for p in opts.split(";") if p.strip()] if opts else []
        label = f"{name}:{';'.join(pairs)}" if pairs else name
        if label in rows:
            raise InvalidArgumentError(f"--methods names {label!r} twice")
        try:
            raw = option_pairs(pairs)
            folder = raw.pop("weights", None)
            weights = weights_folder(folder) if folder is not None else None
            options = typed_options(raw, method_option_defaults(name, task)) if raw else {}
        except InvalidArgumentError as err:
            raise InvalidArgumentError(f"--methods {label!r}: {err}") from None
        rows[label] = MethodRow(name, options, weights)
    return rows


def resolve_method(method: str | None, weights: Path | None, task: str = "inpaint") -> str:
    """The method a command runs: ``-m``, else the architecture a ``--weights`` folder names,
    else ``task``'s default method."""
    from holefill.methods import default_method, method_of_weights

    if method is not None:
        return method
    if weights is not None:
        return method_of_weights(weights)
    return default_method(task)


MethodOpt = typer.Option(None, "--method", "-m", help="Method name (see `holefill methods`); default: the "
                         "architecture a --weights folder names, else the task's default method.")
WeightsOpt = typer.Option(None, "--weights", "-w", help="Weights folder for a learned method.")
DeviceOpt = typer.Option(None, "--device", help="Where a learned model runs: cpu, cuda or mps.")
BackendOpt = typer.Option(None, "--backend", help="How a learned model runs: torch (default) or onnxruntime "
                          "(its weights folder's model.onnx, from `holefill export`).")
OverwriteOpt = typer.Option(False, "--overwrite", help="Allow replacing existing files, inputs included.")
MaxPixelsOpt = typer.Option(None, "--max-pixels", help="Refuse images (and outpaint/blend canvases) with more "
                            "pixels (default 100 M, or HOLEFILL_MAX_PIXELS).")
OptionOpt = typer.Option(None, "--option", "-O", help="A method option as key=value, e.g. -O radius=5 "
                         "(the options of every method are listed below). Repeatable.")
QuietOpt = typer.Option(False, "--quiet", "-q", help="Print nothing on stderr but warnings and errors "
                        "(no progress, no summary line).")


def make_filler(method: str | None, weights: Path | None, device: str | None, option: list[str] | None,
                task: str = "inpaint", backend: str | None = None, **extra: Any):
    """The filler for ``method`` (``task``'s default when None) with its ``-O`` options; ``extra``
    options (typed, from other flags) win."""
    from holefill.methods import get_filler

    name = resolve_method(method, weights, task)
    options = parse_options(option, method_option_defaults(name, task) if option else None)
    return get_filler(name, task=task, weights=weights, device=device, backend=backend, **{**options, **extra})


def method_options_help() -> str:
    """The options of every classical filler with their defaults, one line per method, and the
    options every learned inpainting method shares (the model filler's) and those of ``--blind``,
    for ``--help``."""
    from holefill.methods import learning_available, list_methods

    lines = []
    for row in list_methods("classical", task="inpaint"):
        shown = ", ".join(f"{o.name}={o.default_text}" for o in row.options) or "none"
        lines.append(f"{row.name}: {shown}")
    if learning_available():
        from holefill.pipeline import ModelFiller

        shown = ", ".join(f"{o.name}={o.default_text}" for o in ModelFiller.options)
        lines.append(f"every learned method: {shown}")
        from holefill.blind_pipeline import ModelBlindFiller

        shown = ", ".join(f"{o.name}={o.default_text}" for o in ModelBlindFiller.options)
        lines.append(f"--blind (the damage finder; defaults: the weights' own): {shown}")
    return "\n".join(lines)


class MethodOptionsCommand(TyperCommand):
    """A command whose ``--help`` ends with every method's ``-O`` options (built only when the
    help is shown, so that starting the command stays fast)."""

    def format_epilog(self, ctx: Any, formatter: Any) -> None:
        super().format_epilog(ctx, formatter)
        with formatter.section("Method options (-O key=value; the default is shown)"):
            for line in method_options_help().splitlines():
                formatter.write_text(line)


# ----------------------------------------------------------------------------- outputs, progress

def check_outputs(outputs: dict[str, Path | None], *, overwrite: bool, inputs: list[Path]) -> None:
    """Check every output of a command before any work: each a writable new file (or replaced
    with ``--overwrite``), no input among them unasked, and no two of them the same file."""
    from holefill import io

    io.check_distinct_outputs(outputs)
    for path in outputs.values():
        if path is not None:
            io.check_output_path(path, overwrite=overwrite, inputs=inputs)
            io.remove_stale_temps(path.absolute().parent, path.name)


@contextlib.contextmanager
def elapsed_ticker(label: str, *, enabled: bool = True, stream: IO[str] | None = None, delay: float = 1.0,
                   interval: float = 1.0) -> Iterator[None]:
    """While the block runs, show ``label: N s`` on a terminal, updated every ``interval``
    seconds after ``delay`` (a long fill says that it is working); nothing when the stream is not
    a terminal or ``enabled`` is false. The line is cleared at the end."""
    out = stream if stream is not None else sys.stderr
    if not enabled or not getattr(out, "isatty", lambda: False)():
        yield
        return
    stop = threading.Event()
    start = time.perf_counter()
    shown = [0]

    def tick() -> None:
        if stop.wait(delay):
            return
        while True:
            text = f"\r{label}: {time.perf_counter() - start:.0f} s"
            shown[0] = max(shown[0], len(text))
            out.write(text)
            out.flush()
            if stop.wait(interval):
                return

    thread = threading.Thread(target=tick, name="holefill-elapsed", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        if shown[0]:
            out.write("\r" + " " * shown[0] + "\r")
            out.flush()


# ----------------------------------------------------------------------------- inputs

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
        out[name.strip()] = weights_folder(folder)
    return out


def weights_folder(folder: str) -> Path:
    """A weights folder named on the command line, which must exist."""
    if not folder.strip():
        raise InvalidArgumentError("weights= names no folder")
    path = Path(folder.strip())
    if not path.is_dir():
        raise InvalidArgumentError("no such weights folder", path)
    return path
