"""Does Meta-SR beat bicubic at bringing a low-resolution fill back to the photo's size?

ModelFiller's ``resize`` strategy fills a large photo at ``resize_limit`` pixels (long side)
and enlarges the fill; ``-O upscaler=NAME`` chooses the enlarger (default: OpenCV bicubic).
This fills every corpus test photo at full size (long side 1024) with the shipped
``deepfill_v2_lite`` at ``--limit`` pixels (256: a x4 enlargement), once per enlarger, with
the same seeded free-form masks (``--ratio`` of the photo, one per photo), and scores the
composite against the photo: PSNR and SSIM of the whole image, L1 over the hole, and the
hole's texture ratio (its total variation over the truth's, :func:`holefill.metrics.hole_tv_ratio`;
a blur scores well under 1). The fill itself is the same for every enlarger, so the
differences are the enlargement's alone. It writes the hole's neighbourhood of the first
photo for each enlarger beside the truth (``--picture``).

    PYTHONPATH=src python benchmarks/resize_upscaler.py --picture resize_upscaler.png
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
import torch

from holefill import io
from holefill.masks.protocol import mask_set
from holefill.methods import get_filler
from holefill.metrics import hole_tv_ratio, l1, psnr, ssim

ENLARGERS = ("opencv bicubic (default)", "bicubic", "lanczos", "meta_rdn_lite")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=Path("/work/corpus/photos/test"))
    parser.add_argument("--method", default="deepfill_v2_lite")
    parser.add_argument("--limit", type=int, default=256, help="resize_limit: the side the fill is made at")
    parser.add_argument("--ratio", default="0.1-0.2", help="hole ratio range of the free-form masks")
    parser.add_argument("--picture", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lo, hi = (float(v) for v in args.ratio.split("-"))
    photos = [(p.stem, io.read_image(p)) for p in io.list_images(args.photos)]
    fillers = {name: get_filler(args.method, strategy="resize", resize_limit=args.limit,
                                upscaler=None if name.startswith("opencv") else name)
               for name in ENLARGERS}
    scores: dict[str, list[dict[str, float]]] = {name: [] for name in ENLARGERS}
    crops: list[np.ndarray] = []
    for i, (stem, photo) in enumerate(photos):
        mask = mask_set("freeform", lo, hi, 1, photo.shape[:2], seed=i)[0]
        for name, filler in fillers.items():
            out = filler.fill(photo, mask)
            scores[name].append({"psnr": psnr(photo, out), "ssim": ssim(photo, out), "l1_hole": l1(photo, out, mask),
                                 "tv_ratio": hole_tv_ratio(photo, out, mask)})
            if i == 0:
                ys, xs = np.nonzero(mask)
                cy, cx = int(ys.mean()), int(xs.mean())
                top, left = max(0, cy - 96), max(0, cx - 96)
                if not crops:
                    crops.append(photo[top:top + 192, left:left + 192])
                crops.append(out[top:top + 192, left:left + 192])
    print(f"# {args.method} at resize_limit {args.limit} on {len(photos)} photos of {args.photos}, "
          f"free-form holes of {100 * lo:g}-{100 * hi:g} %")
    print("| enlarger | PSNR | SSIM | hole L1 | hole TV ratio |")
    print("|---|---:|---:|---:|---:|")
    for name in ENLARGERS:
        rows = scores[name]
        mean = {k: statistics.fmean(r[k] for r in rows if np.isfinite(r[k])) for k in rows[0]}
        print(f"| {name} | {mean['psnr']:.3f} | {mean['ssim']:.4f} | {mean['l1_hole']:.4f} | {mean['tv_ratio']:.3f} |")
    if args.picture is not None and crops:
        h = min(c.shape[0] for c in crops)
        w = min(c.shape[1] for c in crops)
        strip = np.concatenate([c[:h, :w] for c in crops], axis=1)
        io.write_image(args.picture, strip, overwrite=True)
        print(f"picture (truth, then {', '.join(ENLARGERS)}): {args.picture}")


if __name__ == "__main__":
    main()
