"""The web app's routes: a REST API over the method table, the painting page, and the realism
study.

:func:`create_app` builds a FastAPI app from :class:`~holefill.web.server.ServerSettings`;
``holefill serve`` runs it with uvicorn. The plumbing lives beside it: limits and middleware
in :mod:`holefill.web.server`, the worker pool and the filler cache in
:mod:`holefill.web.engine`. Design points:

- Bad input answers 422 with holefill's one-line message, an oversized body 413, a slow
  body 408, a fill over the time limit 504, a cancelled one 409, an unexpected failure 500
  with a generic message (the traceback goes to the log), and the server carries on.
- Fills run in worker processes (:mod:`holefill.web.engine`); a client that hangs up, or
  cancels with ``DELETE /api/jobs/{id}``, stops its fill, and ``GET /api/jobs/{id}`` tells
  how far it has come.
- Study votes count only with a participant token the server signed, within the caps.
- The image type is read from the content (:mod:`holefill.io`); a client's file names are
  never used, and no client-supplied name or path reaches the filesystem.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Path as PathParam, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from holefill.errors import HolefillError, InvalidArgumentError
from holefill.methods import (
    DEFAULT_BLIND_METHOD,
    DEFAULT_GUIDED_METHOD,
    DEFAULT_METHOD,
    DEFAULT_METHODS,
    check_method_options,
    default_method,
    list_methods,
)
from holefill.web import schemas
from holefill.web.engine import (
    JOB_ID_RE,
    ClientError,
    Engine,
    FillResult,
    InternalFillError,
    Job,
    JobCancelled,
    JobConflict,
    JobTimeout,
    ServerBusyError,
)
from holefill.web.server import (
    EXTRA_BODIES,
    BodyLimitMiddleware,
    HostCheckMiddleware,
    OriginCheckMiddleware,
    SecurityHeadersMiddleware,
    ServerSettings,
    client_address,
    error_response,
)

logger = logging.getLogger("holefill.web")

STATIC_DIR = Path(__file__).resolve().parent / "static"
#: The page's Content-Security-Policy: nothing from other origins, no inline script.
PAGE_CSP = ("default-src 'self'; img-src 'self' blob: data:; connect-src 'self' blob:; style-src 'self'; "
            "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")



class UnsupportedMediaError(Exception):
    """The request body is neither multipart/form-data nor JSON."""


# --- request parsing ---------------------------------------------------------------------


def _validation_message(exc: ValidationError | RequestValidationError) -> str:
    """One line from pydantic's first error: ``field: what is wrong``."""
    errors = exc.errors()
    if not errors:
        return "the request is malformed"
    first = errors[0]
    loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path", "header")]
    msg = str(first.get("msg", "is invalid"))
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return " ".join(f"{'.'.join(loc) + ': ' if loc else ''}{msg}{more}".split())


def _b64(text: str, name: str) -> bytes:
    """Decode a base64 string (or a ``data:...;base64,`` URL)."""
    if text.startswith("data:"):
        header, sep, text = text.partition(",")
        if not sep or not header.endswith(";base64"):
            raise InvalidArgumentError("a data: URL must be base64 (data:image/png;base64,...)", name)
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgumentError("is not valid base64", name) from None


async def _parse(request: Request, params_model: type[BaseModel], json_model: type[BaseModel],
                 files: tuple[str, ...], required: tuple[str, ...]) -> tuple[Any, dict[str, bytes | None]]:
    """The request's parameters and file bytes, from multipart or JSON alike."""
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    data: dict[str, bytes | None] = {f: None for f in files}
    if ctype == "application/json":
        body = await request.body()
        try:
            parsed = json_model.model_validate_json(body)
        except ValidationError as exc:
            raise InvalidArgumentError(_validation_message(exc)) from None
        for f in files:
            value = getattr(parsed, f)
            data[f] = None if value is None else _b64(value, f)
        params = params_model.model_validate(parsed.model_dump(exclude=set(files)))
    elif ctype == "multipart/form-data":
        form = await request.form(max_files=len(files) + 2, max_fields=32, max_part_size=256 * 1024)
        try:
            fields: dict[str, str] = {}
            for key in dict.fromkeys(form.keys()):
                values = form.getlist(key)
                if len(values) != 1:
                    raise InvalidArgumentError("is given more than once", key)
                value = values[0]
                if key in files:
                    if not isinstance(value, UploadFile):
                        raise InvalidArgumentError("must be sent as a file part, not a text field", key)
                    data[key] = await value.read()
                elif isinstance(value, UploadFile):
                    raise InvalidArgumentError("must be a text field, not a file", key)
                else:
                    fields[key] = value
        finally:
            await form.close()
        try:
            params = params_model.model_validate(fields)
        except ValidationError as exc:
            raise InvalidArgumentError(_validation_message(exc)) from None
    else:
        raise UnsupportedMediaError()
    for f in required:
        if data[f] is None:
            raise InvalidArgumentError(f"missing: send the {f} as a file (multipart) or in base64 (JSON)", f)
    return params, data


def _job_id(request: Request) -> str | None:
    """The client's id for this fill (the ``X-Holefill-Job`` header), checked."""
    job_id = request.headers.get("x-holefill-job")
    if job_id is not None and not JOB_ID_RE.match(job_id):
        raise InvalidArgumentError("must be 16 to 64 letters, digits, '-' or '_' (a random id)", "X-Holefill-Job")
    return job_id


async def _disconnected(request: Request) -> None:
    """Returns when the client hangs up (its body has been read by then)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def _fill(engine: Engine, request: Request, kind: str, params: Any, files: dict[str, bytes | None],
                **extra: Any) -> Response:
    """Check the options, then run one fill job for this request and answer its PNG. The
    method is settled here (the task's default when none is named), so the workers do what
    this process's method table says."""
    from holefill.methods import get_method, method_names

    task = "guided" if files.get("guide") is not None else kind
    method = params.method or (DEFAULT_GUIDED_METHOD if task == "guided" else default_method(kind))
    info = get_method(method, task)
    if info.requires:
        raise InvalidArgumentError(f"method {info.name!r} needs a {info.requires[0]} on the server and is not served"
                                   " over HTTP; use the command line", "method")
    if task == "guided" and "guided" not in info.tasks:
        raise InvalidArgumentError(f"method {info.name!r} takes no guide photo; guided methods: "
                                   f"{', '.join(method_names(task='guided')) or 'none'}", "guide")
    options = check_method_options(method, dict(params.options), task)  # limits first, before any work
    job = Job(kind=kind, method=method, options=options, files=files, params={**extra, "guided": task == "guided"})
    result = await engine.run(job, job_id=_job_id(request), disconnected=lambda: _disconnected(request))
    return _png_response(result)


async def _blind(engine: Engine, request: Request, kind: str, params: Any, files: dict[str, bytes | None],
                 **extra: Any) -> Response:
    """One blind job (``inpaint-blind`` or ``find-damage``): the method (the blind default when
    none is named) and its options checked here, the threshold and dilation asked for joined
    to them, then run in a worker like any fill."""
    from holefill.methods import get_method

    method = params.method or DEFAULT_BLIND_METHOD
    info = get_method(method)
    if "blind" not in info.tasks and params.finder is not None:
        get_method(params.finder)  # an unknown finder fails here, before any work
    shape = {k: getattr(params, k) for k in ("threshold", "dilate") if getattr(params, k) is not None}
    options = dict(params.options)
    task = "blind" if "blind" in info.tasks else "inpaint"
    checked = check_method_options(method, options, task) if options else {}
    job = Job(kind=kind, method=method, options={**checked, **shape}, files=files,
              params={"finder": params.finder, **extra})
    result = await engine.run(job, job_id=_job_id(request), disconnected=lambda: _disconnected(request))
    return _png_response(result)


def _png_response(result: FillResult) -> Response:
    headers = {
        "X-Holefill-Method": result.method,
        "X-Holefill-Seconds": f"{result.seconds:.3f}",
        "X-Holefill-Size": f"{result.width}x{result.height}",
        "X-Holefill-Hole-Pixels": str(result.hole_pixels),
        "Cache-Control": "no-store",
    }
    if result.warning:
        headers["X-Holefill-Warning"] = result.warning
    if result.threshold is not None:
        headers["X-Holefill-Threshold"] = f"{result.threshold:.4f}"
    return Response(content=result.png, media_type="image/png", headers=headers)


def _body_doc(json_model: type[BaseModel], params_model: type[BaseModel], files: tuple[str, ...],
              required: tuple[str, ...]) -> dict[str, Any]:
    """OpenAPI text for an endpoint that takes multipart or JSON (parsed by hand)."""
    form = params_model.model_json_schema()
    props = dict(form.get("properties", {}))
    props["options"] = {"type": "string", "description": 'Method options as a JSON object, e.g. {"radius": 5}.'}
    for f in files:
        props[f] = {"type": "string", "format": "binary"}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": {"type": "object", "properties": props, "required": list(required)}},
                "application/json": {"schema": json_model.model_json_schema()},
            },
        }
    }


# --- the app ------------------------------------------------------------------------------

_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": schemas.ErrorOut, "description": "The request is larger than the upload limit."},
    415: {"model": schemas.ErrorOut, "description": "Neither multipart/form-data nor JSON."},
    422: {"model": schemas.ErrorOut, "description": "Bad input: the message says what and where."},
    500: {"model": schemas.ErrorOut, "description": "An unexpected failure (logged by the server)."},
    503: {"model": schemas.ErrorOut, "description": "Too many requests are waiting; try again."},
}
_PNG = {200: {"content": {"image/png": {}}, "description": "The result as PNG. Headers: X-Holefill-Method,"
              " X-Holefill-Seconds, X-Holefill-Size, X-Holefill-Hole-Pixels, X-Holefill-Warning."}}
_DAMAGE_PNG = {200: {"content": {"image/png": {}}, "description": "The damage found as PNG: a mask (white = damage)"
                     ", or with probability=true the damage probability in 8-bit grey. Headers: X-Holefill-Method,"
                     " X-Holefill-Seconds, X-Holefill-Size, X-Holefill-Hole-Pixels (pixels above the threshold),"
                     " X-Holefill-Threshold, X-Holefill-Warning."}}


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC_DIR / name, media_type="text/html",
                        headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"})


def _docs_assets() -> Path | None:
    """Swagger UI's files from the fastapi-offline package, when installed (no CDN then)."""
    try:
        import fastapi_offline
    except ImportError:
        return None
    folder = Path(fastapi_offline.__file__).resolve().parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """The FastAPI app. Nothing starts until a server runs it."""
    from holefill import __version__

    settings = settings or ServerSettings()
    engine = Engine(settings)
    study = caps = None
    if settings.study_dir is not None:
        from holefill.web.study import Study, VoteCaps

        study = Study(settings.study_dir)
        caps = VoteCaps.default(study, settings.study_votes_per_token, settings.study_votes_per_address)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
        # The workers start in the background: the server answers at once, and the first
        # fill waits for them only if it comes within their first second or two.
        warm = asyncio.get_running_loop().run_in_executor(None, engine.warm_up)
        if study is not None:
            study.record_caps(caps)
        try:
            yield
        finally:
            engine.close()  # a worker still starting is stopped as it arrives
            warm.add_done_callback(lambda f: f.cancelled() or f.exception())

    app = FastAPI(
        title="holefill",
        version=__version__,
        description="Fill holes in images: inpaint, outpaint and blend with any method in holefill's table, "
                    "and find damage and fill it (blind inpainting).",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.study = study

    # Middleware: the last added is the outermost.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_upload_bytes, body_timeout=settings.body_timeout,
                       gap_timeout=settings.header_timeout, max_bodies=settings.max_queue + EXTRA_BODIES)
    if settings.allow_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.allow_origins),
                           allow_methods=["GET", "POST", "DELETE"], allow_headers=["Content-Type", "X-Holefill-Job"],
                           expose_headers=["X-Holefill-Method", "X-Holefill-Seconds", "X-Holefill-Size",
                                           "X-Holefill-Hole-Pixels", "X-Holefill-Warning"])
    app.add_middleware(OriginCheckMiddleware, allow_origins=settings.allow_origins)
    if settings.allowed_hosts is not None:
        app.add_middleware(HostCheckMiddleware, allowed_hosts=settings.allowed_hosts)
    app.add_middleware(SecurityHeadersMiddleware)

    # --- errors ---
    @app.exception_handler(HolefillError)
    async def _holefillerror_response(_: Request, exc: HolefillError) -> JSONResponse:
        from holefill.web.study import StudyTokenError, VoteRefused

        if isinstance(exc, ClientError):
            return error_response(422, str(exc), exc.kind)
        if isinstance(exc, StudyTokenError):
            return error_response(403, str(exc), type(exc).__name__)
        if isinstance(exc, VoteRefused):
            return error_response(429, str(exc), type(exc).__name__)
        return error_response(422, str(exc), type(exc).__name__)

    @app.exception_handler(JobTimeout)
    async def _timeout(_: Request, exc: JobTimeout) -> JSONResponse:
        return error_response(504, f"the fill did not finish within the server's time limit of {exc.limit:g} s;"
                              " try a smaller image, a smaller hole or a faster method",
                              "TimeLimit")

    @app.exception_handler(JobCancelled)
    async def _cancelled(_: Request, __: JobCancelled) -> JSONResponse:
        return error_response(409, "the fill was cancelled", "Cancelled")

    @app.exception_handler(JobConflict)
    async def _conflict(_: Request, __: JobConflict) -> JSONResponse:
        return error_response(409, "a fill with this X-Holefill-Job id is already running; make a new id",
                              "JobConflict")

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, _validation_message(exc), "ValidationError")

    @app.exception_handler(StarletteHTTPException)
    async def _httperror_response(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), "HTTPError", headers=getattr(exc, "headers", None))

    @app.exception_handler(ServerBusyError)
    async def _busy(_: Request, __: ServerBusyError) -> JSONResponse:
        return error_response(503, "the server is busy: too many fills are waiting; try again shortly", "ServerBusy",
                      headers={"Retry-After": "2"})

    @app.exception_handler(UnsupportedMediaError)
    async def _media(_: Request, __: UnsupportedMediaError) -> JSONResponse:
        return error_response(415, "send multipart/form-data (files) or application/json (base64)", "UnsupportedMediaType")

    @app.exception_handler(InternalFillError)
    async def _internal_fill(_: Request, __: InternalFillError) -> JSONResponse:
        return error_response(500, "the fill failed because of an internal error; the server log has the details",
                      "InternalError")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal error; the server log has the details", "InternalError")

    # --- pages and docs ---
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return _page("index.html")

    docs_assets = _docs_assets()
    if docs_assets is not None:
        app.mount("/docs-assets", StaticFiles(directory=docs_assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        from fastapi.openapi.docs import get_swagger_ui_html

        if docs_assets is None:  # Swagger UI from its CDN: needs internet in the browser.
            return get_swagger_ui_html(openapi_url="/openapi.json", title="holefill API")
        return get_swagger_ui_html(openapi_url="/openapi.json", title="holefill API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon.png")

    # --- the API ---
    @app.get("/api/health", response_model=schemas.HealthOut, tags=["server"])
    async def health() -> schemas.HealthOut:
        """Whether the server is up, and its limits."""
        return schemas.HealthOut(status="ok", version=__version__, methods=len(list_methods()),
                                 max_upload_bytes=settings.max_upload_bytes, max_pixels=settings.max_pixels,
                                 workers=settings.workers, study=study is not None, time_limit=settings.time_limit)

    @app.get("/api/methods", response_model=list[schemas.MethodOut], tags=["fill"])
    async def methods() -> list[schemas.MethodOut]:
        """Every method in holefill's table, whether this server can run it, and its options."""
        return [
            schemas.MethodOut(name=m.name, kind=m.kind, ready=(m.ready or m.name in settings.weights) and not m.requires,
                              summary=m.summary, paper=m.paper, default=m.name == DEFAULT_METHOD,
                              default_guided=m.name == DEFAULT_GUIDED_METHOD,
                              tasks=list(m.tasks), default_for=[t for t, n in DEFAULT_METHODS.items() if n == m.name],
                              default_blind=m.name == DEFAULT_BLIND_METHOD,
                              options=[schemas.OptionOut(**o.as_dict()) for o in m.options])
            for m in list_methods()
        ]

    @app.get("/api/jobs/{job_id}", response_model=schemas.JobOut, tags=["fill"],
             responses={404: {"model": schemas.ErrorOut}})
    async def job_status(job_id: str = PathParam(..., pattern=JOB_ID_RE.pattern)) -> Any:
        """How far the fill sent with this ``X-Holefill-Job`` id has come."""
        status = engine.job_status(job_id)
        if status is None:
            return error_response(404, "no fill with this id is running or waiting", "NoSuchJob")
        return schemas.JobOut(**status)

    @app.delete("/api/jobs/{job_id}", response_model=schemas.CancelOut, tags=["fill"],
                responses={404: {"model": schemas.ErrorOut}})
    async def job_cancel(job_id: str = PathParam(..., pattern=JOB_ID_RE.pattern)) -> Any:
        """Stop the fill sent with this id: it leaves the queue, or its worker is stopped."""
        if not engine.cancel(job_id):
            return error_response(404, "no fill with this id is running or waiting", "NoSuchJob")
        return schemas.CancelOut(cancelled=True)

    inpaint_files, inpaint_required = ("image", "mask", "guide"), ("image",)

    @app.post("/api/inpaint", response_class=Response, tags=["fill"], responses={**_PNG, **_ERRORS},
              openapi_extra=_body_doc(schemas.InpaintJSON, schemas.InpaintParams, inpaint_files, inpaint_required))
    async def inpaint(request: Request) -> Response:
        """Fill the hole a mask marks (white = hole) in an image; answers the result as PNG. With a
        ``guide`` photo, a guided method pulls the hole's content from it."""
        params, files = await _parse(request, schemas.InpaintParams, schemas.InpaintJSON, inpaint_files,
                                     inpaint_required)
        return await _fill(engine, request, "inpaint", params, files, resize_mask=params.resize_mask)

    @app.post("/api/outpaint", response_class=Response, tags=["fill"], responses={**_PNG, **_ERRORS},
              openapi_extra=_body_doc(schemas.OutpaintJSON, schemas.OutpaintParams, ("image",), ("image",)))
    async def outpaint(request: Request) -> Response:
        """Extend an image past its borders by the given pixels on each side; answers PNG."""
        params, files = await _parse(request, schemas.OutpaintParams, schemas.OutpaintJSON, ("image",), ("image",))
        sides = (params.left, params.right, params.top, params.bottom)
        if not any(sides):
            raise InvalidArgumentError("outpaint needs at least one of left, right, top, bottom > 0")
        return await _fill(engine, request, "outpaint", params, files, left=params.left, right=params.right,
                           top=params.top, bottom=params.bottom)

    @app.post("/api/blend", response_class=Response, tags=["fill"], responses={**_PNG, **_ERRORS},
              openapi_extra=_body_doc(schemas.BlendJSON, schemas.BlendParams, ("left", "right"), ("left", "right")))
    async def blend(request: Request) -> Response:
        """Join two photos with ``gap`` columns of generated content between them; answers PNG."""
        params, files = await _parse(request, schemas.BlendParams, schemas.BlendJSON, ("left", "right"),
                                     ("left", "right"))
        return await _fill(engine, request, "blend", params, files, gap=params.gap)

    @app.post("/api/inpaint-blind", response_class=Response, tags=["fill"], responses={**_PNG, **_ERRORS},
              openapi_extra=_body_doc(schemas.BlindJSON, schemas.BlindParams, ("image",), ("image",)))
    async def inpaint_blind(request: Request) -> Response:
        """Blind inpainting: find the damage (strokes, text, scratches) in an image and fill it; no mask
        is sent. Answers the result as PNG; X-Holefill-Hole-Pixels counts the damaged pixels found."""
        params, files = await _parse(request, schemas.BlindParams, schemas.BlindJSON, ("image",), ("image",))
        return await _blind(engine, request, "inpaint-blind", params, files)

    @app.post("/api/find-damage", response_class=Response, tags=["fill"], responses={**_DAMAGE_PNG, **_ERRORS},
              openapi_extra=_body_doc(schemas.FindDamageJSON, schemas.FindDamageParams, ("image",), ("image",)))
    async def find_damage(request: Request) -> Response:
        """Find the damage in an image without filling it: the mask (white = damage), to correct and
        send to /api/inpaint, or the damage probability (probability=true)."""
        params, files = await _parse(request, schemas.FindDamageParams, schemas.FindDamageJSON, ("image",),
                                     ("image",))
        return await _blind(engine, request, "find-damage", params, files, probability=params.probability)

    _add_study_routes(app, study, caps)
    return app


def _add_study_routes(app: FastAPI, study: Any, caps: Any) -> None:
    """The study page and its API, or clear 404s when no study is served.

    A participant is a token the server issued (``POST /api/study/session``) and signed; the
    page keeps it for the browser session. Votes are capped per token and per client address.
    """
    if study is None:
        message = "no study is being served; start the server with holefill serve --study DIR"

        @app.get("/study", include_in_schema=False)
        async def no_study_page() -> JSONResponse:
            return error_response(404, message, "NoStudy")

        @app.api_route("/api/study/{rest:path}", methods=["GET", "POST"], include_in_schema=False)
        @app.get("/api/study", include_in_schema=False)
        async def no_study(rest: str = "") -> JSONResponse:
            return error_response(404, message, "NoStudy")

        return

    from holefill.web.study import StudyTokenError

    @app.get("/study", include_in_schema=False)
    async def study_page() -> FileResponse:
        return _page("study.html")

    @app.get("/api/study", response_model=schemas.StudyInfo, tags=["study"])
    def study_info() -> schemas.StudyInfo:
        """The study's mode, question and number of trials per participant."""
        return schemas.StudyInfo(mode=study.mode, question=study.question, trials=study.trials_per_participant)

    @app.post("/api/study/session", response_model=schemas.StudySessionOut, tags=["study"])
    def study_session() -> schemas.StudySessionOut:
        """A new participant token (the page asks once per browser session)."""
        return schemas.StudySessionOut(token=study.issue_token())

    @app.get("/api/study/next", response_model=schemas.StudyTrialOut, tags=["study"])
    def study_next(participant: str = Query(..., min_length=8, max_length=64)) -> schemas.StudyTrialOut:
        """The participant's next unanswered trial (images in slot order), or done."""
        pid = study.participant_of(participant)
        trial, answered, total = study.next_trial(pid)
        if trial is None:
            return schemas.StudyTrialOut(done=True, answered=answered, total=total)
        slots = 2 if study.mode == "pair" else 1
        images = [f"/api/study/image?participant={participant}&trial={trial}&slot={s}" for s in range(slots)]
        return schemas.StudyTrialOut(done=False, trial=trial, images=images, answered=answered, total=total)

    @app.get("/api/study/image", response_class=Response, tags=["study"],
             responses={200: {"content": {"image/png": {}}, "description": "The image in that slot."}})
    def study_image(participant: str = Query(..., min_length=8, max_length=64), trial: int = Query(..., ge=0),
                    slot: int = Query(..., ge=0, le=1)) -> Response:
        """One image of a trial, as this participant sees it (the URL does not tell which is real)."""
        path = study.slot_image(study.participant_of(participant), trial, slot)
        return Response(content=path.read_bytes(), media_type="image/png",
                        headers={"Cache-Control": "private, max-age=3600"})

    @app.post("/api/study/vote", response_model=schemas.VoteOut, tags=["study"],
              responses={403: {"model": schemas.ErrorOut, "description": "Not a token this server issued."},
                         429: {"model": schemas.ErrorOut, "description": "Over a vote cap."}})
    def study_vote(vote: schemas.VoteIn, request: Request) -> schemas.VoteOut:
        """Store an answer; a second answer to the same trial is ignored (recorded: false)."""
        try:
            pid = study.participant_of(vote.participant)
        except StudyTokenError:
            study.count_refusal("bad_token")
            raise
        recorded = study.record_vote(pid, vote.trial, vote.choice, response_ms=vote.response_ms,
                                     address=client_address(request.scope), caps=caps)
        return schemas.VoteOut(recorded=recorded)
