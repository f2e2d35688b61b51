"""Upscaling quality: PSNR/SSIM (luma and RGB) and texture at x2, x2.5, x3, x4, learned vs bicubic and Lanczos.

The protocol is :mod:`holefill.upscale_benchmark`'s (printed with the results): every photo is
shrunk by bicubic interpolation and enlarged back by each method. The default photos are the
corpus's test split at full size. It prints one table per scale and the learned methods'
margins over the best classical reference on every score, and writes ``results.csv`` (one row
per method, photo and scale), ``summary.md`` and, per scale, a picture of the same crop of
every photo (reference, then each method) into the report folder.

    PYTHONPATH=src python benchmarks/upscale.py --photos /work/corpus/photos/test -o upscale-report
    PYTHONPATH=src python benchmarks/upscale.py --weights meta_rdn=runs/meta/final --scales 2 3

Learned methods: every shipped upscaler (``meta_rdn_lite``) and ``--weights NAME=DIR`` folders.
"""

from __future__ import annotations

import argparse
import csv
import math
import platform
from pathlib import Path

import numpy as np
import torch

from holefill import io
from holefill.classical import Bicubic, Lanczos
from holefill.model_tasks import ModelUpscaler
from holefill.models.shipped import list_shipped
from holefill.upscale_benchmark import DEFAULT_SCALES, UPSCALE_PROTOCOL, margins, run_upscale_benchmark, summarise

REFERENCES = ("bicubic", "lanczos")
CROP = 96


def learned_upscalers(pairs: list[str]) -> dict[str, ModelUpscaler]:
    """Shipped upscalers plus ``NAME=DIR`` weights folders."""
    from holefill.models import load_model
    from holefill.models.base import UpscaleModel

    found: dict[str, ModelUpscaler] = {}
    for s in list_shipped():
        model = load_model(s.path)
        if isinstance(model, UpscaleModel):
            found[s.name] = ModelUpscaler(model, name=s.name)
    for pair in pairs:
        name, _, folder = pair.partition("=")
        found[name] = ModelUpscaler.from_pretrained(folder, name=name)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=Path("/work/corpus/photos/test"))
    parser.add_argument("--scales", type=float, nargs="*", default=list(DEFAULT_SCALES))
    parser.add_argument("--weights", nargs="*", default=[], help="learned upscalers as NAME=DIR")
    parser.add_argument("--output", "-o", type=Path, default=None, help="report folder (CSV, summary, pictures)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    photos = [(p.stem, io.read_image(p)) for p in io.list_images(args.photos)]
    methods = {"bicubic": Bicubic(), "lanczos": Lanczos(), **learned_upscalers(args.weights)}
    learned = [m for m in methods if m not in REFERENCES]
    crops: dict[float, dict[str, list[np.ndarray]]] = {}

    def keep_crop(method: str, image: str, scale: float, reference: np.ndarray, output: np.ndarray) -> None:
        h, w = reference.shape[:2]
        top, left = (h - CROP) // 2, (w - CROP) // 2
        row = crops.setdefault(scale, {})
        if method == "bicubic":
            row.setdefault("reference", []).append(reference[top:top + CROP, left:left + CROP])
        row.setdefault(method, []).append(output[top:top + CROP, left:left + CROP])

    records = run_upscale_benchmark({n: m.upscale for n, m in methods.items()}, photos, args.scales,
                                    on_output=keep_crop)
    summary = summarise(records)
    lines = [f"# Upscaling: {len(photos)} photos from {args.photos}", "",
             f"Protocol: {UPSCALE_PROTOCOL}.", "",
             f"Machine: {platform.machine()}, torch {torch.__version__}, {args.threads} thread(s).", ""]
    for scale in args.scales:
        lines += [f"## x{scale:g}", "", "| method | PSNR-Y | SSIM-Y | PSNR-RGB | SSIM-RGB | TV ratio | s/photo |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for m in methods:
            v = summary[(m, scale)]
            lines.append(f"| {m} | {v['psnr_y']:.2f} | {v['ssim_y']:.4f} | {v['psnr_rgb']:.2f} | {v['ssim_rgb']:.4f}"
                         f" | {v['tv_ratio']:.3f} | {v['seconds']:.2f} |")
        lines.append("")
    for m in learned:
        lines += [f"## {m}: lead over the best of {' and '.join(REFERENCES)}", "",
                  "| scale | PSNR-Y | SSIM-Y | PSNR-RGB | SSIM-RGB | beats both |", "|---|---:|---:|---:|---:|---|"]
        for scale, lead in margins(summary, m, REFERENCES).items():
            ok = "yes" if all(v > 0 for v in lead.values()) else "no"
            lines.append(f"| x{scale:g} | {lead['psnr_y']:+.3f} | {lead['ssim_y']:+.4f} | {lead['psnr_rgb']:+.3f} |"
                         f" {lead['ssim_rgb']:+.4f} | {ok} |")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.output is not None:
        args.output.mkdir(parents=True, exist_ok=True)
        (args.output / "summary.md").write_text(text + "\n")
        with open(args.output / "results.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["method", "image", "scale", "seconds", *records[0].scores])
            for r in records:
                writer.writerow([r.method, r.image, r.scale, f"{r.seconds:.4f}",
                                 *(f"{v:.6f}" if math.isfinite(v) else "inf" for v in r.scores.values())])
        for scale, columns in crops.items():
            order = ["reference", *methods]
            grid = np.full((len(photos) * (CROP + 2) + 2, len(order) * (CROP + 2) + 2, 3), 255, np.uint8)
            for c, name in enumerate(order):
                for r, crop in enumerate(columns[name]):
                    grid[2 + r * (CROP + 2):2 + r * (CROP + 2) + CROP, 2 + c * (CROP + 2):2 + c * (CROP + 2) + CROP] = crop
            io.write_image(args.output / f"crops_x{scale:g}.png", grid, overwrite=True)
        print(f"report: {args.output}")


if __name__ == "__main__":
    main()
