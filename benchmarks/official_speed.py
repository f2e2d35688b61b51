"""holefill against the authors' code: time, peak memory and output difference, every model.

For each model, each size and each implementation, a fresh worker process builds the
network with the SAME weights (ours, seeded; copied into the official network), fills the
SAME image (a photo resized to the size, a centred box hole over a quarter of it), and
reports the median time of one forward pass (batch 1, no gradients, ``--threads`` threads),
its peak resident memory (VmHWM, the whole process) and the largest difference between its
prediction and ours. Implementations:

- ``official``: the authors' code, from a checkout whose path you give (never vendored).
  EdgeConnect and PEN-Net are PyTorch: their ``src/networks.py`` + ``src/models.py`` (the
  ``forward`` of ``EdgeModel`` and ``InpaintingModel``, Canny as their data loader calls
  it) and ``model/pennet.py``. DeepFill v1/v2 are TensorFlow 1 (``inpaint_model.py``,
  ``inpaint_ops.py`` at tags v1.0.0 / v2.0.0), run on TensorFlow 2's ``tf.compat.v1``
  graph mode with legacy Keras layers; two small shims stand in for what no longer exists:
  ``tensorflow.contrib``'s ``arg_scope``/``add_arg_scope``, and the one neuralgym function
  the graph calls, ``resize`` (TF1's align-corners resize at a scale or a shape), which
  is rewritten here rather than imported because neuralgym's package needs ``tf.contrib``
  at import time. Torch-unrelated imports the authors' files make (torchvision) get empty
  stand-ins. GLCIC and Context Encoder are Torch7 (Lua), which cannot run here;
  PGGAN and foreground-aware inpainting have no official code.
- ``torch``: ``model.predict`` in PyTorch as holefill's filler runs it (batch norms folded,
  channels-last: :func:`holefill.models.speed.optimize_for_inference`); ``torch-plain``
  (not run unless named in ``--impls``) without those two steps.
- ``onnxruntime``: the same model exported by :mod:`holefill.export`, in ONNX Runtime.

Differences are the largest absolute difference from holefill's PyTorch prediction (outputs
in [-1, 1]); beside them, the float32 noise floor: the same PyTorch prediction in float64
against float32. With random weights at a lively scale (needed so that outputs are not
vanishingly small) a deep float32 network rounds to a few 1e-4 by itself, so an official
difference at that floor is rounding, not a different computation.

Workers run in rounds (official, torch, onnxruntime, then again), so a change of load on a
shared machine hits them alike; times are medians over all rounds. Ratios are official time
over ours (above 1: ours is faster).

    python benchmarks/official_speed.py --edgeconnect ~/src/edge-connect --pennet ~/src/PEN-Net \\
        --deepfill-v1 ~/src/generative_inpainting@v1.0.0 --deepfill-v2 ~/src/generative_inpainting@v2.0.0 \\
        --sizes 256 512 1024 --rounds 3 --repeats 2

A model whose checkout is not given is measured without its official column. DeepFill's
official column needs tensorflow (2.x, with tf-keras) in the same Python.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

MODELS = ("deepfill_v2", "deepfill_v1", "pennet", "edgeconnect", "glcic", "context_encoder", "foreground_aware", "pggan")
NO_OFFICIAL = {
    "glcic": "Torch7 (Lua) only; cannot run here",
    "context_encoder": "Torch7 (Lua) only; cannot run here",
    "foreground_aware": "no official code",
    "pggan": "no official code",
}


# -- the worker: one implementation, one size, in this process --------------------------------

def _vm(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def our_model(name: str, seed: int = 0) -> Any:
    """The paper-sized model with seeded weights at a lively scale (normal, std 1.5/sqrt(fan_in)
    for every conv), so activations stay O(1) in both implementations (no subnormals)."""
    import torch

    from holefill.models import create_model

    torch.manual_seed(seed)
    model = create_model(name, **({"init": "stable"} if name == "deepfill_v2" else {}))
    with torch.no_grad():
        for module in model.modules():
            weight = getattr(module, "weight", None)
            if isinstance(weight, torch.Tensor) and weight.dim() == 4 and name != "deepfill_v2":
                weight.normal_(0.0, 1.5 / weight[0].numel() ** 0.5)
    return model.eval()


def test_input(size: int) -> tuple[Any, Any]:
    """A photo (scikit-image's astronaut) resized to size x size, in [-1, 1] with a centred
    box hole over a quarter of it zeroed, and the mask (1 = hole)."""
    import cv2
    import torch
    from skimage import data

    photo = cv2.resize(data.astronaut(), (size, size), interpolation=cv2.INTER_AREA)
    image = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 127.5 - 1.0
    mask = torch.zeros(1, 1, size, size)
    mask[..., size // 4:3 * size // 4, size // 4:3 * size // 4] = 1
    return image * (1 - mask), mask


def _timed(run: Any, repeats: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds (all threads of the process) of ``repeats`` calls after a warm-up."""
    run()  # warm-up (allocations, oneDNN primitive cache, TF graph optimisation)
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def worker(job: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    import torch

    torch.set_num_threads(job["threads"])
    name, impl, size = job["model"], job["impl"], job["size"]
    image, mask = test_input(size)
    model = our_model(name)
    if impl in ("torch", "torch-plain"):
        from holefill.models.speed import optimize_for_inference

        # "torch" is what holefill's filler runs: batch norms folded, channels-last.
        net = optimize_for_inference(model) if impl == "torch" else model
        x = image.contiguous(memory_format=torch.channels_last) if impl == "torch" else image
        with torch.inference_mode():
            def run() -> Any:
                return net.predict(x, mask).numpy()
            baseline = _vm("VmRSS")
            times, cpu = _timed(run, job["repeats"])
            out = run()
    elif impl == "onnxruntime":
        from holefill.export import OnnxGenerator

        graph = OnnxGenerator(job["onnx"], threads=job["threads"])
        extra = model.graph_inputs(image, mask)

        def run() -> Any:
            return graph.run(image, mask, extra)
        baseline = _vm("VmRSS")
        times, cpu = _timed(run, job["repeats"])
        out = run()
    else:
        run = OFFICIAL[name](model, image, mask, job)
        baseline = _vm("VmRSS")
        times, cpu = _timed(run, job["repeats"])
        out = run()
    np.save(job["output"], np.asarray(out, dtype=np.float32))
    peak = _vm("VmHWM")  # before the float64 check below, which is not part of the measurement
    if impl == "torch" and job.get("float64"):
        # The float32 noise floor: our own prediction in float32 against float64 (same weights).
        with torch.inference_mode():
            exact = model.double().predict(image.double(), mask.double()).numpy()
        np.save(job["output"].replace(".npy", "-f64.npy"), exact)
    return {"times": times, "cpu": cpu, "peak": peak, "baseline": baseline}


# -- the official implementations ------------------------------------------------------------

def _stub_modules(*names: str) -> None:
    """Empty stand-ins for packages the authors' files import but inference never uses."""
    for name in names:
        if name not in sys.modules:
            sys.modules[name] = types.ModuleType(name)
    if "torchvision" in names:
        sys.modules["torchvision"].models = sys.modules.setdefault("torchvision.models",  # type: ignore[attr-defined]
                                                                   types.ModuleType("torchvision.models"))


def _copy_into(official: Any, ours: dict[str, Any], remap: Any) -> None:
    """Load our tensors into the official module: each official key maps to ours by the
    official-checkpoint converter holefill ships (``remap``)."""
    import torch

    state = official.state_dict()
    mapped = remap({k: v for k, v in state.items()})
    names = list(mapped)  # our key for each official key, in the same order
    new = {}
    for (key, tensor), ours_key in zip(state.items(), names):
        new[key] = ours[ours_key].to(tensor.dtype).reshape(tensor.shape)
    missing = official.load_state_dict(new, strict=True)
    assert not missing.missing_keys and not missing.unexpected_keys
    torch.set_grad_enabled(False)


def official_pennet(model: Any, image: Any, mask: Any, job: dict[str, Any]) -> Any:
    import torch

    sys.path.insert(0, job["pennet"])
    _stub_modules("torchvision")
    from model.pennet import InpaintGenerator  # the authors' module (PEN-Net checkout, branch pytorch)

    from holefill.models.pennet import remap_official_pennet

    net = InpaintGenerator(init_weights=False).eval()
    _copy_into(net, model.state_dict(), remap_official_pennet)
    masked = image * (1 - mask) + mask  # as their test.py builds the input
    x = torch.cat([masked, mask], dim=1)

    def run() -> Any:
        with torch.inference_mode():
            return net(x, mask)[1].numpy()
    return run


def official_edgeconnect(model: Any, image: Any, mask: Any, job: dict[str, Any]) -> Any:
    import numpy as np
    import torch
    from skimage.color import rgb2gray
    from skimage.feature import canny

    sys.path.insert(0, job["edgeconnect"])
    _stub_modules("torchvision", "scipy.misc")
    from src.models import EdgeModel, InpaintingModel  # the authors' modules (edge-connect checkout)
    from src.networks import EdgeGenerator, InpaintGenerator

    from holefill.models.edgeconnect import remap_official_edgeconnect

    edge_net = EdgeGenerator(use_spectral_norm=True, init_weights=False).eval()
    inpaint_net = InpaintGenerator(init_weights=False).eval()
    ours = model.state_dict()
    edge_state, inpaint_state = edge_net.state_dict(), inpaint_net.state_dict()
    mapped = remap_official_edgeconnect(edge_state, inpaint_state)
    ours_keys = list(mapped)
    official_keys = [("e", k) for k in edge_state] + [("i", k) for k in inpaint_state]
    new_e, new_i = {}, {}
    for (which, key), our_key in zip(official_keys, ours_keys):
        target = edge_state[key] if which == "e" else inpaint_state[key]
        (new_e if which == "e" else new_i)[key] = ours[our_key].to(target.dtype).reshape(target.shape)
    edge_net.load_state_dict(new_e, strict=True)
    inpaint_net.load_state_dict(new_i, strict=True)
    edge_model = types.SimpleNamespace(generator=edge_net)
    inpaint_model = types.SimpleNamespace(generator=inpaint_net)
    images = (image + 1) / 2  # their images are in [0, 1]
    photo = (images[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    known = (1 - mask[0, 0].numpy()).astype(bool)

    def run() -> Any:
        with torch.inference_mode():
            gray = rgb2gray(photo)  # their data loader: rgb2gray, then canny with the known region as mask
            edges = torch.from_numpy(canny(gray, sigma=2.0, mask=known).astype(np.float32))[None, None]
            gray_t = torch.from_numpy(gray.astype(np.float32))[None, None]
            edges = EdgeModel.forward(edge_model, gray_t, edges, mask)  # their test(), model 3
            out = InpaintingModel.forward(inpaint_model, images, edges, mask)
            return (out * 2 - 1).numpy()
    return run


def _tf_shims() -> Any:
    """TensorFlow 2's tf.compat.v1 under the name ``tensorflow``, with contrib's arg scopes
    and the neuralgym names the DeepFill graph imports."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf2

    tf = tf2.compat.v1
    tf.disable_v2_behavior()
    sys.modules["tensorflow"] = tf

    scopes: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def add_arg_scope(fn: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            merged: dict[str, Any] = {}
            for targets, values in scopes:
                if wrapped in targets:
                    merged.update(values)
            merged.update(kwargs)
            return fn(*args, **merged)
        wrapped.__name__ = fn.__name__
        return wrapped

    @contextlib.contextmanager
    def arg_scope(targets: Any, **values: Any) -> Any:
        scopes.append((tuple(targets), values))
        try:
            yield
        finally:
            scopes.pop()

    ops = types.ModuleType("tensorflow.contrib.framework.python.ops")
    ops.add_arg_scope, ops.arg_scope = add_arg_scope, arg_scope  # type: ignore[attr-defined]
    for name in ("tensorflow.contrib", "tensorflow.contrib.framework", "tensorflow.contrib.framework.python"):
        sys.modules[name] = types.ModuleType(name)
    sys.modules["tensorflow.contrib.framework.python.ops"] = ops

    def resize(x: Any, scale: float = 2, to_shape: Any = None, align_corners: bool = True, dynamic: bool = False,
               func: Any = tf.image.resize_bilinear, name: str = "resize") -> Any:
        """neuralgym.ops.layers.resize (static shapes): ``func`` to ``scale`` x or to ``to_shape``."""
        shape = x.get_shape().as_list()
        size = [int(shape[1] * scale), int(shape[2] * scale)] if to_shape is None else [to_shape[0], to_shape[1]]
        with tf.variable_scope(name):
            return func(x, size, align_corners=align_corners)

    class Model:
        def __init__(self, name: str) -> None:
            self.name = name

    ng = types.ModuleType("neuralgym")
    layers = types.ModuleType("neuralgym.ops.layers")
    layers.resize = resize  # type: ignore[attr-defined]
    layers.flatten = lambda x, name="flatten": tf.layers.flatten(x, name=name)  # type: ignore[attr-defined]
    layers.__all__ = ["resize", "flatten"]  # type: ignore[attr-defined]
    empty = {n: types.ModuleType(n) for n in ("neuralgym.ops", "neuralgym.ops.loss_ops", "neuralgym.ops.summary_ops",
                                               "neuralgym.ops.gan_ops", "neuralgym.models")}
    for n in ("loss_ops", "summary_ops", "gan_ops"):
        empty[f"neuralgym.ops.{n}"].__all__ = []  # type: ignore[attr-defined]
    stub = lambda *a, **k: None  # noqa: E731 (summaries and losses: training only)
    for n in ("scalar_summary", "images_summary", "gradients_summary"):
        setattr(empty["neuralgym.ops.summary_ops"], n, stub)
    for n in ("gan_wgan_loss", "gradients_penalty", "random_interpolates", "gan_hinge_loss"):
        setattr(empty["neuralgym.ops.gan_ops"], n, stub)
    empty["neuralgym.models"].Model = Model  # type: ignore[attr-defined]
    sys.modules.update({"neuralgym": ng, "neuralgym.ops.layers": layers, **empty})
    return tf


def official_deepfill(model: Any, image: Any, mask: Any, job: dict[str, Any]) -> Any:
    import numpy as np

    tf = _tf_shims()
    sys.path.insert(0, job[job["model"].replace("_", "-")])
    from inpaint_model import InpaintCAModel  # the authors' graph (generative_inpainting checkout)

    x = tf.placeholder(tf.float32, [1, image.shape[2], image.shape[3], 3])
    m = tf.placeholder(tf.float32, [1, image.shape[2], image.shape[3], 1])
    net = InpaintCAModel()
    _, fine, _ = net.build_inpaint_net(x, m, reuse=False, training=False)
    ours = {}
    for module_name, module in model.named_modules():
        leaf = module_name.rsplit(".", 1)[-1]
        if hasattr(module, "weight") and module.weight is not None and module.weight.dim() == 4:
            key = leaf if not module_name.endswith("_upsample.conv") else module_name.rsplit(".", 2)[-2] + "_conv"
            ours[key] = module
    assigns = []
    for var in tf.global_variables():
        layer, kind = var.name.split("/")[-2], var.name.split("/")[-1].split(":")[0]
        module = ours[layer]
        value = module.weight.detach().permute(2, 3, 1, 0).numpy() if kind == "kernel" else module.bias.detach().numpy()
        assigns.append(tf.assign(var, value))
    config = tf.ConfigProto(intra_op_parallelism_threads=job["threads"], inter_op_parallelism_threads=1)
    sess = tf.Session(config=config)
    sess.run(assigns)
    feed = {x: image.permute(0, 2, 3, 1).numpy(), m: mask.permute(0, 2, 3, 1).numpy()}

    def run() -> Any:
        return np.transpose(sess.run(fine, feed), (0, 3, 1, 2))
    return run


OFFICIAL = {"pennet": official_pennet, "edgeconnect": official_edgeconnect,
            "deepfill_v1": official_deepfill, "deepfill_v2": official_deepfill}


# -- the parent: rounds of workers, the table ------------------------------------------------

def run_worker(job: dict[str, Any], timeout: float) -> dict[str, Any] | str:
    """One worker process; its result, or why it gave none (killed for memory, an error)."""
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(job)], capture_output=True, text=True,
                          timeout=timeout)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return f"failed (exit {proc.returncode}: {tail[:120]})"


def export_graph(name: str, folder: Path) -> Path:
    """The model's ONNX graph (exported once, kept in ``folder``)."""
    from holefill.export import export_onnx

    path = folder / f"{name}.onnx"
    if not path.exists():
        export_onnx(our_model(name), path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--sizes", nargs="*", type=int, default=[256, 512, 1024])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="worker processes per implementation and size")
    parser.add_argument("--repeats", type=int, default=2, help="timed passes per worker (after one warm-up)")
    parser.add_argument("--impls", nargs="*", default=["official", "torch", "onnxruntime"])
    parser.add_argument("--edgeconnect", help="checkout of knazeri/edge-connect")
    parser.add_argument("--pennet", help="checkout of researchmm/PEN-Net-for-Inpainting (branch pytorch)")
    parser.add_argument("--deepfill-v1", dest="deepfill_v1", help="checkout of JiahuiYu/generative_inpainting at v1.0.0")
    parser.add_argument("--deepfill-v2", dest="deepfill_v2", help="checkout of JiahuiYu/generative_inpainting at v2.0.0")
    parser.add_argument("--cache", default=None, help="folder for the exported graphs (default: a temporary one)")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--json", default=None, help="also write every measurement here")
    args = parser.parse_args()
    if args.worker:
        print("RESULT " + json.dumps(worker(json.loads(args.worker))), flush=True)
        return

    import numpy as np

    checkouts = {"edgeconnect": args.edgeconnect, "pennet": args.pennet, "deepfill-v1": args.deepfill_v1,
                 "deepfill-v2": args.deepfill_v2}
    tmp = Path(tempfile.mkdtemp(prefix="official-speed-"))
    cache = Path(args.cache) if args.cache else tmp
    cache.mkdir(parents=True, exist_ok=True)
    print(f"# {os.uname().machine}, {os.cpu_count()} CPUs, {args.threads} threads, batch 1, "
          f"{args.rounds} rounds x {args.repeats} timed passes, load {os.getloadavg()[0]:.1f} at start", flush=True)
    records: list[dict[str, Any]] = []
    for name in args.models:
        impls = [i for i in args.impls if i != "official" or (name in OFFICIAL and
                                                               checkouts.get(name.replace("_", "-")))]
        graph = export_graph(name, cache) if "onnxruntime" in impls else None
        for size in args.sizes:
            if name == "context_encoder" and size != args.sizes[0]:
                continue
            cell: dict[str, Any] = {i: {"times": [], "cpu": [], "peak": 0, "error": None} for i in impls}
            for r in range(args.rounds):
                for impl in impls:
                    if cell[impl]["error"]:
                        continue
                    job = {"model": name, "impl": impl, "size": 128 if name == "context_encoder" else size,
                           "threads": args.threads, "repeats": args.repeats, "onnx": str(graph) if graph else None,
                           "output": str(tmp / f"{name}-{size}-{impl}.npy"), "float64": r == 0, **checkouts}
                    result = run_worker(job, args.timeout)
                    if isinstance(result, str):
                        cell[impl]["error"] = result
                        continue
                    cell[impl]["times"] += result["times"]
                    cell[impl]["cpu"] += result["cpu"]
                    cell[impl]["peak"] = max(cell[impl]["peak"], result["peak"])
            ref = tmp / f"{name}-{size}-torch.npy"
            row = {"model": name, "size": size if name != "context_encoder" else 128}
            for impl, c in cell.items():
                row[impl] = {"median_s": statistics.median(c["times"]) if c["times"] else None,
                             "median_cpu_s": statistics.median(c["cpu"]) if c["cpu"] else None,
                             "peak_mb": c["peak"] / 2**20, "error": c["error"], "max_diff": None}
                out = tmp / f"{name}-{size}-{impl}.npy"
                if impl != "torch" and out.exists() and ref.exists():
                    row[impl]["max_diff"] = float(np.abs(np.load(out) - np.load(ref)).max())
            exact = tmp / f"{name}-{size}-torch-f64.npy"
            if exact.exists() and ref.exists():
                row["float32_noise"] = float(np.abs(np.load(ref) - np.load(exact)).max())
            records.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))
    print_table(records, args.models)


def _fmt(cell: dict[str, Any] | None) -> str:
    if not cell:
        return "-"
    if cell["error"]:
        return cell["error"]
    return f"{cell['median_s']:.2f} s ({cell['median_cpu_s']:.2f} s CPU), {cell['peak_mb']:.0f} MB"


def print_table(records: list[dict[str, Any]], models: list[str]) -> None:
    print("\n| model | size | official | holefill torch | holefill onnxruntime | official / torch | "
          "official / onnxruntime | max diff official, onnxruntime | float32 noise |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in records:
        off, ours, ort = row.get("official"), row.get("torch"), row.get("onnxruntime")

        def ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
            if a and b and a["median_s"] and b["median_s"]:
                return f"{a['median_s'] / b['median_s']:.2f} ({a['median_cpu_s'] / b['median_cpu_s']:.2f} CPU)"
            return "-"
        diffs = ", ".join("-" if not c or c["max_diff"] is None else f"{c['max_diff']:.1e}" for c in (off, ort))
        official = _fmt(off) if off else NO_OFFICIAL.get(row["model"], "no checkout given")
        noise = f"{row['float32_noise']:.1e}" if "float32_noise" in row else "-"
        print(f"| {row['model']} | {row['size']} | {official} | {_fmt(ours)} | {_fmt(ort)} | {ratio(off, ours)} | "
              f"{ratio(off, ort)} | {diffs} | {noise} |")


if __name__ == "__main__":
    main()
