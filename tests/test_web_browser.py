"""The page in a real headless Chromium against a live uvicorn server.

Uses Debian's Chromium (/usr/bin/chromium, or HOLEFILL_CHROMIUM) through Playwright; no
browser is downloaded. Without Chromium or Playwright the tests skip, unless
HOLEFILL_REQUIRE_BROWSER=1 (CI), where that is a failure.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REQUIRE = os.environ.get("HOLEFILL_REQUIRE_BROWSER") == "1"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _missing(reason: str) -> None:
    if REQUIRE:
        pytest.fail(f"{reason} (HOLEFILL_REQUIRE_BROWSER=1, so this is a failure)")
    pytest.skip(reason)


def _chromium() -> str | None:
    """HOLEFILL_CHROMIUM if set (and only it), else Debian's Chromium, else one on PATH."""
    wanted = os.environ.get("HOLEFILL_CHROMIUM")
    candidates = [wanted] if wanted else ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
    for candidate in candidates:
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    if wanted:
        return None
    return shutil.which("chromium") or shutil.which("chromium-browser")


class LiveServer:
    """uvicorn serving ``app`` on a free 127.0.0.1 port, in a thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.sock.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install playwright; the browser comes from apt: chromium)")
    pytest.importorskip("uvicorn")
    exe = _chromium()
    if exe is None:
        _missing("no Chromium found (apt-get install chromium, or point HOLEFILL_CHROMIUM at one):"
                 f" looked for {os.environ.get('HOLEFILL_CHROMIUM') or '/usr/bin/chromium'}")
    pw = sync_playwright().start()
    try:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=exe, headless=True, args=FLAGS,
            viewport={"width": 1280, "height": 860}, accept_downloads=True)
    except Exception:
        pw.stop()
        raise
    try:
        yield context
    finally:
        context.close()
        pw.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    p = browser.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.set_default_timeout(30_000)
    yield p
    p.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="module", autouse=True)
def method_table() -> None:
    """Build the method table (it imports torch) before any page waits for /api/methods."""
    from holefill.methods import list_methods

    list_methods()


@pytest.fixture
def server() -> Iterator[LiveServer]:
    from holefill.web.app import create_app
    from holefill.web.server import ServerSettings

    live = LiveServer(create_app(ServerSettings()))
    yield live
    live.stop()


@pytest.fixture(scope="module")
def cat(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """scikit-image's 'chelsea' photo (CC0), 451x300, as a PNG file."""
    from skimage import data

    arr = np.ascontiguousarray(data.chelsea())
    path = tmp_path_factory.mktemp("images") / "chelsea.png"
    Image.fromarray(arr).save(path)
    return path, arr


def open_image(page: Any, server: LiveServer, path: Path) -> None:
    page.goto(server.url + "/")
    page.wait_for_selector("#method option[value='telea']", state="attached")
    page.set_input_files("#file", str(path))
    page.wait_for_selector("body[data-state='ready']")


def to_page(page: Any, image_xy: tuple[float, float], size: tuple[int, int]) -> tuple[float, float]:
    box = page.locator("#mask-canvas").bounding_box()
    w, h = size
    return box["x"] + image_xy[0] * box["width"] / w, box["y"] + image_xy[1] * box["height"] / h


def fetch_result(page: Any) -> bytes:
    """The result image's bytes, fetched by the page itself from its blob: URL."""
    b64 = page.evaluate("""async () => {
        const r = await fetch(document.getElementById('after').src);
        const bytes = new Uint8Array(await r.arrayBuffer());
        let s = '';
        for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        return btoa(s);
    }""")
    return base64.b64decode(b64)


def segment_distance(h: int, w: int, a: tuple[float, float], b: tuple[float, float]) -> np.ndarray:
    """Distance from every pixel centre to the segment a-b (image coordinates)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    t = np.clip(((xx - ax) * dx + (yy - ay) * dy) / (dx * dx + dy * dy), 0, 1)
    return np.hypot(xx - (ax + t * dx), yy - (ay + t * dy))


def test_paint_fill_compare_and_download(page, server, cat, tmp_path):
    path, image = cat
    h, w = image.shape[:2]
    open_image(page, server, path)
    brush = 20
    page.evaluate(f"() => {{ const s = document.getElementById('size'); s.value = '{brush}';"
                  " s.dispatchEvent(new Event('input')); }")
    assert page.inner_text("#size-out") == str(brush)
    start, end = (120.0, 150.0), (300.0, 170.0)
    page.mouse.move(*to_page(page, start, (w, h)))
    page.mouse.down()
    page.mouse.move(*to_page(page, end, (w, h)), steps=20)
    page.mouse.up()
    assert page.is_enabled("#undo")
    page.select_option("#method", "telea")
    page.click("#run")
    page.wait_for_selector("#after[data-ready='1']", state="attached")
    page.wait_for_selector("body[data-state='done']")
    assert page.is_visible("#compare") and page.is_hidden("#editor")
    assert "telea" in page.inner_text("#status-text")

    data = fetch_result(page)
    result = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert result.shape == image.shape
    dist = segment_distance(h, w, start, end)
    inside, outside = dist <= brush / 2 - 2, dist >= brush / 2 + 2
    assert inside.sum() > 2000
    changed = np.any(result != image, axis=2)
    assert changed[inside].mean() > 0.9, "the stroke was not filled"
    assert not changed[outside].any(), "pixels outside the stroke changed"
    # The fill is telea's: a plausible diffusion from the border, not a flat colour.
    assert np.abs(result[inside].astype(int) - image[inside]).mean() < 60

    if os.environ.get("HOLEFILL_WEB_SCREENSHOT"):
        page.screenshot(path=os.environ["HOLEFILL_WEB_SCREENSHOT"], full_page=True)

    # Before/after: the buttons move the split (the result is clipped away from the left).
    clip = "el => el.style.clipPath"
    page.click("#show-before")
    assert page.eval_on_selector("#after", clip).endswith(" 100%)")
    assert page.input_value("#compare-slider") == "100"
    page.click("#show-after")
    assert page.eval_on_selector("#after", clip).endswith(" 0%)")
    page.fill("#compare-slider", "30")
    assert page.eval_on_selector("#after", clip).endswith(" 30%)")

    with page.expect_download() as info:
        page.click("#download")
    download = info.value
    assert download.suggested_filename == "chelsea-telea.png"
    saved = tmp_path / "download.png"
    download.save_as(saved)
    assert saved.read_bytes() == data

    # Back to the mask keeps the mask; the result can be fed back in.
    page.click("#back")
    assert page.is_visible("#editor") and page.is_enabled("#undo")


def test_shortcuts_undo_redo(page, server, cat):
    path, image = cat
    h, w = image.shape[:2]
    open_image(page, server, path)
    page.click("#status")  # focus off the file input
    page.keyboard.press("e")
    assert page.get_attribute("#tool-eraser", "aria-pressed") == "true"
    page.keyboard.press("b")
    assert page.get_attribute("#tool-brush", "aria-pressed") == "true"
    before = int(page.inner_text("#size-out"))
    page.keyboard.press("]")
    assert int(page.inner_text("#size-out")) > before
    page.keyboard.press("[")
    page.keyboard.press("[")
    assert int(page.inner_text("#size-out")) < before

    painted = "() => { const c = document.getElementById('mask-canvas');" \
              " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;" \
              " let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] >= 128; return n; }"
    page.mouse.move(*to_page(page, (50, 50), (w, h)))
    page.mouse.down()
    page.mouse.move(*to_page(page, (200, 60), (w, h)), steps=10)
    page.mouse.up()
    stroke = page.evaluate(painted)
    assert stroke > 0
    page.keyboard.press("Control+z")
    assert page.evaluate(painted) == 0
    page.keyboard.press("Control+Shift+z")
    assert page.evaluate(painted) == stroke
    # The eraser takes part of the stroke away; undo brings it back.
    page.keyboard.press("e")
    page.mouse.move(*to_page(page, (100, 20), (w, h)))
    page.mouse.down()
    page.mouse.move(*to_page(page, (100, 100), (w, h)), steps=8)
    page.mouse.up()
    erased = page.evaluate(painted)
    assert 0 < erased < stroke
    page.keyboard.press("Control+z")
    assert page.evaluate(painted) == stroke
    page.keyboard.press("b")
    # Enter runs the fill.
    page.keyboard.press("Enter")
    page.wait_for_selector("body[data-state='done']")


def test_drag_and_drop_opens_an_image(page, server, cat):
    path, image = cat
    page.goto(server.url + "/")
    page.wait_for_selector("#method option[value='telea']", state="attached")
    transfer = page.evaluate_handle("""(b64) => {
        const bin = atob(b64);
        const bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], 'dropped.png', { type: 'image/png' }));
        return dt;
    }""", base64.b64encode(path.read_bytes()).decode())
    page.dispatch_event("#stage", "drop", {"dataTransfer": transfer})
    page.wait_for_selector("body[data-state='ready']")
    assert page.eval_on_selector("#mask-canvas", "c => [c.width, c.height]") == [image.shape[1], image.shape[0]]
    assert f"{image.shape[1]}×{image.shape[0]}" in page.inner_text("#status-text")


def test_outpaint_from_the_page(page, server, cat):
    path, image = cat
    open_image(page, server, path)
    page.click("#mode-outpaint")
    assert page.is_visible("#sides") and page.is_hidden("#tools")
    page.fill("#side-right", "40")
    page.fill("#side-top", "16")
    assert page.eval_on_selector("#image-canvas", "c => [c.width, c.height]") == [image.shape[1] + 40,
                                                                                 image.shape[0] + 16]
    page.click("#run")
    page.wait_for_selector("body[data-state='done']")
    result = np.asarray(Image.open(io.BytesIO(fetch_result(page))).convert("RGB"))
    assert result.shape == (image.shape[0] + 16, image.shape[1] + 40, 3)
    assert np.array_equal(result[16:, : image.shape[1]], image)


def test_server_errors_are_shown(page, cat):
    from holefill.web.app import create_app
    from holefill.web.server import ServerSettings

    live = LiveServer(create_app(ServerSettings(max_pixels=10_000)))
    try:
        path, image = cat
        h, w = image.shape[:2]
        open_image(page, live, path)
        page.mouse.move(*to_page(page, (100, 100), (w, h)))
        page.mouse.down()
        page.mouse.move(*to_page(page, (140, 100), (w, h)), steps=5)
        page.mouse.up()
        page.click("#run")
        page.wait_for_selector("body[data-state='error']")
        message = page.inner_text("#error")
        assert "pixels" in message and "limit" in message
        assert page.is_enabled("#run")
    finally:
        live.stop()


def test_phone_width_layout(page, server, cat):
    path, _ = cat
    page.set_viewport_size({"width": 375, "height": 740})
    open_image(page, server, path)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    for sel in ("#mask-canvas", "#run", "#size", "#method"):
        box = page.locator(sel).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375 + 0.5, sel
    page.click("#mode-outpaint")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_study_vote_is_cast_and_stored(page, tmp_path):
    from holefill.web.app import create_app
    from holefill.web.server import ServerSettings
    from holefill.web.study import create_study

    rng = np.random.default_rng(0)
    for folder in ("real", "fake"):
        (tmp_path / folder).mkdir()
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(tmp_path / folder / f"{i}.png")
    study = create_study(tmp_path / "study", tmp_path / "real", [("gan", tmp_path / "fake")], seed=3)
    live = LiveServer(create_app(ServerSettings(study_dir=study.folder)))
    try:
        page.goto(live.url + "/study")
        page.wait_for_selector("body[data-state='intro-ready']")
        page.click("#start")
        page.wait_for_selector("body[data-state='trial']")
        trial = int(page.evaluate("document.body.dataset.trial"))
        token = page.evaluate("sessionStorage.getItem('holefill-study-token')")
        participant = study.participant_of(token)  # a token the server signed, not an id the page made up
        page.click("#choice-1")
        # (A CSS wait: the page's CSP forbids the eval that wait_for_function needs.)
        page.wait_for_selector(f"body[data-state='trial']:not([data-trial='{trial}'])")
        con = sqlite3.connect(study.db_path)
        try:
            rows = con.execute("SELECT participant, trial, choice, judged_real, created_at FROM votes").fetchall()
        finally:
            con.close()
        assert len(rows) == 1
        p, t, choice, judged_real, created = rows[0]
        assert (p, t, choice) == (participant, trial, "1")
        assert judged_real == int(study.real_slot(participant, trial) != 1)
        assert created
        assert "Question 2 of 3" in page.inner_text("#progress-text")
    finally:
        live.stop()


# --- zoom and pan, progress and cancel, mask files, method options (issue 18) -------------------

MASK_PIXELS = """() => { const c = document.getElementById('mask-canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const bytes = new Uint8Array(d.length / 4);
    for (let i = 0; i < bytes.length; i++) bytes[i] = d[4 * i + 3];
    let s = ''; for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(s); }"""


def mask_array(page: Any, h: int, w: int) -> np.ndarray:
    """The page's mask (alpha >= 128 = hole), read in one compact transfer."""
    alpha = np.frombuffer(base64.b64decode(page.evaluate(MASK_PIXELS)), np.uint8)
    return (alpha >= 128).reshape(h, w)


def zoom(page: Any) -> float:
    return float(page.get_attribute("#wrap", "data-zoom"))


def image_point(page: Any, client_xy: tuple[float, float], size: tuple[int, int]) -> tuple[float, float]:
    """The image pixel under a page point (through any zoom)."""
    box = page.locator("#mask-canvas").bounding_box()
    w, h = size
    return (client_xy[0] - box["x"]) * w / box["width"], (client_xy[1] - box["y"]) * h / box["height"]


def test_zoom_and_pan_with_wheel_keys_and_pinch(page, server, cat):
    path, image = cat
    h, w = image.shape[:2]
    open_image(page, server, path)
    assert page.is_visible("#zoom") and zoom(page) == 1.0
    # The wheel zooms about the pointer: the image point under it stays under it.
    spot = to_page(page, (300.0, 120.0), (w, h))
    page.mouse.move(*spot)
    page.mouse.wheel(0, -600)
    assert zoom(page) > 2.0
    x, y = image_point(page, spot, (w, h))
    assert abs(x - 300) < 1.5 and abs(y - 120) < 1.5
    # Painting while zoomed lands on the image pixel under the pointer, with the brush's size
    # in image pixels: a 2-pixel dot, far finer than the screen could show unzoomed.
    page.evaluate("() => { const s = document.getElementById('size'); s.value = '2';"
                  " s.dispatchEvent(new Event('input')); }")
    page.mouse.click(*spot)
    painted = np.argwhere(mask_array(page, h, w))
    assert len(painted) and np.abs(painted.mean(axis=0) - [120, 300]).max() < 1.5 and len(painted) <= 9
    # Keys: + and - step the zoom, 0 shows the whole image again.
    page.click("#status")
    before = zoom(page)
    page.keyboard.press("+")
    assert zoom(page) > before
    page.keyboard.press("-")
    assert abs(zoom(page) - before) < 1e-3
    # Space + drag pans: the image moves with the pointer (by the drag, in screen pixels).
    page.keyboard.down(" ")
    page.mouse.move(*spot)
    page.mouse.down()
    page.mouse.move(spot[0] + 40, spot[1] + 30, steps=4)
    page.mouse.up()
    page.keyboard.up(" ")
    x2, y2 = image_point(page, (spot[0] + 40, spot[1] + 30), (w, h))
    assert abs(x2 - x) < 1.5 and abs(y2 - y) < 1.5
    assert len(np.argwhere(mask_array(page, h, w))) == len(painted)  # panning paints nothing
    page.keyboard.press("0")
    assert zoom(page) == 1.0
    # Two fingers pinch: the zoom follows the fingers' spread, and the first finger's
    # beginning of a stroke is taken back.
    page.click("#clear")
    a, b = to_page(page, (150.0, 150.0), (w, h)), to_page(page, (250.0, 150.0), (w, h))
    page.evaluate("""([a, b]) => {
        const c = document.getElementById('mask-canvas');
        const ev = (type, id, x, y) => c.dispatchEvent(new PointerEvent(type, {pointerId: id, pointerType: 'touch',
            isPrimary: id === 1, clientX: x, clientY: y, bubbles: true, cancelable: true, button: 0, buttons: 1}));
        ev('pointerdown', 1, a[0], a[1]);
        ev('pointerdown', 2, b[0], b[1]);
        for (let i = 1; i <= 5; i++) { ev('pointermove', 1, a[0] - 20 * i, a[1]); ev('pointermove', 2, b[0] + 20 * i, b[1]); }
        ev('pointerup', 2, b[0] + 100, b[1]);
        ev('pointerup', 1, a[0] - 100, a[1]);
    }""", [list(a), list(b)])
    spread = (b[0] - a[0] + 200) / (b[0] - a[0])
    assert zoom(page) == pytest.approx(spread, rel=0.05)
    assert not mask_array(page, h, w).any()


def test_progress_from_the_server_and_cancel_that_stops_its_job(page, cat, tmp_path):
    import functools

    import web_fakes

    from holefill.web.app import create_app
    from holefill.web.server import ServerSettings

    folder = tmp_path / "slow"
    folder.mkdir()
    live = LiveServer(create_app(ServerSettings(workers=1, worker_setup=functools.partial(web_fakes.slow_telea,
                                                                                          str(folder)))))
    try:
        path, image = cat
        h, w = image.shape[:2]
        open_image(page, live, path)
        page.mouse.move(*to_page(page, (100, 100), (w, h)))
        page.mouse.down()
        page.mouse.move(*to_page(page, (160, 110), (w, h)), steps=5)
        page.mouse.up()
        page.select_option("#method", "telea")
        page.click("#run")
        page.wait_for_selector("body[data-state='running']")
        # The server's progress shows: a value on the bar and a percentage in the status line.
        page.wait_for_selector("#progress[value]:not([value='0'])", state="attached", timeout=60_000)
        assert 0 < float(page.get_attribute("#progress", "value")) < 1
        assert "%" in page.inner_text("#status-text")
        (pid,) = [int(p.read_text()) for p in folder.glob("entered-*")]
        page.click("#cancel")
        page.wait_for_selector("body[data-state='ready']")
        assert "Cancelled" in page.inner_text("#status-text") and page.is_hidden("#error")
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:3]:
            assert time.monotonic() < deadline, "the server still runs the cancelled fill"
            time.sleep(0.05)
        # The page and the server carry on.
        page.select_option("#method", "ns")
        page.click("#run")
        page.wait_for_selector("body[data-state='done']")
    finally:
        (folder / "release").write_text("")
        live.stop()


def test_mask_export_and_import(page, server, cat, tmp_path):
    path, image = cat
    h, w = image.shape[:2]
    open_image(page, server, path)
    page.mouse.move(*to_page(page, (60, 60), (w, h)))
    page.mouse.down()
    page.mouse.move(*to_page(page, (220, 90), (w, h)), steps=10)
    page.mouse.up()
    painted = mask_array(page, h, w)
    assert painted.sum() > 500
    with page.expect_download() as info:
        page.click("#mask-export")
    assert info.value.suggested_filename == "chelsea-mask.png"
    saved = tmp_path / "mask.png"
    info.value.save_as(saved)
    exported = np.asarray(Image.open(saved).convert("L"))
    assert exported.shape == (h, w) and set(np.unique(exported)) == {0, 255}
    assert np.array_equal(exported == 255, painted)
    # Importing it back after clearing gives the same mask; undo takes the import back.
    page.click("#clear")
    assert not mask_array(page, h, w).any()
    page.set_input_files("#mask-file", str(saved))
    page.wait_for_selector("#status-text:has-text('Mask imported')")
    assert np.array_equal(mask_array(page, h, w), painted)
    page.keyboard.press("Control+z")
    assert not mask_array(page, h, w).any()
    # A mask of another size is stretched to the image, with a warning; bright = hole.
    half = np.zeros((h // 2, w // 2), np.uint8)
    half[10:40, 20:80] = 200
    Image.fromarray(half).save(tmp_path / "half.png")
    page.set_input_files("#mask-file", str(tmp_path / "half.png"))
    page.wait_for_selector("#warning:has-text('stretched')")
    got = mask_array(page, h, w)
    assert got[30:70, 50:150].all() and not got[100:, :].any()


def test_method_options_in_the_page(page, server, cat):
    import holefill

    path, image = cat
    h, w = image.shape[:2]
    open_image(page, server, path)
    page.select_option("#method", "telea")
    assert page.is_visible("#options")
    radius = page.locator("#option-radius")
    assert (radius.get_attribute("min"), radius.get_attribute("max"), radius.input_value()) == ("1", "16", "3")
    assert "1 to 16" in page.inner_text("#options")
    page.mouse.move(*to_page(page, (120, 120), (w, h)))
    page.mouse.down()
    page.mouse.move(*to_page(page, (200, 140), (w, h)), steps=8)
    page.mouse.up()
    hole = mask_array(page, h, w)
    # Out of range: refused in the page with the server's words, and nothing is sent.
    radius.fill("100")
    page.click("#run")
    assert "option radius must be 1 to 16" in page.inner_text("#error")
    assert page.get_attribute("body", "data-state") == "ready"
    # In range: the fill is telea's with that radius, exactly.
    radius.fill("16")
    page.click("#run")
    page.wait_for_selector("body[data-state='done']")
    result = np.asarray(Image.open(io.BytesIO(fetch_result(page))).convert("RGB"))
    assert np.array_equal(result, holefill.inpaint(image, hole, "telea", radius=16))
    assert not np.array_equal(result, holefill.inpaint(image, hole, "telea"))
    # Each method shows its own options: a choice for fsr, none left over from telea.
    page.click("#back")
    page.select_option("#method", "fsr")
    assert page.locator("#option-quality").evaluate("s => [...s.options].map(o => o.value)") == ["fast", "best"]
    assert page.locator("#option-radius").count() == 0
