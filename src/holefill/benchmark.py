"""The one benchmark: every method fills every (image, mask) pair of fixed mask sets.

Images are paired with masks set by set: image i takes mask i mod M of each set, so each
method sees the same pairs. A mask of another size than its image is resized with
nearest-neighbour sampling (the standard sets are 256x256, like the corpus crops). Results
go to an :class:`~holefill.metrics.Evaluator`, which aggregates them per (method, set).
FID, KID and LPIPS, when their weight files are given, are collected beside it by a
:class:`~holefill.metrics.perceptual.PerceptualScorer` and written to ``perceptual.csv`` and a
section of ``report.md`` (which says why a metric is missing when it is).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from holefill import io
from holefill.errors import InvalidArgumentError, OutputExistsError
from holefill.fillers import Blender, Filler, GuidedFiller
from holefill.masks.blend_protocol import BlendItem
from holefill.masks.corruption import BLIND_SEED, CORRUPTION_KINDS, BlindItem, blind_items
from holefill.masks.guidance import describe_guided_protocol, protocol_guide
from holefill.masks.protocol import STANDARD_SEED, STANDARD_SETS, describe_protocol, standard_mask_sets
from holefill.metrics import Evaluator
from holefill.metrics.evaluator import has_seam_scores

if TYPE_CHECKING:
    from holefill.metrics.perceptual import PerceptualScorer

MaskSets = Mapping[str, Sequence[tuple[str, np.ndarray]]]

REPORT_FILES = ("results.csv", "summary.csv", "report.md", "chart.png")
#: Written beside them when FID, KID or LPIPS ran.
PERCEPTUAL_FILE = "perceptual.csv"


def load_images(folder: str | Path, limit: int | None = None) -> list[tuple[str, np.ndarray]]:
    """(file stem, image) for each image in ``folder``, sorted by name; at most ``limit``."""
    paths = io.list_images(folder)
    if not paths:
        raise InvalidArgumentError("holds no images (PNG, JPEG, WebP, BMP or TIFF)", folder)
    if limit is not None:
        if limit < 1:
            raise InvalidArgumentError(f"--limit must be at least 1, got {limit}")
        paths = paths[:limit]
    return [(p.stem, io.read_image(p)) for p in paths]


def photo_of(image: str) -> str:
    """The photo a crop comes from: its name without the extension and a trailing ``_NNN``
    (``holefill data crops`` and the corpus name crops ``<photo>_<NNN>``)."""
    return re.sub(r"_\d+$", "", Path(image).stem)


def photo_groups(names: Sequence[str]) -> list[str] | None:
    """Each image's photo by :func:`photo_of`, or None where the names do not tell photos apart
    (every name maps to one photo, as ``IMG_0001``, ``IMG_0002`` do): then each image is its own."""
    photos = [photo_of(n) for n in names]
    return photos if len(set(photos)) > 1 else None


def named_blind_items(images: Sequence[tuple[str, np.ndarray]], kinds: Sequence[str] = CORRUPTION_KINDS,
                      seed: int = BLIND_SEED) -> tuple[list[BlindItem], list[str] | None]:
    """The blind protocol's items (:func:`~holefill.masks.corruption.blind_items`) of
    :func:`load_images`' (name, image) pairs, the photo damage drawn from other photos by
    :func:`photo_groups`; and those groups (None: each image its own photo)."""
    photos = photo_groups([n for n, _ in images])
    return blind_items([im for _, im in images], kinds=kinds, seed=seed, photos=photos), photos


def generated_mask_sets(size: tuple[int, int], count: int, seed: int = STANDARD_SEED,
                        sets: Sequence[str] | None = None) -> dict[str, list[tuple[str, np.ndarray]]]:
    """The standard protocol's sets at ``size`` = (h, w), named 000, 001, ...; optionally a subset."""
    generated = standard_mask_sets(size=size, count=count, seed=seed)
    chosen = list(sets) if sets else list(STANDARD_SETS)
    unknown = [s for s in chosen if s not in generated]
    if unknown:
        raise InvalidArgumentError(f"unknown mask set(s) {', '.join(unknown)}; choose from {', '.join(STANDARD_SETS)}")
    return {label: [(f"{i:03d}", m) for i, m in enumerate(generated[label])] for label in chosen}


@dataclass(frozen=True)
class Pair:
    """One benchmark item: which image meets which mask of which set."""

    image_name: str
    image_index: int
    mask_set: str
    mask_name: str
    mask: np.ndarray


def pairs(images: Sequence[tuple[str, np.ndarray]], mask_sets: MaskSets) -> list[Pair]:
    """Image i with mask i mod M, for every set, sets in their given order."""
    out = []
    for label, masks in mask_sets.items():
        if not masks:
            raise InvalidArgumentError(f"mask set {label!r} is empty")
        for i, (name, img) in enumerate(images):
            mask_name, mask = masks[i % len(masks)]
            out.append(Pair(name, i, label, mask_name, io.fit_mask(mask, img.shape[:2], resize=True)))
    return out


def check_same_pairs(evaluator: Evaluator, items: Sequence[Pair], where: str | Path) -> None:
    """Refuse to add results to a report that was made on other images or masks.

    Every (image, mask, set) of the report must be one of ``items``, and the reverse, with
    the same hole ratio (so a mask regenerated with another seed does not pass by its name).
    """
    old = {(r.image, r.mask, r.bucket): r.hole_ratio for r in evaluator.records}
    new = {(p.image_name, p.mask_name, p.mask_set): float(p.mask.mean()) for p in items}
    if set(old) != set(new):
        only_old, only_new = sorted(set(old) - set(new)), sorted(set(new) - set(old))
        example = only_old[0] if only_old else only_new[0]
        raise InvalidArgumentError(
            f"was made on other images or mask sets ({len(only_old)} pairs only there, {len(only_new)} only in this run,"
            f" e.g. image {example[0]!r}, set {example[2]!r}); use the same --images, --masks/--generate, --sets,"
            " --count, --seed and --limit", where)
    changed = [k for k in old if abs(old[k] - new[k]) > 1e-9]
    if changed:
        _, mask, label = changed[0]
        raise InvalidArgumentError(f"its masks differ from this run's (e.g. set {label!r}, mask {mask!r}: hole ratio "
                                   f"{old[changed[0]]:.4f} there, {new[changed[0]]:.4f} here); use the same --seed", where)


def guided_protocol_guides(images: Sequence[tuple[str, np.ndarray]], items: Sequence[Pair],
                           seed: int = STANDARD_SEED) -> list[np.ndarray]:
    """The guided protocol's guide for each item (:func:`holefill.masks.guidance.protocol_guide`):
    the item's own image, transformed and relit, amid another benchmark image (the one half the
    list away; a lone image is its own upside-down distractor)."""
    n = len(images)
    guides = []
    for item in items:
        image = images[item.image_index][1]
        other = images[(item.image_index + n // 2) % n][1] if n > 1 else image[::-1]
        guides.append(protocol_guide(image, item.mask, other, item.image_index, seed, item.mask_set).image)
    return guides


def run_benchmark(fillers: Mapping[str, Filler | GuidedFiller], images: Sequence[tuple[str, np.ndarray]],
                  mask_sets: MaskSets, *, evaluator: Evaluator | None = None, progress: bool = True,
                  perceptual: PerceptualScorer | None = None, guided_seed: int | None = None) -> Evaluator:
    """Fill every pair with every filler; score and time each fill (wall clock, per image).

    ``perceptual`` (optional) also scores each fill with FID/KID/LPIPS, outside the timing.
    With ``guided_seed`` (the guided protocol) every pair also gets a guide photo
    (:func:`guided_protocol_guides`): guided fillers fill from it, the others fill as usual, on
    the same pairs. Guided fillers need it."""
    from tqdm import tqdm

    evaluator = Evaluator() if evaluator is None else evaluator
    items = pairs(images, mask_sets)
    guided = [m for m, f in fillers.items() if isinstance(f, GuidedFiller)]
    if guided and guided_seed is None:
        raise InvalidArgumentError(f"{', '.join(guided)} fill from a guide photo: run the guided protocol (--guided)")
    guides = guided_protocol_guides(images, items, guided_seed) if guided_seed is not None else None
    total = len(items) * len(fillers)
    with tqdm(total=total, desc="bench", unit="fill", disable=not progress) as bar:
        for method, filler in fillers.items():
            bar.set_postfix_str(method)
            for k, item in enumerate(items):
                original = images[item.image_index][1]
                if not item.mask.any():
                    raise InvalidArgumentError(f"mask {item.mask_set}/{item.mask_name} has no hole after resizing")
                start = time.perf_counter()
                if isinstance(filler, GuidedFiller):
                    assert guides is not None
                    filled = filler.fill(original, item.mask, guides[k])
                else:
                    filled = filler.fill(original, item.mask)
                seconds = time.perf_counter() - start
                evaluator.add(method=method, image=item.image_name, mask_name=item.mask_name, bucket=item.mask_set,
                              original=original, filled=filled, mask=item.mask, seconds=seconds)
                if perceptual is not None and perceptual.active:
                    perceptual.add(method, item.mask_set, item.image_index, original, filled)
                bar.update(1)
    return evaluator


#: How the blend benchmark's numbers are made (stated in its reports).
BLEND_PROTOCOL = (
    "Each method joins the two photos of every panorama with a generated middle as wide as the "
    "gap; only the middle is scored, against the true middle cut from the same photo "
    "(self-reconstruction). PSNR (dB, peak 255) and SSIM (Gaussian window 11, sigma 1.5, per RGB "
    "channel) of the middle; hole L1 and L2 over it in [0, 1] units; relative l1 / l2 / TV as in "
    "the inpainting reports, over the middle; the texture ratio (the middle's total variation over "
    "the truth's: a smooth smudge scores well under 1) and the colour share (middle pixels whose "
    "colour leaves the range of the photos' 16 px next to the gap, minus the truth's share); the seam "
    "step (the mean absolute change, [0, 1] units, between the columns on either side of each join "
    "of photo and middle, minus the true window's: 0 = as smooth as the photo there, above 0 = a "
    "visible step). "
    "Inpainting methods fill the gap of the left | gap | right canvas. Every number is a mean over "
    "the panoramas (the texture ratio: the median); s/img is the mean wall time per panorama."
)


def blend_scores(item: BlendItem, panorama: np.ndarray) -> dict[str, float]:
    """The blend protocol's scores of one panorama: the middle against its truth (PSNR, SSIM,
    L1/L2, relative errors, texture ratio), and the colours the middle invents beyond the
    truth's, against the photos on both sides (``colour_out``), and the step at the two joins
    beyond the photo's own there (``seam``, :func:`~holefill.metrics.functional.seam_step`)."""
    from holefill.metrics.functional import colour_outside, score, seam_step

    wl, gap = item.left.shape[1], item.gap
    if panorama.shape != (item.truth.shape[0], wl + gap + item.right.shape[1], 3):
        raise InvalidArgumentError(f"a blend of {item.name} has shape {panorama.shape}, not that of its window")
    middle = panorama[:, wl:wl + gap]
    metrics = score(item.truth, middle, np.ones(item.truth.shape[:2], bool))
    window = np.concatenate([item.left, item.truth, item.right], axis=1)
    gap_mask = np.zeros(window.shape[:2], bool)
    gap_mask[:, wl:wl + gap] = True
    metrics["colour_out"] = colour_outside(panorama, gap_mask) - colour_outside(window, gap_mask)
    joins = (wl, wl + gap)
    metrics["seam"] = seam_step(panorama, joins) - seam_step(window, joins)
    return metrics


def run_blend_benchmark(blenders: Mapping[str, Blender], items: Sequence[BlendItem], *,
                        evaluator: Evaluator | None = None, bucket: str = "blend",
                        progress: bool = True) -> Evaluator:
    """Blend every panorama's photos with every blender; score the middle against its truth."""
    from tqdm import tqdm

    evaluator = Evaluator(protocol=BLEND_PROTOCOL) if evaluator is None else evaluator
    with tqdm(total=len(items) * len(blenders), desc="bench --blend", unit="blend", disable=not progress) as bar:
        for method, blender in blenders.items():
            bar.set_postfix_str(method)
            for item in items:
                start = time.perf_counter()
                panorama = blender.blend(item.left, item.right, item.gap)
                seconds = time.perf_counter() - start
                evaluator.add_scores(method=method, image=item.name, mask_name="gap", bucket=bucket, hole_ratio=1.0,
                                     metrics=blend_scores(item, panorama), seconds=seconds)
                bar.update(1)
    return evaluator


def truth_texture(items: Sequence[BlendItem]) -> float:
    """The mean relative TV of the true middles: the texture level a good blend approaches."""
    from holefill.metrics.functional import relative_tv

    return float(np.mean([relative_tv(item.truth) for item in items]))


def check_report_dir(out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Refuse to replace an earlier report unless asked."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InvalidArgumentError("is a file; the report goes into a folder", out)
    clashes = [name for name in REPORT_FILES if (out / name).exists()]
    if clashes and not overwrite:
        raise OutputExistsError(f"already holds a report ({', '.join(clashes)}); pass --overwrite to replace it", out)
    return out


def plot_chart(evaluator: Evaluator, path: str | Path, *, overwrite: bool = False) -> Path:
    """A PNG with PSNR and SSIM per mask set, one line per method."""
    import io as _io

    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    rows = evaluator.summary()
    buckets = evaluator.buckets
    fig = Figure(figsize=(11, 4.2), dpi=110)
    axes = fig.subplots(1, 2)
    for ax, key, label in ((axes[0], "psnr", "PSNR (dB)"), (axes[1], "ssim", "SSIM")):
        for method in evaluator.methods:
            by_bucket = {r["bucket"]: r[key] for r in rows if r["method"] == method}
            ys = [by_bucket.get(b, np.nan) for b in buckets]
            ax.plot(range(len(buckets)), ys, marker="o", label=method)
        ax.set_xticks(range(len(buckets)))
        ax.set_xticklabels(buckets, rotation=30)
        ax.set_ylabel(label)
        ax.set_xlabel("mask set (hole %)")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8, loc="best")
    fig.suptitle(evaluator.title, fontsize=10)
    fig.tight_layout()
    buf = _io.BytesIO()
    fig.savefig(buf, format="png")
    out = Path(path)
    if out.exists() and not overwrite:
        raise OutputExistsError("already exists; pass --overwrite to replace it", out)
    return io.write_bytes_atomic(out, buf.getvalue())


def write_report(evaluator: Evaluator, out_dir: str | Path, *, overwrite: bool = False,
                 perceptual: PerceptualScorer | None = None) -> dict[str, Path]:
    """results.csv (per image), summary.csv, report.md and chart.png in ``out_dir``.

    With ``perceptual``, report.md gains a section on FID, KID and LPIPS (their table, or why
    they are missing) and their numbers go to perceptual.csv.
    """
    out = check_report_dir(out_dir, overwrite=overwrite)
    if perceptual is not None and perceptual.active and (out / PERCEPTUAL_FILE).exists() and not overwrite:
        raise OutputExistsError(f"already holds a report ({PERCEPTUAL_FILE}); pass --overwrite to replace it", out)
    out.mkdir(parents=True, exist_ok=True)
    per_image, summary = evaluator.write_csv(out / "results.csv", out / "summary.csv", overwrite=overwrite)
    md = evaluator.write_markdown(out / "report.md", overwrite=overwrite)
    chart = plot_chart(evaluator, out / "chart.png", overwrite=overwrite)
    paths = {"results": per_image, "summary": summary, "report": md, "chart": chart}
    if perceptual is not None:
        section = "\n## FID, KID and LPIPS\n\n" + "\n".join(f"- {line}" for line in perceptual.notes()) + "\n"
        if perceptual.active:
            section += "\n" + perceptual_table(perceptual) + "\n"
            paths["perceptual"] = io.write_bytes_atomic(out / PERCEPTUAL_FILE, _perceptual_csv(perceptual))
        io.write_bytes_atomic(md, md.read_bytes() + section.encode("utf-8"))
    return paths


def _perceptual_csv(perceptual: PerceptualScorer) -> bytes:
    import csv
    import io as _io

    from holefill.metrics.perceptual import PERCEPTUAL_FIELDS

    buf = _io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(PERCEPTUAL_FIELDS), lineterminator="\n")
    writer.writeheader()
    for row in perceptual.rows():
        writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue().encode("utf-8")


def perceptual_table(perceptual: PerceptualScorer) -> str:
    """The method x set table of the metrics the scorer has backbones for (lower is better)."""
    rows = perceptual.rows()
    buckets = list(dict.fromkeys(str(r["bucket"]) for r in rows))
    methods = list(dict.fromkeys(str(r["method"]) for r in rows))
    metrics = []
    if perceptual.lpips is not None:
        metrics.append(("lpips", "LPIPS", ".4f"))
    if perceptual.inception is not None:
        metrics += [("fid", "FID", ".2f"), ("kid_mean", "KID", ".4f")]
    lines = ["| method | metric | " + " | ".join(buckets) + " |", "|---|---|" + "---:|" * len(buckets)]
    for method in methods:
        cells = {str(r["bucket"]): r for r in rows if r["method"] == method}
        for key, label, fmt in metrics:
            vals = []
            for b in buckets:
                v = float(cells[b][key]) if b in cells else float("nan")  # type: ignore[arg-type]
                vals.append("n/a" if v != v else format(v, fmt))
            lines.append(f"| {method} | {label} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def summary_table(evaluator: Evaluator) -> str:
    """The method x set table printed by ``holefill bench``: PSNR, SSIM, hole L1, s/img (and, for the
    blend protocol, texture, colour and seam)."""
    rows = evaluator.summary()
    buckets = evaluator.buckets
    header = "| method | metric | " + " | ".join(buckets) + " |"
    lines = [header, "|---|---|" + "---:|" * len(buckets)]
    keys = [("psnr", "PSNR", ".2f"), ("ssim", "SSIM", ".4f"), ("l1_hole", "hole L1", ".4f"), ("seconds", "s/img", ".3f")]
    if has_seam_scores(rows):  # the blend protocol: texture, colour and the joins too
        keys[3:3] = [("tv_ratio", "texture", ".2f"), ("colour_out", "colour", "+.3f"), ("seam", "seam", "+.4f")]
    for method in evaluator.methods:
        cells = {r["bucket"]: r for r in rows if r["method"] == method}
        for key, label, fmt in keys:
            vals = [format(cells[b][key], fmt) if b in cells else "" for b in buckets]
            lines.append(f"| {method} | {label} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def protocol_notes(images_dir: str | Path, n_images: int, masks_from: str, size: tuple[int, int] | None,
                   count: int | None, seed: int, guided_seed: int | None = None) -> str:
    """The line under a report's protocol that says what data it ran on (and the guides, if any)."""
    if masks_from == "generated" and size is not None and count is not None:
        mask_line = describe_protocol(size, count, seed)
    else:
        mask_line = f"mask sets read from {masks_from}"
    guides = "" if guided_seed is None else f" Guides: {describe_guided_protocol(guided_seed)}."
    return f"Images: {n_images} from {images_dir}. Masks: {mask_line}.{guides}"
