"""CTO-GAN's metrics on held-out label pairs: background fidelity, the layout's segmentation
scores, and the paper's metrics when their weights are given.

    PYTHONPATH=src python benchmarks/cto_gan_metrics.py --weights runs/cto_gan_cpu/final \\
        --data corpus-labels --split val --crop 128 --samples 4 \\
        [--segmenter seg.pt] [--inception inception.pt] [--vgg16 vgg16.pth --lpips vgg.pth]

For each pair of the split (a centre crop, the foreground as in training): the fill with
``z = 0``, and ``--samples`` fills with seeds 0..K-1. Always printed: PSNR and L1 of the
background against the truth, and the mean IoU / pixel accuracy of the semantic reasoning
stage's layout against the true labels. With a TorchScript segmenter (N3HW in [0, 1] -> NKHW
logits over the same classes): mIoU / accuracy of the segmenter on the fills (the paper's
main metric). With a TorchScript feature extractor (N3HW in [0, 1] -> N x D): FID between
the true crops and the fills. With VGG-16 and LPIPS lin weights: the mean LPIPS between the
samples of each input (diversity). A metric without its file says so and is skipped.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
import torch

from holefill.data.layouts import LayoutDataset, label_pairs
from holefill.errors import HolefillError
from holefill.metrics.functional import psnr
from holefill.metrics.semantic import LPIPS, frechet_distance, load_torchscript, segmentation_scores
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
    parser.add_argument("--segmenter")
    parser.add_argument("--inception")
    parser.add_argument("--vgg16")
    parser.add_argument("--lpips")
    args = parser.parse_args()
    try:
        model = load_model(args.weights, expect="cto_gan")
        classes = model.config.classes
        data = LayoutDataset(label_pairs(args.data, args.split), args.crop, random_crop=False, things=args.things,
                             classes=classes)
        filler = ModelFiller(model, device="cpu")
        extras = {}
        for key, what in (("segmenter", "segmenter"), ("inception", "feature extractor")):
            try:
                extras[key] = load_torchscript(getattr(args, key), what)
            except HolefillError as exc:
                print(f"skipped {key}: {exc}")
        lpips = None
        if args.vgg16 and args.lpips:
            lpips = LPIPS(args.vgg16, args.lpips)
        else:
            print("skipped LPIPS diversity: it needs --vgg16 (torchvision VGG-16 weights) and --lpips (LPIPS vgg lin weights)")
    except HolefillError as exc:
        print(f"error: {exc}")
        return 2
    psnrs, l1s, layout_scores, seg_scores, real_feats, fake_feats, diversity = [], [], [], [], [], [], []
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
        if "segmenter" in extras:
            with torch.no_grad():
                pred = extras["segmenter"](tensor(filled)).argmax(1)[0].numpy()
            seg_scores.append(segmentation_scores(pred, truth, classes))
        if "inception" in extras:
            with torch.no_grad():
                real_feats.append(extras["inception"](tensor(image))[0].numpy())
                fake_feats += [extras["inception"](tensor(s))[0].numpy() for s in samples]
        if lpips is not None and len(samples) > 1:
            pairs = [lpips(tensor(a) * 2 - 1, tensor(b) * 2 - 1) for a, b in itertools.combinations(samples, 2)]
            diversity.append(float(torch.cat(pairs).mean()))
    print(f"{len(data)} crops of {args.data}/{args.split} at {args.crop}px")
    print(f"background PSNR {np.mean(psnrs):.2f} dB, L1 {np.mean(l1s):.4f}")
    print(f"layout (semantic reasoning) mIoU {np.mean([s['miou'] for s in layout_scores]):.4f}, "
          f"accuracy {np.mean([s['accuracy'] for s in layout_scores]):.4f}")
    if seg_scores:
        print(f"segmenter on the fills: mIoU {np.mean([s['miou'] for s in seg_scores]):.4f}, "
              f"accuracy {np.mean([s['accuracy'] for s in seg_scores]):.4f}")
    if real_feats and len(real_feats) >= 2:
        print(f"FID {frechet_distance(np.stack(real_feats), np.stack(fake_feats)):.2f}")
    if diversity:
        print(f"LPIPS diversity over {args.samples} samples: {np.mean(diversity):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
