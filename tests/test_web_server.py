"""The server under abuse, with real sockets against a real ``holefill serve`` process: idle and
slow connections, bodies that never arrive, malformed requests, clients that hang up, SIGTERM
with work in flight, a busy port, bad ``--weights``."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")

JOB = "x" * 12 + "slow-criminisi"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr if arr.dtype != bool else arr.astype(np.uint8) * 255).save(buf, format="PNG")
    return buf.getvalue()


class Server:
    """``holefill serve`` in a child process on a free 127.0.0.1 port."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "holefill.cli", "serve", "--port", str(self.port), "--log-level", "warning", *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {self.proc.stderr.read()}")
            try:
                status, _, _ = self.request("GET", "/api/health", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the server did not come up")

    def connect(self, timeout: float = 5.0) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
                timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
        """One HTTP/1.1 request on a fresh connection: (status, headers, body)."""
        with self.connect(timeout) as sock:
            head = {"Host": f"127.0.0.1:{self.port}", "Connection": "close", "Content-Length": str(len(body)),
                    **(headers or {})}
            sock.sendall(f"{method} {path} HTTP/1.1\r\n".encode()
                         + "".join(f"{k}: {v}\r\n" for k, v in head.items()).encode() + b"\r\n" + body)
            return read_response(sock)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest


def multipart(fields: dict[str, bytes | str]) -> tuple[bytes, str]:
    boundary = "holefill-test-boundary"
    parts = []
    for name, value in fields.items():
        if isinstance(value, bytes):
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
                         f"Content-Type: application/octet-stream\r\n\r\n".encode() + value + b"\r\n")
        else:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def slow_fill_body() -> tuple[bytes, str]:
    """criminisi on 256x256 with a 100x100 hole: about 13 s here, long enough to stop it."""
    from skimage import data

    image = np.ascontiguousarray(data.astronaut()[::2, ::2])
    mask = np.zeros(image.shape[:2], bool)
    mask[80:180, 80:180] = True
    return multipart({"image": png(image), "mask": png(mask), "method": "criminisi"})


def quick_fill_body() -> tuple[bytes, str]:
    from skimage import data

    image = np.ascontiguousarray(data.astronaut()[::8, ::8])
    mask = np.zeros(image.shape[:2], bool)
    mask[20:30, 20:30] = True
    return multipart({"image": png(image), "mask": png(mask), "method": "telea"})


def assert_json_error(status: int, headers: dict[str, str], body: bytes, want: int, *needles: str) -> dict:
    assert status == want, (status, body)
    assert headers["content-type"].startswith("application/json"), headers
    parsed = json.loads(body)
    assert set(parsed) == {"error", "type"} and "\n" not in parsed["error"]
    for needle in needles:
        assert needle in parsed["error"], parsed
    return parsed


def wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = Server("--workers", "1", "--header-timeout", "1", "--body-timeout", "3")
    try:
        yield srv
    finally:
        srv.close()


def start_slow_fill(server: Server, job: str) -> socket.socket:
    """Send the slow fill and return its open socket once the job runs (or waits)."""
    body, ctype = slow_fill_body()
    sock = server.connect(timeout=60)
    sock.sendall(f"POST /api/inpaint HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: {ctype}\r\n"
                 f"Content-Length: {len(body)}\r\nX-Holefill-Job: {job}\r\n\r\n".encode() + body)
    assert wait_for(lambda: server.request("GET", f"/api/jobs/{job}", timeout=5)[0] == 200), "the job never started"
    return sock


# --- lock-out ------------------------------------------------------------------------------------


def test_health_answers_while_many_idle_and_slow_connections_are_held(server):
    idle = [server.connect() for _ in range(200)]
    slow = [server.connect() for _ in range(50)]
    try:
        for s in slow:
            s.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # headers started, never finished
        time.sleep(0.3)
        start = time.monotonic()
        status, _, body = server.request("GET", "/api/health", timeout=5)
        assert status == 200 and json.loads(body)["status"] == "ok"
        assert time.monotonic() - start < 1.0
        # Within the header timeout (1 s here) plus a margin, the server has closed them all;
        # the slow ones were told why.
        for s in idle + slow:
            s.settimeout(5)
        assert all(s.recv(1024) == b"" for s in idle)
        status, headers, body = read_response(slow[0])
        assert_json_error(status, headers, body, 408, "headers did not arrive within 1 s")
    finally:
        for s in idle + slow:
            s.close()


def test_a_body_shorter_than_its_content_length_times_out(server):
    with server.connect() as sock:
        sock.sendall(b"POST /api/inpaint HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"image\": ")
        start = time.monotonic()
        status, headers, body = read_response(sock)
        assert_json_error(status, headers, body, 408, "body did not arrive", "10 of 1,000 bytes")
        assert time.monotonic() - start < 5
        assert sock.recv(10) == b""  # and the connection is closed


def test_a_bad_content_length_is_the_json_error_shape(server):
    for bad in (b"abc", b"-1", b"5\r\nContent-Length: 6"):
        with server.connect() as sock:
            sock.sendall(b"POST /api/inpaint HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + bad + b"\r\n\r\nhello")
            status, headers, body = read_response(sock)
            assert_json_error(status, headers, body, 400, "malformed", "Content-Length")
    with server.connect() as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        assert_json_error(*read_response(sock), 400, "malformed")


# --- clients that leave ----------------------------------------------------------------------------


def test_a_client_that_hangs_up_stops_its_running_fill(server):
    sock = start_slow_fill(server, JOB)
    sock.close()
    assert wait_for(lambda: server.request("GET", f"/api/jobs/{JOB}", timeout=5)[0] == 404, 10)
    # The only worker is free again at once (criminisi would hold it for many seconds).
    body, ctype = quick_fill_body()
    start = time.monotonic()
    status, headers, _ = server.request("POST", "/api/inpaint", body, {"Content-Type": ctype}, timeout=30)
    assert status == 200 and headers["x-holefill-method"] == "telea"
    assert time.monotonic() - start < 8


def test_a_waiting_client_that_hangs_up_leaves_the_queue(server):
    running = start_slow_fill(server, JOB + "-a")
    try:
        waiting = start_slow_fill(server, JOB + "-b")
        assert json.loads(server.request("GET", f"/api/jobs/{JOB}-b")[2])["state"] == "queued"
        waiting.close()
        assert wait_for(lambda: server.request("GET", f"/api/jobs/{JOB}-b", timeout=5)[0] == 404, 10)
        assert json.loads(server.request("GET", f"/api/jobs/{JOB}-a")[2])["state"] == "running"
    finally:
        server.request("DELETE", f"/api/jobs/{JOB}-a")
        status, headers, body = read_response(running)
        assert_json_error(status, headers, body, 409, "cancelled")
        running.close()


# --- stopping and starting ---------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return "?"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_busy_port_is_one_line(server):
    r = subprocess.run([sys.executable, "-m", "holefill.cli", "serve", "--port", str(server.port)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"error: port {server.port} on 127.0.0.1 is already in use (another"
                                             " server?); stop it or choose another --port"]
    assert "serving on" not in r.stderr and "Errno" not in r.stderr


def test_bad_weights_fail_at_startup_in_one_line(tmp_path):
    torch = pytest.importorskip("torch")
    from typer.testing import CliRunner

    from holefill.cli import app
    from holefill.models.registry import create_model, model_entry

    v1 = tmp_path / "v1"
    create_model("deepfill_v1", **model_entry("deepfill_v1").tiny).save_pretrained(v1, dtype=torch.float32)
    runner = CliRunner()
    cases = [(["--weights", f"foo={v1}"], "unknown method 'foo'"),
             (["--weights", f"telea={v1}"], "classical and takes no weights"),
             (["--weights", f"deepfill_v2={v1}"], "holds weights for 'deepfill_v1', not 'deepfill_v2'"),
             (["--weights", f"deepfill_v2={tmp_path}"], "deepfill_v2=")]
    for args, needle in cases:
        r = runner.invoke(app, ["serve", "--port", str(free_port()), *args])
        assert r.exit_code == 2, r.output
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], r.output


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="counts processes through /proc")
def test_sigterm_stops_the_server_within_seconds_with_a_fill_in_flight(server):
    """(Last in this module: it stops the module's server.)"""
    sock = start_slow_fill(server, JOB + "-term")
    family = _children(server.proc.pid)
    family += [pid for child in family for pid in _children(child)]  # the fork server's workers
    assert len(family) >= 2
    start = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(15)
    assert time.monotonic() - start < 6
    # The fill's worker, the fork server and multiprocessing's resource tracker follow it out
    # (on a loaded machine they may take a few seconds to notice).
    left = lambda: [pid for pid in family if _alive(pid)]  # noqa: E731
    assert wait_for(lambda: not left(), 20), [_cmdline(pid) for pid in left()]
    sock.close()


