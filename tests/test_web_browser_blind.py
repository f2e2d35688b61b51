"""The page's "Find damage" in headless Chromium: the blind model's mask appears on the canvas,
the sensitivity re-reads it, the brush and eraser correct it, and Fill fills exactly that mask.

The server runs a tiny untrained VCNet (seeded), so the damage map is known: the test compares
the page's mask with the one the same model gives in-process, pixel for pixel.
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
from test_web_browser import LiveServer, browser, cat, fetch_result, open_image, page, to_page  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MASKED = ("() => { const c = document.getElementById('mask-canvas');"
          " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
          " const out = new Uint8Array(c.width * c.height);"
          " for (let i = 0; i < out.length; i++) out[i] = d[i * 4 + 3] >= 128 ? 1 : 0;"
          " return Array.from(out); }")


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = create_model("vcnet", cnum=8)
    with torch.no_grad():  # fewer pixels above one half: a mask with shape, not noise everywhere
        model.mpn.mask_output.bias.fill_(-0.05)
    folder = tmp_path_factory.mktemp("w") / "vcnet"
    model.save_pretrained(folder)
    return folder


@pytest.fixture
def blind_server(weights: Path) -> Iterator[LiveServer]:
    from holefill.web.app import create_app
    from holefill.web.server import ServerSettings

    live = LiveServer(create_app(ServerSettings(weights={"vcnet": weights})))
    yield live
    live.stop()


def page_mask(page: Any, shape: tuple[int, int]) -> np.ndarray:  # noqa: F811
    return np.array(page.evaluate(MASKED), dtype=bool).reshape(shape)


def test_find_damage_edit_the_mask_and_fill(page: Any, blind_server: LiveServer, cat: tuple[Path, np.ndarray],  # noqa: F811
                                            weights: Path) -> None:
    path, image = cat
    h, w = image.shape[:2]
    open_image(page, blind_server, path)
    page.wait_for_selector("#find-damage:not([disabled])")
    assert page.is_hidden("#damage-row")
    page.click("#find-damage")
    page.wait_for_selector("#damage-row:not([hidden])")
    page.wait_for_selector("body[data-state='ready']")
    assert "vcnet" in page.inner_text("#status-text") and "damaged pixels" in page.inner_text("#status-text")

    prob = ModelBlindFiller.from_pretrained(weights).find_damage(image)
    grey = np.rint(prob * 255).astype(np.uint8)  # what the server sends: 8-bit probabilities
    found = page_mask(page, (h, w))
    assert page.input_value("#damage-sensitivity") == "50"
    assert np.array_equal(found, grey > 128) and 0.01 < found.mean() < 0.99

    # More sensitivity marks more pixels; the slider re-reads the same map.
    page.fill("#damage-sensitivity", "80")
    more = page_mask(page, (h, w))
    assert np.array_equal(more, grey > round(0.2 * 255)) and more.sum() > found.sum()
    # Undo takes the slider's change back.
    page.click("#status")
    page.keyboard.press("Control+z")
    assert np.array_equal(page_mask(page, (h, w)), found)

    # Correct the mask: erase a band, paint a stroke.
    page.keyboard.press("e")
    page.evaluate("() => { const s = document.getElementById('size'); s.value = '30';"
                  " s.dispatchEvent(new Event('input')); }")
    page.mouse.move(*to_page(page, (40, 150), (w, h)))
    page.mouse.down()
    page.mouse.move(*to_page(page, (400, 150), (w, h)), steps=20)
    page.mouse.up()
    page.keyboard.press("b")
    page.mouse.move(*to_page(page, (200, 40), (w, h)))
    page.mouse.down()
    page.mouse.move(*to_page(page, (200, 260), (w, h)), steps=20)
    page.mouse.up()
    edited = page_mask(page, (h, w))
    assert not edited[140:160, 60:180].any() and not edited[140:160, 220:380].any()  # erased (but the stroke)
    assert edited[60:240, 195:205].all()
    assert edited.sum() != found.sum()

    # Fill with a classical method: exactly the edited mask changes.
    page.select_option("#method", "telea")
    page.click("#run")
    page.wait_for_selector("body[data-state='done']")
    result = np.asarray(Image.open(io.BytesIO(fetch_result(page))).convert("RGB"))
    changed = np.any(result != image, axis=2)
    assert not changed[~edited].any(), "pixels outside the corrected mask changed"
    assert changed[edited].mean() > 0.5


def test_find_damage_needs_a_blind_model(page: Any, cat: tuple[Path, np.ndarray]) -> None:  # noqa: F811
    from holefill.methods import method_names
    from holefill.web.app import create_app
    from holefill.web.server import ServerSettings

    live = LiveServer(create_app(ServerSettings()))
    try:
        path, _ = cat
        open_image(page, live, path)
        ready_blind = [n for n in method_names(task="blind") if n != "vcnet"]  # shipped weights, if any
        if ready_blind:
            page.wait_for_selector("#find-damage:not([disabled])")
        else:
            assert page.is_disabled("#find-damage")
            assert "No method" in page.get_attribute("#find-damage", "title")
    finally:
        live.stop()
