"""Score a blind training run's checkpoints (or one weights folder) on held-out images: pick the one to ship on val.

Each checkpoint's EMA generator (the raw generator when the run kept no EMA) finds the damage
in the blind protocol's items (``holefill-blind-v2``) on the given images, and one line per
checkpoint, working scale, second look (``--second-scales``: a second map at that fraction of the
working size, averaged), threshold, seed (hysteresis, ``--seeds``) and dilation is printed: mask IoU, F1
and BCE (of the map after the seed's suppression), and (unless
``--mask-only``) the repaired result's PSNR, its gain over the damaged input, SSIM and
relative TV; and the mean share of the *undamaged* images each setting marks (false alarms,
``clean``). The damage probabilities are computed once per item and checkpoint. Numbers,
not assertions.

    python benchmarks/blind_checkpoints.py runs/vcnet_lite --images corpus/crops/val \
        [--thresholds 0.3,0.5,0.7] [--seeds none,0.9] [--seed-pixels 64] [--dilate 0,1] [--scales 1,0.5] \
        [--second-scales none,0.75] [--every 2] [--mask-only] [--steps 3000]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np
import torch

from holefill.benchmark import load_images, named_blind_items
from holefill.benchmark_blind import blind_scores
from holefill.blind_pipeline import ModelBlindFiller
from holefill.fillers import composite, suppress_unseeded
from holefill.models.registry import create_model, load_model
from holefill.train.checkpoint import load_checkpoint


def generator_of(path: Path) -> torch.nn.Module:
    if path.is_dir():  # a weights folder (save_pretrained, ship_weights, merge_weights)
        return load_model(path, device="cpu").eval()
    state = load_checkpoint(path)
    model = create_model(state["model"]["name"], **state["model"]["args"])
    weights = state["ema"]["module"] if state.get("ema") else state["networks"]["generator"]
    model.load_state_dict(weights)
    return model.eval()


def _mean(rows: list[dict[str, float]], key: str) -> float:
    return float(np.nanmean([r[key] for r in rows]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a training run folder (its checkpoints/step_*.pt), or a weights folder")
    parser.add_argument("--images", required=True, help="held-out images (e.g. corpus/crops/val)")
    parser.add_argument("--thresholds", default="0.5", help="damage thresholds to try, comma-separated")
    parser.add_argument("--seeds", default="none", help="hysteresis seeds to try, comma-separated (none: off)")
    parser.add_argument("--seed-pixels", default="64", help="how many pixels above the seed a region must hold, "
                        "comma-separated")
    parser.add_argument("--dilate", default="0", help="mask dilations (pixels) to try, comma-separated")
    parser.add_argument("--scales", default="1", help="working scales of the model to try, comma-separated")
    parser.add_argument("--second-scales", default="none", help="second looks to try (fractions of the working"
                        " size whose map is averaged in), comma-separated (none: off)")
    parser.add_argument("--every", type=int, default=1, help="score every k-th checkpoint")
    parser.add_argument("--steps", default="", help="only these checkpoint steps, comma-separated")
    parser.add_argument("--mask-only", action="store_true", help="score the masks only (no repair)")
    parser.add_argument("--seed", type=int, default=0, help="the blind items' seed (not the hysteresis --seeds)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    images = load_images(args.images)
    items, _ = named_blind_items(images, seed=args.seed)
    weights_folder = (args.run / "config.json").is_file()
    checkpoints = [args.run] if weights_folder else sorted((args.run / "checkpoints").glob("step_*.pt"))
    if args.steps and not weights_folder:
        wanted = {int(s) for s in args.steps.split(",")}
        checkpoints = [c for c in checkpoints if int(c.stem.split("_")[1]) in wanted]
    checkpoints = checkpoints[::max(1, args.every)]
    if not checkpoints:
        print(f"error: {args.run}: no matching checkpoints/step_*.pt", file=sys.stderr)
        return 2
    floor = [blind_scores(images[it.index][1], it.corrupted, it.mask) for it in items]
    print(f"{len(images)} images x {len(items) // len(images)} kinds; damaged input: PSNR {_mean(floor, 'psnr'):.2f}, "
          f"SSIM {_mean(floor, 'ssim'):.4f}, rel TV {_mean(floor, 'rel_tv'):.4f}")
    print("checkpoint | scale | second | threshold | seed/pixels | dilate | IoU | F1 | BCE | PSNR | gain | SSIM | rel TV | clean | per kind IoU/gain")
    thresholds = [float(v) for v in args.thresholds.split(",")]
    seeds = [(None, 0)] if "none" in args.seeds.lower() else []
    seeds += [(float(v), int(n)) for v in args.seeds.split(",") if v.strip().lower() != "none"
              for n in args.seed_pixels.split(",")]
    dilations = [int(v) for v in args.dilate.split(",")]
    seconds = [None if v.strip().lower() == "none" else float(v) for v in args.second_scales.split(",")]
    for path, scale, second in itertools.product(checkpoints, [float(s) for s in args.scales.split(",")], seconds):
        filler = ModelBlindFiller(generator_of(path), scale=scale, second_scale=second)
        probs = [filler.find_damage(it.corrupted) for it in items]
        clean_probs = [filler.find_damage(image) for _, image in images]
        for t, (seed, pixels), d in itertools.product(thresholds, seeds, dilations):
            if seed is not None and seed <= t:
                continue
            filler.threshold, filler.dilate = t, d
            rows = []
            for it, raw in zip(items, probs):
                prob = raw if seed is None else suppress_unseeded(raw, t, seed, pixels)
                found = filler.mask_from(prob)
                result = it.corrupted
                if not args.mask_only and found.any():
                    result = composite(it.corrupted, filler._repair(it.corrupted, found, prob), found)
                rows.append(blind_scores(images[it.index][1], result, it.mask, found, prob))
            gain = _mean(rows, "psnr") - _mean(floor, "psnr")
            seeded = clean_probs if seed is None else [suppress_unseeded(p, t, seed, pixels) for p in clean_probs]
            marked = float(np.mean([filler.mask_from(p).mean() for p in seeded]))
            kinds = dict.fromkeys(it.kind for it in items)
            per_kind = ", ".join(
                f"{k} {_mean([r for r, it in zip(rows, items) if it.kind == k], 'iou'):.3f}/"
                f"{_mean([r for r, it in zip(rows, items) if it.kind == k], 'psnr') - _mean([f for f, it in zip(floor, items) if it.kind == k], 'psnr'):+.2f}"
                for k in kinds)
            print(f"{path.stem if path.is_file() else path.name} | {scale:.2f} | {second or 'none'} | {t:.2f} | {f'{seed}/{pixels}' if seed else 'none'} | {d} | {_mean(rows, 'iou'):.4f} | {_mean(rows, 'f1'):.4f} | "
                  f"{_mean(rows, 'mask_bce'):.4f} | {_mean(rows, 'psnr'):.2f} | {gain:+.2f} | "
                  f"{_mean(rows, 'ssim'):.4f} | {_mean(rows, 'rel_tv'):.4f} | {marked:.4f} | {per_kind}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
