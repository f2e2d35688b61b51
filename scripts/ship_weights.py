"""Copy trained weights into the package as fp16, ready to ship as a method.

    python scripts/ship_weights.py runs/lite/final deepfill_v2_lite \
        --summary "DeepFill v2 at cnum 16, trained on the photo corpus (CPU); see its model card"

writes ``src/holefill/weights/<name>/`` (``config.json`` with the summary, ``model.safetensors``
in fp16). The folder's ``MODEL_CARD.md`` is written by hand from the benchmark; an existing
folder is refused unless ``--overwrite``. The weights are checked to load back and to give the
same fill as the fp32 ones up to fp16 rounding.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from holefill.errors import HolefillError
from holefill.models.registry import load_model
from holefill.models.shipped import WEIGHTS_ROOT


def main() -> int:
    parser = argparse.ArgumentParser(description="Ship trained weights in the package as fp16.")
    parser.add_argument("weights", type=Path, help="a save_pretrained folder, e.g. RUN/final")
    parser.add_argument("name", help="the method name (the folder under holefill/weights)")
    parser.add_argument("--summary", required=True, help="the one line that holefill methods shows")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--blind", action="append", default=[], metavar="KEY=VALUE",
                        help="a blind model's inference default chosen on val (threshold, dilate, scale); repeatable")
    args = parser.parse_args()
    extra: dict[str, object] = {"summary": args.summary}
    if args.blind:
        pairs = [pair.partition("=") for pair in args.blind]
        if any(not sep for _, sep, _ in pairs):
            print("error: --blind takes KEY=VALUE", file=sys.stderr)
            return 2
        extra["blind"] = {k: (int(v) if k == "dilate" else float(v)) for k, _, v in pairs}
    try:
        model = load_model(args.weights).eval()
        out = WEIGHTS_ROOT / args.name
        model.save_pretrained(out, overwrite=args.overwrite, dtype=torch.float16, extra=extra)
        shipped = load_model(out).eval()
    except HolefillError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.uniform(-1, 1, (1, 3, 64, 64)).astype(np.float32))
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 16:48, 16:48] = 1
    with torch.inference_mode():
        a, b = model.predict(x, mask), shipped.predict(x, mask)
    diff = float((a - b).abs().max())
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"{out}: {size / 2**20:.2f} MiB; fp16 vs fp32 max difference {diff:.4f} (of a [-1, 1] range)")
    return 0 if diff < 0.05 else 1


if __name__ == "__main__":
    raise SystemExit(main())
