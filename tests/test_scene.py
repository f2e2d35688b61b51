"""Scene completion (Hays and Efros 2007): the database index and its cache, errors, matching, seams, blending."""

from __future__ import annotations

import time
import warnings

import cv2
import numpy as np
import pytest

from holefill import io
from holefill.errors import HolefillWarning, InputNotFoundError, InvalidArgumentError
from holefill.scene import INDEX_NAME, SceneCompletion, open_index
from holefill.scene.completion import context_band, feather, poisson_clone, seam_region
from holefill.scene.descriptors import DIMS, describe, weighted_distances


def scene(seed: int, h: int = 96, w: int = 128) -> np.ndarray:
    """A smooth random 'photo' with a few soft blobs: distinct per seed."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.zeros((h, w, 3))
    for c in range(3):
        a, b, d = rng.uniform(1, 8, 3)
        img[..., c] = 0.5 + 0.3 * np.sin(a * xx + d) * np.cos(b * yy - d)
    for _ in range(4):
        cy, cx, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.2)
        img += (np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / r ** 2))[..., None] * rng.uniform(-0.3, 0.3, 3)
    return (img.clip(0, 1) * 255).astype(np.uint8)


def write(folder, name: str, image: np.ndarray) -> None:  # noqa: ANN001
    folder.mkdir(parents=True, exist_ok=True)
    io.write_image(folder / name, image, overwrite=True)


@pytest.fixture
def database(tmp_path):  # noqa: ANN001
    db = tmp_path / "db"
    for i in range(6):
        write(db, f"scene{i}.png", scene(i))
    write(db / "sub", "more.png", scene(10))
    return db


def test_descriptor_ignores_the_hole() -> None:
    image = scene(1)
    hole = np.zeros(image.shape[:2], bool)
    hole[30:60, 40:90] = True
    other = image.copy()
    other[hole] = 255 - other[hole]
    a, b = describe(image, hole), describe(other, hole)
    assert a.vector.shape == (DIMS,) and np.array_equal(a.weights, b.weights)
    assert weighted_distances(b.vector[None], a)[0] < 1e-6  # what the hole holds does not count
    full = describe(image)
    assert full.weights.min() == 1 and 0 <= a.weights.min() < 0.5


def test_weighted_distances_equal_the_definition() -> None:
    rng = np.random.default_rng(0)
    data = rng.random((50, DIMS), dtype=np.float32)
    q = describe(scene(3), None)
    q = type(q)(q.vector, rng.random(DIMS).astype(np.float32))
    expected = ((data - q.vector) ** 2 * q.weights).sum(axis=1)
    np.testing.assert_allclose(weighted_distances(data, q, chunk=7), expected, rtol=1e-4, atol=1e-5)


def test_index_is_cached_refreshed_and_the_only_file_written(database) -> None:  # noqa: ANN001
    before = {p: p.stat().st_mtime_ns for p in database.rglob("*")}
    index = open_index(database, progress=False)
    assert len(index) == 7 and index.files[-1] == "sub/more.png"
    after = sorted(p.relative_to(database).as_posix() for p in database.rglob("*"))
    assert after == sorted([p.relative_to(database).as_posix() for p in before] + [INDEX_NAME])
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())  # nothing else touched
    cache = database / INDEX_NAME
    stamp = cache.stat().st_mtime_ns
    again = open_index(database, progress=False)
    assert cache.stat().st_mtime_ns == stamp and np.array_equal(again.vectors, index.vectors)  # read, not rebuilt
    # a changed, a new and a removed file: only the changed and new ones are described again
    time.sleep(0.01)
    write(database, "scene0.png", scene(20))
    write(database, "new.png", scene(21))
    (database / "scene5.png").unlink()
    fresh = open_index(database, progress=False)
    assert "new.png" in fresh.files and "scene5.png" not in fresh.files and len(fresh) == 7
    row = fresh.files.index("scene0.png")
    np.testing.assert_allclose(fresh.vectors[row], describe(scene(20)).vector, rtol=1e-5, atol=1e-6)
    assert not [p for p in database.iterdir() if p.name.startswith(f".{INDEX_NAME}")]  # no temporary left


def test_search_puts_the_same_scene_first(database) -> None:  # noqa: ANN001
    index = open_index(database, progress=False)
    hole = np.zeros((96, 128), bool)
    hole[30:60, 40:90] = True
    found = index.search(describe(scene(3), hole), 3)
    assert [m.path.name for m in found][0] == "scene3.png"
    assert found[0].distance < found[1].distance <= found[2].distance
    assert "scene3.png" not in [m.path.name for m in index.search(describe(scene(3), hole), 3,
                                                                   exclude=database / "scene3.png")]


def test_database_errors(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(InputNotFoundError, match="no such"):
        open_index(tmp_path / "missing", progress=False)
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(InvalidArgumentError, match="is a file"):
        open_index(tmp_path / "file.png", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidArgumentError, match="holds no images"):
        open_index(tmp_path / "empty", progress=False)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.png").write_bytes(b"not an image")
    (bad / "b.jpg").write_bytes(b"")
    with pytest.raises(InvalidArgumentError, match="none of its 2 image files could be read") as err:
        open_index(bad, progress=False)
    assert "\n" not in str(err.value)
    write(bad, "good.png", scene(1))
    with pytest.warns(HolefillWarning, match="skipped 2 unreadable"):
        assert len(open_index(bad, progress=False)) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # remembered: not read (nor warned about) again
        assert len(open_index(bad, progress=False)) == 1
    with pytest.raises(InvalidArgumentError, match="--db"):
        SceneCompletion()


def test_an_unwritable_folder_warns_and_keeps_the_index_in_memory(database, monkeypatch) -> None:  # noqa: ANN001
    def refuse(path, data):  # noqa: ANN001, ANN202
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(io, "write_bytes_atomic", refuse)
    with pytest.warns(HolefillWarning, match="cannot write the scene index there"):
        assert len(open_index(database, progress=False)) == 7
    assert not (database / INDEX_NAME).exists()


def test_completion_finds_the_source_and_keeps_known_pixels(database) -> None:  # noqa: ANN001
    photo = scene(4, 120, 160)
    write(database, "source.png", photo[10:106, 20:148])  # another crop of the query's photo
    query = photo[20:116, 12:140]
    mask = np.zeros((96, 128), bool)
    mask[30:62, 44:84] = True
    filler = SceneCompletion(database, scenes=5, scales=(1.0,))
    best = filler.completions(query * ~mask[..., None], mask, 2)
    assert best[0].placement.path.name == "source.png"
    assert best[0].score <= best[1].score
    out = filler.fill(query, mask)
    assert np.array_equal(out[~mask], query[~mask])
    assert np.abs(out[mask].astype(float) - query[mask]).mean() < 4.0
    samples = filler.fill_samples(query, mask, 2)
    assert np.array_equal(samples[0], out) and not np.array_equal(samples[1], out)
    assert np.array_equal(filler.fill_samples(query, mask, 1, seed=1)[0], samples[1])
    with pytest.raises(InvalidArgumentError, match="gives"):
        filler.fill_samples(query, mask, 3, seed=6)


def test_many_scenes_are_compared_coarsely_and_the_best_placed_at_full_size(database, monkeypatch) -> None:  # noqa: ANN001
    """Coarse-to-fine: every scene is matched at COARSE_SIDE, only ``refine`` of them at full size,
    and the source photo survives the coarse round."""
    import holefill.scene.completion as completion

    for i in range(20, 30):
        write(database, f"other{i}.png", scene(i, 240, 320))
    photo = scene(4, 300, 400)
    write(database, "source.png", photo[25:265, 50:370])
    query = photo[50:290, 30:350]
    mask = np.zeros(query.shape[:2], bool)
    mask[75:155, 110:210] = True
    sizes = []
    original = completion.place

    def counting(query_lab, hole, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        sizes.append(max(hole.shape))
        return original(query_lab, hole, *args, **kwargs)

    monkeypatch.setattr(completion, "place", counting)
    filler = SceneCompletion(database, scenes=17, refine=3, scales=(1.0,), seam_depth=0)
    best = filler.completions(query * ~mask[..., None], mask, 1)
    assert best[0].placement.path.name == "source.png"
    assert sizes.count(completion.COARSE_SIDE) == 17 and sizes.count(320) == 3, sizes
    with pytest.raises(InvalidArgumentError, match="refine"):
        SceneCompletion(database, refine=0)


def test_feather_fades_the_scene_in_from_the_region_border() -> None:
    target = np.full((40, 40, 3), 100, np.uint8)
    blended = np.full((40, 40, 3), 200, np.uint8)
    region = np.zeros((40, 40), bool)
    region[10:30, 10:30] = True
    out = feather(blended, target, region, 8.0)
    assert np.array_equal(out[~region], target[~region])
    assert out[20, 20, 0] == 200  # deeper than the fade: the scene
    row = out[20, 10:20, 0].astype(int)
    assert row[0] < 120 and np.all(np.diff(row) >= 0) and row[-1] == 200  # rises from the border inward
    assert np.array_equal(feather(blended, target, region, 0.0), blended)


def test_seam_and_blend() -> None:
    query, cand = scene(1, 64, 64), scene(1, 64, 64).copy()
    cand[:, 40:] = scene(2, 64, 64)[:, 40:]  # agrees with the query left of column 40 only
    mask = np.zeros((64, 64), bool)
    mask[24:40, 20:36] = True
    band = context_band(mask, 12)
    lab = lambda x: cv2.cvtColor(x.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)  # noqa: E731
    region, cost = seam_region(lab(query), lab(cand), mask, band, 12)
    assert region[mask].all() and not region[~(mask | band)].any()
    assert not region[:, 40:].any()  # the cut stays where the photos agree
    assert cost >= 0
    target = query.copy()
    target[mask] = 0
    smooth = cv2.inpaint(target, mask.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)
    blended = poisson_clone(cand, smooth, region)
    assert np.array_equal(blended[~region], smooth[~region])
    assert np.abs(blended[mask].astype(float) - query[mask]).mean() < 1.5 < np.abs(smooth[mask].astype(float) - query[mask]).mean()
    offset = np.clip(cand.astype(int) + 25, 0, 255).astype(np.uint8)  # another exposure: blending removes it
    assert np.abs(poisson_clone(offset, smooth, region)[mask].astype(float) - query[mask]).mean() < 1.5


def test_cli_scene_completion(database, tmp_path) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from holefill.cli import app

    photo = scene(4, 120, 160)
    write(database, "source.png", photo[10:106, 20:148])
    query = photo[20:116, 12:140]
    mask = np.zeros((96, 128), bool)
    mask[30:62, 44:84] = True
    io.write_image(tmp_path / "q.png", query)
    io.write_mask(tmp_path / "m.png", mask)
    run = lambda *a: CliRunner().invoke(app, [str(x) for x in a])  # noqa: E731
    ok = run("inpaint", tmp_path / "q.png", "--mask", tmp_path / "m.png", "-m", "scene", "--db", database,
             "--samples", "2", "-O", "scales=1.0", "-o", tmp_path / "out.png", "-q")
    assert ok.exit_code == 0, ok.output
    best = io.read_image(tmp_path / "out-1.png")
    assert np.array_equal(best[~mask], query[~mask]) and np.abs(best[mask].astype(float) - query[mask]).mean() < 4
    assert (database / INDEX_NAME).is_file()
    for args, needle in (((tmp_path / "nowhere",), "no such photo database folder"),
                         ((tmp_path / "q.png",), "is a file"),
                         ((tmp_path / "empty",), "holds no images")):
        (tmp_path / "empty").mkdir(exist_ok=True)
        bad = run("inpaint", tmp_path / "q.png", "--mask", tmp_path / "m.png", "--db", *args, "-o", tmp_path / "x.png")
        lines = [line for line in bad.output.splitlines() if line.strip()]
        assert bad.exit_code == 2 and len(lines) == 1 and needle in lines[0], bad.output
    assert not (tmp_path / "x.png").exists()
    other = run("inpaint", tmp_path / "q.png", "--mask", tmp_path / "m.png", "-m", "telea", "--db", database,
                "-o", tmp_path / "x.png")
    assert other.exit_code == 2 and "scene" in other.output


def test_inner_seam_keeps_the_photos_own_fill_where_the_scene_does_not_fit() -> None:
    from holefill.scene.completion import inner_seam

    lab = lambda x: cv2.cvtColor(x.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)  # noqa: E731
    own = scene(1, 64, 64)
    cand = own.copy()
    cand[:, 32:] = scene(2, 64, 64)[:, 32:]  # fits the photo left of column 32 only
    mask = np.zeros((64, 64), bool)
    mask[20:44, 20:44] = True
    region = inner_seam(lab(own), lab(cand), mask, 8)
    assert not region[~mask].any()
    assert region[28:36, 28:36].all()  # the core (over 8 px deep) is the scene's
    assert region[20:44, 20:23].all()  # where it fits, the scene fills up to the hole's border
    assert not region[26:38, 41:44].any()  # where it does not, the photo's own fill stays at the border
    assert np.array_equal(inner_seam(lab(own), lab(cand), mask, 0), mask)  # depth 0: the whole hole
    assert np.array_equal(inner_seam(lab(own), lab(own), mask, 8), mask)  # a perfect fit: the whole hole
