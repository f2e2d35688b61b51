"""Copy trained weights into the package as fp16, ready to ship as a method.

    python scripts/ship_weights.py runs/lite/final deepfill_v2_lite \
        --summary "DeepFill v2 at cnum 16, trained on the photo corpus (CPU); see its model card"
    python scripts/ship_weights.py runs/dcgan/final dcgan_lite --summary "..." \
        --discriminator runs/dcgan/checkpoints/step_00005000.pt

writes ``src/holefill/weights/<name>/`` (``config.json`` with the summary, ``model.safetensors``
in fp16). The folder's ``MODEL_CARD.md`` is written by hand from the benchmark; an existing
folder is refused unless ``--overwrite``. The weights are checked to load back and to give the
same output as the fp32 ones up to fp16 rounding: a fill for an inpainting model, an x2.5
enlargement for an upscaler, images from fixed codes for a generator.

``--discriminator CHECKPOINT`` (DCGAN) also ships the discriminator of a training checkpoint
as ``discriminator.safetensors``: latent-search inpainting (Yeh et al.) uses it for its
perceptual loss.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from holefill.errors import HolefillError, WeightsError
from holefill.models.base import GenerativeModel, HolefillModel, InpaintModel, UpscaleModel
from holefill.models.registry import load_model
from holefill.models.shipped import WEIGHTS_ROOT


def sample_output(model: HolefillModel) -> torch.Tensor:
    """What the model makes of a fixed input (to compare fp16 with fp32)."""
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.uniform(-1, 1, (1, 3, 64, 64)).astype(np.float32))
    with torch.inference_mode():
        if isinstance(model, UpscaleModel):
            return model(x[..., :40, :40], 2.5)
        if isinstance(model, GenerativeModel):
            return model(model.sample_latents(4, torch.Generator().manual_seed(0)))
        assert isinstance(model, InpaintModel)
        if getattr(model, "task", "inpaint") == "blend":  # left | gap | right, each a stride wide, two tall
            k = model.size_multiple
            x = torch.from_numpy(rng.uniform(-1, 1, (1, 3, 2 * k, 3 * k)).astype(np.float32))
            mask = torch.zeros(1, 1, 2 * k, 3 * k)
            mask[..., k:2 * k] = 1
            return model.predict(x, mask)
        mask = torch.zeros(1, 1, 64, 64)
        mask[..., 16:48, 16:48] = 1
        return model.predict(x, mask)


def ship_discriminator(checkpoint: Path, out: Path) -> None:
    """The checkpoint's discriminator, fp16, as ``out/discriminator.safetensors``."""
    from safetensors.torch import save_file

    from holefill.model_tasks import DISCRIMINATOR_NAME
    from holefill.train.checkpoint import load_checkpoint

    state = load_checkpoint(checkpoint)
    nets = state.get("networks", {})
    if "discriminator" not in nets:
        raise WeightsError("holds no discriminator", checkpoint)
    tensors = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in nets["discriminator"].items()}
    save_file(tensors, str(out / DISCRIMINATOR_NAME))


def main() -> int:
    parser = argparse.ArgumentParser(description="Ship trained weights in the package as fp16.")
    parser.add_argument("weights", type=Path, help="a save_pretrained folder, e.g. RUN/final")
    parser.add_argument("name", help="the method name (the folder under holefill/weights)")
    parser.add_argument("--summary", required=True, help="the one line that holefill methods shows")
    parser.add_argument("--discriminator", type=Path, default=None,
                        help="a training checkpoint whose discriminator ships too (DCGAN's latent search)")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--blender", metavar="JSON", default=None,
                        help='blending models: default ModelBlender options, e.g. \'{"scale": 0.5}\'')
    parser.add_argument("--blind", action="append", default=[], metavar="KEY=VALUE",
                        help="a blind model's inference default chosen on val (threshold, dilate, scale, seed,"
                        " seed_pixels, second_scale; none turns seed or second_scale off); repeatable")
    args = parser.parse_args()
    extra: dict = {"summary": args.summary}
    if args.blender:
        import json

        extra["blender"] = json.loads(args.blender)
    if args.blind:
        # Read and checked as `-O` is for the blind filler, so the weights carry values it loads.
        from holefill.blind_pipeline import ModelBlindFiller
        from holefill.cli.common import parse_options
        from holefill.fillers import BLIND_MASK_KEYS
        from holefill.options import check_options

        shaping = [o for o in ModelBlindFiller.options if o.name in BLIND_MASK_KEYS]
        try:
            extra["blind"] = check_options(shaping, parse_options(args.blind, {o.name: o.default for o in shaping}),
                                           method="--blind")
        except HolefillError as exc:
            print(f"error: --blind: {exc}", file=sys.stderr)
            return 2
    try:
        model = load_model(args.weights).eval()
        out = WEIGHTS_ROOT / args.name
        model.save_pretrained(out, overwrite=args.overwrite, dtype=torch.float16, extra=extra)
        if args.discriminator is not None:
            ship_discriminator(args.discriminator, out)
        shipped = load_model(out).eval()
    except HolefillError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    diff = float((sample_output(model) - sample_output(shipped)).abs().max())
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"{out}: {size / 2**20:.2f} MiB; fp16 vs fp32 max difference {diff:.4f} (of a [-1, 1] range)")
    return 0 if diff < 0.05 else 1


if __name__ == "__main__":
    raise SystemExit(main())
