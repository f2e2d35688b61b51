"""What each part of guided inpainting adds, on the guided benchmark protocol.

Fills every (image, mask) of the guided protocol (``holefill bench --guided``'s pairs and
guides: holefill-guided-v1 on holefill-masks-v1) with one guided model in several settings and
prints PSNR / SSIM / hole L1 and a texture number (the hole's TV against the truth's, median;
1 = as busy as the truth) per setting, with the median alignment error in pixels (the
distance, over the hole, between the used and the true image-to-guide map) and the seconds
per fill (the fill alone, not the extra pass that reads the used map):

- ``network``: the trained network alone (its spatial transformer's alignment, no test-time step);
- ``+ refinement``: plus the test-time refinement from the network's estimate (shift grid, Adam);
- ``+ keypoints``: plus the keypoint start (SIFT + RANSAC) for the refinement: the shipped setting;
- ``no lighting match``: the shipped setting without the lighting match (the ablation of ours).

    PYTHONPATH=src python benchmarks/guided_ablation.py --images corpus/crops/test \\
        --weights src/holefill/weights/guided_lite --sets center

Choose settings on the validation split (``corpus/crops/val``); report the test split.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from holefill import benchmark as B
from holefill.masks.guidance import protocol_guide
from holefill.metrics.functional import score
from holefill.pipeline import GuidedModelFiller


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--sets", default="center")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--examples", type=Path, default=None,
                        help="also draw a few items (input, guide, fills, truth) into this PNG")
    args = parser.parse_args()
    from holefill.train.recipes.guided import alignment_error

    images = B.load_images(args.images, args.limit)
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    mask_sets = B.generated_mask_sets(images[0][1].shape[:2], min(len(images), 100), args.seed, sets)
    items = B.pairs(images, mask_sets)
    n = len(images)
    settings = {
        "network": {"refine_steps": 0},
        "+ refinement": {"keypoints": False},
        "+ keypoints (shipped)": {},
        "no lighting match": {"colour_match": False},
    }
    print(f"{len(items)} fills per setting; images {args.images}; sets {', '.join(sets)}; seed {args.seed}")
    print("| setting | PSNR | SSIM | hole L1 | hole TV ratio | median alignment error (px) | s/img |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, options in settings.items():
        colour = options.pop("colour_match", None)
        filler = GuidedModelFiller.from_pretrained(args.weights, colour_match=colour)
        for key, value in options.items():
            setattr(filler.model.config, key, value)
        scores, errors, tvs = [], [], []
        seconds = 0.0
        for item in items:
            image = images[item.image_index][1]
            other = images[(item.image_index + n // 2) % n][1] if n > 1 else image[::-1]
            guide = protocol_guide(image, item.mask, other, item.image_index, args.seed, item.mask_set)
            start = time.perf_counter()
            filled = filler.fill(image, item.mask, guide.image)
            seconds += time.perf_counter() - start
            hole = item.mask
            metrics = score(image, filled, hole)
            scores.append((metrics["psnr"], metrics["ssim"], metrics["l1_hole"]))
            tvs.append(metrics["tv_ratio"])
            m = torch.from_numpy(hole)[None, None].float()
            x = torch.tensor(image).permute(2, 0, 1)[None].float() / 127.5 - 1
            g = torch.tensor(guide.image).permute(2, 0, 1)[None].float() / 127.5 - 1
            with torch.no_grad():
                used = filler.model(x * (1 - m), m, g, colour_match=colour).affines[-1]
            errors.append(alignment_error(used, torch.from_numpy(guide.frames).float()[None], m).item()
                          * max(image.shape[:2]) / 2)
        p, s, l1 = np.mean(scores, axis=0)
        print(f"| {label} | {p:.2f} | {s:.4f} | {l1:.4f} | {np.nanmedian(tvs):.2f} | {np.median(errors):.1f} "
              f"| {seconds / len(items):.2f} |", flush=True)
    if args.examples is not None:
        draw_examples(images, items, args.weights, args.seed, args.examples)


def draw_examples(images: list[tuple[str, np.ndarray]], items: list[B.Pair], weights: Path, seed: int,
                  path: Path, count: int = 4) -> None:
    """Rows: the input with its hole, the guide, the guided fill, the same without the lighting
    match, biharmonic's fill (the best unguided method on the centre box), the truth."""
    import cv2

    from holefill import io
    from holefill.classical import Biharmonic

    shipped = GuidedModelFiller.from_pretrained(weights)
    dark = GuidedModelFiller.from_pretrained(weights, colour_match=False)
    n = len(images)
    rows = []
    for i in np.linspace(0, len(items) - 1, count).round().astype(int):
        item = items[i]
        image = images[item.image_index][1]
        other = images[(item.image_index + n // 2) % n][1] if n > 1 else image[::-1]
        guide = protocol_guide(image, item.mask, other, item.image_index, seed, item.mask_set).image
        shown = image.copy()
        shown[item.mask] = 255
        cells = [shown, guide, shipped.fill(image, item.mask, guide), dark.fill(image, item.mask, guide),
                 Biharmonic().fill(image, item.mask), image]
        rows.append(np.concatenate([np.pad(c, ((2, 2), (2, 2), (0, 0)), constant_values=255) for c in cells], 1))
    grid = np.concatenate(rows, 0)
    header = np.full((28, grid.shape[1], 3), 255, np.uint8)
    side = images[0][1].shape[1] + 4
    for k, name in enumerate(["input", "guide", "guided", "guided, no lighting match", "biharmonic", "truth"]):
        cv2.putText(header, name, (6 + k * side, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    io.write_image(path, np.concatenate([header, grid], 0), overwrite=True)


if __name__ == "__main__":
    main()
