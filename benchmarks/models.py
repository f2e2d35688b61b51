"""Size and CPU cost of every registered inpainting model: parameters, GFLOPs at 256^2, ms/image at 256^2 and 512^2.

For each inpainting architecture (default, paper-sized config, random weights; upscalers and
image generators are left out: they take no (image, mask)) it prints the generator's
trainable parameters, the forward pass's floating-point operations at 256x256 (counted by
``torch.utils.flop_counter``: multiply-adds count 2, as FLOPs usually do; attention matrix
products included), and the median wall time of one forward pass (batch 1, no gradients)
through the model at 256x256 and 512x512 on the CPU. Fixed-size models (Context Encoder)
run at their own size only. A 25 % centre box is the hole; blending models (``bct_blend``) join
two SxS photos across an SxS gap instead (an S x 3S panorama, S = 256 and 512).

    PYTHONPATH=src python benchmarks/models.py                      # every model, 2 threads
    PYTHONPATH=src python benchmarks/models.py --models deepfill_v2 pennet --threads 1 --repeats 5

Times are wall-clock on whatever machine runs this; quote medians and the machine.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from holefill.models import create_model, list_models
from holefill.models.registry import INPAINT_TASKS, model_entry


def inputs(h: int, w: int, blend: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    if blend:  # left | gap | right, each h x w
        image = torch.rand(1, 3, h, 3 * w, generator=g) * 2 - 1
        mask = torch.zeros(1, 1, h, 3 * w)
        mask[..., w:2 * w] = 1
        return image * (1 - mask), mask
    image = torch.rand(1, 3, h, w, generator=g) * 2 - 1
    mask = torch.zeros(1, 1, h, w)
    mask[..., h // 4:3 * h // 4, w // 4:3 * w // 4] = 1
    return image * (1 - mask), mask


def gflops(model: torch.nn.Module, h: int, w: int) -> float:
    image, mask = inputs(h, w, getattr(model, "task", "inpaint") == "blend")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(image, mask)
    return counter.get_total_flops() / 1e9


def ms_per_image(model: torch.nn.Module, h: int, w: int, repeats: int) -> float:
    image, mask = inputs(h, w, getattr(model, "task", "inpaint") == "blend")
    with torch.inference_mode():
        model(image, mask)  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(image, mask)
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=None, help="registry names (default: all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="*", default=[256, 512])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = args.models or [n for n in list_models() if model_entry(n).tasks == INPAINT_TASKS]
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} threads, "
          f"median of {args.repeats}")
    header = "| model | params | GFLOPs @256 | " + " | ".join(f"ms/img @{s}" for s in args.sizes) + " |"
    print(header)
    print("|---|---:|---:|" + "---:|" * len(args.sizes))
    for name in names:
        torch.manual_seed(0)
        model = create_model(name).eval()
        params = model.num_parameters()
        if model.fixed_size is not None:
            h, w = model.fixed_size
            flops = gflops(model, h, w)
            cells = [f"{ms_per_image(model, h, w, args.repeats):.0f} (at {h}x{w})"] + ["n/a (fixed size)"] * (
                len(args.sizes) - 1)
            label = f"{flops:.2f} (at {h}x{w})"
        else:
            label = f"{gflops(model, 256, 256):.2f}"
            cells = [f"{ms_per_image(model, s, s, args.repeats):.0f}" for s in args.sizes]
        print(f"| {name} | {params:,} | {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
