"""DCGAN's latent-search inpainting (Yeh et al. 2017) on 64x64 corpus test crops, beside classical fills.

Every crop of the corpus test split (``crops/test``, 256 px) is shrunk to 64x64 (area
filter); a centre box of a quarter of the area (32x32) is the hole. Each method fills it;
the script prints PSNR and SSIM of the composite, L1 over the hole and the hole's texture
ratio (its total variation over the truth's; a blur scores well under 1), and writes a
picture (rows: crops; columns: the input with its hole, each method, the truth). The learned
method runs twice: as shipped (the searched image Poisson-blended into the hole, as Yeh et
al. do) and with ``blend=none`` (the searched image pasted as is), since the blending alone
is a strong smooth fill.

    PYTHONPATH=src python benchmarks/latent_search.py --picture latent_search.png
    PYTHONPATH=src python benchmarks/latent_search.py --method dcgan --weights runs/dcgan/final -O iterations=500

Fills are seeded (restarts drawn from seed 0), so a run repeats exactly.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from holefill import io
from holefill.cli.common import parse_options
from holefill.generators import image_grid
from holefill.methods import get_filler
from holefill.metrics import hole_tv_ratio, l1, psnr, ssim

REFERENCES = ("telea", "biharmonic", "patchmatch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crops", type=Path, default=Path("/work/corpus/crops/test"))
    parser.add_argument("--method", default="dcgan_lite")
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--option", "-O", action="append", default=[], help="latent-search option key=value")
    parser.add_argument("--limit", type=int, default=None, help="use the first N crops")
    parser.add_argument("--picture", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    paths = io.list_images(args.crops)[:args.limit]
    images = [cv2.resize(io.read_image(p), (64, 64), interpolation=cv2.INTER_AREA) for p in paths]
    mask = np.zeros((64, 64), bool)
    mask[16:48, 16:48] = True
    options = parse_options(args.option)
    fillers = {args.method: get_filler(args.method, weights=args.weights, **options),
               # the search's own image, without the Poisson blending that follows it (which alone
               # is a strong smooth fill): what the generator contributes
               f"{args.method} (no blend)": get_filler(args.method, weights=args.weights, **{**options, "blend": "none"}),
               **{name: get_filler(name) for name in REFERENCES}}
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in fillers}
    columns: dict[str, list[np.ndarray]] = {name: [] for name in fillers}
    seconds: dict[str, float] = {name: 0.0 for name in fillers}
    for image in images:
        for name, filler in fillers.items():
            start = time.perf_counter()
            out = filler.fill(image, mask)
            seconds[name] += time.perf_counter() - start
            rows[name].append({"psnr": psnr(image, out), "ssim": ssim(image, out), "l1_hole": l1(image, out, mask),
                               "tv_ratio": hole_tv_ratio(image, out, mask)})
            columns[name].append(out)
    print(f"# {len(images)} crops of {args.crops} at 64x64, centre 32x32 hole")
    print("| method | PSNR | SSIM | hole L1 | hole TV ratio | s/img |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, scores in rows.items():
        mean = {k: statistics.fmean(s[k] for s in scores if np.isfinite(s[k])) for k in scores[0]}
        print(f"| {name} | {mean['psnr']:.2f} | {mean['ssim']:.4f} | {mean['l1_hole']:.4f} | {mean['tv_ratio']:.3f}"
              f" | {seconds[name] / len(images):.2f} |")
    if args.picture is not None:
        shown = [np.where(mask[..., None], 255, im).astype(np.uint8) for im in images]
        tiles = []
        for i in range(len(images)):
            tiles += [shown[i], *(columns[name][i] for name in fillers), images[i]]
        io.write_image(args.picture, image_grid(tiles, columns=len(fillers) + 2), overwrite=True)
        print(f"picture (input, {', '.join(fillers)}, truth): {args.picture}")


if __name__ == "__main__":
    main()
