"""The REST API through FastAPI's TestClient: every endpoint and every error case."""

from __future__ import annotations

import base64
import functools
import io
import json
import os
import threading
import time

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

import holefill  # noqa: E402
import web_fakes  # noqa: E402
from holefill.errors import InvalidArgumentError  # noqa: E402
from holefill.methods import DEFAULT_METHOD, list_methods  # noqa: E402
from holefill.web.app import STATIC_DIR as STATIC, create_app  # noqa: E402
from holefill.web.engine import FillerCache  # noqa: E402
from holefill.web.server import ServerSettings, bind_warning, is_loopback  # noqa: E402


def png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr if arr.dtype != bool else arr.astype(np.uint8) * 255).save(buf, format="PNG")
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def make_client(**settings) -> TestClient:
    return TestClient(create_app(ServerSettings(**settings)), raise_server_exceptions=False)


@pytest.fixture
def client() -> TestClient:
    return make_client()


def post_inpaint(client: TestClient, image: bytes, mask: bytes | None, headers_job: str | None = None, *,
                 guide: bytes | None = None, **fields):
    files = {"image": ("whatever.png", image, "application/octet-stream")}
    if mask is not None:
        files["mask"] = ("m.png", mask, "application/octet-stream")
    if guide is not None:
        files["guide"] = ("g.png", guide, "application/octet-stream")
    data = {k: (json.dumps(v) if isinstance(v, dict) else str(v)) for k, v in fields.items()}
    headers = {"X-Holefill-Job": headers_job} if headers_job is not None else None
    return client.post("/api/inpaint", files=files, data=data, headers=headers)


def assert_error(response, status: int, *needles: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "type"}
    assert "\n" not in body["error"] and body["error"]
    for needle in needles:
        assert needle in body["error"], body["error"]
    return body


# --- methods, health, pages ----------------------------------------------------------------


def test_methods_lists_every_method_in_the_table(client):
    rows = client.get("/api/methods").json()
    assert [r["name"] for r in rows] == [m.name for m in list_methods()]
    by_name = {r["name"]: r for r in rows}
    assert by_name["telea"]["kind"] == "classical" and by_name["telea"]["ready"] is True
    assert by_name["telea"]["summary"]
    assert [r["name"] for r in rows if r["default"]] == [DEFAULT_METHOD]
    from holefill.methods import DEFAULT_METHODS

    for task, name in DEFAULT_METHODS.items():
        assert [r["name"] for r in rows if task in r["default_for"]] == [name] and task in by_name[name]["tasks"]
    for m in list_methods():
        row = by_name[m.name]
        assert row["ready"] == (m.ready and not m.requires) and row["kind"] == m.kind and row["tasks"] == list(m.tasks)
    assert by_name["scene"]["ready"] is False  # its photo folder is a server path no request may name


def test_health_reports_limits():
    body = make_client(max_upload_bytes=12345, max_pixels=6789, workers=3).get("/api/health").json()
    assert body["status"] == "ok" and body["version"] == holefill.__version__
    assert (body["max_upload_bytes"], body["max_pixels"], body["workers"], body["study"]) == (12345, 6789, 3, False)
    assert body["methods"] == len(list_methods())


def test_page_docs_and_static_are_served_with_safe_headers(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'id="mask-canvas"' in page.text and "/static/app.js" in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    # No asset from another origin anywhere in the page, script or style.
    scripts = [f"/static/js/{p.name}" for p in (STATIC / "js").glob("*.js")]
    assert len(scripts) >= 6
    for path in ("/", "/static/app.js", "/static/style.css", "/static/study.html", "/static/study.js", *scripts):
        text = client.get(path).text
        assert "http://" not in text and "https://" not in text, path
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = client.get("/openapi.json").json()
    for path in ("/api/inpaint", "/api/outpaint", "/api/blend", "/api/methods", "/api/health"):
        assert path in spec["paths"]
    body = spec["paths"]["/api/inpaint"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json"} <= set(body)


def test_unknown_route_is_json_404(client):
    assert_error(client.get("/api/nothing"), 404)
    assert_error(client.get("/study"), 404, "--study")


# --- inpaint ---------------------------------------------------------------------------------


def test_inpaint_multipart_matches_the_library(client, photo, box_mask):
    r = post_inpaint(client, png(photo), png(box_mask), method="telea")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    out = decode(r.content)
    assert np.array_equal(out, holefill.inpaint(photo, box_mask, "telea"))
    assert np.array_equal(out[~box_mask], photo[~box_mask])
    assert not np.array_equal(out[box_mask], photo[box_mask])
    assert r.headers["x-holefill-method"] == "telea"
    assert r.headers["x-holefill-hole-pixels"] == str(int(box_mask.sum()))
    assert r.headers["x-holefill-size"] == f"{photo.shape[1]}x{photo.shape[0]}"
    assert "x-holefill-warning" not in r.headers


def test_inpaint_default_method_and_options(client, photo, box_mask):
    default = post_inpaint(client, png(photo), png(box_mask))
    assert default.status_code == 200 and default.headers["x-holefill-method"] == DEFAULT_METHOD
    wide = post_inpaint(client, png(photo), png(box_mask), method="telea", options={"radius": 15})
    assert wide.status_code == 200
    assert np.array_equal(decode(wide.content), holefill.inpaint(photo, box_mask, "telea", radius=15))
    assert not np.array_equal(decode(wide.content), decode(default.content))


def test_inpaint_json_base64_variant(client, photo, box_mask):
    expected = holefill.inpaint(photo, box_mask, "ns")
    body = {"image": base64.b64encode(png(photo)).decode(), "mask": base64.b64encode(png(box_mask)).decode(),
            "method": "ns"}
    r = client.post("/api/inpaint", json=body)
    assert r.status_code == 200, r.text
    assert np.array_equal(decode(r.content), expected)
    # A data: URL works too.
    body["image"] = "data:image/png;base64," + body["image"]
    assert np.array_equal(decode(client.post("/api/inpaint", json=body).content), expected)


def test_inpaint_mask_from_alpha(client, photo, box_mask):
    rgba = np.dstack([photo, np.where(box_mask, 0, 255).astype(np.uint8)])
    r = post_inpaint(client, png(rgba), None, method="telea")
    assert r.status_code == 200, r.text
    assert r.headers["x-holefill-hole-pixels"] == str(int(box_mask.sum()))
    assert_error(post_inpaint(client, png(photo), None), 422, "mask", "missing")


def test_inpaint_with_a_guide_fills_from_it_with_a_guided_method(client, photo, box_mask):
    """A guide photo makes the fill guided: the default guided method (the shipped guided_lite)
    when none is named, the known pixels kept, the hole's content pulled from the guide; a
    method that takes no guide is a one-line 422 naming the guided methods, before any work."""
    from holefill.methods import DEFAULT_GUIDED_METHOD, method_names

    guide = np.ascontiguousarray(photo[6:, 10:])  # another view of the scene: shifted and cropped
    r = post_inpaint(client, png(photo), png(box_mask), guide=png(guide))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png" and r.headers["x-holefill-method"] == DEFAULT_GUIDED_METHOD
    out = decode(r.content)
    assert np.array_equal(out[~box_mask], photo[~box_mask])
    guided_error = np.abs(out[box_mask].astype(float) - photo[box_mask]).mean()
    plain_error = np.abs(holefill.inpaint(photo, box_mask, "telea")[box_mask].astype(float) - photo[box_mask]).mean()
    assert guided_error < plain_error / 4, (guided_error, plain_error)  # it did use the guide
    named = post_inpaint(client, png(photo), png(box_mask), guide=png(guide), method=DEFAULT_GUIDED_METHOD)
    assert named.status_code == 200 and named.content == r.content
    body = {k: base64.b64encode(png(v)).decode() for k, v in (("image", photo), ("mask", box_mask), ("guide", guide))}
    assert client.post("/api/inpaint", json=body).content == r.content

    guided = method_names(task="guided")
    assert DEFAULT_GUIDED_METHOD in guided and "telea" not in guided
    body = assert_error(post_inpaint(client, png(photo), png(box_mask), guide=png(guide), method="telea"), 422,
                        "guide", "'telea' takes no guide photo", ", ".join(guided))
    assert body["type"] == "InvalidArgumentError"
    assert_error(post_inpaint(client, png(photo), png(box_mask), guide=b"not a photo"), 422, "guide:", "not an image")
    assert_error(post_inpaint(client, png(photo), png(box_mask), guide=png(guide[:8])), 422, "guide", "16 pixels")
    assert_error(post_inpaint(client, png(photo), png(box_mask), guide=png(guide), method=DEFAULT_GUIDED_METHOD,
                              options={"refine_steps": 5000}), 422, "refine_steps", "0 to 1000")


def test_bad_image_is_422_naming_the_field(client, box_mask):
    assert_error(post_inpaint(client, b"this is not an image at all", png(box_mask)), 422, "image:", "not an image")
    assert_error(post_inpaint(client, b"", png(box_mask)), 422, "image:", "empty")
    good = png(np.zeros((96, 128, 3), np.uint8))
    assert_error(post_inpaint(client, good[: len(good) // 2], png(box_mask)), 422, "image:")
    assert_error(post_inpaint(client, good, b"GIF89a-not-really"), 422, "mask:")


def test_type_comes_from_the_content_not_the_name(client, photo, box_mask):
    files = {"image": ("photo.jpg", png(photo), "image/jpeg"), "mask": ("mask.gif", png(box_mask), "text/plain")}
    r = client.post("/api/inpaint", files=files)
    assert r.status_code == 200
    # A name with a path in it is never used for anything.
    files = {"image": ("../../etc/passwd", png(photo), "image/png"), "mask": ("/tmp/x.png", png(box_mask), "image/png")}
    r = client.post("/api/inpaint", files=files)
    assert r.status_code == 200 and "passwd" not in json.dumps(dict(r.headers))


def test_mask_size_mismatch_is_422_and_resize_mask_fixes_it(client, photo, box_mask):
    small = box_mask[::2, ::2]
    body = assert_error(post_inpaint(client, png(photo), png(small)), 422, "mask", "64x48", "128x96", "resize_mask")
    assert body["type"] == "MaskSizeError"
    r = post_inpaint(client, png(photo), png(small), resize_mask="true")
    assert r.status_code == 200
    assert r.headers["x-holefill-hole-pixels"] == str(int(box_mask.sum()))


def test_empty_mask_gives_the_input_back_with_a_warning(client, photo):
    r = post_inpaint(client, png(photo), png(np.zeros(photo.shape[:2], bool)))
    assert r.status_code == 200
    assert np.array_equal(decode(r.content), photo)
    assert "no hole" in r.headers["x-holefill-warning"]
    assert r.headers["x-holefill-hole-pixels"] == "0"


def test_full_mask_is_422(client, photo):
    body = assert_error(post_inpaint(client, png(photo), png(np.ones(photo.shape[:2], bool)), method="telea"),
                        422, "whole image")
    assert body["type"] == "FullMaskError"


def test_unknown_method_is_422_listing_the_choices(client, photo, box_mask):
    body = assert_error(post_inpaint(client, png(photo), png(box_mask), method="no-such-method"), 422,
                        "no-such-method", "telea")
    assert body["type"] == "UnknownMethodError"


def test_bad_options_are_422(client, photo, box_mask):
    img, m = png(photo), png(box_mask)
    assert_error(post_inpaint(client, img, m, method="telea", options={"no_such_option": 1}), 422, "options",
                 "no_such_option")
    assert_error(post_inpaint(client, img, m, method="telea", options={"radius": -1}), 422, "radius")
    assert_error(post_inpaint(client, img, m, options={"weights": "/etc"}), 422, "weights", "server")
    assert_error(post_inpaint(client, img, m, options={"device": "cuda"}), 422, "device")
    assert_error(post_inpaint(client, img, m, options="[1, 2]"), 422, "options")
    assert_error(post_inpaint(client, img, m, options="{not json"), 422, "options")
    assert_error(post_inpaint(client, img, m, options={"radius": [1, 2]}), 422, "options")


def test_weights_for_a_classical_method_is_a_clear_422(photo, box_mask, tmp_path):
    client = make_client(weights={"telea": tmp_path})
    body = assert_error(post_inpaint(client, png(photo), png(box_mask), method="telea"), 422, "classical")
    assert body["type"] == "WeightsError"


def test_malformed_requests(client, photo, box_mask):
    assert_error(client.post("/api/inpaint", content=b"hello", headers={"content-type": "text/plain"}), 415)
    assert_error(client.post("/api/inpaint", content=b"{not json", headers={"content-type": "application/json"}),
                 422, "JSON")
    assert_error(client.post("/api/inpaint", json={"mask": "AAAA"}), 422, "image")
    assert_error(client.post("/api/inpaint", json={"image": "!!!not base64!!!"}), 422, "image", "base64")
    assert_error(client.post("/api/inpaint", json={"image": "AAAA", "colour": "red"}), 422, "colour")
    assert_error(client.post("/api/inpaint", files={"mask": ("m", png(box_mask))}), 422, "image", "missing")
    assert_error(client.post("/api/inpaint", files={"image": ("i", png(photo))}, data={"extra": "1"}), 422, "extra")
    # The image as a text field, not a file.
    assert_error(client.post("/api/inpaint", data={"image": "abc"}, files={"mask": ("m", png(box_mask))}), 422,
                 "image", "file")


def test_too_large_upload_is_413_with_a_json_message(photo, box_mask):
    client = make_client(max_upload_bytes=40_000)
    big = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    body = assert_error(post_inpaint(client, png(big), png(np.zeros((200, 200), bool))), 413, "upload limit")
    assert body["type"] == "UploadTooLarge"
    # A chunked body with no Content-Length is capped as well.
    def chunks():
        for _ in range(10):
            yield b"x" * 10_000

    r = client.post("/api/inpaint", content=chunks(), headers={"content-type": "application/json"})
    assert_error(r, 413, "upload limit")
    # Under the limit all is well.
    assert post_inpaint(client, png(photo), png(box_mask)).status_code == 200


def test_too_many_pixels_is_422_with_the_holefill_message(photo, box_mask):
    client = make_client(max_pixels=96 * 128 - 1)
    body = assert_error(post_inpaint(client, png(photo), png(box_mask)), 422, "image:", "pixels", "limit")
    assert body["type"] == "ImageTooLargeError"
    ok = make_client(max_pixels=96 * 128)
    assert post_inpaint(ok, png(photo), png(box_mask)).status_code == 200


# --- outpaint and blend ----------------------------------------------------------------------


def test_outpaint_extends_and_keeps_the_original(client, photo):
    r = client.post("/api/outpaint", files={"image": ("x", png(photo))},
                    data={"left": "16", "right": "8", "top": "4", "bottom": "0", "method": "telea"})
    assert r.status_code == 200, r.text
    out = decode(r.content)
    assert out.shape == (96 + 4, 128 + 24, 3)
    assert np.array_equal(out[4:, 16:144], photo)
    assert np.array_equal(out, holefill.outpaint(photo, left=16, right=8, top=4, method="telea"))
    assert r.headers["x-holefill-hole-pixels"] == str(out.shape[0] * out.shape[1] - 96 * 128)


def test_outpaint_and_blend_without_a_method_use_their_tasks_default(client, photo, monkeypatch):
    from holefill import methods

    monkeypatch.setitem(methods.DEFAULT_METHODS, "outpaint", "telea")
    monkeypatch.setitem(methods.DEFAULT_METHODS, "blend", "ns")
    r = client.post("/api/outpaint", files={"image": ("x", png(photo))}, data={"left": "8"})
    assert r.status_code == 200 and r.headers["x-holefill-method"] == "telea"
    r = client.post("/api/blend", files={"left": ("a", png(photo)), "right": ("b", png(photo))}, data={"gap": "8"})
    assert r.status_code == 200 and r.headers["x-holefill-method"] == "ns"


def test_outpaint_json_and_errors(client, photo):
    b64 = base64.b64encode(png(photo)).decode()
    r = client.post("/api/outpaint", json={"image": b64, "bottom": 10})
    assert r.status_code == 200 and decode(r.content).shape == (106, 128, 3)
    assert_error(client.post("/api/outpaint", json={"image": b64}), 422, "at least one")
    assert_error(client.post("/api/outpaint", json={"image": b64, "left": -3}), 422, "left")
    assert_error(client.post("/api/outpaint", json={"image": b64, "left": "wide"}), 422, "left")
    small = make_client(max_pixels=20_000)
    body = assert_error(small.post("/api/outpaint", json={"image": b64, "left": 100000}), 422, "canvas", "limit")
    assert body["type"] == "ImageTooLargeError"


def test_blend_joins_two_photos(client, photo):
    other = np.ascontiguousarray(photo[:, ::-1])
    r = client.post("/api/blend", files={"left": ("a", png(photo)), "right": ("b", png(other))},
                    data={"gap": "40", "method": "telea"})
    assert r.status_code == 200, r.text
    out = decode(r.content)
    assert out.shape == (96, 128 + 40 + 128, 3)
    assert np.array_equal(out[:, :128], photo) and np.array_equal(out[:, 168:], other)
    assert np.array_equal(out, holefill.blend(photo, other, gap=40, method="telea"))
    js = client.post("/api/blend", json={"left": base64.b64encode(png(photo)).decode(),
                                         "right": base64.b64encode(png(other)).decode(), "gap": 40,
                                         "method": "telea"})
    assert js.status_code == 200 and np.array_equal(decode(js.content), out)


def test_blend_errors(client, photo):
    assert_error(client.post("/api/blend", files={"left": ("a", png(photo))}), 422, "right", "missing")
    assert_error(client.post("/api/blend", files={"left": ("a", png(photo)), "right": ("b", b"nope")}), 422,
                 "right:")
    assert_error(client.post("/api/blend", files={"left": ("a", png(photo)), "right": ("b", png(photo))},
                             data={"gap": "0"}), 422, "gap")


# --- concurrency, failures, the cache ---------------------------------------------------------


def test_concurrent_requests_do_not_mix_their_data():
    client = make_client(workers=3)
    rng = np.random.default_rng(7)
    jobs = []
    for i in range(12):
        h, w = 40 + 4 * i, 56 + 2 * i
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        mask = np.zeros((h, w), bool)
        mask[5 + i: 15 + i, 10: 20 + i] = True
        jobs.append((img, mask, "telea" if i % 2 else "ns"))
    results: dict[int, np.ndarray | str] = {}
    start = threading.Barrier(len(jobs))

    def worker(i: int) -> None:
        img, mask, method = jobs[i]
        start.wait()
        r = post_inpaint(client, png(img), png(mask), method=method)
        results[i] = decode(r.content) if r.status_code == 200 else r.text

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for i, (img, mask, method) in enumerate(jobs):
        got = results[i]
        assert isinstance(got, np.ndarray), got
        assert np.array_equal(got, holefill.inpaint(img, mask, method)), f"request {i} got another's result"


def test_server_survives_an_exception_inside_a_filler(photo, box_mask, caplog):
    client = make_client(worker_setup=web_fakes.break_telea)
    with caplog.at_level("ERROR", logger="holefill.web"):
        r = post_inpaint(client, png(photo), png(box_mask), method="telea")
    body = assert_error(r, 500, "internal")
    assert "secret" not in body["error"] and "/home" not in body["error"]
    assert any("secret internal detail" in rec.getMessage() for rec in caplog.records)  # the log has it
    # The server carries on: another method works, and so does the health check.
    assert post_inpaint(client, png(photo), png(box_mask), method="ns").status_code == 200
    assert client.get("/api/health").status_code == 200


def wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def entered(folder) -> list[int]:
    return [int(p.read_text()) for p in folder.glob("entered-*") if p.read_text()]


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_busy_server_answers_503(photo, box_mask, tmp_path):
    client = make_client(workers=1, max_queue=1, worker_setup=functools.partial(web_fakes.slow_telea, str(tmp_path)))
    first: list[int] = []
    t = threading.Thread(target=lambda: first.append(post_inpaint(client, png(photo), png(box_mask), method="telea").status_code))
    t.start()
    try:
        assert wait_for(lambda: entered(tmp_path))
        r = post_inpaint(client, png(photo), png(box_mask), method="telea")
        assert_error(r, 503, "busy")
        assert r.headers["retry-after"]
        # Other endpoints still answer while the fill runs: the event loop is not blocked.
        assert client.get("/api/health").status_code == 200
    finally:
        (tmp_path / "release").write_text("")
        t.join(30)
    assert first == [200]
    assert post_inpaint(client, png(photo), png(box_mask), method="telea").status_code == 200


def test_filler_cache_builds_once_and_is_keyed_by_checked_options():
    cache = FillerCache()
    for _ in range(3):
        cache.get("telea", {})
    assert cache.builds == 1
    cache.get("telea", {"radius": 4})
    cache.get("telea", {"radius": 4.0})  # radius is a float option: 4 and 4.0 are one entry
    assert cache.builds == 2
    cache.get("telea", {"radius": 5})
    assert cache.builds == 3
    with pytest.raises(InvalidArgumentError, match="radius"):
        cache.get("telea", {"radius": 100})
    assert len(cache) == 3


def test_filler_cache_is_thread_safe_and_bounded():
    cache = FillerCache(max_entries=2)
    got: list[object] = []
    barrier = threading.Barrier(8)

    def grab() -> None:
        barrier.wait()
        got.append(cache.get("telea", {})[0])

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.builds == 1 and len({id(f) for f in got}) == 1
    cache.get("telea", {"radius": 2})
    cache.get("ns", {})
    assert len(cache) == 2
    assert cache.get("telea", {})[0] is not got[0]  # the oldest entry was dropped, so it is rebuilt


def test_host_header_guard(photo):
    client = TestClient(create_app(ServerSettings(allowed_hosts=("127.0.0.1", "localhost"))),
                        base_url="http://127.0.0.1")
    assert client.get("/api/health").status_code == 200
    assert_error(client.get("/api/health", headers={"host": "evil.example"}), 400, "Host")


def test_bind_warning():
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert is_loopback(host) and bind_warning(host) is None
    for host in ("0.0.0.0", "192.168.1.5", "::", "example.org"):
        assert not is_loopback(host)
        assert host in bind_warning(host) and "authentication" in bind_warning(host)


def test_settings_are_checked():
    from holefill.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="workers"):
        ServerSettings(workers=0)
    with pytest.raises(InvalidArgumentError, match="max_upload_bytes"):
        ServerSettings(max_upload_bytes=-5)


def test_serve_command_refuses_bad_options(tmp_path):
    from typer.testing import CliRunner

    from holefill.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["serve", "--port", "0"])
    assert r.exit_code == 2 and "--port" in r.output
    r = runner.invoke(app, ["serve", "--weights", "deepfill"])
    assert r.exit_code == 2 and "METHOD=DIR" in r.output
    r = runner.invoke(app, ["serve", "--study", str(tmp_path / "nothing")])
    assert r.exit_code == 2 and "no such study folder" in r.output


# --- limits before work, time budget, progress and cancel (issues 11 and 18) ------------------


def test_out_of_range_options_are_422_before_any_work(client, photo, box_mask):
    for radius in (100, 1e308):
        r = post_inpaint(client, png(photo), png(box_mask), method="telea", options={"radius": radius})
        assert_error(r, 422, "option radius must be 1 to 16")
    r = client.post("/api/inpaint", json={"image": base64.b64encode(png(photo)).decode(),
                                          "mask": base64.b64encode(png(box_mask)).decode(),
                                          "method": "criminisi", "options": {"patch_size": 8}})
    assert_error(r, 422, "patch_size", "odd")
    # The options are checked before the image is even decoded.
    r = post_inpaint(client, b"not an image", png(box_mask), method="telea", options={"radius": 100})
    assert_error(r, 422, "radius")


def test_methods_carry_their_options_and_ranges(client):
    rows = {r["name"]: r for r in client.get("/api/methods").json()}
    radius = rows["telea"]["options"][0]
    assert radius["name"] == "radius" and (radius["minimum"], radius["maximum"], radius["default"]) == (1, 16, 3)
    assert radius["range"] == "1 to 16" and radius["kind"] == "float"
    quality = rows["fsr"]["options"][0]
    assert quality["kind"] == "choice" and quality["choices"] == ["fast", "best"]
    for m in list_methods():
        assert [o["name"] for o in rows[m.name]["options"]] == [o.name for o in m.options]


def post_in_thread(client: TestClient, *args, **kwargs) -> tuple[threading.Thread, list]:
    answer: list = []
    t = threading.Thread(target=lambda: answer.append(post_inpaint(client, *args, **kwargs)))
    t.start()
    return t, answer


def test_a_fill_over_the_time_limit_is_504_and_its_worker_is_stopped(photo, box_mask, tmp_path):
    client = make_client(workers=1, time_limit=2.0,
                         worker_setup=functools.partial(web_fakes.slow_telea, str(tmp_path)))
    with client:
        assert post_inpaint(client, png(photo), png(box_mask), method="ns").status_code == 200  # the worker is up
        start = time.monotonic()
        r = post_inpaint(client, png(photo), png(box_mask), method="telea")
        assert_error(r, 504, "time limit of 2 s")
        assert time.monotonic() - start < 8
        (pid,) = entered(tmp_path)
        assert wait_for(lambda: process_gone(pid), 10), "the worker still runs the abandoned fill"
        # A fresh worker takes its place.
        assert post_inpaint(client, png(photo), png(box_mask), method="ns").status_code == 200


def test_progress_then_cancel_stops_the_servers_job(photo, box_mask, tmp_path):
    client = make_client(workers=1, worker_setup=functools.partial(web_fakes.slow_telea, str(tmp_path)))
    job = "job-" + "a" * 28
    with client:
        t, answer = post_in_thread(client, png(photo), png(box_mask), method="telea", headers_job=job)
        seen: list[float] = []

        def progressed() -> bool:
            r = client.get(f"/api/jobs/{job}")
            if r.status_code == 200 and r.json()["progress"] is not None:
                seen.append(r.json()["progress"])
            return len(seen) >= 2 and seen[-1] > seen[0]

        assert wait_for(progressed), seen
        status = client.get(f"/api/jobs/{job}").json()
        assert status["state"] == "running" and 0 < status["progress"] < 1 and status["seconds"] > 0
        (pid,) = entered(tmp_path)
        assert client.delete(f"/api/jobs/{job}").json() == {"cancelled": True}
        t.join(20)
        assert_error(answer[0], 409, "cancelled")
        assert wait_for(lambda: process_gone(pid), 10), "the cancelled fill still runs"
        assert_error(client.get(f"/api/jobs/{job}"), 404)
        assert_error(client.delete(f"/api/jobs/{job}"), 404)


def test_a_waiting_job_can_be_cancelled_and_leaves_the_queue(photo, box_mask, tmp_path):
    client = make_client(workers=1, max_queue=2, worker_setup=functools.partial(web_fakes.slow_telea, str(tmp_path)))
    first, waiting = "first-" + "b" * 20, "second-" + "c" * 20
    with client:
        t1, a1 = post_in_thread(client, png(photo), png(box_mask), method="telea", headers_job=first)
        assert wait_for(lambda: entered(tmp_path))
        t2, a2 = post_in_thread(client, png(photo), png(box_mask), method="ns", headers_job=waiting)
        assert wait_for(lambda: client.get(f"/api/jobs/{waiting}").status_code == 200)
        assert client.get(f"/api/jobs/{waiting}").json()["state"] == "queued"
        assert client.delete(f"/api/jobs/{waiting}").status_code == 200
        t2.join(20)
        assert_error(a2[0], 409, "cancelled")
        assert client.get(f"/api/jobs/{first}").json()["state"] == "running"  # the running one goes on
        (tmp_path / "release").write_text("")
        t1.join(30)
        assert a1[0].status_code == 200


def test_job_ids_are_checked(client, photo, box_mask):
    r = post_inpaint(client, png(photo), png(box_mask), method="telea", headers_job="short")
    assert_error(r, 422, "X-Holefill-Job")
    assert client.get("/api/jobs/bad!id").status_code in (404, 422)


def test_cross_origin_writes_are_refused_unless_allowed(photo, box_mask):
    client = make_client()
    evil = {"origin": "http://evil.example"}
    files = {"image": ("a", png(photo)), "mask": ("m", png(box_mask))}
    assert_error(client.post("/api/inpaint", files=files, headers=evil), 403, "evil.example", "--allow-origin")
    # The page's own origin, and clients that are not browsers (no Origin), pass.
    assert client.post("/api/inpaint", files=files, headers={"origin": "http://testserver"}).status_code == 200
    assert client.post("/api/inpaint", files=files).status_code == 200
    assert client.get("/api/health", headers=evil).status_code == 200  # reading is not refused
    allowed = make_client(allow_origins=("https://app.example",))
    r = allowed.post("/api/inpaint", files=files, headers={"origin": "https://app.example"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://app.example"
    assert_error(allowed.post("/api/inpaint", files=files, headers=evil), 403)
    preflight = {"access-control-request-method": "POST", "access-control-request-headers": "x-holefill-job"}
    r = allowed.options("/api/inpaint", headers={"origin": "https://app.example", **preflight})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://app.example"
    assert_error(allowed.options("/api/inpaint", headers={**evil, **preflight}), 403, "evil.example")
    with pytest.raises(InvalidArgumentError, match="allow-origin"):
        ServerSettings(allow_origins=("app.example/path",))
