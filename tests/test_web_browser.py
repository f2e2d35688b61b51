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
        participant = page.evaluate("localStorage.getItem('holefill-participant')")
        assert participant and len(participant) >= 8
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


def test_guide_photo_slot_sends_a_guided_fill(page, cat, tmp_path):
    """A second image slot: loading a guide switches the picker to a guided method and the fill
    request carries the photo; removing it switches back."""
    import torch

    from holefill.models import create_model
    from holefill.web.app import create_app
    from holefill.web.server import ServerSettings

    torch.manual_seed(0)
    create_model("guided_inpainting", cnum=8, loc_cnum=8, loc_size=32, refine_steps=2).save_pretrained(tmp_path / "w")
    live = LiveServer(create_app(ServerSettings(weights={"guided_inpainting": tmp_path / "w"})))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model on a shared CPU: one thread is faster
    try:
        path, image = cat
        h, w = image.shape[:2]
        guide = tmp_path / "guide.png"
        Image.fromarray(np.ascontiguousarray(image[::-1, ::-1])).save(guide)
        open_image(page, live, path)
        page.wait_for_selector("#method option[value='guided_inpainting']", state="attached")
        assert "with a guide" in page.inner_text("#method option[value='guided_inpainting']")
        page.mouse.move(*to_page(page, (150, 120), (w, h)))
        page.mouse.down()
        page.mouse.move(*to_page(page, (200, 130), (w, h)), steps=5)
        page.mouse.up()
        page.set_input_files("#guide-file", str(guide))
        page.wait_for_selector("#guide-group[data-loaded='true']")
        assert page.is_visible("#guide-thumb")
        assert page.input_value("#method") == "guided_inpainting"
        with page.expect_response("**/api/inpaint", timeout=180_000) as answer:
            page.click("#run")
        # the server fills with a guided method only when the request carries a guide
        assert answer.value.status == 200 and answer.value.headers["x-holefill-method"] == "guided_inpainting"
        page.wait_for_selector("body[data-state='done']")
        assert page.inner_text("#status-text").startswith("Done") and "guided_inpainting" in page.inner_text(
            "#status-text")
        result = np.asarray(Image.open(io.BytesIO(fetch_result(page))).convert("RGB"))
        changed = np.any(result != image, axis=2)
        assert changed.any() and not changed[:80].any()  # the stroke changed, rows far above it did not
        page.click("#back")
        page.click("#guide-clear")
        page.wait_for_selector("#guide-group[data-loaded='false']")
        assert page.input_value("#method") != "guided_inpainting"
        page.click("#mode-outpaint")
        assert page.is_hidden("#guide-group")
    finally:
        torch.set_num_threads(threads)
        live.stop()
