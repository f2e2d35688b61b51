"""The base classes of learned models, and their weights on disk.

Every learned model is a :class:`HolefillModel`: it has a config, a registry name and
``save_pretrained``. Its class says what it computes: an :class:`InpaintModel` fills holes
(``(image, mask) -> image``), an :class:`UpscaleModel` enlarges (``(image, scale) -> image``)
and a :class:`GenerativeModel` draws images from latent codes (``n, seed -> images``). The
registry entry names the tasks each serves (a generative model whose codes can be searched
also fills holes: :class:`holefill.model_tasks.LatentSearchFiller`).

Weights are a folder holding ``model.safetensors`` and ``config.json``; the JSON names the
architecture (a registry name) and its config, so :func:`load_model` rebuilds the exact
network before loading the tensors strictly.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from holefill.errors import InputNotFoundError, InvalidArgumentError, OutputExistsError, WeightsError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT_VERSION = 1


@dataclass
class InpaintOutput:
    """What a generator's forward pass returns. Models with stages subclass this and add
    fields (``coarse``, ``edges``, ...); ``output`` is always the final prediction, NCHW in
    [-1, 1], before compositing."""

    output: torch.Tensor


@dataclass
class CoarseToFineOutput(InpaintOutput):
    """A two-stage generator's output (DeepFill v1 and v2, foreground-aware inpainting): the
    refined ``output``, the ``coarse`` stage's output, and the contextual-attention offsets.

    ``offsets`` is (N, 2, H/8, W/8) int64 ``(dy, dx)`` on the attention grid, or None unless
    the forward pass was asked for it (``return_flow=True``).
    """

    coarse: torch.Tensor
    offsets: torch.Tensor | None = None


class HolefillModel(nn.Module):
    """What every learned model has: its config, its registry name, its weights on disk."""

    #: Registry name, set by :func:`~holefill.models.registry.create_model`.
    architecture: str = ""

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config

    def config_dict(self) -> dict[str, Any]:
        cfg = self.config
        return dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else dict(cfg)

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def save_pretrained(self, directory: str | os.PathLike[str], *, overwrite: bool = False,
                        dtype: torch.dtype | None = None, extra: dict[str, Any] | None = None) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``directory``.

        ``dtype`` (e.g. ``torch.float16``) casts floating tensors for shipping. Existing
        files are never replaced unless ``overwrite`` is set.
        """
        from safetensors.torch import save as st_save

        from holefill.io import write_bytes_atomic

        if not self.architecture:
            raise WeightsError("model has no registry name; build it with holefill.create_model")
        out = Path(directory)
        for name in (CONFIG_NAME, WEIGHTS_NAME):
            if (out / name).exists() and not overwrite:
                raise OutputExistsError("already holds weights; pass overwrite=True (--overwrite) to replace them", out)
        state = {}
        for key, tensor in self.state_dict().items():
            t = tensor.detach().cpu().contiguous()
            if dtype is not None and t.is_floating_point():
                t = t.to(dtype)
            state[key] = t
        meta = {"architecture": self.architecture, "format_version": str(FORMAT_VERSION)}
        config = {
            "architecture": self.architecture,
            "format_version": FORMAT_VERSION,
            "config": self.config_dict(),
            "num_parameters": self.num_parameters(),
        }
        if extra:
            config.update(extra)
        write_bytes_atomic(out / WEIGHTS_NAME, st_save(state, metadata=meta))
        write_bytes_atomic(out / CONFIG_NAME, (json.dumps(config, indent=2, sort_keys=True) + "\n").encode())
        return out


class InpaintModel(HolefillModel):
    """A generator that takes ``(image, mask)`` and returns an :class:`InpaintOutput`.

    ``image`` is N3HW float in [-1, 1] with the hole zeroed by the caller or not (models must
    not rely on hole content); ``mask`` is N1HW float with 1 = hole.
    """

    #: Input sides must be multiples of this; the pipeline pads to it.
    size_multiple: int = 8
    #: Fixed input size (h, w) for models that only work at one size (e.g. Context Encoder).
    fixed_size: tuple[int, int] | None = None
    #: Whether the model needs known pixels; an all-hole mask is then an error.
    needs_context: bool = True
    #: Blind models (VCNet) find the damage themselves: ``forward(image)`` works without a
    #: mask, and their output depends on the damaged pixels, which they must read.
    blind: bool = False
    #: Batch entries the forward pass takes after ``(image, mask)``, by name (e.g. ``("guide",)``);
    #: the trainer passes them on when it runs the generator itself (samples, evaluation).
    extra_inputs: tuple[str, ...] = ()

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> InpaintOutput:  # pragma: no cover
        raise NotImplementedError

    def graph_inputs(self, image: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """Inputs the network reads besides ``image`` and ``mask`` that no exported graph can
        compute (Canny edges, OpenCV's diffusion fill), by the keyword of ``forward`` that takes
        them. An ONNX export takes them as extra inputs and the ONNX Runtime filler computes
        them with this method, so the pre-processing stays ours. Most models need none."""
        return {}

    def traceable(self) -> None:
        """Switch layers to the forms an exported graph should hold (e.g. attention in a few
        large steps rather than many data-sized chunks). Layers already pick traceable forms
        while traced; a model overrides this where a better one needs its own knowledge."""

    @torch.no_grad()
    def predict(self, image: torch.Tensor, mask: torch.Tensor, *extra: torch.Tensor) -> torch.Tensor:
        """The final prediction for inference (NCHW, [-1, 1], not composited); ``extra`` are the
        :attr:`extra_inputs`, in order."""
        return self(image, mask, *extra).output


class UpscaleModel(HolefillModel):
    """A network that enlarges an image by a (possibly non-integer) factor.

    ``forward(image, scale)`` takes N3hw in [-1, 1] and returns N3HW with
    ``H = floor(scale * h)``, ``W = floor(scale * w)`` (:func:`holefill.io.upscaled_size`).
    """

    #: The largest factor the model was built (and trained) for; larger ones are refused.
    max_scale: float = 4.0

    def forward(self, image: torch.Tensor, scale: float) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    @property
    def receptive_radius(self) -> int | None:
        """How many input pixels around a tile change its output (None: the model cannot be tiled)."""
        return None

    def upscale_region(self, image: torch.Tensor, scale: float, rows: tuple[int, int], cols: tuple[int, int],
                       origin: tuple[int, int] = (0, 0)) -> torch.Tensor:  # pragma: no cover
        """Output rows ``rows[0] <= i < rows[1]`` and columns ``cols`` of the enlargement (global
        indices) from the input pixels from ``origin`` on (a tile with its margin)."""
        raise NotImplementedError


class GenerativeModel(HolefillModel):
    """A generator of images from latent codes (an unconditional GAN, a scene generator).

    ``sample_latents(n, generator)`` draws the codes of ``n`` images from the model's prior with
    a seeded ``torch.Generator``; ``forward(latents)`` renders them as N3HW in [-1, 1], all
    of size :attr:`image_size`.
    """

    #: Side of the (square) images the model makes.
    image_size: int = 64
    #: Whether the codes are one N x d tensor that gradient descent may search (latent-search
    #: inpainting needs it; :meth:`clamp_latents` keeps a searched code inside the prior).
    searchable: bool = False
    #: Edits :meth:`apply_controls` understands (GIRAFFE: move, rotate, swap appearance).
    controls: tuple[str, ...] = ()

    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> Any:  # pragma: no cover
        raise NotImplementedError

    def forward(self, latents: Any) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def clamp_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """A searched code brought back inside the prior's support (unbounded priors: unchanged)."""
        return latents

    def apply_controls(self, latents: Any, **controls: Any) -> Any:
        """``latents`` edited by ``controls`` (names from :attr:`controls`); none by default."""
        if controls:
            raise ValueError(f"{self.architecture or type(self).__name__} takes no controls")
        return latents

    @staticmethod
    def select(latents: Any, index: slice) -> Any:
        """Samples ``index`` of a batch of latents: a tensor, or a dataclass of batch-first tensors."""
        if isinstance(latents, torch.Tensor):
            return latents[index]
        return dataclasses.replace(latents, **{f.name: getattr(latents, f.name)[index]
                                               for f in dataclasses.fields(latents)})


def check_inputs(name: str, image: torch.Tensor, mask: torch.Tensor) -> None:
    """One-line errors for images that are not N3HW, masks that do not fit, sizes not multiples of 4."""
    if image.dim() != 4 or image.shape[1] != 3:
        raise InvalidArgumentError(f"{name}: image must be N3HW, got shape {tuple(image.shape)}")
    n, _, h, w = image.shape
    if mask.dim() != 4 or mask.shape[1] != 1 or mask.shape[0] not in (1, n) or tuple(mask.shape[-2:]) != (h, w):
        raise InvalidArgumentError(f"{name}: mask must be N1HW matching the image {tuple(image.shape)}, "
                                   f"got {tuple(mask.shape)}")
    if h % 4 or w % 4:
        raise InvalidArgumentError(f"{name}: height and width must be multiples of 4, got {h}x{w} "
                                   "(the pipeline pads to multiples of 8)")


def read_config(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed ``config.json`` of a weights folder, with clear errors."""
    folder = Path(directory)
    if not folder.exists():
        raise InputNotFoundError("no such weights folder", folder)
    if not folder.is_dir():
        raise WeightsError(f"weights are a folder with {CONFIG_NAME} and {WEIGHTS_NAME}, not a file", folder)
    cfg_path = folder / CONFIG_NAME
    if not cfg_path.exists():
        raise WeightsError(f"has no {CONFIG_NAME}; is it a folder written by save_pretrained?", folder)
    if not (folder / WEIGHTS_NAME).exists():
        raise WeightsError(f"has no {WEIGHTS_NAME}", folder)
    try:
        cfg = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WeightsError(f"is not valid JSON ({exc})", cfg_path) from None
    if not isinstance(cfg, dict) or "architecture" not in cfg or not isinstance(cfg.get("config", {}), dict):
        raise WeightsError("does not name an architecture and its config", cfg_path)
    return cfg


def load_state_strict(model: nn.Module, state: dict[str, torch.Tensor], *, source: str) -> None:
    """Load ``state`` into ``model``; any missing, unexpected or misshapen tensor is a WeightsError."""
    from holefill.state_dicts import state_dict_problems

    own = model.state_dict()
    problems = state_dict_problems(own, state)
    if problems:
        raise WeightsError("does not fit the architecture: " + "; ".join(problems), source)
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=True)


def read_official_checkpoint(source: str | os.PathLike[str] | Mapping[str, Any], key: str) -> tuple[dict[str, torch.Tensor], str]:
    """The state dict under ``key`` in an authors' ``torch.save`` file (or a dict given as is),
    and a name for messages. The file is read with ``weights_only=True`` (no code runs)."""
    name = "<state dict>"
    data: Any = source
    if not isinstance(source, Mapping):
        path = Path(source)
        name = str(path)
        if not path.is_file():
            raise InputNotFoundError("no such checkpoint file", path)
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 (pickle, zip and torch errors alike)
            raise WeightsError(f"cannot be read as a PyTorch checkpoint ({type(exc).__name__}: {exc})", path) from None
    if isinstance(data, Mapping) and key in data:
        data = data[key]
    if not isinstance(data, Mapping) or not data or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise WeightsError(f"holds no state dict (expected a dict with key {key!r} of tensors)", name)
    return {str(k): v for k, v in data.items()}, name
