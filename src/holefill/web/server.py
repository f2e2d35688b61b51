"""The web server's plumbing: settings and limits, binding, the HTTP protocol's timeouts, and
the ASGI middleware (origin check, body limit, security headers) that every request passes
before a route sees it.

Routes live in :mod:`holefill.web.app`; the worker pool in :mod:`holefill.web.engine`.

What protects a server that strangers reach (README, "Serving"):

- uvicorn's keep-alive timeout closes idle connections between requests; a connection that
  does not finish its request line and headers within ``header_timeout`` seconds is closed
  (:class:`GuardedH11Protocol`: uvicorn has no setting for it), so neither idle nor
  slowly-sending connections pile up; no connection cap that idle sockets could fill.
- A body must arrive within ``body_timeout`` seconds, with no gap over ``header_timeout``
  (408), so a Content-Length larger than the body does not hold a request forever; bodies
  over ``max_upload_bytes`` get 413, and at most ``max_queue + 16`` bodies are buffered at
  once (503 beyond).
- A malformed request (a bad Content-Length, say) gets the JSON error shape, not uvicorn's
  plain-text 400.
- Browsers' cross-origin writes are refused unless the origin is allowed (``--allow-origin``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import h11
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from holefill.errors import InvalidArgumentError

DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: The server's default pixel limit: lower than the library's, since a server decodes
#: images it did not choose (25 MP is still a large phone photo).
DEFAULT_SERVER_MAX_PIXELS = 25_000_000
LOOPBACK_NAMES = ("localhost",)
#: Seconds a fill may run on its worker (the server's default); waiting in the queue is
#: bounded by the queue's length and the fills ahead, each held to this.
DEFAULT_TIME_LIMIT = 120.0
#: Buffered request bodies beyond the fill queue (pages, votes, bad requests).
EXTRA_BODIES = 16


@dataclass(frozen=True)
class ServerSettings:
    """How the server behaves; ``holefill serve`` fills this from its options."""

    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_pixels: int = DEFAULT_SERVER_MAX_PIXELS
    #: Worker processes that run fills at the same time.
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
    #: How many built fillers each worker keeps (method + weights + options).
    cache_size: int = 8
    #: Host names the server answers to (a guard against DNS rebinding); None = any.
    allowed_hosts: tuple[str, ...] | None = None
    #: Seconds a fill may run on its worker before it is stopped (504); None: no limit.
    time_limit: float | None = DEFAULT_TIME_LIMIT
    #: Seconds a connection has to send its request line and headers.
    header_timeout: float = 10.0
    #: Seconds a request has to send its whole body.
    body_timeout: float = 60.0
    #: Seconds an idle keep-alive connection stays open between requests (uvicorn's setting).
    keep_alive: float = 5.0
    #: Origins (scheme://host[:port]) whose pages may send requests here, besides this server's own.
    allow_origins: tuple[str, ...] = ()
    #: Study: votes one participant token may cast (None: the study's trials per participant).
    study_votes_per_token: int | None = None
    #: Study: votes one client address may cast, all tokens together (None: one participant's
    #: worth; 0: no cap, for a study run behind a proxy that hides addresses).
    study_votes_per_address: int | None = None
    #: Called once in each worker process before its first job (picklable); for tests and plugins.
    worker_setup: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "max_pixels", "workers", "max_queue", "cache_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgumentError(f"{name} must be a positive whole number, got {value!r}")
        for name in ("header_timeout", "body_timeout", "keep_alive") + (("time_limit",) if self.time_limit else ()):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 86_400:
                raise InvalidArgumentError(f"{name} must be between 0 and 86400 seconds, got {value!r}")
        for name in ("study_votes_per_token", "study_votes_per_address"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise InvalidArgumentError(f"{name} must be a whole number >= 0, got {value!r}")
        for origin in self.allow_origins:
            check_origin(origin)


def check_origin(origin: str) -> str:
    """``scheme://host[:port]`` as browsers send it in the Origin header, or an error."""
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.fragment or parts.username:
        raise InvalidArgumentError(f"--allow-origin takes an origin like https://example.org or"
                                   f" http://localhost:3000, got {origin!r}")
    return origin.rstrip("/")


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


def error_bytes(status: int, reason: str, message: str, kind: str) -> bytes:
    """A whole HTTP/1.1 error response with the JSON error shape, for the protocol layer."""
    body = json.dumps({"error": message, "type": kind}).encode()
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\nx-content-type-options: nosniff\r\n\r\n").encode() + body


# --- binding and running ------------------------------------------------------------------


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port``, or one :class:`HolefillError` line (a busy port,
    an address this machine does not have)."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InvalidArgumentError(f"--host {host!r} cannot be resolved ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        shown = f"[{host}]" if ":" in host else host
        if exc.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
            raise InvalidArgumentError(f"port {port} on {shown} is already in use (another server?);"
                                       " stop it or choose another --port") from None
        if exc.errno in (13, 10013):
            raise InvalidArgumentError(f"not allowed to listen on port {port} (ports below 1024 need"
                                       " privileges); choose another --port") from None
        raise InvalidArgumentError(f"cannot listen on {shown}:{port}: {exc.strerror}") from None
    return sock


def make_protocol(header_timeout: float) -> type[Any]:
    """uvicorn's h11 protocol with a header timeout and JSON 400s (see :class:`GuardedH11Protocol`)."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"header_timeout": header_timeout})


def serve(app: ASGIApp, sock: socket.socket, settings: ServerSettings, *, log_level: str = "info") -> None:
    """Run ``app`` with uvicorn on the bound ``sock`` until SIGINT or SIGTERM.

    On a signal, uvicorn stops accepting, lets running requests finish for up to 3 s, then
    cancels them; the app's shutdown kills the worker processes, so the server is gone within
    a few seconds even with fills in flight.
    """
    import uvicorn

    config = uvicorn.Config(app, http=make_protocol(settings.header_timeout), ws="none", lifespan="on",
                            log_level=log_level, timeout_keep_alive=settings.keep_alive,  # type: ignore[arg-type]
                            timeout_graceful_shutdown=3, limit_concurrency=None, server_header=False)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn raises Ctrl+C again once it has shut down
        pass


# --- the HTTP protocol ----------------------------------------------------------------------


class _RecordingConnection(h11.Connection):
    """h11's connection, remembering why the last request could not be parsed."""

    last_error: h11.RemoteProtocolError | None = None

    def next_event(self) -> Any:
        try:
            return super().next_event()
        except h11.RemoteProtocolError as exc:
            self.last_error = exc
            raise


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol plus what uvicorn lacks: a connection that has not sent a whole
    request line and headers within ``header_timeout`` seconds (from its first byte, or from
    connecting) is answered 408 and closed; a request h11 cannot parse gets a JSON 400."""

    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        size = self.config.h11_max_incomplete_event_size
        self.conn = _RecordingConnection(h11.SERVER, **({} if size is None else {"max_incomplete_event_size": size}))
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            self._disarm_header_timer()
        else:  # (part of) a request line or headers: the clock runs from the first byte
            self._arm_header_timer()

    def on_response_complete(self) -> None:
        self._disarm_header_timer()
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE and self.conn.trailing_data[0]:
            self._arm_header_timer()  # a pipelined request's headers are partly here

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._header_timed_out)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.conn.trailing_data[0]:  # a request had begun: tell the client why
            self.transport.write(error_bytes(408, "Request Timeout", f"the request line and headers did not arrive"
                                             f" within {self.header_timeout:g} s", "RequestTimeout"))
        self._unset_keepalive_if_required()
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        error = getattr(self.conn, "last_error", None)
        status = getattr(error, "error_status_hint", 400) if error is not None else 400
        # h11's reason, without the client's bytes that some reasons quote.
        detail = str(error).split(":")[0].strip() if error is not None else ""
        detail = "".join(c for c in detail if c.isprintable())[:120] or "it is not valid HTTP/1.1"
        reason = {400: "Bad Request", 431: "Request Header Fields Too Large"}.get(status, "Bad Request")
        if status not in (400, 431):
            status = 400
        self.transport.write(error_bytes(status, reason, f"the request is malformed: {detail}", "BadRequest"))
        self.transport.close()


# --- middleware ---------------------------------------------------------------------------


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


class HostCheckMiddleware:
    """Answer only to the host names the server is meant for (400 otherwise), a guard against
    DNS rebinding for a server on loopback; the JSON error shape, like every other error."""

    def __init__(self, app: ASGIApp, allowed_hosts: tuple[str, ...]) -> None:
        self.app = app
        self.allowed = {h.lower().strip("[]") for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = (_header(scope, b"host") or "").lower()
            name = urlsplit(f"//{host}").hostname if host else None
            if name is None or name.strip("[]") not in self.allowed:
                await error_response(400, "the Host header names a host this server does not serve"
                                          f" (it answers to {', '.join(sorted(self.allowed))})", "InvalidHost",
                                     headers={"Connection": "close"})(scope, receive, send)
                return
        await self.app(scope, receive, send)


class OriginCheckMiddleware:
    """Refuse (403) requests that change something (anything but GET, HEAD and OPTIONS), and
    CORS preflights, when a browser says they come from a page of another origin that is not
    allowed.

    A cross-origin multipart POST needs no preflight, so without this any web page a user
    visits could run fills (or cast study votes) on a server the user reaches. Requests
    without an Origin header (curl, scripts) are not browsers' and pass.
    """

    def __init__(self, app: ASGIApp, allow_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.allow = {o.lower().rstrip("/") for o in allow_origins}

    def _same_origin(self, origin: str, scope: Scope) -> bool:
        host = _header(scope, b"host")
        parts = urlsplit(origin)
        if not host or not parts.hostname:
            return False
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return False
        want = urlsplit(f"//{host}")
        try:
            want_port = want.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return False
        return (want.hostname or "").lower() == parts.hostname.lower() and want_port == port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        preflight = scope["type"] == "http" and scope["method"] == "OPTIONS" \
            and _header(scope, b"access-control-request-method") is not None
        if scope["type"] == "http" and (preflight or scope["method"] not in ("GET", "HEAD", "OPTIONS")):
            origin = _header(scope, b"origin")
            if origin is not None and origin.lower().rstrip("/") not in self.allow \
                    and not self._same_origin(origin, scope):
                shown = "".join(c for c in origin if c.isprintable())[:100]
                response = error_response(
                    403, f"a cross-origin request from {shown} is refused; the server's operator can allow an"
                         " origin with holefill serve --allow-origin ORIGIN", "CrossOriginRefused",
                    headers={"Connection": "close"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Read request bodies with limits: size (413), time (408) and how many at once (503).

    The body is read here (so a chunked upload without Content-Length is capped too) and
    handed on whole; the endpoints never see more than the limit. A body must arrive within
    ``body_timeout`` seconds with no gap longer than ``gap_timeout``: a client that declares
    more than it sends, or trickles a byte at a time, is answered 408 and the connection
    closed. At most ``max_bodies`` bodies are buffered at once.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, *, body_timeout: float = 60.0, gap_timeout: float = 10.0,
                 max_bodies: int = 80) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.body_timeout = body_timeout
        self.gap_timeout = gap_timeout
        self.max_bodies = max_bodies
        self.bodies = 0
        self._lock = threading.Lock()

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
        with self._lock:
            busy = self.bodies >= self.max_bodies
            if not busy:
                self.bodies += 1
        if busy:
            await error_response(503, "the server is busy: too many requests are uploading; try again shortly",
                                 "ServerBusy", headers={"Retry-After": "2", "Connection": "close"})(
                scope, receive, send)
            return
        try:
            body = await self._read(scope, receive, send)
        finally:
            with self._lock:
                self.bodies -= 1
        if body is None:
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None when a response was sent instead (or the client left)."""
        declared = None
        raw = _header(scope, b"content-length")
        if raw is not None:
            try:
                declared = int(raw)
            except ValueError:
                await error_response(400, "the request is malformed: bad Content-Length", "BadRequest",
                                     headers={"Connection": "close"})(scope, receive, send)
                return None
        drain_cap = 4 * self.max_bytes
        if declared is not None and declared > self.max_bytes:
            if declared <= drain_cap:
                await self._drain(receive, declared)
            await self._too_large(send)
            return None
        chunks: list[bytes] = []
        total = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout
        while True:
            wait = min(self.gap_timeout, deadline - loop.time())
            try:
                message = await asyncio.wait_for(receive(), timeout=max(0.0, wait))
            except asyncio.TimeoutError:
                got = f"{total:,} of {declared:,} bytes" if declared is not None else f"{total:,} bytes"
                why = (f"within {self.body_timeout:g} s" if loop.time() >= deadline
                       else f"(nothing for {self.gap_timeout:g} s)")
                await error_response(408, f"the request body did not arrive {why}; got {got}", "RequestTimeout",
                                     headers={"Connection": "close"})(scope, _no_receive, send)
                return None
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_bytes:  # a chunked body with no Content-Length
                if message.get("more_body", False):
                    await self._drain(receive, drain_cap - total)
                await self._too_large(send)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


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


def client_address(scope: Scope) -> str:
    """The client's address as the study's caps count it: an IPv6 address by its /64 (one
    host usually has a whole /64), an IPv4 address whole."""
    client = scope.get("client")
    host = client[0] if client else "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)

