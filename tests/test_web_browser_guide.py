"""The page's guide photo slot (guided inpainting) in headless Chromium: loading a guide makes
the picker offer the guided methods (the server's default guided one picked), the fill request
carries the guide and the result comes back; removing it returns the picker to the plain method
the user had. Outpaint hides the slot; a file that is not an image is one line in the error box.

The server has two guided methods ready: the shipped guided_lite (the default guided method)
and a tiny untrained guided_inpainting listed before it, so the picker's choice is the
server's default and not the first one offered.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from test_web_browser import (  # noqa: F401  (fixtures)
    LiveServer,
    browser,
    cat,
    fetch_result,
    mask_array,
    method_table,
    open_image,
    page,
    to_page,
)

from holefill.methods import DEFAULT_GUIDED_METHOD
from holefill.models import create_model

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def guided_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from holefill.web.app import create_app
    from holefill.web.server import ServerSettings

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("w") / "guided"
    create_model("guided_inpainting", cnum=8, loc_cnum=8, loc_size=32, refine_steps=2).save_pretrained(folder)
    live = LiveServer(create_app(ServerSettings(weights={"guided_inpainting": folder})))
    yield live
    live.stop()


def options_state(page: Any) -> dict[str, bool]:  # noqa: F811
    """Each option of the method picker: whether it is offered (enabled)."""
    return page.eval_on_selector("#method", "s => Object.fromEntries([...s.options].map(o => [o.value, !o.disabled]))")


def stroke(page: Any, a: tuple[float, float], b: tuple[float, float], size: tuple[int, int]) -> None:  # noqa: F811
    page.mouse.move(*to_page(page, a, size))
    page.mouse.down()
    page.mouse.move(*to_page(page, b, size), steps=8)
    page.mouse.up()


def watch_forms(page: Any) -> None:  # noqa: F811
    """Keep each form the page POSTs (window.sentForms: its fields, files as Blobs)."""
    page.evaluate("""() => {
        window.sentForms = [];
        const fetchNow = window.fetch;
        window.fetch = (url, init) => {
            if (init && init.body instanceof FormData) window.sentForms.push([...init.body.entries()]);
            return fetchNow(url, init);
        };
    }""")


def last_form(page: Any) -> dict[str, Any]:  # noqa: F811
    """The last form the page POSTed: text fields as text, files as their bytes."""
    fields = page.evaluate("""async () => {
        const out = {};
        for (const [k, v] of window.sentForms[window.sentForms.length - 1]) {
            if (typeof v === 'string') { out[k] = v; continue; }
            const bytes = new Uint8Array(await v.arrayBuffer());
            let s = '';
            for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
            out[k] = {b64: btoa(s)};
        }
        return out;
    }""")
    return {k: base64.b64decode(v["b64"]) if isinstance(v, dict) else v for k, v in fields.items()}


def test_guide_slot_picks_a_guided_method_and_sends_the_guide(page: Any, guided_server: LiveServer,  # noqa: F811
                                                              cat: tuple[Path, np.ndarray],  # noqa: F811
                                                              tmp_path: Path) -> None:
    import holefill

    path, image = cat
    h, w = image.shape[:2]
    guide = np.ascontiguousarray(image[10:, 20:])  # another view of the scene: shifted and cropped
    guide_path = tmp_path / "guide.png"
    Image.fromarray(guide).save(guide_path)
    live = guided_server
    open_image(page, live, path)
    page.wait_for_selector("#guide-file:not([disabled])", state="attached")
    assert page.is_visible("#guide-group") and page.get_attribute("#guide-group", "data-loaded") == "false"
    assert page.is_hidden("#guide-thumb") and page.is_disabled("#guide-clear")
    # Without a guide the guided methods are listed but not offered.
    offered = options_state(page)
    assert offered["guided_inpainting"] is False and offered[DEFAULT_GUIDED_METHOD] is False and offered["telea"]
    assert "with a guide" in page.inner_text(f"#method option[value='{DEFAULT_GUIDED_METHOD}']")
    page.select_option("#method", "telea")
    stroke(page, (150, 125), (200, 125), (w, h))
    hole = mask_array(page, h, w)
    assert hole.any() and not hole[:90].any()
    watch_forms(page)

    # A file that is not an image: one line in the error box, no guide.
    page.set_input_files("#guide-file", {"name": "notes.png", "mimeType": "image/png", "buffer": b"not a photo"})
    page.wait_for_selector("#error:not([hidden])")
    assert "cannot be a guide photo" in page.inner_text("#error") and "\n" not in page.inner_text("#error")
    assert page.get_attribute("#guide-group", "data-loaded") == "false" and page.input_value("#method") == "telea"

    # A guide: thumbnail, caption, and the picker on the server's default guided method.
    page.set_input_files("#guide-file", str(guide_path))
    page.wait_for_selector("#guide-group[data-loaded='true']")
    assert page.is_hidden("#error") and page.is_visible("#guide-thumb") and page.is_enabled("#guide-clear")
    assert f"{guide.shape[1]}×{guide.shape[0]}" in page.inner_text("#guide-caption")
    assert page.input_value("#method") == DEFAULT_GUIDED_METHOD
    offered = options_state(page)
    assert offered["guided_inpainting"] and offered[DEFAULT_GUIDED_METHOD]
    assert not offered["telea"] and not offered["biharmonic"]
    assert page.evaluate("() => document.getElementById('guide-thumb').naturalWidth") == guide.shape[1]
    # Its colour_match may be left to the model (none): default, on or off; left alone, nothing is sent.
    colour = page.locator("#option-colour_match")
    assert colour.evaluate("s => [...s.options].map(o => o.value)") == ["", "true", "false"]
    assert colour.input_value() == ""

    with page.expect_response("**/api/inpaint", timeout=120_000) as answer:
        page.click("#run")
    response = answer.value
    assert response.status == 200 and response.headers["x-holefill-method"] == DEFAULT_GUIDED_METHOD
    sent = last_form(page)
    assert set(sent) == {"image", "mask", "guide", "method"} and sent["method"] == DEFAULT_GUIDED_METHOD
    assert sent["guide"] == guide_path.read_bytes() and sent["image"] == path.read_bytes()
    page.wait_for_selector("body[data-state='done']")
    assert page.inner_text("#status-text").startswith("Done") and DEFAULT_GUIDED_METHOD in page.inner_text(
        "#status-text")
    result = np.asarray(Image.open(io.BytesIO(fetch_result(page))).convert("RGB"))
    assert np.array_equal(result[~hole], image[~hole])
    # The hole's content came from the guide: far closer to the truth than a plain fill's.
    guided_error = np.abs(result[hole].astype(float) - image[hole]).mean()
    plain_error = np.abs(holefill.inpaint(image, hole, "telea")[hole].astype(float) - image[hole]).mean()
    assert guided_error < plain_error / 4, (guided_error, plain_error)

    # Another guided method, with an option set: both go with the guide.
    page.click("#back")
    page.select_option("#method", "guided_inpainting")
    page.select_option("#option-colour_match", "false")
    with page.expect_response("**/api/inpaint", timeout=120_000) as answer:
        page.click("#run")
    assert answer.value.status == 200 and answer.value.headers["x-holefill-method"] == "guided_inpainting"
    sent = last_form(page)
    assert sent["method"] == "guided_inpainting" and json.loads(sent["options"]) == {"colour_match": False}
    assert sent["guide"] == guide_path.read_bytes()
    page.wait_for_selector("body[data-state='done']")

    # The guided method picked is remembered while the plain one comes back without the guide.
    page.click("#back")
    page.click("#guide-clear")
    page.wait_for_selector("#guide-group[data-loaded='false']")
    assert page.is_hidden("#guide-thumb") and page.inner_text("#guide-caption") == ""
    assert page.input_value("#method") == "telea"
    offered = options_state(page)
    assert not offered["guided_inpainting"] and not offered[DEFAULT_GUIDED_METHOD] and offered["telea"]
    # A plain fill again: no guide sent, telea's result.
    with page.expect_response("**/api/inpaint") as answer:
        page.click("#run")
    assert answer.value.status == 200 and set(last_form(page)) == {"image", "mask", "method"}
    page.wait_for_selector("body[data-state='done']")
    plain = np.asarray(Image.open(io.BytesIO(fetch_result(page))).convert("RGB"))
    assert np.array_equal(plain, holefill.inpaint(image, hole, "telea"))

    # Dropping a photo on the slot loads a guide (and leaves the image as it is).
    page.click("#back")
    transfer = page.evaluate_handle("""(b64) => {
        const bin = atob(b64);
        const bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], 'dropped-guide.png', { type: 'image/png' }));
        return dt;
    }""", base64.b64encode(guide_path.read_bytes()).decode())
    page.dispatch_event("#guide-group", "drop", {"dataTransfer": transfer})
    page.wait_for_selector("#guide-group[data-loaded='true']")
    assert "dropped-guide.png" in page.inner_text("#guide-caption")
    assert page.input_value("#method") == "guided_inpainting"  # the guided method last picked
    assert np.array_equal(mask_array(page, h, w), hole)  # the image and its mask stayed

    # Outpaint hides the slot and offers outpainting methods; inpaint shows it again, guide kept.
    page.click("#mode-outpaint")
    assert page.is_hidden("#guide-group")
    assert page.input_value("#method") not in ("guided_inpainting", DEFAULT_GUIDED_METHOD)
    page.click("#mode-inpaint")
    assert page.is_visible("#guide-group") and page.get_attribute("#guide-group", "data-loaded") == "true"
    assert page.input_value("#method") == "guided_inpainting"
