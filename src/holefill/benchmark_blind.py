"""The blind benchmark: damaged images in, how well each method finds and repairs the damage.

Items come from :func:`holefill.masks.corruption.blind_items` (``holefill-blind-v2``): every
benchmark image damaged once per kind (photo strokes, graffiti, text, scratches), seeded. Each
row of the report is one of

- a blind method (:class:`~holefill.fillers.BlindFiller`): it gets the damaged image alone;
  scored on its mask (the paper's BCE of its damage probabilities, IoU, precision, recall, F1)
  and on its result against the clean image;
- ``input``: the damaged image as it is, the floor every method must clear;
- an inpainting method given the *true* mask (``<name> (true mask)``): the ceiling a perfect
  damage finder would reach with that filler. The report names the best of them.

A blind method also gets every image *undamaged* (kind ``clean``, not pooled into ``all``):
what it marks there is a false alarm, and its result is scored against the image itself
(SSIM; PSNR is NaN there, since an untouched image has an infinite one). A
finder that marks texture as damage repaints a clean photo; the ``marked on clean`` column
shows it.

Result scores, on the whole image against the clean one (a blind method may change any
pixel it marks): PSNR and SSIM; L1 over the true damage; and, as a texture number beside
them (PSNR rewards blur), the relative total variation of the result (DeepFill's relative TV;
the clean images' own value is in the report's notes).
"""

from __future__ import annotations

import csv
import io as _io
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from holefill.errors import InvalidArgumentError, OutputExistsError
from holefill.fillers import BlindFiller, Filler
from holefill.io import write_bytes_atomic
from holefill.masks.corruption import BlindItem
from holefill.metrics.functional import l1, mask_bce, mask_scores, psnr, relative_tv, ssim

#: Per-item scores, in report order.
BLIND_KEYS = ("mask_bce", "iou", "precision", "recall", "f1", "marked", "psnr", "ssim", "l1_damage", "rel_tv")
BLIND_FILES = ("results.csv", "summary.csv", "report.md")
INPUT_ROW = "input"
TRUE_MASK_SUFFIX = " (true mask)"
#: The kind of the undamaged images a blind method also gets (false alarms).
CLEAN_KIND = "clean"

BLIND_PROTOCOL = (
    "Each image is damaged once per kind with the seeded generator (holefill.masks.corruption). A blind "
    "method gets the damaged image alone. Mask scores compare its damage mask with the true one: IoU, "
    "precision, recall and F1 of the pixels, the share of the image marked, and the binary cross-entropy "
    "(natural log, mean over pixels, probabilities clipped to [1e-6, 1 - 1e-6]) of its damage probabilities, "
    "the metric of VCNet (Wang et al., ECCV 2020). Result scores compare the whole result with the clean "
    "image: PSNR (dB, peak 255), SSIM (Gaussian window 11, sigma 1.5), L1 over the true damage ([0, 1] units)"
    " and the result's relative TV (||grad out||_1 / ||out||_1, a texture number: blur lowers it). 'input' is"
    " the damaged image as it is; '<method> (true mask)' is an inpainting method given the true mask. A blind"
    " method also gets each image undamaged (kind 'clean'): 'marked on clean' is the mean share of a clean "
    "image it marks as damage (false alarms), and its SSIM there compares its result with the image itself "
    "(PSNR is left out: an untouched image has infinite PSNR). Numbers are means over the items of a cell; "
    "'all' pools every damage kind (not 'clean')."
)


def blind_scores(clean: np.ndarray, result: np.ndarray, damage: np.ndarray, found: np.ndarray | None = None,
                 probability: np.ndarray | None = None) -> dict[str, float]:
    """The scores of :data:`BLIND_KEYS` for one result (mask scores NaN when not given; on an
    undamaged image, where IoU and its kin say nothing, only ``marked`` and the result scores)."""
    scores = {key: math.nan for key in BLIND_KEYS}
    damaged = bool(damage.any())
    if found is not None:
        if damaged:
            scores.update(mask_scores(found, damage))
        scores["marked"] = float(np.count_nonzero(found)) / found.size
    if probability is not None:
        scores["mask_bce"] = mask_bce(probability, damage)
    # On an undamaged image an untouched result has infinite PSNR, which would swamp any mean: SSIM says it there.
    scores["psnr"] = psnr(clean, result) if damaged else math.nan
    scores["ssim"] = ssim(clean, result)
    scores["l1_damage"] = l1(clean, result, damage) if damaged else 0.0
    scores["rel_tv"] = relative_tv(result)
    return scores


@dataclass(frozen=True)
class BlindRecord:
    """The scores of one row's method on one damaged image."""

    method: str
    image: str
    kind: str
    damage_ratio: float
    scores: Mapping[str, float]
    seconds: float


def _mean(values: Sequence[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return float(np.mean(kept)) if kept else math.nan


@dataclass
class BlindReport:
    """Records of a blind benchmark, with per-(method, kind) means and the report files."""

    notes: str = ""
    records: list[BlindRecord] = field(default_factory=list)

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(r.method for r in self.records))

    @property
    def kinds(self) -> list[str]:
        """The damage kinds, in order (not :data:`CLEAN_KIND`)."""
        return list(dict.fromkeys(r.kind for r in self.records if r.kind != CLEAN_KIND))

    def summary(self) -> list[dict[str, object]]:
        """One row per (method, kind) and per (method, "all"): means of every score and s/img."""
        rows: list[dict[str, object]] = []
        for method in self.methods:
            mine = [r for r in self.records if r.method == method]
            for kind in [*self.kinds, "all", CLEAN_KIND]:
                cell = ([r for r in mine if r.kind != CLEAN_KIND] if kind == "all"
                        else [r for r in mine if r.kind == kind])
                if not cell:
                    continue
                row: dict[str, object] = {"method": method, "kind": kind, "items": len(cell)}
                row.update({key: _mean([r.scores[key] for r in cell]) for key in BLIND_KEYS})
                row["seconds"] = _mean([r.seconds for r in cell])
                rows.append(row)
        return rows

    def cell(self, method: str, kind: str = "all") -> dict[str, object]:
        for row in self.summary():
            if row["method"] == method and row["kind"] == kind:
                return row
        raise InvalidArgumentError(f"the report has no row for method {method!r}, kind {kind!r}")

    def best_reference(self) -> str | None:
        """The inpainting method given the true mask with the best mean PSNR over all items."""
        refs = [m for m in self.methods if m.endswith(TRUE_MASK_SUFFIX)]
        if not refs:
            return None
        return max(refs, key=lambda m: float(self.cell(m)["psnr"]))  # type: ignore[arg-type]

    def table(self, keys: Sequence[str] = ("iou", "f1", "mask_bce", "psnr", "ssim", "rel_tv")) -> str:
        """A Markdown table: one line per method, the "all" means plus PSNR per kind."""
        kinds = self.kinds
        clean = {row["method"]: row for row in self.summary() if row["kind"] == CLEAN_KIND}
        head = ["method", *keys, *[f"PSNR {k}" for k in kinds], *(["marked on clean"] if clean else []), "s/img"]
        lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
        best = self.best_reference()
        for method in self.methods:
            allrow = self.cell(method)
            name = f"**{method}**" if method == best else method
            cells = [name] + [_fmt(allrow[k], k) for k in keys]
            cells += [_fmt(self.cell(method, k)["psnr"], "psnr") for k in kinds]
            if clean:
                cells.append(_fmt(clean[method]["marked"], "marked") if method in clean else "-")
            cells.append(_fmt(allrow["seconds"], "seconds"))
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def markdown(self) -> str:
        best = self.best_reference()
        parts = ["# holefill blind benchmark", "", BLIND_PROTOCOL, ""]
        if self.notes:
            parts += [self.notes, ""]
        parts += [self.table(), ""]
        if best:
            parts += [f"Best inpainting method given the true mask (bold): {best}.", ""]
        return "\n".join(parts)

    def write(self, out_dir: str | Path, *, overwrite: bool = False) -> dict[str, Path]:
        """results.csv (per item), summary.csv and report.md in ``out_dir``; never replaces
        an earlier report unless ``overwrite``."""
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise InvalidArgumentError("is a file; the report goes into a folder", out)
        clashes = [n for n in BLIND_FILES if (out / n).exists()]
        if clashes and not overwrite:
            raise OutputExistsError(f"already holds a report ({', '.join(clashes)}); pass --overwrite to replace it",
                                    out)
        out.mkdir(parents=True, exist_ok=True)
        fields = ["method", "image", "kind", "damage_ratio", *BLIND_KEYS, "seconds"]
        rows = [{"method": r.method, "image": r.image, "kind": r.kind, "damage_ratio": r.damage_ratio,
                 **r.scores, "seconds": r.seconds} for r in self.records]
        paths = {"results": out / "results.csv", "summary": out / "summary.csv", "report": out / "report.md"}
        write_bytes_atomic(paths["results"], _csv(fields, rows))
        write_bytes_atomic(paths["summary"], _csv(["method", "kind", "items", *BLIND_KEYS, "seconds"], self.summary()))
        write_bytes_atomic(paths["report"], self.markdown().encode())
        return paths


def _fmt(value: object, key: str) -> str:
    v = float(value)  # type: ignore[arg-type]
    if math.isnan(v):
        return "-"
    return format(v, ".2f" if key == "psnr" else ".3f" if key in ("seconds", "mask_bce") else ".4f")


def _csv(fields: Sequence[str], rows: Sequence[Mapping[str, object]]) -> bytes:
    buf = _io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue().encode()


def run_blind_benchmark(blind: Mapping[str, BlindFiller], images: Sequence[tuple[str, np.ndarray]],
                        items: Sequence[BlindItem], *, references: Mapping[str, Filler] | None = None,
                        include_input: bool = True, clean: bool = True, notes: str = "",
                        progress: bool = True) -> BlindReport:
    """Score every blind method, the damaged input and every reference on every item; with
    ``clean``, every blind method on every undamaged image too (false alarms)."""
    from tqdm import tqdm

    references = dict(references or {})
    if not blind and not references and not include_input:
        raise InvalidArgumentError("nothing to benchmark: give a blind method or a reference")
    report = BlindReport(notes=notes)
    clean_items = [BlindItem(i, CLEAN_KIND, image, np.zeros(image.shape[:2], bool))
                   for i, (_, image) in enumerate(images)] if clean else []
    total = len(items) * (len(blind) + len(references) + int(include_input)) + len(clean_items) * len(blind)
    with tqdm(total=total, desc="bench --blind", unit="item", disable=not progress) as bar:
        def record(method: str, item: BlindItem, result: np.ndarray, seconds: float,
                   found: np.ndarray | None = None, prob: np.ndarray | None = None) -> None:
            name, clean = images[item.index]
            scores = blind_scores(clean, result, item.mask, found, prob)
            report.records.append(BlindRecord(method, name, item.kind, float(item.mask.mean()), scores, seconds))
            bar.update(1)

        if include_input:
            for item in items:
                record(INPUT_ROW, item, item.corrupted, 0.0)
        for method, filler in blind.items():
            bar.set_postfix_str(method)
            for item in [*items, *clean_items]:
                start = time.perf_counter()
                result, found, prob = filler.run_blind(item.corrupted)
                record(method, item, result, time.perf_counter() - start, found, prob)
        for method, filler in references.items():
            bar.set_postfix_str(method)
            for item in items:
                start = time.perf_counter()
                result = filler.fill(item.corrupted, item.mask) if item.mask.any() else item.corrupted
                record(method + TRUE_MASK_SUFFIX, item, result, time.perf_counter() - start)
    return report


__all__ = ["BLIND_KEYS", "BLIND_PROTOCOL", "CLEAN_KIND", "BlindRecord", "BlindReport", "INPUT_ROW", "TRUE_MASK_SUFFIX",
           "blind_scores", "run_blind_benchmark"]
