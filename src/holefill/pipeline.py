"""Turn a learned model into a filler: pad, pick a high-resolution strategy, run, composite.

Strategies for images larger than the model was trained on (the names follow IOPaint's):

- ``original``: run on the whole image, padded to the model's multiple; refused (before any
  work) when the image's long side exceeds ``resize_limit``, so no network pass is larger than
  ``resize_limit`` on its long side whatever the strategy (raise it, up to 4096, to run larger
  images whole).
- ``resize``: shrink the image so its long side is ``resize_limit``, fill, enlarge the fill
  and keep the original known pixels.
- ``crop``: fill each hole's neighbourhood (its bounding box grown by ``crop_margin``) on its
  own, so the cost follows the holes, not the image; a crop larger than ``resize_limit`` is
  shrunk first.
- ``auto`` (default): ``crop`` when the image's long side exceeds half of ``resize_limit`` and
  the crops cover less than half the image (a small hole in a photo costs what its
  neighbourhood costs, not what the photo does); otherwise ``original`` up to
  ``resize_limit`` and ``resize`` beyond it.

Fixed-size models (Context Encoder) always fill crops resized to their size. A fill made at a
smaller size is enlarged back by bicubic interpolation (OpenCV), or by ``upscaler`` when one
is given (``-O upscaler=meta_rdn_lite``: Meta-SR, any factor; ``benchmarks/resize_upscaler.py``
measures whether it beats bicubic there).

A guided model (one whose ``extra_inputs`` name ``guide``: guided inpainting) becomes a
:class:`~holefill.fillers.GuidedFiller` with :class:`GuidedModelFiller`.

``postprocess="poisson"`` blends the fill into its surroundings afterwards with OpenCV's
Poisson editing (``seamlessClone``), the optional post-process of GLCIC (Iizuka et al. 2017,
``inpaint.lua --postproc``; :func:`holefill.classical.poisson.poisson_blend`). From the CLI:
``holefill inpaint --method glcic --weights DIR -O postprocess=poisson``.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_type_hints

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from holefill.classical.poisson import poisson_blend
from holefill.errors import InvalidArgumentError, WeightsError
from holefill.fillers import Filler, GuidedFiller, composite, report_progress
from holefill.models.base import InpaintModel
from holefill.models.registry import create_model, list_models, load_model, model_entry
from holefill.models.speed import optimize_for_inference
from holefill.options import Option, checked
from holefill.upscalers import Upscaler

Strategy = Literal["auto", "original", "resize", "crop"]
#: Where the network runs: PyTorch, or an exported graph in ONNX Runtime (:mod:`holefill.export`).
BACKENDS = ("torch", "onnxruntime")
#: The exported graph's file name inside a weights folder.
ONNX_NAME = "model.onnx"
STRATEGIES = ("auto", "original", "resize", "crop")
#: What may follow the network's fill: nothing, or GLCIC's Poisson blending.
POSTPROCESSES = ("none", "poisson")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``cpu``, ``cuda``, ``cuda:1`` or ``mps``; None picks CUDA when available, else CPU."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InvalidArgumentError(f"unknown device {device!r}; use cpu, cuda or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidArgumentError("--device cuda was asked for, but no CUDA GPU is available here")
    if dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise InvalidArgumentError("--device mps was asked for, but MPS is not available here")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise InvalidArgumentError(f"unsupported device {device!r}; use cpu, cuda or mps")
    return dev


def to_tensor(image: np.ndarray, mask: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """HxWx3 uint8 and HxW bool to 13HW in [-1, 1] (hole zeroed) and 11HW (1 = hole)."""
    x = torch.from_numpy(np.ascontiguousarray(image)).to(device).permute(2, 0, 1)[None].float() / 127.5 - 1.0
    m = torch.from_numpy(np.ascontiguousarray(mask)).to(device)[None, None].float()
    return x * (1.0 - m), m


def to_image(x: torch.Tensor) -> np.ndarray:
    """13HW (or 3HW) in [-1, 1] to HxWx3 uint8."""
    if x.dim() == 4:
        x = x[0]
    y = ((x.float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return y.permute(1, 2, 0).cpu().numpy()


@dataclass(frozen=True)
class Box:
    top: int
    left: int
    bottom: int
    right: int

    @property
    def area(self) -> int:
        return (self.bottom - self.top) * (self.right - self.left)


def hole_boxes(mask: np.ndarray, margin: int) -> list[Box]:
    """Bounding boxes of the hole's connected parts, grown by ``margin`` and merged where they overlap."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    h, w = mask.shape
    boxes = []
    for i in range(1, n):
        x, y, bw, bh = stats[i, :4]
        boxes.append(Box(max(0, y - margin), max(0, x - margin), min(h, y + bh + margin), min(w, x + bw + margin)))
    merged = True
    while merged and len(boxes) > 1:
        merged = False
        out: list[Box] = []
        for b in boxes:
            for j, o in enumerate(out):
                if b.top < o.bottom and o.top < b.bottom and b.left < o.right and o.left < b.right:
                    out[j] = Box(min(b.top, o.top), min(b.left, o.left), max(b.bottom, o.bottom), max(b.right, o.right))
                    merged = True
                    break
            else:
                out.append(b)
        boxes = out
    return boxes


class ModelFiller(Filler):
    """A :class:`Filler` backed by an :class:`InpaintModel`; ``postprocess`` is "none" or "poisson"."""

    options = (
        Option("strategy", "choice", "auto", "how images larger than resize_limit are filled (see holefill.pipeline)",
               choices=STRATEGIES),
        Option("resize_limit", "int", 1024, "the largest side a network pass runs at", minimum=32, maximum=4096),
        Option("crop_margin", "int", 128, "context pixels around each hole's box (crop strategy)", minimum=0,
               maximum=1024),
        Option("batch_size", "int", 8, "same-size images run together", minimum=1, maximum=64),
        Option("postprocess", "choice", "none", "after the network: nothing, or GLCIC's Poisson blending",
               choices=POSTPROCESSES),
        Option("optimize", "bool", True, "fold batch norms and use channels-last weights (the same numbers, faster)"),
        Option("upscaler", "name", None, "the upscaling method that brings a fill made at low resolution back to"
               " the photo's size (resize strategy; default bicubic)", nullable=True),
    )

    def __init__(self, model: InpaintModel, *, device: str | torch.device | None = None, strategy: Strategy = "auto",
                 resize_limit: int = 1024, crop_margin: int = 128, batch_size: int = 8, name: str | None = None,
                 postprocess: str | None = None, backend: str = "torch", graph: str | Path | None = None,
                 optimize: bool = True, upscaler: Upscaler | None = None) -> None:
        if backend not in BACKENDS:
            raise InvalidArgumentError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if (backend == "onnxruntime") != (graph is not None):
            raise InvalidArgumentError("the onnxruntime backend runs an exported graph: give graph= (a .onnx file), "
                                       "and only with backend='onnxruntime'")
        values = checked(self.options, strategy=strategy, resize_limit=resize_limit, crop_margin=crop_margin,
                         batch_size=batch_size, postprocess="none" if postprocess is None else postprocess,
                         optimize=optimize)
        self.postprocess = values["postprocess"]
        if upscaler is not None and not isinstance(upscaler, Upscaler):
            raise InvalidArgumentError(f"upscaler must be an upscaling method, got {upscaler!r}")
        self.upscaler = upscaler
        self.device = resolve_device(device)
        model = model.to(self.device).eval()
        #: Batch norms folded and weights channels-last (:mod:`holefill.models.speed`): the same
        #: numbers, faster; the caller's model is left as it was.
        self.optimized = values["optimize"] and graph is None
        self.model = optimize_for_inference(model) if self.optimized else model
        self.strategy = values["strategy"]
        self.resize_limit = values["resize_limit"]
        self.crop_margin = values["crop_margin"]
        self.batch_size = values["batch_size"]
        self.name = name or model.architecture or type(model).__name__
        self.needs_context = model.needs_context
        from holefill.layers.contextual_attention import ContextualAttention

        self.backend = backend
        self.graph = None
        if graph is not None:
            from holefill.export import OnnxGenerator

            if self.device.type != "cpu":
                raise InvalidArgumentError(f"the onnxruntime backend runs on the CPU, not on {self.device.type}")
            self.graph = OnnxGenerator(graph)
            if self.graph.architecture != model.architecture:
                raise WeightsError(f"holds a graph of {self.graph.architecture!r}, not {model.architecture!r}", graph)
        self._attention = [m for m in self.model.modules() if isinstance(m, ContextualAttention)]
        #: Models with a noise input (CTO-GAN) draw it from ``noise_generator`` when seeded.
        self._noise = hasattr(self.model, "noise_generator") and self.graph is None
        # The exported attention is the deterministic one; drawing samples needs PyTorch.
        self.stochastic = (bool(self._attention) and self.graph is None) or self._noise

    @contextlib.contextmanager
    def seeded(self, seed: int) -> Iterator[None]:
        """Stochastic attention for the fills inside: each query pastes one patch drawn from
        its attention weights, with generators seeded from ``seed`` (see
        :func:`~holefill.layers.contextual_attention.contextual_attention`); a model with a noise
        input (CTO-GAN) draws it from a generator seeded with ``seed``."""
        for i, layer in enumerate(self._attention):
            layer.generator = torch.Generator(device=self.device).manual_seed(seed * 1009 + i)
        if self._noise:
            self.model.noise_generator = torch.Generator(device=self.device).manual_seed(seed)
        try:
            yield
        finally:
            for layer in self._attention:
                layer.generator = None
            if self._noise:
                self.model.noise_generator = None

    @classmethod
    def from_pretrained(cls, weights: str | Path, *, device: str | torch.device | None = None, expect: str | None = None,
                        **options) -> "ModelFiller":
        """Load a ``save_pretrained`` folder (checking the architecture when ``expect`` is given).

        With ``backend="onnxruntime"`` the network runs from the folder's ``model.onnx``
        (written by ``holefill export``); ``weights`` may also be such a ``.onnx`` file, whose
        metadata names the architecture and config.
        """
        backend = options.pop("backend", "torch")
        if backend != "onnxruntime":
            return cls(load_model(weights, device="cpu", expect=expect), device=device, backend=backend, **options)
        graph = Path(weights)
        if graph.suffix.lower() == ".onnx":
            from holefill.export import OnnxGenerator

            meta = OnnxGenerator(graph)
            if expect is not None and meta.architecture != expect:
                raise WeightsError(f"holds a graph of {meta.architecture!r}, not {expect!r} "
                                   f"(use --method {meta.architecture})", graph)
            model = create_model(meta.architecture, **meta.config)  # pre-processing only; the graph has the weights
            model.eval()
        else:
            model = load_model(weights, device="cpu", expect=expect)
            graph = graph / ONNX_NAME
            if not graph.is_file():
                raise WeightsError(f"has no {ONNX_NAME} for the onnxruntime backend; write it with "
                                   f"`holefill export {model.architecture} --weights {weights} -o {graph}`", weights)
        return cls(model, device=device, backend=backend, graph=graph, **options)

    def _predict(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """The network's prediction for a padded batch, from PyTorch or the ONNX Runtime session."""
        if self.graph is None:
            if self.optimized:
                x = x.contiguous(memory_format=torch.channels_last)
            return self.model.predict(x, m)
        return torch.from_numpy(self.graph.run(x, m, self.model.graph_inputs(x, m)))

    # -- running the network ---------------------------------------------------------------
    @torch.inference_mode()
    def _run(self, images: list[np.ndarray], masks: list[np.ndarray]) -> list[np.ndarray]:
        """Run the network on same-size images, padded to its multiple, in batches."""
        results: list[np.ndarray] = []
        k = self.model.size_multiple
        for start in range(0, len(images), self.batch_size):
            xs, ms = zip(*(to_tensor(i, m, self.device) for i, m in
                           zip(images[start:start + self.batch_size], masks[start:start + self.batch_size])))
            x, m = torch.cat(xs), torch.cat(ms)
            h, w = x.shape[-2:]
            ph, pw = (-h) % k, (-w) % k
            if ph or pw:
                mode = "reflect" if ph < h and pw < w else "replicate"
                x = F.pad(x, (0, pw, 0, ph), mode=mode)
                m = F.pad(m, (0, pw, 0, ph), mode=mode)
            y = self._predict(x, m)[..., :h, :w]
            results.extend(to_image(y[i]) for i in range(y.shape[0]))
        return results

    def _run_at(self, image: np.ndarray, mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Fill at (h, w) = ``size`` and bring the fill back to the input's size."""
        h, w = image.shape[:2]
        if (h, w) == size:
            return self._run([image], [mask])[0]
        small = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)
        # A pixel is a hole at the small size if any of its source pixels is.
        small_mask = cv2.resize(mask.astype(np.float32), (size[1], size[0]), interpolation=cv2.INTER_AREA) > 0
        small_mask |= cv2.resize(mask.astype(np.uint8), (size[1], size[0]), interpolation=cv2.INTER_NEAREST) > 0
        filled = self._run([small], [small_mask])[0]
        if self.upscaler is None:
            return cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC)
        return enlarge(filled, (h, w), self.upscaler)

    def _limit_size(self, h: int, w: int) -> tuple[int, int]:
        if self.model.fixed_size is not None:
            return self.model.fixed_size
        scale = min(1.0, self.resize_limit / max(h, w))
        return max(1, round(h * scale)), max(1, round(w * scale))

    def choose_strategy(self, mask: np.ndarray) -> str:
        """The strategy ``auto`` resolves to for this mask (or the fixed one)."""
        if self.model.fixed_size is not None:
            return "crop"
        h, w = mask.shape
        if self.strategy == "original" and max(h, w) > self.resize_limit:
            raise InvalidArgumentError(
                f"strategy original would run the network on the whole {w}x{h} image, over resize_limit"
                f" {self.resize_limit}; use strategy auto, crop or resize, or raise resize_limit (up to 4096)")
        if self.strategy != "auto":
            return self.strategy
        if max(h, w) > self.resize_limit // 2:
            covered = sum(b.area for b in hole_boxes(mask, self.crop_margin))
            if covered < 0.5 * h * w:
                return "crop"
        return "original" if max(h, w) <= self.resize_limit else "resize"

    def _post(self, image: np.ndarray, filled: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The fill after the post-process (known pixels of ``image``, hole from ``filled``)."""
        if self.postprocess == "none":
            return filled
        return poisson_blend(composite(image, filled, mask), mask)

    def _fill(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self._post(image, self._fill_network(image, mask), mask)

    def _fill_network(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        strategy = self.choose_strategy(mask)
        h, w = mask.shape
        if strategy == "original":
            return self._run([image], [mask])[0]
        if strategy == "resize":
            return self._run_at(image, mask, self._limit_size(h, w))
        out = image.copy()
        remaining = mask.copy()
        boxes = hole_boxes(mask, self.crop_margin)
        for done, box in enumerate(boxes):
            report_progress(done, len(boxes))
            if self.model.fixed_size is not None:
                box = _square_box(box, h, w)
            crop = out[box.top:box.bottom, box.left:box.right]
            crop_mask = remaining[box.top:box.bottom, box.left:box.right].copy()
            if not crop_mask.any():
                continue
            ch, cw = crop_mask.shape
            filled = self._run_at(crop, crop_mask, self._limit_size(ch, cw))
            out[box.top:box.bottom, box.left:box.right] = composite(crop, filled, crop_mask)
            remaining[box.top:box.bottom, box.left:box.right] = False
        if remaining.any():  # a hole no crop could hold (a fixed-size model, a huge hole)
            out = composite(out, self._run_at(out, remaining, self._limit_size(h, w)), remaining)
        return out

    def fill_batch(self, images: list[np.ndarray], masks: list[np.ndarray]) -> list[np.ndarray]:
        """Fill many images; same-size ones that need no high-resolution strategy share batches."""
        from holefill.io import check_image, check_mask

        images = [check_image(i) for i in images]
        masks = [check_mask(m, i.shape[:2], needs_context=self.needs_context) for i, m in zip(images, masks)]
        out: list[np.ndarray | None] = [None] * len(images)
        groups: dict[tuple[int, int], list[int]] = {}
        for idx, (img, m) in enumerate(zip(images, masks)):
            if not m.any():
                out[idx] = img.copy()
            elif self.choose_strategy(m) == "original":
                groups.setdefault(img.shape[:2], []).append(idx)
            else:
                out[idx] = self.fill(img, m)
        for idxs in groups.values():
            blanked = []
            for i in idxs:
                b = images[i].copy()
                b[masks[i]] = 0
                blanked.append(b)
            for i, filled in zip(idxs, self._run(blanked, [masks[i] for i in idxs])):
                out[i] = composite(images[i], self._post(images[i], filled, masks[i]), masks[i])
        return [o for o in out if o is not None]


def enlarge(image: np.ndarray, size: tuple[int, int], upscaler: Upscaler) -> np.ndarray:
    """``image`` enlarged to ``size`` (h, w) by ``upscaler``: by the larger of the two side ratios
    (in steps of at most its ``max_scale``), then resampled (area) onto the exact size, a shift
    of at most one pixel."""
    h, w = size
    while True:
        ratio = max(h / image.shape[0], w / image.shape[1])
        if ratio <= 1.0:
            break
        image = upscaler.upscale(image, min(ratio + 1e-6, upscaler.max_scale))
    if image.shape[:2] == (h, w):
        return image
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)


class GuidedModelFiller(GuidedFiller):
    """A :class:`~holefill.fillers.GuidedFiller` backed by a guided model (``guided_inpainting``).

    The image is filled at its size up to ``resize_limit`` on the long side (beyond it, shrunk,
    filled, and the fill enlarged); the guide is scaled so that its long side equals the working
    image's (the network's alignment then covers the rest of the scale difference). The sides
    are padded to the model's multiple. ``colour_match`` (None: the model's setting) turns the
    lighting match on or off, ``refine_steps`` (None: the model's) sets the test-time alignment.
    """

    options = (
        Option("resize_limit", "int", 1024, "the largest side a network pass runs at", minimum=32, maximum=4096),
        Option("colour_match", "bool", None, "match the pasted content's lighting to the context (default: the "
               "model's setting)", nullable=True),
        Option("refine_steps", "int", None, "test-time alignment steps (default: the model's)", minimum=0,
               maximum=1000, nullable=True),
    )

    def __init__(self, model: InpaintModel, *, device: str | torch.device | None = None, resize_limit: int = 1024,
                 colour_match: bool | None = None, refine_steps: int | None = None, name: str | None = None) -> None:
        if "guide" not in model.extra_inputs:
            raise InvalidArgumentError(f"model {model.architecture or type(model).__name__} takes no guide photo")
        if isinstance(resize_limit, bool) or not isinstance(resize_limit, int) or resize_limit < 32:
            raise InvalidArgumentError(f"resize_limit must be a whole number >= 32, got {resize_limit!r}")
        if colour_match is not None and not isinstance(colour_match, bool):
            raise InvalidArgumentError(f"colour_match must be true or false, got {colour_match!r}")
        if refine_steps is not None and (isinstance(refine_steps, bool) or not isinstance(refine_steps, int)
                                         or not 0 <= refine_steps <= 1000):
            raise InvalidArgumentError(f"refine_steps must be a whole number in [0, 1000], got {refine_steps!r}")
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        if refine_steps is not None:
            self.model.config.refine_steps = int(refine_steps)
        self.colour_match = colour_match
        self.resize_limit = int(resize_limit)
        self.name = name or model.architecture or type(model).__name__
        self.needs_context = model.needs_context

    @classmethod
    def from_pretrained(cls, weights: str | Path, *, device: str | torch.device | None = None, expect: str | None = None,
                        **options) -> "GuidedModelFiller":
        """Load a ``save_pretrained`` folder (checking the architecture when ``expect`` is given)."""
        return cls(load_model(weights, device="cpu", expect=expect), device=device, **options)

    def _fill(self, image: np.ndarray, mask: np.ndarray, guide: np.ndarray) -> np.ndarray:
        h, w = mask.shape
        scale = min(1.0, self.resize_limit / max(h, w))
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        work, work_mask = image, mask
        if scale < 1:
            work = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            work_mask = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
            work_mask |= cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        gh, gw = guide.shape[:2]
        g_scale = max(work.shape[:2]) / max(gh, gw)
        if abs(g_scale - 1) > 1e-6:
            g_size = (max(1, round(gw * g_scale)), max(1, round(gh * g_scale)))
            guide = cv2.resize(guide, g_size, interpolation=cv2.INTER_AREA if g_scale < 1 else cv2.INTER_CUBIC)
        filled = self._run(work, work_mask, guide)
        if scale < 1:
            filled = cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC)
        return filled

    @torch.no_grad()  # not inference mode: the test-time refinement of the alignment takes gradients
    def _run(self, image: np.ndarray, mask: np.ndarray, guide: np.ndarray) -> np.ndarray:
        x, m = to_tensor(image, mask, self.device)
        g = torch.tensor(guide, device=self.device).permute(2, 0, 1)[None].float() / 127.5 - 1.0
        k = self.model.size_multiple
        h, w = x.shape[-2:]
        ph, pw = (-h) % k, (-w) % k
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
            m = F.pad(m, (0, pw, 0, ph), mode="replicate")
        out = self.model(x, m, g, colour_match=self.colour_match).output[..., :h, :w]
        return to_image(out)


def _square_box(box: Box, h: int, w: int) -> Box:
    """Grow ``box`` to a square (as far as the image allows), for fixed-size square models."""
    side = min(max(box.bottom - box.top, box.right - box.left), h, w)
    cy, cx = (box.top + box.bottom) / 2, (box.left + box.right) / 2
    top = int(min(max(0, math.floor(cy - side / 2)), h - side))
    left = int(min(max(0, math.floor(cx - side / 2)), w - side))
    return Box(top, left, top + side, left + side)


# -- drawing the attention (``holefill inpaint --flow``) ------------------------------------


def flow_methods() -> list[str]:
    """Registered models whose forward pass can return contextual-attention offsets (``return_flow``)."""
    names = []
    for name in list_models():
        try:
            cls = get_type_hints(model_entry(name).factory).get("return")
        except (NameError, TypeError):  # an annotation that does not resolve: not a flow model
            continue
        if isinstance(cls, type) and "return_flow" in inspect.signature(cls.forward).parameters:
            names.append(name)
    return names


def supports_flow(filler: Filler) -> bool:
    """Whether ``filler`` runs a model whose attention :func:`attention_flow` can draw."""
    return isinstance(filler, ModelFiller) and filler.graph is None and \
        "return_flow" in inspect.signature(filler.model.forward).parameters


def check_flow(filler: Filler) -> None:
    """A one-line error unless ``filler`` has contextual attention to draw."""
    if not supports_flow(filler):
        raise InvalidArgumentError(f"--flow: method {filler.name!r} has no contextual attention to draw; "
                                   f"it works with {', '.join(flow_methods())}")


def attention_flow(filler: ModelFiller, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The attention offsets of ``filler``'s model on (image, mask) as a flow picture of the image's size.

    The network runs once more, on the whole image (shrunk to the filler's ``resize_limit``
    when larger, as the ``resize`` strategy does), with ``return_flow=True``; the offsets
    (one per 8x8 pixels) are drawn by :func:`holefill.layers.contextual_attention.flow_to_image`
    and enlarged (nearest neighbour) to the image's size.
    """
    from holefill.layers.contextual_attention import flow_to_image

    check_flow(filler)
    h, w = mask.shape
    scale = min(1.0, filler.resize_limit / max(h, w))
    sh, sw = max(1, round(h * scale)), max(1, round(w * scale))
    if (sh, sw) != (h, w):
        image = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask.astype(np.uint8), (sw, sh), interpolation=cv2.INTER_NEAREST) > 0
    x, m = to_tensor(np.array(image), mask, filler.device)  # a writable copy: torch warns about read-only arrays
    k = filler.model.size_multiple
    ph, pw = (-sh) % k, (-sw) % k
    if ph or pw:
        mode = "reflect" if ph < sh and pw < sw else "replicate"
        x, m = F.pad(x, (0, pw, 0, ph), mode=mode), F.pad(m, (0, pw, 0, ph), mode=mode)
    with torch.inference_mode():
        offsets = filler.model(x, m, return_flow=True).offsets
    picture = flow_to_image(offsets[0], size=(sh + ph, sw + pw))[:sh, :sw]
    if (sh, sw) != (h, w):
        picture = cv2.resize(picture, (w, h), interpolation=cv2.INTER_NEAREST)
    return np.ascontiguousarray(picture)

