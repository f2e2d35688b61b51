"""The ``holefill`` command line: one Typer app, one module per command group.

- :mod:`~holefill.cli.fill`: inpaint, outpaint, blend, methods;
- :mod:`~holefill.cli.synthesis`: upscale, generate;
- :mod:`~holefill.cli.evaluate`: bench, eval, train;
- :mod:`~holefill.cli.serve`: serve, study;
- :mod:`~holefill.cli.data`: data, masks, models, convert.

Every command runs under :func:`~holefill.cli.common.handles_errors`, the one error handler:
bad input prints one line, ``error: FILE: problem``, and exits with code 2; the root group
(:class:`~holefill.cli.common.OneLineErrorsGroup`) does the same for usage errors.
"""

from __future__ import annotations

import typer

from holefill.cli import data, evaluate, fill, serve, synthesis
from holefill.cli.common import OneLineErrorsGroup

__all__ = ["app", "build_app", "main"]


def build_app() -> typer.Typer:
    """The root Typer app with every command group's commands."""
    root = typer.Typer(
        name="holefill",
        help="Fill holes in images: inpaint, outpaint, blend; upscale and generate; compare methods on one benchmark.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        cls=OneLineErrorsGroup,
        rich_markup_mode=None,
    )
    for group in (fill, synthesis, evaluate, data, serve):
        group.register(root)
    return root


app = build_app()


def main() -> None:
    """Console-script entry point."""
    app()
