"""Build the project's photo corpus for training and benchmarking (``holefill data photos``).

The photos come from :mod:`holefill.data.sources` (Debian wallpaper packages and
scikit-image's bundled photos; nothing is downloaded). For each photo the builder writes

- ``crops/<split>/<photo-id>_<k>.png``: non-overlapping ``size`` x ``size`` crops on a grid
  centred in the photo scaled to a short side of ``short_side`` px (benchmarks, fixed sets);
- ``photos/<split>/<photo-id>.jpg``: the photo with its long side at most 1024 px, JPEG q=95
  (training cuts random crops from these on the fly);

and, for the whole corpus, ``manifest.csv`` (one row per crop), ``LICENSES.md`` (credit and
licence of every photo) and ``splits.json`` (photo ids per split). ``manifest.csv`` is
written last, so a folder without it is an unfinished build.

The split is by photo, never by crop, so no photo leaks between train, val and test. It is
decided by SHA-256 of the photo id, within each source, so it is the same on every machine
and does not change when other sources are added or left out.
"""

from __future__ import annotations

import csv
import hashlib
import io as _io
import json
import math
import sys
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from holefill import io
from holefill.data.sources import (
    LICENCES,
    PACKAGE_HOMEPAGES,
    SOURCE_IDS,
    PhotoSource,
    load_skimage_photo,
    photos_for,
)
from holefill.errors import (
    HolefillWarning,
    InputNotFoundError,
    InvalidArgumentError,
    MissingDependencyError,
    OutputExistsError,
)

#: The splits, in the order they are listed everywhere.
SPLITS: tuple[str, ...] = ("train", "val", "test")
#: The share of photos each split gets (rounded; val and test get at least one from 3 photos).
SPLIT_FRACTIONS: dict[str, float] = {"train": 0.7, "val": 0.1, "test": 0.2}
#: The long side of the scaled-down photos under ``photos/``, and their JPEG quality.
PHOTO_LONG_SIDE = 1024
PHOTO_QUALITY = 95
DEFAULT_BACKGROUNDS_ROOT = Path("/usr/share/backgrounds")
#: Columns of ``manifest.csv``. The crop box (x, y, width, height) is in the photo scaled by
#: ``scale``; divide by ``scale`` for the original's pixels.
MANIFEST_COLUMNS: tuple[str, ...] = (
    "file", "split", "photo_id", "package", "original", "author", "licence",
    "x", "y", "width", "height", "scale",
)
#: The metadata files a build writes; ``overwrite=True`` deletes these, and the old crops and photos.
_OUTPUT_FILES = ("manifest.csv", "LICENSES.md", "splits.json")


@dataclass(frozen=True)
class CorpusSummary:
    """What a build wrote: photo ids and crop counts per split, licences, packages left out."""

    out_dir: Path
    size: int
    short_side: int
    photos: dict[str, tuple[str, ...]]
    crops: dict[str, int]
    licences: dict[str, int] = field(default_factory=dict)
    missing_packages: tuple[str, ...] = ()

    @property
    def n_photos(self) -> int:
        return sum(len(ids) for ids in self.photos.values())

    @property
    def n_crops(self) -> int:
        return sum(self.crops.values())

    def describe(self) -> str:
        """A few lines for people: totals, then per split, then photos per licence."""
        lines = [
            f"photo corpus in {self.out_dir}: {self.n_photos} photos, {self.n_crops} crops of"
            f" {self.size}x{self.size} (photos scaled to a short side of {self.short_side} px)"
        ]
        for split in SPLITS:
            lines.append(f"  {split:<5}  {len(self.photos.get(split, ())):>3} photos  {self.crops.get(split, 0):>5} crops")
        lines.append("licences: " + ", ".join(f"{lic} ({_count(n, 'photo')})" for lic, n in sorted(self.licences.items())))
        if self.missing_packages:
            lines.append("left out (not installed): " + ", ".join(self.missing_packages))
        return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


# ---------------------------------------------------------------------------------------
# Splits


def split_key(photo_id: str) -> str:
    """The photo's place in the split order: SHA-256 of its id (never Python's salted hash())."""
    return hashlib.sha256(f"holefill-corpus-split/{photo_id}".encode("utf-8")).hexdigest()


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def split_sizes(n: int) -> dict[str, int]:
    """How many of ``n`` photos go to each split: about 70/10/20 %, none empty from 3 photos."""
    if n < 0:
        raise InvalidArgumentError(f"the number of photos must be >= 0, got {n}")
    test = max(1, _round_half_up(SPLIT_FRACTIONS["test"] * n)) if n >= 2 else 0
    val = max(1, _round_half_up(SPLIT_FRACTIONS["val"] * n)) if n >= 3 else 0
    return {"train": n - val - test, "val": val, "test": test}


def assign_splits(photo_ids: Iterable[str]) -> dict[str, str]:
    """Photo id -> split. Photos are ordered by :func:`split_key`; the first go to test, then val.

    The result depends only on the set of ids, not on their order or on the machine.
    """
    ids = sorted(set(photo_ids), key=lambda pid: (split_key(pid), pid))
    sizes = split_sizes(len(ids))
    order = ["test"] * sizes["test"] + ["val"] * sizes["val"] + ["train"] * sizes["train"]
    return dict(zip(ids, order))


def split_corpus(photos: Sequence[PhotoSource]) -> dict[str, str]:
    """Photo id -> split for a corpus, split within each source so every source is in each split.

    Splitting per source keeps a photo's split the same whichever other sources are built.
    Only when every source has too few photos to fill all three splits (a tiny corpus) is the
    whole set split at once, so that a corpus of 3 or more photos never has an empty split.
    """
    result: dict[str, str] = {}
    for source in dict.fromkeys(p.source for p in photos):
        result.update(assign_splits(p.photo_id for p in photos if p.source == source))
    if len(result) >= 3 and set(result.values()) != set(SPLITS):
        result = assign_splits(result)
    return result


# ---------------------------------------------------------------------------------------
# Geometry


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize with area averaging when shrinking (no aliasing) and bicubic when enlarging."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image.copy()
    shrink = width * height <= w * h
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def resize_short_side(image: np.ndarray, short_side: int) -> tuple[np.ndarray, float]:
    """Scale ``image`` so its short side is ``short_side`` px; return it and the scale factor."""
    h, w = image.shape[:2]
    scale = short_side / min(h, w)
    if h <= w:
        height, width = short_side, max(short_side, _round_half_up(w * scale))
    else:
        height, width = max(short_side, _round_half_up(h * scale)), short_side
    return _resize(image, width, height), scale


def fit_long_side(image: np.ndarray, max_side: int = PHOTO_LONG_SIDE) -> np.ndarray:
    """Scale ``image`` down (never up) so its long side is at most ``max_side`` px."""
    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image
    scale = max_side / max(h, w)
    width = max_side if w >= h else max(1, _round_half_up(w * scale))
    height = max_side if h > w else max(1, _round_half_up(h * scale))
    return _resize(image, width, height)


def crop_grid(height: int, width: int, size: int) -> list[tuple[int, int, int, int]]:
    """Boxes (x, y, w, h) of the non-overlapping ``size`` crops on a grid centred in the image.

    Row by row, left to right; the margins left over are split evenly on both sides.
    """
    rows, cols = height // size, width // size
    y0, x0 = (height - rows * size) // 2, (width - cols * size) // 2
    return [(x0 + c * size, y0 + r * size, size, size) for r in range(rows) for c in range(cols)]


# ---------------------------------------------------------------------------------------
# Sources on this machine


def find_missing(photos: Iterable[PhotoSource], backgrounds_root: Path) -> dict[str, list[PhotoSource]]:
    """Package -> its photos that are not on disk under ``backgrounds_root`` (Debian ones only)."""
    missing: dict[str, list[PhotoSource]] = {}
    for p in photos:
        if p.is_debian and not (backgrounds_root / p.path).is_file():
            missing.setdefault(p.package, []).append(p)
    return missing


def _missing_message(missing: dict[str, list[PhotoSource]], photos: Sequence[PhotoSource], root: Path) -> str:
    totals = Counter(p.package for p in photos)
    parts = []
    partial = False
    for package, gone in missing.items():
        if len(gone) == totals[package]:
            parts.append(f"{package} (not installed)")
        else:
            partial = True
            parts.append(f"{package} ({len(gone)} of {totals[package]} photos missing)")
    packages = " ".join(missing)
    command = f"sudo apt-get install --reinstall {packages}" if partial else f"sudo apt-get install {packages}"
    return f"photos missing under {root}: {', '.join(parts)}; install with `{command}`"


def load_photo(photo: PhotoSource, backgrounds_root: Path = DEFAULT_BACKGROUNDS_ROOT) -> np.ndarray:
    """Read one photo of the table as HxWx3 uint8 RGB; a failure names the file."""
    if photo.is_debian:
        return io.read_image(backgrounds_root / photo.path)
    return load_skimage_photo(photo)


# ---------------------------------------------------------------------------------------
# The output folder


def _check_out_dir(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise OutputExistsError("is a file; the corpus needs a folder", out)
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise OutputExistsError("is not empty; pass --overwrite to replace the corpus in it", out)


def _clear_previous(out: Path) -> None:
    """Delete what an earlier build wrote (its crops, photos and metadata), nothing else."""
    if not out.is_dir():
        return
    for name in _OUTPUT_FILES:
        (out / name).unlink(missing_ok=True)
    for folder, pattern in (("crops", "*.png"), ("photos", "*.jpg")):
        for split in SPLITS:
            for path in (out / folder / split).glob(pattern):
                path.unlink()


def _check_sizes(size: int, short_side: int) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise InvalidArgumentError(f"--size must be an integer >= 8, got {size!r}")
    if isinstance(short_side, bool) or not isinstance(short_side, int) or short_side < size:
        raise InvalidArgumentError(f"--short-side must be an integer >= --size ({size}), got {short_side!r}")


# ---------------------------------------------------------------------------------------
# Metadata files


def _manifest_text(rows: list[dict[str, str]]) -> str:
    buf = _io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _licences_text(photos: Sequence[PhotoSource], splits: dict[str, str], crops: dict[str, int],
                   size: int, short_side: int) -> str:
    lines = [
        "# Photo corpus: credits and licences",
        "",
        "Built by `holefill data photos` from free photos that ship with Debian packages (installed",
        "under `/usr/share/backgrounds`) and with scikit-image (`skimage.data`). Every file here is a",
        f"modified version of its original: `photos/` holds it scaled to a long side of at most {PHOTO_LONG_SIDE} px",
        f"(JPEG), and `crops/` holds {size}x{size} px crops of it scaled to a short side of {short_side} px (PNG).",
        "Each file keeps the licence of its original, given below with the credit its authors asked for.",
        "",
    ]
    used = sorted({p.licence for p in photos})
    for p in sorted(photos, key=lambda q: q.photo_id):
        split = splits[p.photo_id]
        lic = LICENCES[p.licence]
        licence = f"[{p.licence}]({lic.url})" if lic.url else p.licence
        where = (f"`{p.path}` from the Debian package `{p.package}`" if p.is_debian
                 else f"`{p.original}` from scikit-image")
        lines += [
            f"## {p.photo_id}",
            "",
            f"- Original: {where} (upstream: {PACKAGE_HOMEPAGES[p.package]})",
            f"- Credit: {p.credit}",
            f"- Licence: {licence}, {lic.name}",
        ]
        if p.url:
            lines.append(f"- Source of the photo: {p.url}")
        lines += [
            f"- In this corpus: split `{split}`; `photos/{split}/{p.photo_id}.jpg` and"
            f" {crops[p.photo_id]} crops `crops/{split}/{p.photo_id}_*.png`",
            "",
        ]
    lines += ["## Licences", ""]
    for lic_id in used:
        lic = LICENCES[lic_id]
        lines.append(f"- {lic_id}: {lic.name}" + (f", {lic.url}" if lic.url else ""))
    if "GPL-2.0-or-later" in used:
        lines += [
            "",
            "The GPL-2.0-or-later photos come from the Debian package `mate-backgrounds`; the original",
            "JPEG files in that package (and its upstream repository) are their source.",
        ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------
# The builder


def build_photo_corpus(
    out_dir: str | Path,
    *,
    size: int = 256,
    short_side: int = 512,
    sources: str | Iterable[str] = SOURCE_IDS,
    backgrounds_root: str | Path = DEFAULT_BACKGROUNDS_ROOT,
    allow_missing: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> CorpusSummary:
    """Build the photo corpus in ``out_dir`` (see the module docstring for what it holds).

    A Debian package whose photos are not under ``backgrounds_root`` is a
    :class:`MissingDependencyError` that names it and the ``apt-get`` command, or, with
    ``allow_missing``, a :class:`HolefillWarning` and a corpus without it. A non-empty
    ``out_dir`` is refused unless ``overwrite``. The same arguments give the same files.
    """
    from tqdm import tqdm

    out = Path(out_dir)
    root = Path(backgrounds_root)
    _check_sizes(size, short_side)
    photos = photos_for(sources)
    _check_out_dir(out, overwrite)

    missing = find_missing(photos, root)
    if missing:
        message = _missing_message(missing, photos, root)
        if not allow_missing:
            raise MissingDependencyError(f"{message} (or pass --allow-missing to build without them)")
        warnings.warn(f"{message}; building the corpus without them", HolefillWarning, stacklevel=2)
        gone = {p.photo_id for group in missing.values() for p in group}
        photos = tuple(p for p in photos if p.photo_id not in gone)
    if not photos:
        raise MissingDependencyError("no photos to build the corpus from: every source asked for is missing")

    splits = split_corpus(photos)
    if overwrite:
        _clear_previous(out)
    out.mkdir(parents=True, exist_ok=True)

    rows: list[dict[str, str]] = []
    crops_per_photo: dict[str, int] = {}
    bar = tqdm(photos, desc="photo corpus", unit="photo", disable=not progress, file=sys.stderr)
    for photo in bar:
        split = splits[photo.photo_id]
        image = load_photo(photo, root)
        scaled, scale = resize_short_side(image, short_side)
        boxes = crop_grid(scaled.shape[0], scaled.shape[1], size)
        for k, (x, y, w, h) in enumerate(boxes):
            rel = f"crops/{split}/{photo.photo_id}_{k:03d}.png"
            io.write_image(out / rel, np.ascontiguousarray(scaled[y:y + h, x:x + w]), overwrite=overwrite)
            rows.append({
                "file": rel, "split": split, "photo_id": photo.photo_id, "package": photo.package,
                "original": photo.original, "author": photo.author, "licence": photo.licence,
                "x": str(x), "y": str(y), "width": str(w), "height": str(h), "scale": f"{scale:.6f}",
            })
        crops_per_photo[photo.photo_id] = len(boxes)
        io.write_image(out / "photos" / split / f"{photo.photo_id}.jpg", fit_long_side(image),
                       overwrite=overwrite, quality=PHOTO_QUALITY)
    bar.close()

    rows.sort(key=lambda r: (SPLITS.index(r["split"]), r["file"]))
    ids_per_split = {s: tuple(sorted(pid for pid, sp in splits.items() if sp == s)) for s in SPLITS}
    io.write_bytes_atomic(out / "splits.json",
                          (json.dumps({s: list(ids) for s, ids in ids_per_split.items()}, indent=2) + "\n").encode())
    io.write_bytes_atomic(out / "LICENSES.md",
                          _licences_text(photos, splits, crops_per_photo, size, short_side).encode("utf-8"))
    io.write_bytes_atomic(out / "manifest.csv", _manifest_text(rows).encode("utf-8"))

    return CorpusSummary(
        out_dir=out,
        size=size,
        short_side=short_side,
        photos=ids_per_split,
        crops={s: sum(1 for r in rows if r["split"] == s) for s in SPLITS},
        licences=dict(sorted(Counter(p.licence for p in photos).items())),
        missing_packages=tuple(missing),
    )


def read_manifest(corpus_dir: str | Path) -> list[dict[str, str]]:
    """The rows of a built corpus's ``manifest.csv`` (a missing manifest is an unfinished build)."""
    path = Path(corpus_dir) / "manifest.csv"
    if not path.is_file():
        raise InputNotFoundError("has no manifest.csv; build it with `holefill data photos -o DIR`", corpus_dir)
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# ---------------------------------------------------------------------------------------
# Many crops per photo, for evaluation

#: Most crops ``cut_crops`` takes from one photo.
MAX_CROPS_PER_PHOTO = 256


def cut_crops(
    folders: Sequence[str | Path],
    out_dir: str | Path,
    *,
    per_photo: int = 16,
    size: int = 256,
    short_side: int = 512,
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, int]:
    """Cut ``per_photo`` seeded random ``size`` crops from every photo in ``folders`` into ``out_dir``.

    Each photo is first scaled to a short side of ``short_side`` px (the corpus crops' scale),
    then crop k of photo P is ``<P's stem>_<k>.png``, its corner drawn from a generator seeded
    with ``seed`` and the photo's name, so a photo's crops do not change when others are added.
    Overlapping crops are allowed: this makes a larger evaluation set from a few photos, and
    the benchmark's per-photo statistics (``benchmarks/default_rule.py``) group the crops of a
    photo back together. Returns the number of crops per photo stem.
    """
    _check_sizes(size, short_side)
    if isinstance(per_photo, bool) or not isinstance(per_photo, int) or not 1 <= per_photo <= MAX_CROPS_PER_PHOTO:
        raise InvalidArgumentError(f"--per-photo must be a whole number from 1 to {MAX_CROPS_PER_PHOTO}, got {per_photo!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidArgumentError(f"--seed must be a whole number >= 0, got {seed!r}")
    paths: dict[str, Path] = {}
    for folder in folders:
        found = io.list_images(folder)
        if not found:
            raise InvalidArgumentError("holds no images (PNG, JPEG, WebP, BMP or TIFF)", folder)
        for path in found:
            if path.stem in paths:
                raise InvalidArgumentError(f"has a photo named {path.stem!r} like {paths[path.stem]}; "
                                           "crop names must be unique", path)
            paths[path.stem] = path
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputExistsError("is a file; crops need a folder", out)
    targets = {stem: [out / f"{stem}_{k:03d}.png" for k in range(per_photo)] for stem in paths}
    if not overwrite:
        clash = next((t for ts in targets.values() for t in ts if t.exists()), None)
        if clash is not None:
            raise OutputExistsError("already exists; pass --overwrite to replace the crops", clash)
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    from tqdm import tqdm

    for stem, path in tqdm(sorted(paths.items()), desc="crops", unit="photo", disable=not progress, file=sys.stderr):
        scaled, _ = resize_short_side(io.read_image(path), short_side)
        h, w = scaled.shape[:2]
        name_seed = int.from_bytes(hashlib.sha256(stem.encode("utf-8")).digest()[:8], "big")
        rng = np.random.default_rng([seed, name_seed])
        for target in targets[stem]:
            y, x = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
            io.write_image(target, np.ascontiguousarray(scaled[y:y + size, x:x + size]), overwrite=overwrite)
        counts[stem] = per_photo
    return counts
