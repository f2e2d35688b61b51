"""Load and abuse test of the REST API against a real ``holefill serve``.

Starts ``holefill serve`` (its default settings unless told otherwise) in a child process on a
free 127.0.0.1 port and runs three phases, printing numbers (speed is never a test):

1. fills: N concurrent POST /api/inpaint requests (one thread each); every answer is checked;
   latency percentiles, throughput and the error count.
2. lock-out: 200 idle TCP connections and 50 that send their headers slowly are held open
   while /api/health is asked, 10 times; its latency; then how many of the held connections
   the server has closed after its header timeout.
3. malformed: 200 bad requests (bad Content-Length, short bodies, garbage, bad JSON and
   base64, non-images, bombs, options out of range, cross-origin, ...): the status counts,
   how many were 500 (none should be) and how many lacked the JSON error shape.

    python benchmarks/load_web.py [--requests 50] [--concurrency 50] [--size 512] [--method telea]
        [--workers 2] [--idle 200] [--slow 50] [--malformed 200]

Exit status 0 when there were no fill errors, health always answered within a second, and no
malformed request got a 500 or a non-JSON answer; 2 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import io
import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def test_inputs(size: int, seed: int = 0) -> tuple[bytes, bytes]:
    """A smooth colourful image with some noise, and a mask of a few boxes (about 8 % hole)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = np.stack([128 + 100 * np.sin(6 * xx), 128 + 100 * np.cos(5 * yy), 128 + 80 * np.sin(4 * (xx + yy))], 2)
    image = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((size, size), np.uint8)
    for _ in range(4):
        h, w = rng.integers(size // 12, size // 6, 2)
        y, x = rng.integers(0, size - h), rng.integers(0, size - w)
        mask[y:y + h, x:x + w] = 255
    return png(image), png(mask)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


# --- raw HTTP, for requests no client library would send ---------------------------------------


def raw(port: int, data: bytes, timeout: float = 30.0) -> tuple[int, str, bytes]:
    """Send bytes, read one response: (status, content type, body); status 0 if none came."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except OSError:  # the server answered and closed before taking it all (a huge header)
            pass
        got = b""
        try:
            while b"\r\n\r\n" not in got:
                chunk = sock.recv(65536)
                if not chunk:
                    return 0, "", got
                got += chunk
            head, _, body = got.partition(b"\r\n\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in head.decode("latin-1").split("\r\n")[1:])}
            length = int(headers.get("content-length", "0"))
            while len(body) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                body += chunk
        except (socket.timeout, ConnectionError):
            return 0, "", got
        return int(head.split()[1]), headers.get("content-type", ""), body


def request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
            port: int = 0) -> bytes:
    head = {"Host": f"127.0.0.1:{port}", "Connection": "close", "Content-Length": str(len(body)), **(headers or {})}
    return (f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n").encode() + body


def multipart(fields: dict[str, bytes | str]) -> tuple[bytes, str]:
    boundary = "holefill-load-boundary"
    out = b""
    for name, value in fields.items():
        if isinstance(value, bytes):
            out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="f"\r\n'
                    "Content-Type: application/octet-stream\r\n\r\n").encode() + value + b"\r\n"
        else:
            out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    return out + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def png_bomb(side: int = 30_000) -> bytes:
    """A valid PNG header claiming side x side pixels, with a tiny body (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = side.to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")


def malformed_requests(port: int, image: bytes, mask: bytes) -> list[tuple[str, bytes]]:
    """(name, raw request) for many kinds of bad request; cycled to the asked-for count."""
    def post(path: str, body: bytes, ctype: str, **extra: str) -> bytes:
        return request("POST", path, body, {"Content-Type": ctype, **extra}, port)

    def form(**fields: bytes | str) -> tuple[bytes, str]:
        return multipart(fields)

    small = np.zeros((8, 8), np.uint8)
    b64 = base64.b64encode(image).decode()
    fill_body, fill_type = form(image=image, mask=mask)
    kinds: list[tuple[str, bytes]] = [
        ("content-length not a number", b"POST /api/inpaint HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
        ("content-length negative", b"POST /api/inpaint HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"),
        ("two content-lengths", b"POST /api/inpaint HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc"),
        ("garbage request line", b"HELLO THERE\r\n\r\n"),
        ("binary garbage", bytes(range(256)) + b"\r\n\r\n"),
        ("no host header", b"GET /api/health HTTP/1.1\r\n\r\n"),
        ("huge header", b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"),
        ("foreign host header", request("GET", "/api/health", headers={"Host": "evil.example"}, port=port)),
        ("cross-origin fill", post("/api/inpaint", fill_body, fill_type, Origin="http://evil.example")),
        ("unknown route", request("GET", "/api/nothing/here", port=port)),
        ("path traversal", request("GET", "/static/../../../../etc/passwd", port=port)),
        ("wrong verb", request("PUT", "/api/inpaint", b"x", port=port)),
        ("not json", post("/api/inpaint", b"{not json", "application/json")),
        ("json not an object", post("/api/inpaint", b"[1, 2, 3]", "application/json")),
        ("bad base64", post("/api/inpaint", json.dumps({"image": "!!!"}).encode(), "application/json")),
        ("json without image", post("/api/inpaint", b"{}", "application/json")),
        ("json unknown field", post("/api/inpaint", json.dumps({"image": b64, "evil": 1}).encode(), "application/json")),
        ("text/plain body", post("/api/inpaint", b"hello", "text/plain")),
        ("no content type", request("POST", "/api/inpaint", b"hello", port=port)),
        ("not an image", post("/api/inpaint", *form(image=b"this is not an image", mask=mask))),
        ("truncated png", post("/api/inpaint", *form(image=image[: len(image) // 3], mask=mask))),
        ("png bomb", post("/api/inpaint", *form(image=png_bomb(), mask=mask))),
        ("mask of another size", post("/api/inpaint", *form(image=image, mask=png(small)))),
        ("empty image part", post("/api/inpaint", *form(image=b"", mask=mask))),
        ("image as a text field", post("/api/inpaint", *form(image="just text", mask=mask))),
        ("option out of range", post("/api/inpaint", *form(image=image, mask=mask, method="telea",
                                                            options='{"radius": 1e308}'))),
        ("unknown option", post("/api/inpaint", *form(image=image, mask=mask, method="telea", options='{"x": 1}'))),
        ("options not json", post("/api/inpaint", *form(image=image, mask=mask, options="{radius"))),
        ("reserved option", post("/api/inpaint", *form(image=image, mask=mask, options='{"weights": "/etc"}'))),
        ("unknown method", post("/api/inpaint", *form(image=image, mask=mask, method="../../etc/passwd"))),
        ("learned method without weights", post("/api/inpaint", *form(image=image, mask=mask, method="pggan"))),
        ("negative side", post("/api/outpaint", *form(image=image, left="-5"))),
        ("side not a number", post("/api/outpaint", *form(image=image, left="many"))),
        ("huge sides", post("/api/outpaint", *form(image=image, left="100000", right="100000"))),
        ("gap zero", post("/api/blend", *form(left=image, right=image, gap="0"))),
        ("blend missing right", post("/api/blend", *form(left=image))),
        ("bad job id", post("/api/inpaint", fill_body, fill_type, **{"X-Holefill-Job": "../x"})),
        ("unknown job", request("GET", "/api/jobs/" + "z" * 30, port=port)),
        ("cancel unknown job", request("DELETE", "/api/jobs/" + "z" * 30, port=port)),
        ("too large", post("/api/inpaint", b"x" * (21 * 1024 * 1024), "application/octet-stream")),
        ("study without a study", post("/api/study/vote", b'{"participant": "x", "trial": 0, "choice": "0"}',
                                       "application/json")),
    ]
    return kinds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--size", type=int, default=512, help="image side in pixels")
    parser.add_argument("--method", default="telea")
    parser.add_argument("--workers", type=int, default=2, help="the server's worker processes")
    parser.add_argument("--max-queue", type=int, default=64)
    parser.add_argument("--idle", type=int, default=200, help="idle connections held in phase 2")
    parser.add_argument("--slow", type=int, default=50, help="slowly-sending connections held in phase 2")
    parser.add_argument("--malformed", type=int, default=200, help="bad requests in phase 3")
    args = parser.parse_args()

    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = dict(os.environ, PYTHONPATH=src + os.pathsep + os.environ.get("PYTHONPATH", ""))
    server = subprocess.Popen(
        [sys.executable, "-m", "holefill.cli", "serve", "--port", str(port), "--workers", str(args.workers),
         "--max-queue", str(args.max_queue), "--log-level", "critical"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    failed = False
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                print("the server did not start:", server.stderr.read() if server.stderr else "", file=sys.stderr)
                return 1
            time.sleep(0.1)
        print(f"holefill serve (defaults; --workers {args.workers}), {os.cpu_count()} CPUs")

        # --- 1. concurrent fills ---
        image, mask = test_inputs(args.size)
        files = {"image": ("i.png", image, "image/png"), "mask": ("m.png", mask, "image/png")}
        with httpx.Client(timeout=300) as warm:  # start the workers and build the filler, outside the timing
            for _ in range(args.workers):
                warm.post(url + "/api/inpaint", files=files, data={"method": args.method}).raise_for_status()

        latencies: list[float] = []
        errors: dict[str, int] = {}
        lock = threading.Lock()
        start_gate = threading.Barrier(min(args.concurrency, args.requests))

        def one(i: int) -> None:
            if i < start_gate.parties:
                start_gate.wait()
            t0 = time.perf_counter()
            try:
                with httpx.Client(timeout=300) as client:
                    r = client.post(url + "/api/inpaint", files=files, data={"method": args.method})
                ok = r.status_code == 200 and r.headers.get("content-type") == "image/png"
                key = None if ok else f"HTTP {r.status_code}"
            except httpx.HTTPError as exc:
                key = type(exc).__name__
            dt = time.perf_counter() - t0
            with lock:
                if key is None:
                    latencies.append(dt)
                else:
                    errors[key] = errors.get(key, 0) + 1

        wall0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            list(pool.map(one, range(args.requests)))
        wall = time.perf_counter() - wall0
        ms = [x * 1000 for x in latencies]
        print(f"1. fills: {args.requests} requests, {args.concurrency} concurrent, {args.size}x{args.size},"
              f" method {args.method}")
        print(f"   ok {len(latencies)}, errors {sum(errors.values())}" + (f" {errors}" if errors else ""))
        print(f"   latency ms: p50 {percentile(ms, 50):.0f}  p90 {percentile(ms, 90):.0f}  "
              f"p99 {percentile(ms, 99):.0f}  max {max(ms) if ms else float('nan'):.0f};"
              f" wall {wall:.2f} s, {len(latencies) / wall:.1f} requests/s")
        failed |= bool(errors)

        # --- 2. lock-out: idle and slow connections held while health is asked ---
        held = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(args.idle)]
        slow = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(args.slow)]
        for s in slow:
            s.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        health_ms = []
        with httpx.Client(timeout=5) as client:
            for _ in range(10):
                t0 = time.perf_counter()
                try:
                    ok = client.get(url + "/api/health", headers={"Connection": "close"}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                health_ms.append((time.perf_counter() - t0) * 1000 if ok else float("inf"))
                for s in slow[:: max(1, len(slow) // 10)]:  # keep trickling header lines
                    try:
                        s.sendall(b"X-Slow: 1\r\n")
                    except OSError:
                        pass
                time.sleep(0.2)
        print(f"2. lock-out: {args.idle} idle + {args.slow} slow connections held;"
              f" /api/health x10: max {max(health_ms):.0f} ms, median {percentile(health_ms, 50):.0f} ms")
        failed |= max(health_ms) > 1000
        time.sleep(11)  # the default header timeout is 10 s
        closed = 0
        for s in held + slow:
            s.settimeout(0.5)
            try:
                data = s.recv(4096)
                closed += data == b"" or data.startswith(b"HTTP/1.1 408")
            except (socket.timeout, OSError):
                pass
            s.close()
        print(f"   after the header timeout the server had closed {closed} of {len(held) + len(slow)}")

        # --- 3. malformed requests ---
        kinds = malformed_requests(port, image, mask)
        plan = list(itertools.islice(itertools.cycle(kinds), args.malformed))
        statuses: dict[int, int] = {}
        five_hundreds: list[str] = []
        not_json: list[str] = []

        def bad(item: tuple[str, bytes]) -> None:
            name, data = item
            status, ctype, body = raw(port, data, timeout=60)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status >= 500 and status != 503:
                    five_hundreds.append(name)
                shaped = False
                if ctype.startswith("application/json"):
                    try:
                        shaped = set(json.loads(body)) == {"error", "type"}
                    except ValueError:
                        pass
                if status and not shaped:
                    not_json.append(f"{name} ({status})")

        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(bad, plan))
        shown = ", ".join(f"{k or 'no answer'}: {v}" for k, v in sorted(statuses.items()))
        print(f"3. malformed: {len(plan)} requests of {len(kinds)} kinds; statuses {shown}")
        print(f"   5xx (503 aside): {len(five_hundreds)}" + (f" {sorted(set(five_hundreds))}" if five_hundreds else "")
              + f"; without the JSON error shape: {len(not_json)}" + (f" {sorted(set(not_json))}" if not_json else ""))
        failed |= bool(five_hundreds or not_json)
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
