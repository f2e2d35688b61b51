"""Interactive speed: wall time and peak memory of one fill per method, at 512x512 and 2048x1536.

What a user waits for when removing a thing from a photo: each method fills one real photo,
cut (cover-crop) to each size, with an object-sized hole (irregular strokes covering 4-6 % of
the image, seeded). Every (method, size) runs in a fresh process, so its peak resident memory
(``ru_maxrss``) is its own: the interpreter and holefill's imports included, which the
"import" row shows on its own (a process that only imports holefill and reads the photo).
Times are the median of ``--repeats`` fills in that process (the first fill, which builds a
model or warms a library, is timed separately as "first").

    python benchmarks/fill_speed.py                           # the default methods, both sizes
    python benchmarks/fill_speed.py --methods telea,patchmatch --sizes 512x512 --repeats 3
    python benchmarks/fill_speed.py --photo /usr/share/backgrounds/Wine_by_Jakkub_Mede.jpg

The default photo is a corpus test-split photo at full resolution (no model trained on it).
Quote the machine and its load with the numbers; they are wall-clock.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_PHOTO = Path("/usr/share/backgrounds/Wine_by_Jakkub_Mede.jpg")
DEFAULT_METHODS = "telea,ns,biharmonic,patchmatch,criminisi,fsr,deepfill_v2_lite"
DEFAULT_SIZES = "512x512,2048x1536"


def cover(image, width: int, height: int):
    """``image`` scaled to cover width x height, centre-cropped to it."""
    import cv2

    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    size = (max(width, round(w * scale)), max(height, round(h * scale)))
    scaled = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    top, left = (size[1] - height) // 2, (size[0] - width) // 2
    return scaled[top:top + height, left:left + width].copy()


def child(photo: str, method: str, width: int, height: int, repeats: int) -> dict:
    """Run in the measuring process: fill ``repeats + 1`` times, report times and peak memory."""
    import numpy as np

    from holefill import io
    from holefill.masks.generators import Irregular
    from holefill.masks.protocol import mask_in_ratio

    image = cover(io.read_image(photo), width, height)
    mask = mask_in_ratio(Irregular(), height, width, np.random.default_rng(0), 0.04, 0.06)
    result: dict = {"hole": float(mask.mean())}
    if method != "import":
        from holefill import get_filler

        start = time.perf_counter()
        filler = get_filler(method)
        filler.fill(image, mask)
        result["first"] = time.perf_counter() - start
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            filler.fill(image, mask)
            times.append(time.perf_counter() - start)
        result["median"] = statistics.median(times)
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=DEFAULT_METHODS)
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="WxH,WxH")
    parser.add_argument("--photo", default=str(DEFAULT_PHOTO))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per (method, size)")
    parser.add_argument("--child", nargs=4, metavar=("METHOD", "W", "H", "REPEATS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        method, w, h, repeats = args.child
        print(json.dumps(child(args.photo, method, int(w), int(h), int(repeats))))
        return 0
    if not Path(args.photo).is_file():
        print(f"error: {args.photo}: no such photo (install mate-backgrounds/lomiri-wallpapers or pass --photo)",
              file=sys.stderr)
        return 2
    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes.split(",") if s.strip()]
    methods = ["import", *[m.strip() for m in args.methods.split(",") if m.strip()]]
    print(f"# fill speed: {platform.processor() or platform.machine()}, photo {Path(args.photo).name}, "
          f"irregular hole 4-6 %, median of {args.repeats}")
    print("| Method | " + " | ".join(f"{w}x{h} s (first) | {w}x{h} peak MB" for w, h in sizes) + " |")
    print("|---|" + "---:|---:|" * len(sizes))
    for method in methods:
        cells = []
        for w, h in sizes:
            cmd = [sys.executable, __file__, "--photo", args.photo, "--child", method, str(w), str(h),
                   str(args.repeats)]
            try:
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
            except subprocess.TimeoutExpired:
                cells += [f"> {args.timeout:.0f}", "n/a"]
                continue
            if done.returncode != 0:
                reason = (done.stderr.strip().splitlines() or ["failed"])[-1][:60]
                cells += [f"failed: {reason}", "n/a"]
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            cells += ["-" if method == "import" else f"{r['median']:.3g} ({r['first']:.3g})", f"{r['peak_mb']:.0f}"]
        print(f"| {method} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
