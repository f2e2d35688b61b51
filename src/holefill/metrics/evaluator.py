"""The bucketed evaluator: per-image records in, per-(method, bucket) means and tables out.

The caller runs the methods and names the hole-ratio bucket of each mask (the mask module owns
the bucket definitions); :class:`Evaluator` scores each result with :func:`score`, keeps one
record per (method, image, mask), and aggregates them. Methods and buckets keep the order in
which they were first added. Files are written atomically and never replace an existing
file unless ``overwrite=True``.
"""

from __future__ import annotations

import csv
import io as _io
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Union

import numpy as np

from holefill.errors import InvalidArgumentError, OutputExistsError
from holefill.io import write_bytes_atomic
from holefill.metrics.functional import SCORE_KEYS, score

PathArg = Union[str, "PathLike[str]"]

#: What every report says about how its numbers were made.
PROTOCOL = (
    "Each method fills every (image, mask) pair; its output is composited onto the original "
    "(known pixels kept) before scoring. PSNR (dB, peak 255) and SSIM (Gaussian window 11, "
    "sigma 1.5, K1 0.01, K2 0.03, per RGB channel, averaged) are taken on the full composited "
    "RGB image. Hole L1 and L2 are the mean absolute and squared errors over the hole pixels and "
    "channels, in [0, 1] units (pixel values / 255). Relative l1 / l2 / TV follow DeepFill "
    "(Yu et al., CVPR 2018, Table 1): ||out - gt||_1 / ||gt||_1, ||out - gt||_2^2 / ||gt||_2^2 "
    "and ||grad out||_1 / ||out||_1 over the whole [0, 1]-scaled image, in percent (the "
    "authors describe the first two as relative L1 and squared relative L2 errors; the TV "
    "normalisation is our reading, so compare its level with the paper's loosely). Texture: the "
    "hole's total variation over the truth's, over neighbour pairs inside the hole (1 = as busy "
    "as the truth; a blur scores well under 1). Colour: the fraction of hole pixels whose colour "
    "leaves the 0.5-99.5 percentile range (+-8 levels) of the known ring 16 px around the hole, "
    "minus the truth's own fraction (0 = no invented colours). Buckets are hole-ratio ranges of "
    "fixed mask sets. Every number is a mean over the images of its cell (NaN entries skipped), "
    "except the texture ratio, which is the median; s/img is the mean wall time per image."
)

#: Columns of the per-image CSV, in order.
RECORD_FIELDS = ("method", "image", "mask", "bucket", "hole_ratio", *SCORE_KEYS, "seconds")
#: Metrics that a report aggregates by the median over images rather than the mean: a ratio
#: whose outliers (a nearly flat truth) would swamp a mean.
MEDIAN_KEYS = frozenset({"tv_ratio"})
#: Metrics that reports written before them lack; read as NaN from such a file.
LATER_KEYS = ("tv_ratio", "colour_out", "seam")


def has_seam_scores(rows: Iterable[Mapping[str, object]]) -> bool:
    """Whether summary ``rows`` carry seam scores (the blend protocol's; NaN in every other report)."""
    return any(math.isfinite(float(row["seam"])) for row in rows)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Record:
    """The scores of one method on one (image, mask) pair."""

    method: str
    image: str
    mask: str
    bucket: str
    hole_ratio: float
    metrics: Mapping[str, float]
    seconds: float

    def as_row(self) -> dict[str, object]:
        """The record as a flat dict with the keys of :data:`RECORD_FIELDS`."""
        row: dict[str, object] = {
            "method": self.method,
            "image": self.image,
            "mask": self.mask,
            "bucket": self.bucket,
            "hole_ratio": self.hole_ratio,
        }
        row.update({k: self.metrics.get(k, math.nan) for k in SCORE_KEYS})
        row["seconds"] = self.seconds
        return row


def _label(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"{name} must be a non-empty string, got {value!r}")
    if "\n" in value or "\r" in value:
        raise InvalidArgumentError(f"{name} must be one line, got {value!r}")
    return value


def _number(value: object, name: str) -> float:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{name} must be a number, got {value!r}") from None
    return out


def _nanmean(values: Iterable[float]) -> float:
    """Mean of the values that are not NaN (inf is kept); NaN when none is left."""
    kept = [v for v in values if not math.isnan(v)]
    return float(np.mean(kept)) if kept else math.nan


def _nanmedian(values: Iterable[float]) -> float:
    """Median of the values that are not NaN; NaN when none is left."""
    kept = [v for v in values if not math.isnan(v)]
    return float(np.median(kept)) if kept else math.nan


@dataclass
class Evaluator:
    """Collects per-image records and aggregates them per (method, bucket).

    ``title`` heads the Markdown report; ``notes`` (optional) is printed under the protocol,
    e.g. the data set and the mask sets used.
    """

    title: str = "holefill evaluation"
    notes: str = ""
    records: list[Record] = field(default_factory=list)
    #: How the numbers were made (the inpainting benchmark's by default; the blend benchmark
    #: states its own).
    protocol: str = PROTOCOL

    # ------------------------------------------------------------------ adding

    def add(
        self,
        *,
        method: str,
        image: str,
        mask_name: str,
        bucket: str,
        original: np.ndarray,
        filled: np.ndarray,
        mask: np.ndarray,
        seconds: float,
    ) -> Record:
        """Score ``filled`` against ``original`` over ``mask`` (see :func:`score`) and keep the record."""
        metrics = score(original, filled, mask)
        return self.add_scores(
            method=method,
            image=image,
            mask_name=mask_name,
            bucket=bucket,
            hole_ratio=float(mask.mean()),
            metrics=metrics,
            seconds=seconds,
        )

    def add_scores(
        self,
        *,
        method: str,
        image: str,
        mask_name: str,
        bucket: str,
        hole_ratio: float,
        metrics: Mapping[str, float],
        seconds: float,
    ) -> Record:
        """Keep a record whose metrics were computed elsewhere (keys from :data:`SCORE_KEYS`).

        Missing keys count as NaN; unknown keys are an error, so a typo cannot vanish.
        """
        unknown = sorted(set(metrics) - set(SCORE_KEYS))
        if unknown:
            raise InvalidArgumentError(f"unknown metric names {unknown}; expected some of {list(SCORE_KEYS)}")
        ratio = _number(hole_ratio, "hole_ratio")
        if not 0.0 <= ratio <= 1.0:
            raise InvalidArgumentError(f"hole_ratio must lie in [0, 1], got {hole_ratio!r}")
        secs = _number(seconds, "seconds")
        if not (secs >= 0.0 or math.isnan(secs)):
            raise InvalidArgumentError(f"seconds must be >= 0, got {seconds!r}")
        record = Record(
            method=_label(method, "method"),
            image=_label(image, "image"),
            mask=_label(mask_name, "mask_name"),
            bucket=_label(bucket, "bucket"),
            hole_ratio=ratio,
            metrics={k: _number(metrics.get(k, math.nan), f"metric {k}") for k in SCORE_KEYS},
            seconds=secs,
        )
        self.records.append(record)
        return record

    @classmethod
    def read_csv(cls, path: PathArg, *, title: str = "holefill evaluation", notes: str = "") -> "Evaluator":
        """The records of a per-image CSV written by :meth:`write_csv`, to add more methods to."""
        src = Path(path)
        try:
            with src.open(newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                missing = [k for k in RECORD_FIELDS if k not in (reader.fieldnames or ()) and k not in LATER_KEYS]
                if missing:
                    raise InvalidArgumentError(f"is not a per-image results file (no column {', '.join(missing)})", src)
                rows = list(reader)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise InvalidArgumentError(f"cannot be read as a results CSV: {exc}", src) from None
        evaluator = cls(title=title, notes=notes)
        for line, row in enumerate(rows, start=2):
            try:
                evaluator.add_scores(method=row["method"], image=row["image"], mask_name=row["mask"],
                                     bucket=row["bucket"], hole_ratio=row["hole_ratio"],
                                     metrics={k: row.get(k) or "nan" for k in SCORE_KEYS}, seconds=row["seconds"])
            except InvalidArgumentError as exc:
                raise InvalidArgumentError(f"line {line}: {exc.problem}", src) from None
        return evaluator

    def __len__(self) -> int:
        return len(self.records)

    # ------------------------------------------------------------------ aggregating

    @property
    def methods(self) -> list[str]:
        """Method names in first-seen order."""
        return list(dict.fromkeys(r.method for r in self.records))

    @property
    def buckets(self) -> list[str]:
        """Bucket labels in first-seen order (the caller's order)."""
        return list(dict.fromkeys(r.bucket for r in self.records))

    def summary(self) -> list[dict[str, object]]:
        """One row per (method, bucket) that has records, methods then buckets in first-seen order.

        Each row holds ``method``, ``bucket``, ``count``, and the mean ``hole_ratio``, every
        metric of :data:`SCORE_KEYS` and ``seconds`` over the cell's records (the median for
        :data:`MEDIAN_KEYS`). NaN values (e.g. ``ms_ssim`` on small images) are left out; a
        cell with only NaN gives NaN.
        """
        cells: dict[tuple[str, str], list[Record]] = {}
        for r in self.records:
            cells.setdefault((r.method, r.bucket), []).append(r)
        rows = []
        for method in self.methods:
            for bucket in self.buckets:
                group = cells.get((method, bucket))
                if not group:
                    continue
                row: dict[str, object] = {"method": method, "bucket": bucket, "count": len(group)}
                row["hole_ratio"] = _nanmean(r.hole_ratio for r in group)
                for k in SCORE_KEYS:
                    row[k] = (_nanmedian if k in MEDIAN_KEYS else _nanmean)(r.metrics[k] for r in group)
                row["seconds"] = _nanmean(r.seconds for r in group)
                rows.append(row)
        return rows

    # ------------------------------------------------------------------ writing

    def write_csv(self, path_per_image: PathArg, path_summary: PathArg, *, overwrite: bool = False) -> tuple[Path, Path]:
        """Write the per-image records and the summary as CSV files (UTF-8, header row).

        Both paths are checked before either is written, so a refusal leaves nothing behind.
        """
        per_image, summary = Path(path_per_image), Path(path_summary)
        if per_image.resolve() == summary.resolve():
            raise InvalidArgumentError("the per-image and summary CSV paths are the same file", per_image)
        for p in (per_image, summary):
            _check_writable(p, overwrite)
        rows = [r.as_row() for r in self.records]
        write_bytes_atomic(per_image, _csv_bytes(RECORD_FIELDS, rows))
        fields = ("method", "bucket", "count", "hole_ratio", *SCORE_KEYS, "seconds")
        write_bytes_atomic(summary, _csv_bytes(fields, self.summary()))
        return per_image, summary

    def to_markdown(self) -> str:
        """A Markdown report: title, protocol, then two tables with a row per (method, bucket).

        The first table has PSNR, SSIM, hole L1, the hole's texture and colour scores (and the
        seam step, where a report has one: the blend protocol) and s/img;
        the second DeepFill's relative l1 / l2 / TV in percent, to set beside Yu et al. (2018),
        Table 1.
        """
        lines = [f"# {self.title}", "", f"Protocol: {self.protocol}"]
        if self.notes.strip():
            lines += ["", " ".join(self.notes.split())]
        rows = self.summary()
        if not rows:
            return "\n".join([*lines, "", "No records.", ""])
        seams = has_seam_scores(rows)
        lines += [
            "",
            "| Method | Bucket | N | PSNR (dB) | SSIM | Hole L1 | Texture | Colour |" + (" Seam |" if seams else "")
            + " s/img |",
            "|---|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if seams else "") + "---:|",
        ]
        for row in rows:
            cells = [
                _md(row["method"]),
                _md(row["bucket"]),
                str(row["count"]),
                _fmt(row["psnr"], ".2f"),
                _fmt(row["ssim"], ".4f"),
                _fmt(row["l1_hole"], ".4f"),
                _fmt(row["tv_ratio"], ".2f"),
                _fmt(row["colour_out"], "+.3f"),
                *([_fmt(row["seam"], "+.4f")] if seams else []),
                _fmt(row["seconds"], ".3g"),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines += [
            "",
            "DeepFill-style relative errors, in percent (Yu et al. 2018, Table 1):",
            "",
            "| Method | Bucket | N | rel. l1 (%) | rel. l2 (%) | rel. TV (%) |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for row in rows:
            cells = [_md(row["method"]), _md(row["bucket"]), str(row["count"])]
            cells += [_fmt(_times100(row[k]), ".2f") for k in ("rel_l1", "rel_l2", "rel_tv")]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        return "\n".join(lines)

    def write_markdown(self, path: PathArg, *, overwrite: bool = False) -> Path:
        """Write :meth:`to_markdown` to ``path`` (UTF-8)."""
        out = Path(path)
        _check_writable(out, overwrite)
        return write_bytes_atomic(out, self.to_markdown().encode("utf-8"))


def _check_writable(path: Path, overwrite: bool) -> None:
    if path.is_dir():
        raise OutputExistsError("is a folder; give a file name", path)
    if path.exists() and not overwrite:
        raise OutputExistsError("already exists; pass overwrite=True (--overwrite) to replace it", path)


def _csv_bytes(fields: Iterable[str], rows: Iterable[Mapping[str, object]]) -> bytes:
    buf = _io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue().encode("utf-8")


def _times100(value: object) -> float:
    return float(value) * 100.0  # type: ignore[arg-type]


def _fmt(value: object, spec: str) -> str:
    v = float(value)  # type: ignore[arg-type]
    if math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return format(v, spec)


def _md(text: object) -> str:
    """Escape a label for a Markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|")
