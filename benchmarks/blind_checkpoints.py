"""Score a blind training run's checkpoints on held-out images: pick the one to ship on val.

Each checkpoint's EMA generator (the raw generator when the run kept no EMA) goes through the
blind benchmark (:mod:`holefill.benchmark_blind`, protocol ``holefill-blind-v1``) on the given
images, and one line per checkpoint and threshold is printed: mask IoU and F1, the result's
PSNR and its gain over the damaged input, SSIM and relative TV. Numbers, not assertions.

    python benchmarks/blind_checkpoints.py runs/vcnet_lite --images corpus/crops/val \
        [--thresholds 0.3,0.5,0.7] [--dilate 0,1] [--every 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from holefill.benchmark import load_images
from holefill.benchmark_blind import INPUT_ROW, run_blind_benchmark
from holefill.blind_pipeline import ModelBlindFiller
from holefill.masks.corruption import blind_items
from holefill.models.registry import create_model
from holefill.train.checkpoint import load_checkpoint


def generator_of(path: Path) -> torch.nn.Module:
    state = load_checkpoint(path)
    model = create_model(state["model"]["name"], **state["model"]["args"])
    model.architecture = state["model"]["name"]
    weights = state["ema"]["module"] if state.get("ema") else state["networks"]["generator"]
    model.load_state_dict(weights)
    return model.eval()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a training run folder (its checkpoints/step_*.pt)")
    parser.add_argument("--images", required=True, help="held-out images (e.g. corpus/crops/val)")
    parser.add_argument("--thresholds", default="0.5", help="damage thresholds to try, comma-separated")
    parser.add_argument("--dilate", default="0", help="mask dilations (pixels) to try, comma-separated")
    parser.add_argument("--every", type=int, default=1, help="score every k-th checkpoint")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    images = load_images(args.images)
    items = blind_items([im for _, im in images], seed=args.seed)
    checkpoints = sorted((args.run / "checkpoints").glob("step_*.pt"))[::max(1, args.every)]
    if not checkpoints:
        print(f"error: {args.run}: no checkpoints/step_*.pt", file=sys.stderr)
        return 2
    floor = run_blind_benchmark({}, images, items, progress=False).cell(INPUT_ROW)
    print(f"{len(images)} images x 4 kinds; damaged input: PSNR {float(floor['psnr']):.2f}, "
          f"SSIM {float(floor['ssim']):.4f}, rel TV {float(floor['rel_tv']):.4f}")
    print("checkpoint | threshold | dilate | IoU | F1 | BCE | PSNR | gain | SSIM | rel TV")
    for path in checkpoints:
        model = generator_of(path)
        for t in (float(v) for v in args.thresholds.split(",")):
            for d in (int(v) for v in args.dilate.split(",")):
                filler = ModelBlindFiller(model, threshold=t, dilate=d)
                row = run_blind_benchmark({"m": filler}, images, items, include_input=False, progress=False).cell("m")
                gain = float(row["psnr"]) - float(floor["psnr"])
                print(f"{path.stem} | {t:.2f} | {d} | {float(row['iou']):.4f} | {float(row['f1']):.4f} | "
                      f"{float(row['mask_bce']):.4f} | {float(row['psnr']):.2f} | {gain:+.2f} | "
                      f"{float(row['ssim']):.4f} | {float(row['rel_tv']):.4f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
