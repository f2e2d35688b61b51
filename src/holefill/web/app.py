"""The web app's routes: a REST API over the method table, the painting page, and the realism
study.

:func:`create_app` builds a FastAPI app from :class:`~holefill.web.server.ServerSettings`;
``holefill serve`` runs it with uvicorn. The plumbing lives beside it: limits and middleware
in :mod:`holefill.web.server`, the worker pool and the filler cache in
:mod:`holefill.web.engine`. Design points:

- Bad input answers 422 with holefill's one-line message, an oversized body 413, an
  unexpected failure 500 with a generic message (the traceback goes to the log), and the
  server carries on.
- The image type is read from the content (:mod:`holefill.io`); a client's file names are
  never used, and no client-supplied name or path reaches the filesystem.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from holefill.errors import HolefillError, InvalidArgumentError
from holefill.methods import DEFAULT_GUIDED_METHOD, DEFAULT_METHOD, list_methods
from holefill.web import schemas
from holefill.web.engine import Engine, FillResult, InternalFillError, ServerBusyError
from holefill.web.server import BodyLimitMiddleware, SecurityHeadersMiddleware, ServerSettings, error_response

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
    study = None
    if settings.study_dir is not None:
        from holefill.web.study import Study

        study = Study(settings.study_dir)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
        yield
        engine.close()

    app = FastAPI(
        title="holefill",
        version=__version__,
        description="Fill holes in images: inpaint, outpaint and blend with any method in holefill's table.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.study = study

    # Middleware: the last added is the outermost.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_upload_bytes)
    if settings.allowed_hosts is not None:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts))
    app.add_middleware(SecurityHeadersMiddleware)

    # --- errors ---
    @app.exception_handler(HolefillError)
    async def _holefillerror_response(_: Request, exc: HolefillError) -> JSONResponse:
        return error_response(422, str(exc), type(exc).__name__)

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
                                 workers=settings.workers, study=study is not None)

    @app.get("/api/methods", response_model=list[schemas.MethodOut], tags=["fill"])
    async def methods() -> list[schemas.MethodOut]:
        """Every method in holefill's table, and whether this server can run it."""
        return [
            schemas.MethodOut(name=m.name, kind=m.kind, task=m.task,
                              ready=(m.ready or m.name in settings.weights) and not m.requires,
                              summary=m.summary, paper=m.paper, default=m.name in (DEFAULT_METHOD, DEFAULT_GUIDED_METHOD))
            for m in list_methods()
        ]

    inpaint_files, inpaint_required = ("image", "mask", "guide"), ("image",)

    @app.post("/api/inpaint", response_class=Response, tags=["fill"], responses={**_PNG, **_ERRORS},
              openapi_extra=_body_doc(schemas.InpaintJSON, schemas.InpaintParams, inpaint_files, inpaint_required))
    async def inpaint(request: Request) -> Response:
        """Fill the hole a mask marks (white = hole) in an image; answers the result as PNG. With a
        ``guide`` photo, a guided method pulls the hole's content from it."""
        params, files = await _parse(request, schemas.InpaintParams, schemas.InpaintJSON, inpaint_files,
                                     inpaint_required)
        job = functools.partial(engine.inpaint_job, files["image"], files["mask"], params.method,
                                params.options, params.resize_mask, files["guide"])
        return _png_response(await engine.run(job, "inpaint"))

    @app.post("/api/outpaint", response_class=Response, tags=["fill"], responses={**_PNG, **_ERRORS},
              openapi_extra=_body_doc(schemas.OutpaintJSON, schemas.OutpaintParams, ("image",), ("image",)))
    async def outpaint(request: Request) -> Response:
        """Extend an image past its borders by the given pixels on each side; answers PNG."""
        params, files = await _parse(request, schemas.OutpaintParams, schemas.OutpaintJSON, ("image",), ("image",))
        sides = (params.left, params.right, params.top, params.bottom)
        if not any(sides):
            raise InvalidArgumentError("outpaint needs at least one of left, right, top, bottom > 0")
        job = functools.partial(engine.outpaint_job, files["image"], sides, params.method, params.options)
        return _png_response(await engine.run(job, "outpaint"))

    @app.post("/api/blend", response_class=Response, tags=["fill"], responses={**_PNG, **_ERRORS},
              openapi_extra=_body_doc(schemas.BlendJSON, schemas.BlendParams, ("left", "right"), ("left", "right")))
    async def blend(request: Request) -> Response:
        """Join two photos with ``gap`` columns of generated content between them; answers PNG."""
        params, files = await _parse(request, schemas.BlendParams, schemas.BlendJSON, ("left", "right"),
                                     ("left", "right"))
        job = functools.partial(engine.blend_job, files["left"], files["right"], params.gap, params.method,
                                params.options)
        return _png_response(await engine.run(job, "blend"))

    _add_study_routes(app, study)
    return app


def _add_study_routes(app: FastAPI, study: Any) -> None:
    """The study page and its API, or clear 404s when no study is served."""
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

    @app.get("/study", include_in_schema=False)
    async def study_page() -> FileResponse:
        return _page("study.html")

    @app.get("/api/study", response_model=schemas.StudyInfo, tags=["study"])
    def study_info() -> schemas.StudyInfo:
        """The study's mode, question and number of trials per participant."""
        per = len(study.trials) if study.per_participant is None else min(study.per_participant, len(study.trials))
        return schemas.StudyInfo(mode=study.mode, question=study.question, trials=per)

    @app.get("/api/study/next", response_model=schemas.StudyTrialOut, tags=["study"])
    def study_next(participant: str = Query(..., min_length=8, max_length=64)) -> schemas.StudyTrialOut:
        """The participant's next unanswered trial (images in slot order), or done."""
        trial, answered, total = study.next_trial(participant)
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
        path = study.slot_image(participant, trial, slot)
        return Response(content=path.read_bytes(), media_type="image/png",
                        headers={"Cache-Control": "private, max-age=3600"})

    @app.post("/api/study/vote", response_model=schemas.VoteOut, tags=["study"])
    def study_vote(vote: schemas.VoteIn) -> schemas.VoteOut:
        """Store an answer; a second answer to the same trial is ignored (recorded: false)."""
        recorded = study.record_vote(vote.participant, vote.trial, vote.choice, response_ms=vote.response_ms)
        return schemas.VoteOut(recorded=recorded)
