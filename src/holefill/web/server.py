"""The web server's plumbing: settings and limits, who may bind where, and the ASGI middleware
(body limit, security headers) that every request passes before a route sees it.

Routes live in :mod:`holefill.web.app`; the worker pool and the filler cache in
:mod:`holefill.web.engine`.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from holefill.errors import InvalidArgumentError

DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: The server's default pixel limit: lower than the library's, since a server decodes
#: images it did not choose (25 MP is still a large phone photo).
DEFAULT_SERVER_MAX_PIXELS = 25_000_000
LOOPBACK_NAMES = ("localhost",)


@dataclass(frozen=True)
class ServerSettings:
    """How the server behaves; ``holefill serve`` fills this from its options."""

    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_pixels: int = DEFAULT_SERVER_MAX_PIXELS
    #: Threads that run fills at the same time.
    workers: int = 2
    #: Fill requests that may be running or waiting; more are answered 503.
    max_queue: int = 64
    #: Weights folders for learned methods, by method name (set by the operator, never a client).
    weights: Mapping[str, Path] = field(default_factory=dict)
    device: str | None = None
    #: How learned methods run: None or "torch" (PyTorch), or "onnxruntime" (their folders' model.onnx).
    backend: str | None = None
    #: A study folder to serve at /study, or None.
    study_dir: Path | None = None
    #: How many built fillers to keep (method + weights + options).
    cache_size: int = 8
    #: Host names the server answers to (a guard against DNS rebinding); None = any.
    allowed_hosts: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "max_pixels", "workers", "max_queue", "cache_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgumentError(f"{name} must be a positive whole number, got {value!r}")


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind_warning(host: str) -> str | None:
    """The warning to print when ``host`` exposes the server beyond this machine."""
    if is_loopback(host):
        return None
    return (f"binding {host} makes the server reachable from other machines; it has no authentication,"
            " so anyone who can reach it can use its CPU (bind 127.0.0.1 unless you mean it)")



def error_response(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "type": kind}, status_code=status, headers=headers)



# --- middleware ---------------------------------------------------------------------------


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413 and a JSON message.

    The body is read here (so a chunked upload without Content-Length is capped too) and
    handed on whole; the endpoints never see more than the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _too_large(self, send: Send) -> None:
        mb = self.max_bytes / (1024 * 1024)
        limit = f"{mb:.0f} MB" if mb >= 1 else f"{self.max_bytes:,} bytes"
        response = error_response(413, f"the request is larger than the upload limit of {limit}"
                               " (the server's --max-upload-mb sets it)", "UploadTooLarge",
                          headers={"Connection": "close"})
        await response({"type": "http"}, _no_receive, send)

    async def _drain(self, receive: Receive, budget: int) -> None:
        """Read and drop what the client still sends (up to ``budget`` bytes, 5 s per chunk),
        so that it is reading when the 413 comes instead of hitting a reset connection."""
        while budget > 0:
            try:
                message = await asyncio.wait_for(receive(), timeout=5.0)
            except asyncio.TimeoutError:
                return
            if message["type"] != "http.request":
                return
            budget -= len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = None
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await error_response(400, "Content-Length is not a number", "BadRequest")(scope, receive, send)
                    return
        drain_cap = 4 * self.max_bytes
        if declared is not None and declared > self.max_bytes:
            if declared <= drain_cap:
                await self._drain(receive, declared)
            await self._too_large(send)
            return
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_bytes:  # a chunked body with no Content-Length
                if message.get("more_body", False):
                    await self._drain(receive, drain_cap - total)
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _no_receive() -> Message:  # pragma: no cover - a response never reads
    return {"type": "http.disconnect"}


class SecurityHeadersMiddleware:
    """Headers every response gets: no MIME sniffing, no referrer, no framing."""

    HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
               (b"x-frame-options", b"DENY")]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    h for h in self.HEADERS if h[0] not in names]
            await send(message)

        await self.app(scope, receive, send_with_headers)
