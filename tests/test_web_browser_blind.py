"""The page's "Find damage" in headless Chromium: the blind model's mask appears on the canvas
over what the user had painted, the sensitivity slider re-thresholds it (one undo step each),
the brush and eraser correct it, and Fill fills exactly that mask. Without a ready blind
model the button is disabled and says why; a server error shows as one line.

The server runs a tiny untrained VCNet (seeded): the page's mask is compared, pixel for pixel,
with the damage probability the same server answers, and that with the model's in-process.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from holefill.blind_pipeline import ModelBlindFiller
from holefill.models import create_model
from test_web_browser import (  # noqa: F401  (fixtures)
    LiveServer, browser, cat, fetch_result, mask_array, method_table, open_image, page, to_page,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = create_model("vcnet", cnum=8)
    with torch.no_grad():  # fewer pixels above one half: a mask with shape, not noise everywhere
        model.mpn.mask_output.bias.fill_(-0.05)
    folder = tmp_path_factory.mktemp("w") / "vcnet"
    model.save_pretrained(folder)
    return folder


def blind_server(weights: Path | None, **settings: Any) -> LiveServer:
    from holefill.web.app import create_app
    from holefill.web.server import ServerSettings

    return LiveServer(create_app(ServerSettings(weights={"vcnet": weights} if weights else {}, **settings)))


@pytest.fixture
def server_with_vcnet(weights: Path) -> Iterator[LiveServer]:
    live = blind_server(weights)
    yield live
    live.stop()


def server_probability(page: Any, live: LiveServer, path: Path) -> np.ndarray:  # noqa: F811
    """The 8-bit damage probability the server answers for the image at ``path``."""
    r = page.request.post(live.url + "/api/find-damage", multipart={
        "image": {"name": path.name, "mimeType": "image/png", "buffer": path.read_bytes()},
        "method": "vcnet", "probability": "true"})
    assert r.ok, r.text()
    return np.asarray(Image.open(io.BytesIO(r.body())).convert("L"))


def stroke(page: Any, a: tuple[float, float], b: tuple[float, float], size: tuple[int, int]) -> None:  # noqa: F811
    page.mouse.move(*to_page(page, a, size))
    page.mouse.down()
    page.mouse.move(*to_page(page, b, size), steps=12)
    page.mouse.up()


def test_find_damage_slider_undo_edit_and_fill(page: Any, server_with_vcnet: LiveServer,  # noqa: F811
                                              cat: tuple[Path, np.ndarray], weights: Path) -> None:  # noqa: F811
    path, image = cat
    h, w = image.shape[:2]
    live = server_with_vcnet
    open_image(page, live, path)
    page.select_option("#method", "vcnet")  # this server's tiny model, not a shipped blind default
    page.wait_for_selector("#find-damage:not([disabled])")
    assert "vcnet" in page.get_attribute("#find-damage", "title")
    assert page.is_hidden("#damage-row")
    grey = server_probability(page, live, path)
    prob = ModelBlindFiller.from_pretrained(weights).find_damage(image)
    assert np.abs(grey.astype(int) - np.rint(prob * 255).astype(int)).max() <= 1  # the model's map

    # The user paints a stroke first; the search marks the damage over it (F, as the button).
    page.evaluate("() => { const s = document.getElementById('size'); s.value = '12';"
                  " s.dispatchEvent(new Event('input')); }")
    stroke(page, (20, 280), (120, 280), (w, h))
    painted = mask_array(page, h, w)
    assert painted[276:285, 30:110].all()
    page.click("#status")  # focus off the file input
    page.keyboard.press("f")
    page.wait_for_selector("#damage-row:not([hidden])")
    page.wait_for_selector("body[data-state='ready']")
    text = page.inner_text("#status-text")
    assert "vcnet" in text and "damaged pixels" in text and page.is_hidden("#error")
    assert page.input_value("#damage-sensitivity") == "50"
    found = mask_array(page, h, w)
    damage = grey > 127.5  # the server's threshold (0.5) on the map it sends
    assert 0.01 < damage.mean() < 0.9
    assert np.array_equal(found, damage | painted)

    # More sensitivity marks more pixels: the same map, re-read here (no new request).
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.fill("#damage-sensitivity", "80")
    more = mask_array(page, h, w)
    assert np.array_equal(more, (grey > 0.2 * 255) | painted) and more.sum() > found.sum()
    assert page.inner_text("#damage-out") == "80"
    page.fill("#damage-sensitivity", "20")
    less = mask_array(page, h, w)
    assert np.array_equal(less, (grey > 0.8 * 255) | painted) and less.sum() < found.sum()
    assert not [u for u in requests if "/api/" in u]
    # Each change is one undo step, and the slider follows the mask back.
    page.click("#status")
    page.keyboard.press("Control+z")
    assert np.array_equal(mask_array(page, h, w), more) and page.input_value("#damage-sensitivity") == "80"
    page.keyboard.press("Control+z")
    assert np.array_equal(mask_array(page, h, w), found) and page.input_value("#damage-sensitivity") == "50"
    page.keyboard.press("Control+z")
    assert np.array_equal(mask_array(page, h, w), painted)
    page.keyboard.press("Control+Shift+z")
    assert np.array_equal(mask_array(page, h, w), found)

    # Correct the mask: erase a band, paint a stroke; a later move of the slider keeps both.
    page.click("#tool-eraser")  # (the buttons, not the keys: the slider above keeps the focus)
    page.evaluate("() => { const s = document.getElementById('size'); s.value = '30';"
                  " s.dispatchEvent(new Event('input')); }")
    stroke(page, (40, 150), (400, 150), (w, h))
    page.click("#tool-brush")
    stroke(page, (200, 40), (200, 260), (w, h))
    edited = mask_array(page, h, w)
    assert not edited[140:160, 60:180].any() and not edited[140:160, 220:380].any()
    assert edited[60:240, 195:205].all()
    page.fill("#damage-sensitivity", "60")
    moved = mask_array(page, h, w)
    crossing = (grey > 0.4 * 255) & ~damage  # only these pixels change
    assert np.array_equal(moved, edited | crossing) and (moved & ~edited).any()

    # Fill with a classical method: exactly the corrected mask changes.
    page.select_option("#method", "telea")
    page.click("#run")
    page.wait_for_selector("body[data-state='done']")
    result = np.asarray(Image.open(io.BytesIO(fetch_result(page))).convert("RGB"))
    changed = np.any(result != image, axis=2)
    assert not changed[~moved].any(), "pixels outside the corrected mask changed"
    assert changed[moved].mean() > 0.5


def test_find_damage_with_a_seed_marks_what_the_server_would(page: Any, cat: tuple[Path, np.ndarray],  # noqa: F811
                                                             weights: Path, tmp_path: Path) -> None:
    """Weights that carry a hysteresis seed: the page's mask is the server's, pixel for pixel
    (the regions without a sure core reach the page just under the threshold, in 8 bits too)."""
    path, image = cat
    h, w = image.shape[:2]
    seeded = tmp_path / "vcnet_seeded"
    model = ModelBlindFiller.from_pretrained(weights).model
    model.save_pretrained(seeded, extra={"blind": {"threshold": 0.5, "seed": 0.52, "seed_pixels": 60}})
    filler = ModelBlindFiller.from_pretrained(seeded)
    _, server_mask, prob = filler.run_blind(image)
    plain = ModelBlindFiller.from_pretrained(weights).find_damage(image) > 0.5
    assert server_mask.any() and (plain & ~server_mask).sum() > 100  # the seed drops something here
    live = blind_server(seeded)
    try:
        open_image(page, live, path)
        page.select_option("#method", "vcnet")
        page.wait_for_selector("#find-damage:not([disabled])")
        page.click("#find-damage")
        page.wait_for_selector("#damage-row:not([hidden])")
        page.wait_for_selector("body[data-state='ready']")
        assert np.array_equal(mask_array(page, h, w), server_mask)
        page.fill("#damage-sensitivity", "60")  # more sensitive: the dropped regions come back
        assert np.array_equal(mask_array(page, h, w), np.rint(prob * 255) > 0.4 * 255)
    finally:
        live.stop()


def test_find_damage_needs_a_blind_model_and_shows_errors(page: Any, cat: tuple[Path, np.ndarray],  # noqa: F811
                                                          weights: Path) -> None:
    from holefill.methods import method_names

    path, image = cat
    live = blind_server(None)
    try:
        open_image(page, live, path)
        if any(n != "vcnet" for n in method_names(task="blind")):  # a blind model ships: nothing to check
            page.wait_for_selector("#find-damage:not([disabled])")
        else:
            assert page.is_disabled("#find-damage")
            assert "No method on this server can find damage" in page.get_attribute("#find-damage", "title")
            page.click("#status")
            page.keyboard.press("f")  # does nothing, and says nothing wrong
            assert page.get_attribute("body", "data-state") == "ready" and page.is_hidden("#damage-row")
    finally:
        live.stop()
    # The server refuses the image (too many pixels): its one line in the page's error box.
    live = blind_server(weights, max_pixels=10_000)
    try:
        open_image(page, live, path)
        page.select_option("#method", "vcnet")
        page.click("#find-damage")
        page.wait_for_selector("body[data-state='error']")
        message = page.inner_text("#error")
        assert "pixels" in message and "limit" in message and "\n" not in message
        assert "search for damage did not work" in page.inner_text("#status-text")
        assert page.is_hidden("#damage-row") and not mask_array(page, *image.shape[:2]).any()
        assert page.is_enabled("#find-damage")
    finally:
        live.stop()
