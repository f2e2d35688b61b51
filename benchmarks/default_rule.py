"""Apply the default-method rule to a ``holefill bench`` report, per task.

The rule (README, "The default method"). For each task (inpaint, outpaint, blend), over the
task's counting mask sets:

1. Gates, on every counting set: the hole's texture is within 20 % of the truth's (median
   ``tv_ratio`` in [0.8, 1.25]: a blur fails it, whatever its PSNR), and the fill invents no
   colours (mean ``colour_out``, the share of hole pixels outside the context's colour range
   beyond the truth's own share, at most 0.02).
2. Not beaten: no other method that passes the colour gate is better on PSNR, SSIM and
   texture together (means over the task's counting sets; texture as the distance
   |log tv_ratio| from the truth's). A fill that invents colours beats nobody.
3. The default is the gated, unbeaten method with the highest mean PSNR. If no method passes
   the gates, the report says so and names the unbeaten method with the best texture.

A learned candidate (``--candidate NAME``) must also beat every classical method on PSNR
and SSIM on every counting set of the task; the table prints its margins.

Spread: each image's photo is its name without the trailing ``_NNN`` (the corpus and
``holefill data crops`` name crops so). For the default and its closest rival on PSNR, the
per-photo PSNR differences are bootstrapped over photos (seeded); a difference whose 95 %
interval excludes 0 is called real. ``--splits corpus/splits.json --use val,test`` keeps only
those splits' photos (a learned model must be judged on photos it never trained on).

    holefill data crops corpus/photos/train corpus/photos/val corpus/photos/test -o crops16
    holefill bench --images crops16 --generate --methods telea,ns,patchmatch,biharmonic,criminisi -o report
    python benchmarks/default_rule.py report
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from holefill.benchmark import photo_of
from holefill.errors import HolefillError
from holefill.metrics import Evaluator, Record

#: The counting mask sets of each task. The 0-20 % buckets do not count: every method is
#: near-perfect there. The blend task's set comes from ``holefill bench --blend``.
TASK_SETS: dict[str, tuple[str, ...]] = {
    "inpaint": ("20-30", "30-40", "40-50", "50-60", "center"),
    "outpaint": ("outpaint25",),
    "blend": ("blend",),
}
TEXTURE_RANGE = (0.8, 1.25)
COLOUR_LIMIT = 0.02
BOOTSTRAP = 2000


@dataclass(frozen=True)
class Cell:
    """A method's scores on one mask set."""

    psnr: float
    ssim: float
    texture: float  # median tv_ratio
    colour: float  # mean colour_out
    n: int

    @property
    def texture_ok(self) -> bool:
        return TEXTURE_RANGE[0] <= self.texture <= TEXTURE_RANGE[1]

    @property
    def colour_ok(self) -> bool:
        return self.colour <= COLOUR_LIMIT


def cells(records: Iterable[Record]) -> dict[tuple[str, str], Cell]:
    groups: dict[tuple[str, str], list[Record]] = {}
    for r in records:
        groups.setdefault((r.method, r.bucket), []).append(r)

    def keep(values: Iterable[float]) -> list[float]:
        return [v for v in values if not math.isnan(v)]

    out = {}
    for key, rs in groups.items():
        tv = keep(r.metrics["tv_ratio"] for r in rs)
        colour = keep(r.metrics["colour_out"] for r in rs)
        out[key] = Cell(psnr=float(np.mean([r.metrics["psnr"] for r in rs])),
                        ssim=float(np.mean([r.metrics["ssim"] for r in rs])),
                        texture=float(np.median(tv)) if tv else math.nan,
                        colour=float(np.mean(colour)) if colour else math.nan, n=len(rs))
    return out


def texture_distance(tv: float) -> float:
    return abs(math.log(tv)) if tv > 0 and math.isfinite(tv) else math.inf


@dataclass(frozen=True)
class Standing:
    """A method's standing on one task."""

    method: str
    psnr: float
    ssim: float
    texture: float  # mean over sets of the median tv_ratio
    colour: float
    passes: bool
    beaten_by: tuple[str, ...]


def standings(table: dict[tuple[str, str], Cell], methods: Sequence[str], sets: Sequence[str]) -> list[Standing]:
    rows = []
    for m in methods:
        cs = [table[(m, s)] for s in sets]
        rows.append((m, float(np.mean([c.psnr for c in cs])), float(np.mean([c.ssim for c in cs])),
                     float(np.mean([c.texture for c in cs])), float(np.mean([c.colour for c in cs])),
                     all(c.texture_ok and c.colour_ok for c in cs),
                     float(np.mean([texture_distance(c.texture) for c in cs])), all(c.colour_ok for c in cs)))
    out = []
    for m, p, s, t, c, ok, d, _ in rows:
        beaten = tuple(o for o, op, os_, _, _, _, od, clean in rows
                       if o != m and clean and op > p and os_ > s and od < d)
        out.append(Standing(m, p, s, t, c, ok, beaten))
    return out


def choose(rows: Sequence[Standing]) -> tuple[Standing | None, str]:
    """The default and the reason, by the rule in the module docstring."""
    unbeaten = [r for r in rows if not r.beaten_by]
    qualified = [r for r in unbeaten if r.passes]
    if qualified:
        best = max(qualified, key=lambda r: r.psnr)
        return best, "passes the texture and colour gates, is beaten by no method, and has the best PSNR of those that do"
    fallback = [r for r in unbeaten if r.colour <= COLOUR_LIMIT] or unbeaten
    if not fallback:
        return None, "every method is beaten by another"
    best = min(fallback, key=lambda r: texture_distance(r.texture))
    return best, "no method passes the gates; this is the unbeaten method with the texture closest to the truth's"


def per_photo_psnr(records: Iterable[Record], method: str, sets: Sequence[str]) -> dict[str, float]:
    by_photo: dict[str, list[float]] = {}
    for r in records:
        if r.method == method and r.bucket in sets:
            by_photo.setdefault(photo_of(r.image), []).append(r.metrics["psnr"])
    return {p: float(np.mean(v)) for p, v in by_photo.items()}


def bootstrap_difference(a: dict[str, float], b: dict[str, float], seed: int = 0) -> tuple[float, float, float, int]:
    """Mean over photos of a - b, its 95 % bootstrap interval (resampling photos), and the photo count."""
    photos = sorted(set(a) & set(b))
    d = np.array([a[p] - b[p] for p in photos])
    if len(d) == 0:
        return math.nan, math.nan, math.nan, 0
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), (BOOTSTRAP, len(d)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(d.mean()), float(lo), float(hi), len(d)


def read_records(report: Path) -> list[Record]:
    path = report / "results.csv" if report.is_dir() else report
    if path.name == "summary.csv":
        path = path.with_name("results.csv")
    if not path.is_file():
        raise HolefillError("holds no results.csv of a holefill bench report", report)
    return Evaluator.read_csv(path).records


def keep_splits(records: list[Record], splits_file: Path, use: Sequence[str]) -> list[Record]:
    try:
        splits = json.loads(splits_file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise HolefillError(f"cannot be read as the corpus's splits.json ({exc})", splits_file) from None
    unknown = [u for u in use if u not in splits]
    if unknown:
        raise HolefillError(f"has no split {', '.join(unknown)}; it has {', '.join(splits)}", splits_file)
    photos = {p for u in use for p in splits[u]}
    return [r for r in records if photo_of(r.image) in photos]


def report_task(records: list[Record], task: str, candidate: str | None, classical: Sequence[str]) -> list[str]:
    sets = TASK_SETS[task]
    table = cells(records)
    methods = list(dict.fromkeys(r.method for r in records))
    complete = [m for m in methods if all((m, s) in table for s in sets)]
    lines = [f"## {task} (counting sets: {', '.join(sets)})", ""]
    if not complete:
        return lines + [f"No method has results on every counting set of {task}; the rule cannot be applied.", ""]
    skipped = [m for m in methods if m not in complete]
    rows = standings(table, complete, sets)
    lines += ["| Method | PSNR | SSIM | Texture (TV ratio) | Colour | Gates | Beaten by |",
              "|---|---:|---:|---:|---:|---|---|"]
    for r in sorted(rows, key=lambda r: -r.psnr):
        lines.append(f"| {r.method} | {r.psnr:.2f} | {r.ssim:.4f} | {r.texture:.2f} | {r.colour:+.3f} | "
                     f"{'pass' if r.passes else 'fail'} | {', '.join(r.beaten_by) or '-'} |")
    if skipped:
        lines += ["", f"Left out (no results on every counting set): {', '.join(skipped)}."]
    best, why = choose(rows)
    lines.append("")
    if best is None:
        lines.append(f"**No default for {task}**: {why}.")
    else:
        lines.append(f"**Default for {task}: `{best.method}`**: it {why}.")
        rivals = [r for r in rows if r.method != best.method]
        if rivals:
            rival = max(rivals, key=lambda r: r.psnr)
            mean, lo, hi, n = bootstrap_difference(per_photo_psnr(records, best.method, sets),
                                                   per_photo_psnr(records, rival.method, sets))
            real = "real" if n > 1 and (lo > 0 or hi < 0) else "not shown to be real"
            lines.append(f"PSNR of `{best.method}` minus `{rival.method}` (the best other PSNR), per photo over "
                         f"{n} photos: mean {mean:+.2f} dB, 95 % bootstrap interval [{lo:+.2f}, {hi:+.2f}]: {real}.")
    if candidate is not None:
        lines += [""] + judge_candidate(table, candidate, sets, [c for c in classical if c in complete])
    lines.append("")
    return lines


def judge_candidate(table: dict[tuple[str, str], Cell], candidate: str, sets: Sequence[str],
                    classical: Sequence[str]) -> list[str]:
    missing = [s for s in sets if (candidate, s) not in table]
    if missing:
        return [f"`{candidate}` has no results on {', '.join(missing)}."]
    if not classical:
        return ["No classical method has results on every counting set to judge the candidate against."]
    lines = [f"| Set | {candidate} PSNR | best classical PSNR | margin (dB) | {candidate} SSIM | "
             "best classical SSIM | margin | texture |", "|---|---:|---|---:|---:|---|---:|---:|"]
    wins = True
    for s in sets:
        c = table[(candidate, s)]
        bp = max(classical, key=lambda m: table[(m, s)].psnr)
        bs = max(classical, key=lambda m: table[(m, s)].ssim)
        dp, ds = c.psnr - table[(bp, s)].psnr, c.ssim - table[(bs, s)].ssim
        wins &= dp > 0 and ds > 0 and c.texture >= TEXTURE_RANGE[0]
        lines.append(f"| {s} | {c.psnr:.2f} | {table[(bp, s)].psnr:.2f} ({bp}) | {dp:+.2f} | {c.ssim:.4f} | "
                     f"{table[(bs, s)].ssim:.4f} ({bs}) | {ds:+.4f} | {c.texture:.2f} |")
    verdict = ("beats every classical method on PSNR and SSIM on every counting set, with a texture ratio of at "
               f"least {TEXTURE_RANGE[0]}" if wins else
               "does not beat every classical method on PSNR and SSIM on every counting set with a texture ratio "
               f"of at least {TEXTURE_RANGE[0]}")
    return lines + ["", f"`{candidate}` {verdict}."]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="a holefill bench report folder (or its results.csv)")
    parser.add_argument("--task", choices=[*TASK_SETS, "all"], default="all")
    parser.add_argument("--candidate", help="a learned method that must beat every classical one")
    parser.add_argument("--splits", type=Path, help="the corpus's splits.json, with --use")
    parser.add_argument("--use", default="val,test", help="splits whose photos count (with --splits)")
    args = parser.parse_args(argv)
    try:
        records = read_records(args.report)
        if args.splits is not None:
            records = keep_splits(records, args.splits, [u.strip() for u in args.use.split(",") if u.strip()])
            if not records:
                raise HolefillError(f"no image of the report comes from the {args.use} photos", args.splits)
    except HolefillError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from holefill import list_methods

    classical = [m.name for m in list_methods("classical", task="inpaint") if not m.requires]  # (scene needs a database)
    tasks = list(TASK_SETS) if args.task == "all" else [args.task]
    present = {r.bucket for r in records}
    lines = [f"Rule applied to {args.report}: texture gate {TEXTURE_RANGE[0]}-{TEXTURE_RANGE[1]}, colour gate "
             f"{COLOUR_LIMIT}; {len({photo_of(r.image) for r in records})} photos, "
             f"{len({r.image for r in records})} images.", ""]
    for task in tasks:
        if args.task == "all" and not any(s in present for s in TASK_SETS[task]):
            lines += [f"## {task}", "", "The report has no counting set of this task.", ""]
            continue
        lines += report_task(records, task, args.candidate, classical)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
