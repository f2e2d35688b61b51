"""Apply the default-method rule to a ``holefill bench`` summary.

The rule (README, "Benchmark"): a learned method becomes the default of ``holefill inpaint``
only if it beats every classical method on both PSNR and SSIM on the corpus test split, on
each mask set that counts: the 20-30 % ... 50-60 % buckets, the centre box and the 25 %
outpainting strip. This prints, per counting set, the candidate's PSNR and SSIM, the best
classical method's, and the margins (negative = the candidate falls short), then the verdict.

    holefill bench --images corpus/crops/test --generate \\
        --methods telea,ns,fsr,shiftmap,patchmatch,biharmonic,criminisi,deepfill_v2_lite -o report
    python benchmarks/default_rule.py report/summary.csv deepfill_v2_lite
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from holefill import list_methods

COUNTING_SETS = ("20-30", "30-40", "40-50", "50-60", "center", "outpaint25")
#: Every classical method in the table that runs on the benchmark as it is (scene completion
#: needs a photo database, so it is not one): a report that lacks one cannot decide the rule.
CLASSICAL = tuple(m.name for m in list_methods("classical") if not m.requires)


def load(path: Path) -> dict[tuple[str, str], dict[str, float]]:
    with path.open(newline="") as f:
        return {(r["method"], r["bucket"]): {"psnr": float(r["psnr"]), "ssim": float(r["ssim"])}
                for r in csv.DictReader(f)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("summary", type=Path, help="summary.csv written by holefill bench")
    parser.add_argument("candidate", help="the learned method to judge")
    args = parser.parse_args()
    if not args.summary.is_file():
        print(f"error: {args.summary}: no such file", file=sys.stderr)
        return 2
    rows = load(args.summary)
    missing = {m: [s for s in COUNTING_SETS if (m, s) not in rows] for m in (args.candidate, *CLASSICAL)}
    missing = {m: sets for m, sets in missing.items() if sets}
    if missing:
        what = "; ".join(f"{m} ({'all counting sets' if len(sets) == len(COUNTING_SETS) else ', '.join(sets)})"
                         for m, sets in missing.items())
        print(f"error: {args.summary}: no results for {what}; the rule needs every classical method on every "
              "counting set", file=sys.stderr)
        return 2
    print("| Set | " + args.candidate + " PSNR | best classical PSNR | margin (dB) | "
          + args.candidate + " SSIM | best classical SSIM | margin |")
    print("|---|---:|---|---:|---:|---|---:|")
    wins = True
    for s in COUNTING_SETS:
        cand = rows[(args.candidate, s)]
        best_p = max(CLASSICAL, key=lambda m: rows[(m, s)]["psnr"])
        best_s = max(CLASSICAL, key=lambda m: rows[(m, s)]["ssim"])
        dp = cand["psnr"] - rows[(best_p, s)]["psnr"]
        ds = cand["ssim"] - rows[(best_s, s)]["ssim"]
        wins &= dp > 0 and ds > 0
        print(f"| {s} | {cand['psnr']:.2f} | {rows[(best_p, s)]['psnr']:.2f} ({best_p}) | {dp:+.2f} | "
              f"{cand['ssim']:.4f} | {rows[(best_s, s)]['ssim']:.4f} ({best_s}) | {ds:+.4f} |")
    print(f"\n{args.candidate} {'beats' if wins else 'does not beat'} every classical method on PSNR and SSIM "
          f"on all counting sets: it {'may' if wins else 'may not'} become the default.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
