"""What real texture costs in PSNR and SSIM: fills split into a coarse band and a fine band.

The default rule (README, "The default method") asks a learned default to beat every classical
method on PSNR and SSIM *and* to keep the truth's texture (hole TV ratio of at least 0.8).
This script measures how far apart those asks are. Every fill is split with a Gaussian blur of
width ``sigma``: ``coarse = blur(x)``, ``fine = x - blur(x)``. It scores, on the benchmark's
pairs (holefill-masks-v1):

- ``biharmonic``, ``patchmatch`` and ``--learned`` (default ``deepfill_v2_lite``) as they are;
- ``truth-coarse`` at each sigma: the truth's own coarse band and no fine band, a perfect blur;
- ``oracle`` at each sigma: the truth's coarse band plus PatchMatch's fine band, which is real
  texture from the photo, but not the truth's (PatchMatch copies it from elsewhere);
- ``learned+pm`` at each sigma: the learned model's coarse band plus PatchMatch's fine band
  (structure from the network, texture from the photo: in the spirit of Bertalmio, Vese,
  Sapiro and Osher, "Simultaneous structure and texture image inpainting", IEEE TIP 2003,
  which fills the two bands of a decomposition by different methods and adds them).

If ``oracle`` at a sigma only ties biharmonic's SSIM, then a fill whose texture is not the
truth's must get the coarse band right down to that scale to beat biharmonic on SSIM; SSIM
counts texture in the wrong place as error, and a blur's missing texture as less error.

    PYTHONPATH=src python benchmarks/texture_cost.py --images corpus/crops/val,corpus/crops/test

Prints per counting set: mean PSNR, mean SSIM and the median hole TV ratio (1 = as busy as the
truth). About 10 minutes for the 46 validation and test crops on one core.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from holefill import benchmark as B
from holefill.errors import HolefillError
from holefill.metrics.functional import score
from holefill.methods import get_filler

COUNTING = ("20-30", "30-40", "40-50", "50-60", "center")


def coarse(image: np.ndarray, sigma: float) -> np.ndarray:
    """The coarse band: a Gaussian blur of width ``sigma`` pixels, in float32."""
    return cv2.GaussianBlur(image.astype(np.float32), (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def variants(truth: np.ndarray, fills: dict[str, np.ndarray], learned: str,
             sigmas: list[float]) -> dict[str, np.ndarray]:
    """Every scored fill of one item (float32 RGB, before rounding)."""
    out = {name: fill.astype(np.float32) for name, fill in fills.items()}
    pm = out["patchmatch"]
    for s in sigmas:
        pm_fine = pm - coarse(pm, s)
        out[f"truth-coarse s={s:g}"] = coarse(truth, s)
        out[f"oracle s={s:g}"] = coarse(truth, s) + pm_fine
        out[f"{learned}+pm s={s:g}"] = coarse(out[learned], s) + pm_fine
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", required=True, help="folders of 256x256 crops, comma-separated")
    parser.add_argument("--learned", default="deepfill_v2_lite", help="the learned filler (default: deepfill_v2_lite)")
    parser.add_argument("--weights", type=Path, default=None, help="weights folder for --learned")
    parser.add_argument("--sigmas", default="1,2,4", help="widths of the blur that splits the bands (pixels)")
    parser.add_argument("--sets", default=",".join(COUNTING))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="only the first N images of each folder")
    args = parser.parse_args()
    try:
        sigmas = [float(s) for s in args.sigmas.split(",") if s.strip()]
        if not sigmas or any(not 0.3 <= s <= 64 for s in sigmas):
            raise HolefillError(f"--sigmas takes widths from 0.3 to 64 pixels, got {args.sigmas!r}")
        images = [im for folder in args.images.split(",") for im in B.load_images(folder.strip(), args.limit)]
        if len({im.shape for _, im in images}) != 1:
            raise HolefillError("the images must all have one size (use the corpus's crops)")
        sets = [s.strip() for s in args.sets.split(",") if s.strip()]
        mask_sets = B.generated_mask_sets(images[0][1].shape[:2], min(len(images), 100), args.seed, sets)
        fillers = {name: get_filler(name, weights=args.weights if name == args.learned else None)
                   for name in ("biharmonic", "patchmatch", args.learned)}
    except (HolefillError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    items = B.pairs(images, mask_sets)
    scores: dict[tuple[str, str], list[dict[str, float]]] = defaultdict(list)
    for k, item in enumerate(items):
        truth = images[item.image_index][1]
        hole = item.mask.astype(bool)
        fills = {name: f.fill(truth, hole) for name, f in fillers.items()}
        for name, fill in variants(truth, fills, args.learned, sigmas).items():
            scores[(name, item.mask_set)].append(score(truth, np.clip(np.rint(fill), 0, 255).astype(np.uint8), hole))
        print(f"\r{k + 1}/{len(items)} items", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    names = list(dict.fromkeys(name for name, _ in scores))
    print(f"{len(images)} images, {len(items)} items. Each cell: PSNR / SSIM / texture (median hole TV ratio).\n")
    print("| Fill | " + " | ".join(sets) + " |")
    print("|---|" + "---:|" * len(sets))
    for name in names:
        cells = []
        for s in sets:
            rows = scores[(name, s)]
            cells.append(f"{np.mean([r['psnr'] for r in rows]):.2f} / {np.mean([r['ssim'] for r in rows]):.4f} / "
                         f"{np.nanmedian([r['tv_ratio'] for r in rows]):.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
