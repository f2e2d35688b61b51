"""CTO-GAN's metrics on held-out label pairs: background fidelity, the layout's segmentation
scores, and the paper's metrics when their weights are given.

    PYTHONPATH=src python benchmarks/cto_gan_metrics.py --weights runs/cto_gan_cpu/final \\
        --data corpus-labels --split val --crop 128 --samples 4 \\
        [--segmenter seg.pt] [--fid-weights pt_inception-2015-12-05-6726825d.pth]
        [--lpips-weights vgg.pth --lpips-trunk vgg16.pth]

For each pair of the split (a centre crop, the foreground as in training): the fill with
``z = 0``, and ``--samples`` fills with seeds 0..K-1. Always printed: PSNR and L1 of the
background against the truth, and the mean IoU / pixel accuracy of the semantic reasoning
stage's layout against the true labels. With a TorchScript segmenter (N3HW in [0, 1] -> NKHW
logits over the same classes): mIoU / accuracy of the segmenter on the fills (the paper's
main metric). With the FID Inception weights (:mod:`holefill.metrics.fid`): FID between the
true crops and the fills. With LPIPS weights (:mod:`holefill.metrics.lpips`): the mean LPIPS
between the samples of each input (diversity). A metric without its file says so and is
skipped.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
import torch

from holefill.data.layouts import LayoutDataset, label_pairs
from holefill.errors import HolefillError
from holefill.metrics.functional import psnr
from holefill.metrics.fid import fid_from_features, inception_features
from holefill.metrics.lpips import load_lpips, lpips_distance
from holefill.metrics.semantic import load_torchscript, segmentation_scores
from holefill.models.registry import load_model
from holefill.pipeline import ModelFiller, to_image


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True)
    parser.add_argument("--data", required=True, help="root of image + label pairs (COCO-Stuff's layout)")
    parser.add_argument("--split", default="val")
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--things", type=int, nargs="*", default=[], help="foreground class ids (COCO-Stuff: 0-90)")
    parser.add_argument("--segmenter", help="a TorchScript segmenter: N3HW in [0, 1] -> NKHW logits")
    parser.add_argument("--fid-weights", help="the FID port's Inception weights (or $HOLEFILL_FID_WEIGHTS)")
    parser.add_argument("--lpips-weights", help="LPIPS heads, alex.pth or vgg.pth (or $HOLEFILL_LPIPS_WEIGHTS)")
    parser.add_argument("--lpips-trunk", help="torchvision trunk for LPIPS (or $HOLEFILL_LPIPS_TRUNK)")
    args = parser.parse_args()
    try:
        model = load_model(args.weights, expect="cto_gan")
        classes = model.config.classes
        data = LayoutDataset(label_pairs(args.data, args.split), args.crop, random_crop=False, things=args.things,
                             classes=classes)
        filler = ModelFiller(model, device="cpu")
        segmenter = lpips = None
        try:
            segmenter = load_torchscript(args.segmenter, "segmenter")
        except HolefillError as exc:
            print(f"skipped the segmenter's mIoU and accuracy: {exc}")
        try:
            lpips = load_lpips(args.lpips_weights, args.lpips_trunk)
        except HolefillError as exc:
            print(f"skipped LPIPS diversity: {exc}")
    except HolefillError as exc:
        print(f"error: {exc}")
        return 2
    psnrs, l1s, layout_scores, seg_scores, reals, fakes, diversity = [], [], [], [], [], [], []
    for i in range(len(data)):
        item = data[(0, i)]
        image = to_image(item["image"])
        hole = item["mask"][0].numpy() > 0.5
        truth = item["segmentation"][0].numpy()
        filled = filler.fill(image, hole)
        psnrs.append(psnr(image, filled))
        l1s.append(float(np.abs(image[hole].astype(float) - filled[hole]).mean() / 255))
        with torch.no_grad():
            x = item["image"][None]
            out = model(x * (1 - item["mask"][None]), item["mask"][None])
        layout_scores.append(segmentation_scores(out.layout_logits.argmax(1)[0].numpy(), truth, classes))
        samples = filler.fill_samples(image, hole, args.samples, seed=0) if args.samples > 1 else [filled]
        tensor = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255  # noqa: E731
        if segmenter is not None:
            with torch.no_grad():
                pred = segmenter(tensor(filled)).argmax(1)[0].numpy()
            seg_scores.append(segmentation_scores(pred, truth, classes))
        reals.append(image)
        fakes += samples
        if lpips is not None and len(samples) > 1:
            diversity.append(float(np.mean([lpips_distance(lpips, a, b) for a, b in itertools.combinations(samples, 2)])))
    print(f"{len(data)} crops of {args.data}/{args.split} at {args.crop}px")
    print(f"background PSNR {np.mean(psnrs):.2f} dB, L1 {np.mean(l1s):.4f}")
    print(f"layout (semantic reasoning) mIoU {np.mean([s['miou'] for s in layout_scores]):.4f}, "
          f"accuracy {np.mean([s['accuracy'] for s in layout_scores]):.4f}")
    if seg_scores:
        print(f"segmenter on the fills: mIoU {np.mean([s['miou'] for s in seg_scores]):.4f}, "
              f"accuracy {np.mean([s['accuracy'] for s in seg_scores]):.4f}")
    try:
        fid = fid_from_features(inception_features(reals, args.fid_weights), inception_features(fakes, args.fid_weights))
        print(f"FID {fid:.2f} ({len(reals)} true crops, {len(fakes)} fills)")
    except HolefillError as exc:
        print(f"skipped FID: {exc}")
    if diversity:
        print(f"LPIPS diversity over {args.samples} samples: {np.mean(diversity):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
