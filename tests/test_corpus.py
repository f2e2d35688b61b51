"""The photo corpus: sources table, splits, crops, manifest and licences, errors, and the CLI.

The Debian wallpaper packages may be absent (CI), so every build here reads a fake
backgrounds folder of small JPEGs named like the real files, plus scikit-image's bundled
photos. Two tests check the table against the real packages and skip when they are absent.
"""

from __future__ import annotations

import fnmatch
import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from holefill import io
from holefill.cli import app
from holefill.data import corpus
from holefill.data.corpus import (
    SPLITS,
    assign_splits,
    build_photo_corpus,
    crop_grid,
    fit_long_side,
    read_manifest,
    resize_short_side,
    split_corpus,
    split_sizes,
)
from holefill.data.sources import LICENCES, PHOTOS, SOURCE_IDS, SOURCE_PACKAGES, photos_for
from holefill.errors import (
    HolefillError,
    HolefillWarning,
    InvalidArgumentError,
    MissingDependencyError,
    OutputExistsError,
)

SIZE = 32
SHORT = 64
DEBIAN = [p for p in PHOTOS if p.is_debian]
INCLUDED = [p for p in PHOTOS if p.included]
BY_ID = {p.photo_id: p for p in PHOTOS}
# A few shapes (width, height), landscape and portrait, so crop counts differ between photos.
SHAPES = [(96, 64), (120, 72), (64, 100), (150, 80), (80, 80), (70, 130)]


def _fake_photo(index: int, width: int, height: int) -> np.ndarray:
    """A smooth colour field with texture, different for each index."""
    rng = np.random.default_rng(index)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    base = np.stack([xx / width, yy / height, (xx + yy) / (width + height)], axis=2) * 200
    img = base + rng.normal(0, 12, (height, width, 3)) + rng.uniform(0, 40, 3)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_fake_root(root: Path, *, skip_packages: tuple[str, ...] = ()) -> dict[str, tuple[int, int]]:
    """Write a small JPEG for every Debian file of the table; return photo id -> (width, height)."""
    shapes: dict[str, tuple[int, int]] = {}
    for i, p in enumerate(DEBIAN):
        if p.package in skip_packages:
            continue
        w, h = SHAPES[i % len(SHAPES)]
        target = root / p.path
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_fake_photo(i, w, h)).save(target, quality=90)
        shapes[p.photo_id] = (w, h)
    return shapes


def _skimage_shape(name: str) -> tuple[int, int]:
    from skimage import data

    h, w = getattr(data, name)().shape[:2]
    return w, h


def expected_crops(width: int, height: int, size: int = SIZE, short_side: int = SHORT) -> int:
    """Crops on the grid, from the scaled photo's size worked out here independently."""
    short, long = min(width, height), max(width, height)
    scaled_long = int(np.floor(long * short_side / short + 0.5))
    return (scaled_long // size) * (short_side // size)


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory) -> tuple[Path, dict[str, tuple[int, int]]]:
    root = tmp_path_factory.mktemp("backgrounds")
    shapes = make_fake_root(root)
    for p in INCLUDED:
        if not p.is_debian:
            shapes[p.photo_id] = _skimage_shape(p.path)
    return root, shapes


@pytest.fixture(scope="module")
def built(fake_root, tmp_path_factory):
    root, _ = fake_root
    out = tmp_path_factory.mktemp("corpus") / "c"
    summary = build_photo_corpus(out, size=SIZE, short_side=SHORT, backgrounds_root=root, progress=False)
    return out, summary


# ---------------------------------------------------------------------------------------
# The sources table


def test_table_ids_unique_and_licences_known():
    ids = [p.photo_id for p in PHOTOS]
    assert len(ids) == len(set(ids))
    assert len({(p.package, p.path) for p in PHOTOS}) == len(PHOTOS)
    for p in PHOTOS:
        assert p.licence in LICENCES, p
        assert p.source in SOURCE_IDS and p.author.strip(), p
        assert re.fullmatch(r"[a-z0-9-]+", p.photo_id), p.photo_id


def test_table_exclusions_have_reasons():
    excluded = {p.path: p.excluded for p in PHOTOS if not p.included}
    for name in ("Fossa_by_Jasper_Roks.jpg", "Infinite-Sea_by_Aury88.jpg", "Painting-Colors_by__herobrine7gamer.jpg"):
        assert excluded.get(name), name
    assert all(reason and reason.strip() for reason in excluded.values())
    # Only photographs of the nature folder come from mate-backgrounds.
    assert all(p.path.startswith("mate/nature/") for p in INCLUDED if p.source == "mate")


def test_skimage_photos_are_bundled_and_become_rgb():
    from holefill.data.sources import load_skimage_photo

    skimage_rows = [p for p in PHOTOS if p.source == "skimage"]
    assert {p.path for p in skimage_rows} == {"astronaut", "chelsea", "coffee", "rocket", "brick", "grass", "gravel"}
    gravel = load_skimage_photo(BY_ID["skimage-gravel"])
    assert gravel.shape == (512, 512, 3) and gravel.dtype == np.uint8
    assert np.array_equal(gravel[..., 0], gravel[..., 2])


def test_photos_for_checks_names():
    assert {p.source for p in photos_for("skimage, mate")} == {"skimage", "mate"}
    assert all(p.included for p in photos_for(SOURCE_IDS))
    with pytest.raises(InvalidArgumentError, match="unknown source 'ubuntu'.*lomiri-16.04"):
        photos_for("ubuntu,skimage")
    with pytest.raises(InvalidArgumentError):
        photos_for(" , ")


def _dpkg_files(package: str) -> list[str] | None:
    if shutil.which("dpkg-query") is None:
        return None
    res = subprocess.run(["dpkg-query", "-L", package], capture_output=True, text=True)
    return res.stdout.splitlines() if res.returncode == 0 else None


PACKAGES = [pkg for pkg in SOURCE_PACKAGES.values() if pkg != "scikit-image"]


@pytest.mark.parametrize("package", PACKAGES)
def test_table_covers_every_jpeg_of_installed_package(package):
    files = _dpkg_files(package)
    if files is None:
        pytest.skip(f"Debian package {package} is not installed (or no dpkg-query); nothing to compare with")
    prefix = "/usr/share/backgrounds/"
    jpegs = {f[len(prefix):] for f in files if f.startswith(prefix) and f.lower().endswith(".jpg")}
    table = {p.path for p in PHOTOS if p.package == package}
    assert jpegs, f"{package} lists no JPEG under {prefix}"
    assert jpegs == table


def _copyright_stanzas(text: str) -> list[dict[str, str]]:
    """The Files stanzas of a Debian machine-readable copyright file (field -> value)."""
    stanzas = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
            if m:
                key = m.group(1)
                fields[key] = m.group(2)
            elif key and line.startswith(" "):
                fields[key] += "\n" + line.strip()
        if "Files" in fields:
            stanzas.append(fields)
    return stanzas


_SPDX = {"GPL-2+": "GPL-2.0-or-later"}


@pytest.mark.parametrize("package", PACKAGES)
def test_table_credits_match_installed_copyright_file(package):
    path = Path("/usr/share/doc") / package / "copyright"
    if not path.is_file():
        pytest.skip(f"{path} is absent: Debian package {package} is not installed")
    stanzas = _copyright_stanzas(path.read_text(encoding="utf-8", errors="replace"))
    for p in (p for p in PHOTOS if p.package == package):
        if package.startswith("lomiri"):
            upstream = f"{package.rsplit('-', 1)[1]}/{p.path}"  # files sit in 16.04/ or 20.04/ upstream
        else:
            upstream = p.path.removeprefix("mate/")
        # Debian applies the last stanza whose Files pattern matches.
        match = [s for s in stanzas if any(fnmatch.fnmatch(upstream, pat) for pat in s["Files"].split())]
        assert match, f"{upstream} is not in {path}"
        stanza = match[-1]
        licence = stanza["License"].split("\n")[0].strip()
        assert p.licence == _SPDX.get(licence, licence), (p.photo_id, licence)
        for name in p.author.split(", "):
            assert name in stanza["Copyright"], (p.photo_id, name, stanza["Copyright"])
        for year in (p.year or "").split("-"):
            assert year in stanza["Copyright"], (p.photo_id, year)


# ---------------------------------------------------------------------------------------
# Splits


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 7, 10, 14, 34, 100])
def test_assign_splits_sizes_and_disjoint(n):
    ids = [f"photo-{i}" for i in range(n)]
    result = assign_splits(ids)
    assert set(result) == set(ids)
    counts = {s: sum(1 for v in result.values() if v == s) for s in SPLITS}
    assert sum(counts.values()) == n
    if n >= 3:
        assert all(counts[s] >= 1 for s in SPLITS), counts
    if n >= 30:
        assert abs(counts["train"] / n - 0.7) < 0.05 and abs(counts["test"] / n - 0.2) < 0.05, counts
    assert counts == split_sizes(n)


def test_assign_splits_ignores_order():
    ids = [f"img-{i}" for i in range(25)]
    shuffled = ids[:]
    random.Random(3).shuffle(shuffled)
    assert assign_splits(ids) == assign_splits(shuffled)


def test_split_is_the_same_in_any_python_process():
    """Python's hash() of a str changes with PYTHONHASHSEED; the split must not."""
    ids = [p.photo_id for p in INCLUDED]
    code = ("import json, sys; from holefill.data.corpus import split_corpus; from holefill.data.sources import PHOTOS;"
            "print(json.dumps(split_corpus([p for p in PHOTOS if p.included]), sort_keys=True))")
    results = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=os.pathsep.join(sys.path))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        results.add(out.stdout.strip())
    assert len(results) == 1
    assert json.loads(results.pop()) == split_corpus([BY_ID[i] for i in ids])


def test_split_of_a_source_does_not_depend_on_other_sources():
    everything = split_corpus(INCLUDED)
    only_lomiri = split_corpus([p for p in INCLUDED if p.source == "lomiri-16.04"])
    assert only_lomiri == {k: v for k, v in everything.items() if k in only_lomiri}
    for source in ("lomiri-16.04", "mate", "skimage"):
        assert {everything[p.photo_id] for p in INCLUDED if p.source == source} == set(SPLITS)


def test_tiny_corpus_still_fills_every_split():
    tiny = [next(p for p in INCLUDED if p.source == s) for s in ("lomiri-16.04", "mate", "skimage")]
    assert set(split_corpus(tiny).values()) == set(SPLITS)


# ---------------------------------------------------------------------------------------
# Geometry


def test_crop_grid_is_centred_and_non_overlapping():
    boxes = crop_grid(70, 100, 32)
    assert len(boxes) == 2 * 3
    xs, ys = sorted({b[0] for b in boxes}), sorted({b[1] for b in boxes})
    assert xs == [2, 34, 66] and ys == [3, 35]  # margins (100-96)/2 and (70-64)/2
    covered = np.zeros((70, 100), int)
    for x, y, w, h in boxes:
        covered[y:y + h, x:x + w] += 1
    assert covered.max() == 1 and covered.sum() == 6 * 32 * 32
    assert crop_grid(31, 100, 32) == []


def test_resize_short_side_and_fit_long_side():
    img = np.zeros((300, 451, 3), np.uint8)
    scaled, scale = resize_short_side(img, 512)
    assert scaled.shape == (512, 770, 3) and scale == pytest.approx(512 / 300)
    tall, _ = resize_short_side(np.zeros((900, 600, 3), np.uint8), 64)
    assert tall.shape == (96, 64, 3)
    assert fit_long_side(np.zeros((900, 1500, 3), np.uint8), 1024).shape == (614, 1024, 3)
    small = np.zeros((50, 80, 3), np.uint8)
    assert fit_long_side(small, 1024) is small


# ---------------------------------------------------------------------------------------
# A built corpus


def test_crop_sizes_and_counts(built, fake_root):
    out, summary = built
    _, shapes = fake_root
    rows = read_manifest(out)
    per_photo: dict[str, int] = {}
    for row in rows:
        per_photo[row["photo_id"]] = per_photo.get(row["photo_id"], 0) + 1
    assert set(per_photo) == {p.photo_id for p in INCLUDED}
    for pid, n in per_photo.items():
        assert n == expected_crops(*shapes[pid]), pid
    crops = sorted((out / "crops").rglob("*.png"))
    assert len(crops) == len(rows) == summary.n_crops
    for path in crops[:: max(1, len(crops) // 25)]:
        img = io.read_image(path)
        assert img.shape == (SIZE, SIZE, 3)


def test_crop_pixels_match_the_manifest_box(built, fake_root):
    out, _ = built
    root, shapes = fake_root
    # A photo that is scaled down (and not square), so the scale and the centring both matter.
    pid = next(p.photo_id for p in INCLUDED if p.is_debian and min(shapes[p.photo_id]) > SHORT
               and shapes[p.photo_id][0] != shapes[p.photo_id][1])
    rows = [r for r in read_manifest(out) if r["photo_id"] == pid]
    original = io.read_image(root / BY_ID[pid].path)
    h, w = original.shape[:2]
    scale = SHORT / min(h, w)
    assert float(rows[0]["scale"]) == pytest.approx(scale, abs=1e-6)
    size = (int(np.floor(w * scale + 0.5)), SHORT) if w >= h else (SHORT, int(np.floor(h * scale + 0.5)))
    scaled = cv2.resize(original, size, interpolation=cv2.INTER_AREA)
    for row in rows:
        x, y, cw, ch = (int(row[k]) for k in ("x", "y", "width", "height"))
        assert (cw, ch) == (SIZE, SIZE)
        assert np.array_equal(io.read_image(out / row["file"]), scaled[y:y + ch, x:x + cw]), row["file"]
    boxes = [tuple(int(r[k]) for k in ("x", "y", "width", "height")) for r in rows]
    left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
    right = scaled.shape[1] - max(b[0] + b[2] for b in boxes)
    bottom = scaled.shape[0] - max(b[1] + b[3] for b in boxes)
    assert abs(left - right) <= 1 and abs(top - bottom) <= 1 and max(left, top) < SIZE


def test_photos_folder_holds_each_photo_once(built, fake_root):
    out, summary = built
    _, shapes = fake_root
    photos = sorted((out / "photos").rglob("*.jpg"))
    assert len(photos) == summary.n_photos == len(INCLUDED)
    splits = json.loads((out / "splits.json").read_text())
    for path in photos:
        pid, split = path.stem, path.parent.name
        assert pid in splits[split]
        img = io.read_image(path)
        assert (img.shape[1], img.shape[0]) == shapes[pid]  # all under 1024 px: not scaled


def test_split_is_by_photo(built):
    out, summary = built
    splits = json.loads((out / "splits.json").read_text())
    assert list(splits) == list(SPLITS)
    seen = [pid for s in SPLITS for pid in splits[s]]
    assert len(seen) == len(set(seen)) == len(INCLUDED)
    assert all(splits[s] for s in SPLITS)
    where = {pid: s for s in SPLITS for pid in splits[s]}
    for row in read_manifest(out):
        assert row["split"] == where[row["photo_id"]]
        assert row["file"].startswith(f"crops/{row['split']}/{row['photo_id']}_")
    assert {s: list(ids) for s, ids in summary.photos.items()} == splits


def test_manifest_lists_every_crop_with_its_licence(built):
    out, _ = built
    rows = read_manifest(out)
    on_disk = {p.relative_to(out).as_posix() for p in (out / "crops").rglob("*.png")}
    assert {r["file"] for r in rows} == on_disk and len(rows) == len(on_disk)
    for row in rows:
        p = BY_ID[row["photo_id"]]
        assert (row["package"], row["author"], row["licence"], row["original"]) == (
            p.package, p.author, p.licence, p.original)


def test_licences_file_has_a_section_per_photo(built):
    out, summary = built
    text = (out / "LICENSES.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^## (\S+)\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M))
    assert set(sections) - {"Licences"} == {p.photo_id for p in INCLUDED}
    for p in INCLUDED:
        body = sections[p.photo_id]
        assert p.author in body and p.licence in body, p.photo_id
        if LICENCES[p.licence].url:
            assert LICENCES[p.licence].url in body
    for lic in summary.licences:
        assert f"- {lic}: {LICENCES[lic].name}" in sections["Licences"]
    assert not any(p.photo_id in text for p in PHOTOS if not p.included)


def test_two_builds_are_identical(built, fake_root, tmp_path):
    out, _ = built
    root, _ = fake_root
    again = tmp_path / "again"
    build_photo_corpus(again, size=SIZE, short_side=SHORT, backgrounds_root=root, progress=False)
    first, second = tree(out), tree(again)
    assert list(first) == list(second)
    assert all(first[k] == second[k] for k in first)


# ---------------------------------------------------------------------------------------
# Errors and options


def test_missing_package_is_one_line_error_with_apt_hint(tmp_path):
    root = tmp_path / "bg"
    make_fake_root(root, skip_packages=("mate-backgrounds", "lomiri-wallpapers-20.04"))
    out = tmp_path / "out"
    with pytest.raises(MissingDependencyError) as info:
        build_photo_corpus(out, backgrounds_root=root, progress=False)
    message = str(info.value)
    assert "\n" not in message
    assert "sudo apt-get install lomiri-wallpapers-20.04 mate-backgrounds" in message
    assert "lomiri-wallpapers-16.04" not in message
    assert not out.exists()


def test_incomplete_package_asks_for_reinstall(tmp_path):
    root = tmp_path / "bg"
    make_fake_root(root)
    (root / BY_ID["mate-storm"].path).unlink()
    with pytest.raises(MissingDependencyError, match=r"1 of 12 photos missing.*apt-get install --reinstall mate-backgrounds"):
        build_photo_corpus(tmp_path / "out", sources="mate", backgrounds_root=root, progress=False)


def test_allow_missing_warns_and_continues(tmp_path):
    out = tmp_path / "out"
    with pytest.warns(HolefillWarning, match="mate-backgrounds.*apt-get install mate-backgrounds"):
        summary = build_photo_corpus(out, size=SIZE, short_side=SHORT, sources="mate,skimage",
                                     backgrounds_root=tmp_path / "nothing", allow_missing=True, progress=False)
    assert summary.missing_packages == ("mate-backgrounds",)
    assert {BY_ID[pid].source for ids in summary.photos.values() for pid in ids} == {"skimage"}
    assert all(summary.photos[s] for s in SPLITS)
    assert {r["package"] for r in read_manifest(out)} == {"scikit-image"}


def test_nothing_left_to_build_is_an_error(tmp_path):
    with pytest.raises(MissingDependencyError, match="no photos"), pytest.warns(HolefillWarning):
        build_photo_corpus(tmp_path / "out", sources="mate", backgrounds_root=tmp_path / "none",
                           allow_missing=True, progress=False)


def test_unreadable_photo_names_the_file(tmp_path):
    root = tmp_path / "bg"
    make_fake_root(root)
    broken = root / BY_ID["mate-wood"].path
    broken.write_bytes(broken.read_bytes()[:200])
    with pytest.raises(HolefillError, match=re.escape(str(broken))):
        build_photo_corpus(tmp_path / "out", size=SIZE, short_side=SHORT, sources="mate",
                           backgrounds_root=root, progress=False)


def test_refuses_a_non_empty_folder_unless_overwrite(tmp_path, fake_root):
    root, _ = fake_root
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        build_photo_corpus(out, size=SIZE, short_side=SHORT, sources="skimage", progress=False)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    build_photo_corpus(out, size=SIZE, short_side=SHORT, sources="skimage", overwrite=True, progress=False)
    # A second build with other settings leaves no crop of the first one behind.
    build_photo_corpus(out, size=48, short_side=SHORT, sources="lomiri-16.04", backgrounds_root=root,
                       overwrite=True, progress=False)
    rows = read_manifest(out)
    assert {r["file"] for r in rows} == {p.relative_to(out).as_posix() for p in (out / "crops").rglob("*.png")}
    assert {p.stem for p in (out / "photos").rglob("*.jpg")} == {p.photo_id for p in photos_for("lomiri-16.04")}
    assert (out / "notes.txt").read_text() == "mine"


def test_bad_sizes_are_errors(tmp_path):
    with pytest.raises(InvalidArgumentError, match="--short-side"):
        build_photo_corpus(tmp_path / "o", size=256, short_side=128, sources="skimage", progress=False)
    with pytest.raises(InvalidArgumentError, match="--size"):
        build_photo_corpus(tmp_path / "o", size=0, sources="skimage", progress=False)
    assert not (tmp_path / "o").exists()


def test_progress_bar_goes_to_stderr(tmp_path, capsys):
    build_photo_corpus(tmp_path / "o", size=SIZE, short_side=SHORT, sources="skimage", progress=True)
    captured = capsys.readouterr()
    assert "photo corpus" in captured.err and captured.out == ""


# ---------------------------------------------------------------------------------------
# The CLI

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, ["data", "photos", *map(str, args)])


def test_cli_builds_and_prints_a_summary(tmp_path, fake_root):
    root, _ = fake_root
    out = tmp_path / "corpus"
    r = _run("-o", out, "--size", SIZE, "--short-side", SHORT, "--backgrounds-root", root, "--quiet")
    assert r.exit_code == 0, r.output
    splits = json.loads((out / "splits.json").read_text())
    rows = read_manifest(out)
    assert f"{len(INCLUDED)} photos, {len(rows)} crops" in r.stdout
    for s in SPLITS:
        n_crops = sum(1 for row in rows if row["split"] == s)
        assert re.search(rf"^\s+{s}\s+{len(splits[s])} photos\s+{n_crops} crops$", r.stdout, flags=re.M), r.stdout
    assert "GPL-2.0-or-later (12 photos)" in r.stdout
    assert "photo corpus:" not in r.stderr  # --quiet: no progress bar


def test_cli_missing_package_is_one_error_line(tmp_path):
    r = _run("-o", tmp_path / "c", "--sources", "mate,skimage", "--backgrounds-root", tmp_path / "none")
    assert r.exit_code == 2
    errors = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error:"), r.stderr
    assert "sudo apt-get install mate-backgrounds" in errors[0] and "--allow-missing" in errors[0]
    assert "Traceback" not in r.output


def test_cli_allow_missing_warns(tmp_path):
    r = _run("-o", tmp_path / "c", "--sources", "mate,skimage", "--backgrounds-root", tmp_path / "none",
             "--size", SIZE, "--short-side", SHORT, "--allow-missing", "-q")
    assert r.exit_code == 0, r.output
    assert any(line.startswith("warning:") and "mate-backgrounds" in line for line in r.stderr.splitlines())
    assert "left out (not installed): mate-backgrounds" in r.stdout


def test_cli_refuses_to_overwrite(tmp_path):
    out = tmp_path / "c"
    out.mkdir()
    (out / "x.png").write_bytes(b"keep")
    r = _run("-o", out, "--sources", "skimage", "-q")
    assert r.exit_code == 2 and "--overwrite" in r.stderr
    assert (out / "x.png").read_bytes() == b"keep"


def test_cli_unknown_source(tmp_path):
    r = _run("-o", tmp_path / "c", "--sources", "flickr")
    assert r.exit_code == 2 and "unknown source 'flickr'" in r.stderr


def test_module_exports_builder():
    import holefill.data as data

    assert data.build_photo_corpus is corpus.build_photo_corpus


# ----------------------------------------------------------------------------- many crops per photo


def test_cut_crops_is_seeded_per_photo_and_refuses_to_overwrite(tmp_path):
    from skimage import data as skdata

    from holefill.data.corpus import cut_crops

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    io.write_image(a / "cat.png", skdata.chelsea())
    io.write_image(b / "rocket.png", skdata.rocket())
    one = cut_crops([a], tmp_path / "one", per_photo=3, size=64, short_side=128, progress=False)
    both = cut_crops([a, b], tmp_path / "both", per_photo=3, size=64, short_side=128, progress=False)
    assert one == {"cat": 3} and both == {"cat": 3, "rocket": 3}
    names = sorted(p.name for p in (tmp_path / "both").iterdir())
    assert names == [f"{s}_{k:03d}.png" for s in ("cat", "rocket") for k in range(3)]
    for k in range(3):  # another photo in the set does not move a photo's crops
        first = io.read_image(tmp_path / "one" / f"cat_{k:03d}.png")
        assert np.array_equal(first, io.read_image(tmp_path / "both" / f"cat_{k:03d}.png"))
        assert first.shape == (64, 64, 3)
    crops = [io.read_image(tmp_path / "one" / f"cat_{k:03d}.png") for k in range(3)]
    assert not np.array_equal(crops[0], crops[1])
    other = cut_crops([a], tmp_path / "seed1", per_photo=3, size=64, short_side=128, seed=1, progress=False)
    assert other == {"cat": 3}
    assert not np.array_equal(crops[0], io.read_image(tmp_path / "seed1" / "cat_000.png"))
    with pytest.raises(OutputExistsError, match="already exists"):
        cut_crops([a], tmp_path / "one", per_photo=3, size=64, short_side=128, progress=False)
    io.write_image(b / "cat.jpg", skdata.chelsea())
    with pytest.raises(InvalidArgumentError, match="named 'cat'"):
        cut_crops([a, b], tmp_path / "dup", per_photo=1, size=64, short_side=128, progress=False)
    with pytest.raises(InvalidArgumentError, match="per-photo"):
        cut_crops([a], tmp_path / "zero", per_photo=0, progress=False)
