"""Cost follows the hole: time and peak memory of one fill of a large photo with a small hole,
filled whole (as before) and hole region by hole region (holefill.regions), and whether the
fills inside the hole are the same.

A 12-megapixel photo (a corpus test-split photo, cover-cropped to 4000x3000) gets a hole of
about 5.6 %: ``objects`` is a few object-sized blobs (a thing removed from a photo),
``strokes`` the benchmark's irregular strokes spread over the photo. Each (method, mask, way)
runs in a fresh process, so its peak resident memory (``ru_maxrss``) is its own, imports
included. "before" runs the method's fill on the whole photo exactly as holefill did before
regions; "after" is the method's fill now. The last columns compare the two fills' hole
pixels: how many differ, and by how much at most (0 and 0: the same fill).

    python benchmarks/hole_cost.py                                  # biharmonic, telea, ns, fsr
    python benchmarks/hole_cost.py --methods biharmonic --size 2000x1500 --masks objects

Quote the machine and its load with the numbers; times are wall-clock.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_PHOTO = Path("/usr/share/backgrounds/mate/nature/LadyBird.jpg")
METHODS = "biharmonic,telea,ns,fsr"


def cover(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` scaled to cover width x height, centre-cropped to it."""
    import cv2

    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    size = (max(width, round(w * scale)), max(height, round(h * scale)))
    scaled = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    top, left = (size[1] - height) // 2, (size[0] - width) // 2
    return scaled[top:top + height, left:left + width].copy()


def make_mask(kind: str, height: int, width: int) -> np.ndarray:
    """A seeded hole of about 5.6 % of the photo."""
    import cv2

    rng = np.random.default_rng(0)
    if kind == "strokes":
        from holefill.masks.generators import Irregular
        from holefill.masks.protocol import mask_in_ratio

        return mask_in_ratio(Irregular(), height, width, rng, 0.055, 0.057)
    mask = np.zeros((height, width), np.uint8)
    target = 0.056 * height * width
    while mask.sum() < target:  # object-sized ellipses, about a tenth of the short side
        cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
        ax, ay = int(rng.integers(height // 20, height // 8)), int(rng.integers(height // 20, height // 8))
        cv2.ellipse(mask, (cx, cy), (ax, ay), float(rng.uniform(0, 180)), 0, 360, 1, -1)
    return mask.astype(bool)


def before_fill(method: str):
    """The method's fill of the whole photo, as holefill did it before regions."""
    from holefill.methods import get_filler

    filler = get_filler(method)
    if method == "biharmonic":
        from skimage.restoration import inpaint_biharmonic

        def whole(image, mask):
            out = inpaint_biharmonic(image.astype(np.float64) / 255.0, mask, channel_axis=-1,
                                     split_into_regions=filler.split_into_regions)
            return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)
    elif method in ("telea", "ns"):
        import cv2

        def whole(image, mask):
            return cv2.inpaint(image, mask.astype(np.uint8) * 255, filler.radius, filler.flag)
    elif method == "fsr":
        whole = filler._fill_whole
    else:
        raise SystemExit(f"no whole-photo fill known for {method}")
    filler._fill = whole  # type: ignore[method-assign]
    return filler


def child(photo: str, method: str, kind: str, width: int, height: int, way: str, out: str) -> dict:
    from holefill import io
    from holefill.methods import get_filler

    image = cover(io.read_image(photo, max_pixels=10**9), width, height)
    mask = make_mask(kind, height, width)
    filler = before_fill(method) if way == "before" else get_filler(method)
    start = time.perf_counter()
    filled = filler.fill(image, mask)
    seconds = time.perf_counter() - start
    np.save(out, filled[mask])
    return {"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "hole": float(mask.mean())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=METHODS)
    parser.add_argument("--masks", default="objects,strokes")
    parser.add_argument("--size", default="4000x3000", help="WxH")
    parser.add_argument("--photo", default=str(DEFAULT_PHOTO))
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per fill")
    parser.add_argument("--child", nargs=6, metavar=("METHOD", "MASK", "W", "H", "WAY", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        method, kind, w, h, way, out = args.child
        print(json.dumps(child(args.photo, method, kind, int(w), int(h), way, out)))
        return 0
    if not Path(args.photo).is_file():
        print(f"error: {args.photo}: no such photo (install mate-backgrounds or pass --photo)", file=sys.stderr)
        return 2
    width, height = (int(v) for v in args.size.lower().split("x"))
    print(f"# hole cost: {platform.processor() or platform.machine()}, {width}x{height} "
          f"({width * height / 1e6:.0f} MP) from {Path(args.photo).name}")
    print("| Method | Mask | Hole | Before s | Before peak MB | After s | After peak MB | Hole pixels that differ | Max difference |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for method in [m.strip() for m in args.methods.split(",") if m.strip()]:
            for kind in [k.strip() for k in args.masks.split(",") if k.strip()]:
                results = {}
                for way in ("before", "after"):
                    out = str(Path(tmp) / f"{method}-{kind}-{way}.npy")
                    cmd = [sys.executable, __file__, "--photo", args.photo, "--child", method, kind, str(width),
                           str(height), way, out]
                    try:
                        done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
                    except subprocess.TimeoutExpired:
                        results[way] = None
                        continue
                    if done.returncode != 0:
                        print(f"# {method} {kind} {way} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
                        results[way] = None
                        continue
                    results[way] = json.loads(done.stdout.strip().splitlines()[-1]) | {"out": out}
                b, a = results["before"], results["after"]
                cells = []
                for r in (b, a):
                    cells += [f"{r['seconds']:.2f}", f"{r['peak_mb']:.0f}"] if r else ["failed", "n/a"]
                if a and b:
                    diff = np.abs(np.load(b["out"]).astype(int) - np.load(a["out"]).astype(int))
                    same = [f"{int((diff > 0).sum()):,} of {diff.shape[0]:,}", f"{int(diff.max())}"]
                else:
                    same = ["n/a", "n/a"]
                hole = (a or b or {}).get("hole", float("nan"))
                print(f"| {method} | {kind} | {100 * hole:.1f} % | " + " | ".join(cells + same) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
