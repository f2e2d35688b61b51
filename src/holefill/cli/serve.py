"""Serving and study commands: the web app and REST API, and realism studies."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from holefill.cli.common import (
    BackendOpt,
    DeviceOpt,
    MaxPixelsOpt,
    OverwriteOpt,
    echo_err,
    handles_errors,
    parse_weights,
    sub_app,
)
from holefill.errors import InvalidArgumentError


def register(app: typer.Typer) -> None:
    """Add this group's commands to ``app`` (``study`` is a sub-command group)."""
    app.command()(serve)
    study_app = sub_app("Realism studies: do people take the fills for real photos?")
    study_app.command("create")(study_create)
    study_app.command("report")(study_report)
    app.add_typer(study_app, name="study")


@handles_errors
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; anything but loopback is reachable by others."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    study: Optional[Path] = typer.Option(None, "--study", help="Also serve this study folder at /study."),
    max_upload_mb: float = typer.Option(20.0, "--max-upload-mb", help="Largest request body, in MB (413 above)."),
    max_pixels: Optional[int] = typer.Option(None, "--max-pixels", help="Largest image, in pixels (default 25 M)."),
    workers: int = typer.Option(2, "--workers", help="Fills that run at the same time (worker processes)."),
    max_queue: int = typer.Option(64, "--max-queue", help="Fill requests that may run or wait; more get 503."),
    time_limit: float = typer.Option(120.0, "--time-limit",
                                     help="Seconds a fill may run before it is stopped (504); 0: no limit."),
    header_timeout: float = typer.Option(10.0, "--header-timeout",
                                         help="Seconds a connection has to send its request line and headers."),
    body_timeout: float = typer.Option(60.0, "--body-timeout", help="Seconds a request has to send its body (408)."),
    allow_origin: Optional[list[str]] = typer.Option(
        None, "--allow-origin", help="An origin (https://example.org) whose pages may call this server. Repeatable."),
    study_votes_per_address: Optional[int] = typer.Option(
        None, "--study-votes-per-address",
        help="Votes one client address may cast (default: one participant's questions; 0: no cap)."),
    study_votes_per_token: Optional[int] = typer.Option(
        None, "--study-votes-per-token", help="Votes one participant token may cast (default: its questions)."),
    weights: Optional[list[str]] = typer.Option(None, "--weights", "-w", help="METHOD=DIR: weights for a learned method. Repeatable."),
    device: Optional[str] = DeviceOpt,
    backend: Optional[str] = BackendOpt,
    log_level: str = typer.Option("info", "--log-level", help="uvicorn's log level."),
) -> None:
    """Run the web app and REST API (docs at /docs)."""
    try:
        from holefill.web.app import create_app
        from holefill.web.engine import check_weights
        from holefill.web.server import DEFAULT_SERVER_MAX_PIXELS, ServerSettings, bind, bind_warning, is_loopback
        from holefill.web.server import serve as run_server
    except ImportError as exc:
        from holefill.errors import MissingDependencyError

        raise MissingDependencyError(f"the web app needs the serve extra ({exc.name} is missing):"
                                     " pip install 'holefill[serve]'") from None
    if backend not in (None, "torch", "onnxruntime"):
        raise InvalidArgumentError(f"--backend must be torch or onnxruntime, got {backend!r}")
    if not 0 < port < 65536:
        raise InvalidArgumentError(f"--port must be 1 to 65535, got {port}")
    if not max_upload_mb > 0:
        raise InvalidArgumentError(f"--max-upload-mb must be positive, got {max_upload_mb}")
    if time_limit < 0:
        raise InvalidArgumentError(f"--time-limit must be >= 0 seconds (0: no limit), got {time_limit:g}")
    loopback = ("127.0.0.1", "localhost", "[::1]", "::1")
    settings = ServerSettings(
        max_upload_bytes=int(max_upload_mb * 1024 * 1024),
        max_pixels=max_pixels if max_pixels is not None else DEFAULT_SERVER_MAX_PIXELS,
        workers=workers,
        max_queue=max_queue,
        weights=parse_weights(weights),
        device=device,
        backend=backend,
        study_dir=study,
        allowed_hosts=loopback if is_loopback(host) else None,
        time_limit=time_limit or None,
        header_timeout=header_timeout,
        body_timeout=body_timeout,
        allow_origins=tuple(allow_origin or ()),
        study_votes_per_address=study_votes_per_address,
        study_votes_per_token=study_votes_per_token,
    )
    # Bind first (a busy port is one line, not a traceback), check the weights, then announce.
    sock = bind(host, port)
    try:
        check_weights(dict(settings.weights), device, backend)
        web_app = create_app(settings)
    except BaseException:
        sock.close()
        raise
    warning = bind_warning(host)
    if warning:
        echo_err(f"warning: {warning}")
    if study is not None and study_votes_per_address == 0 and not is_loopback(host):
        echo_err("warning: --study-votes-per-address 0: anyone who reaches the server can cast any number of votes")
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    echo_err(f"holefill is serving on http://{shown}:{bound_port}/ (API docs at /docs"
             + (", study at /study" if study else "") + "); Ctrl+C stops it")
    run_server(web_app, sock, settings, log_level=log_level)


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


@handles_errors
def study_report(
    study_dir: Path = typer.Argument(..., help="The study folder."),
    csv_path: Optional[Path] = typer.Option(None, "--csv", help="Also write the table as CSV here."),
    overwrite: bool = OverwriteOpt,
) -> None:
    """Print each method's fooling rate with its exact 95 % interval and test, and the refused votes."""
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

