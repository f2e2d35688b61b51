"""The blind-inpainting endpoints through FastAPI's TestClient: /api/find-damage, /api/inpaint-blind,
and the tasks in /api/methods; bad input answers 422 with one line."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from holefill.blind_pipeline import ModelBlindFiller  # noqa: E402
from holefill.methods import get_blind_filler, get_method  # noqa: E402
from holefill.models import create_model  # noqa: E402
from holefill.web.app import create_app  # noqa: E402
from holefill.web.server import ServerSettings  # noqa: E402


def png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def decode(data: bytes, mode: str = "RGB") -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert(mode))


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("w") / "vcnet"
    create_model("vcnet", cnum=8).save_pretrained(folder)
    return folder


@pytest.fixture
def client(weights: Path) -> TestClient:
    return TestClient(create_app(ServerSettings(weights={"vcnet": weights})), raise_server_exceptions=False)


@pytest.fixture
def damaged(photo: np.ndarray) -> np.ndarray:
    image = np.ascontiguousarray(photo[:61, :77]).copy()
    image[20:26, 5:70] = (250, 20, 20)
    return image


def _post(client: TestClient, url: str, image: np.ndarray, **fields: object):  # noqa: ANN202
    return client.post(url, files={"image": ("x.png", png(image), "application/octet-stream")},
                       data={k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in fields.items()})


def test_methods_name_their_tasks(client: TestClient) -> None:
    rows = {r["name"]: r for r in client.get("/api/methods").json()}
    assert rows["vcnet"]["tasks"] == ["blind", "inpaint"] and rows["vcnet"]["ready"] is True
    assert rows["telea"]["tasks"] == list(get_method("telea").tasks) and "blind" not in rows["telea"]["tasks"]
    assert sum(r["default_blind"] for r in rows.values()) <= 1


def test_find_damage_answers_the_mask_or_the_probability(client: TestClient, weights: Path, damaged: np.ndarray) -> None:
    filler = ModelBlindFiller.from_pretrained(weights, threshold=0.4)
    r = _post(client, "/api/find-damage", damaged, method="vcnet", threshold=0.4)
    assert r.status_code == 200, r.text
    mask = decode(r.content, "L") > 127
    prob = filler.find_damage(damaged)
    assert np.array_equal(mask, filler.mask_from(prob))
    assert r.headers["X-Holefill-Hole-Pixels"] == str(int(mask.sum())) and r.headers["X-Holefill-Method"] == "vcnet"
    assert float(r.headers["X-Holefill-Threshold"]) == pytest.approx(0.4)
    p = _post(client, "/api/find-damage", damaged, method="vcnet", probability=True)
    grey = decode(p.content, "L")
    assert np.abs(grey.astype(int) - np.rint(prob * 255).astype(int)).max() <= 1
    body = {"image": base64.b64encode(png(damaged)).decode(), "method": "vcnet", "threshold": 0.4}
    j = client.post("/api/find-damage", json=body)
    assert j.status_code == 200 and np.array_equal(decode(j.content, "L") > 127, mask)


def test_inpaint_blind_answers_the_repair(client: TestClient, weights: Path, damaged: np.ndarray) -> None:
    r = _post(client, "/api/inpaint-blind", damaged, method="vcnet", dilate=1)
    assert r.status_code == 200, r.text
    expected, mask = ModelBlindFiller.from_pretrained(weights, dilate=1).fill_blind(damaged)
    assert np.array_equal(decode(r.content), expected)
    assert r.headers["X-Holefill-Hole-Pixels"] == str(int(mask.sum()))
    ns = _post(client, "/api/inpaint-blind", damaged, method="ns", finder="vcnet")
    assert ns.status_code == 200, ns.text
    both = get_blind_filler("ns", finder="vcnet", finder_weights=weights)
    assert np.array_equal(decode(ns.content), both.fill_blind(damaged)[0])
    assert ns.headers["X-Holefill-Method"] == "ns+vcnet"


def test_bad_blind_requests_are_422(client: TestClient, damaged: np.ndarray) -> None:
    def error(response, needle: str) -> None:  # noqa: ANN001
        assert response.status_code == 422, response.text
        body = response.json()
        assert "\n" not in body["error"] and needle in body["error"], body

    error(_post(client, "/api/inpaint-blind", damaged, method="vcnet", threshold=1.5), "threshold")
    error(_post(client, "/api/inpaint-blind", damaged, method="vcnet", dilate=100), "dilate")
    error(_post(client, "/api/inpaint-blind", damaged, method="ns", finder="telea"), "cannot find damage")
    error(_post(client, "/api/inpaint-blind", damaged, method="nonesuch"), "unknown method")
    error(_post(client, "/api/find-damage", damaged, method="vcnet", options='{"radius": 3}'), "options")
    error(client.post("/api/inpaint-blind", files={"image": ("x.png", b"not an image", "image/png")},
                      data={"method": "vcnet"}), "image")
    error(client.post("/api/find-damage", json={"method": "vcnet"}), "image")
    error(client.post("/api/find-damage", json={"image": "!!!", "method": "vcnet"}), "base64")
    no_weights = TestClient(create_app(ServerSettings()), raise_server_exceptions=False)
    error(_post(no_weights, "/api/inpaint-blind", damaged, method="vcnet"), "weights")
