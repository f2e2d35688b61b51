"""Export the generator (its EMA when the run keeps one) of training checkpoints as weights folders.

    python scripts/export_checkpoint.py runs/bct_blend_lite -o runs/bct_blend_lite/exports

writes ``OUT/step_00001000/`` (``config.json``, ``model.safetensors``) for every checkpoint
of the run (``--steps 1000 2000`` for some), so that checkpoints can be compared on held-out
data (``holefill bench ... --weights NAME=OUT/step_...``) before one is shipped.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import torch

from holefill.errors import HolefillError
from holefill.models.base import load_state_strict
from holefill.models.registry import create_model
from holefill.train.checkpoint import list_checkpoints, load_checkpoint


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--steps", type=int, nargs="*", default=None)
    parser.add_argument("--raw", action="store_true", help="the trained generator, not its EMA")
    args = parser.parse_args()
    try:
        found = list_checkpoints(args.run)
        if not found:
            raise HolefillError("has no checkpoints (checkpoints/step_*.pt)", args.run)
        for path in found:
            step = int(re.findall(r"\d+", path.stem)[-1])
            if args.steps is not None and step not in args.steps:
                continue
            state = load_checkpoint(path)
            model = create_model(state["model"]["name"], **state["model"]["args"])
            ema = state.get("ema")
            source = state["networks"]["generator"] if args.raw or ema is None else ema["module"]
            load_state_strict(model, source, source=str(path))
            out = model.save_pretrained(args.output / f"step_{step:08d}", overwrite=True, dtype=torch.float32,
                                        extra={"training": {"recipe": state["recipe"], "steps": step,
                                                            "ema": not args.raw and ema is not None}})
            print(out)
    except HolefillError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
