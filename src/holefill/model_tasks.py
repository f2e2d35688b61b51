"""Learned models that are not inpainting generators, behind their task's protocol.

:class:`ModelUpscaler` turns an :class:`~holefill.models.base.UpscaleModel` (Meta-SR) into
an :class:`~holefill.upscalers.Upscaler`: it runs the network on tiles of the input (each
with a margin as wide as the network's receptive field, so tiles give the numbers the whole
image would) and bounds memory on large photos.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from holefill.models.base import UpscaleModel
from holefill.models import load_model
from holefill.pipeline import resolve_device
from holefill.upscalers import Upscaler


def to_unit_tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    """HxWx3 uint8 to 13HW float in [-1, 1]."""
    return torch.tensor(image, device=device).permute(2, 0, 1)[None].float() / 127.5 - 1.0


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """3HW (or 13HW) in [-1, 1] to HxWx3 uint8 (clamped, rounded)."""
    if x.dim() == 4:
        x = x[0]
    return ((x.float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def first_rows(boundaries: list[int], size: int, scale: float) -> list[int]:
    """For LR indices ``boundaries``: the first output index projecting to each (``floor(i/r) >= b``)."""
    projected = np.floor(np.arange(size, dtype=np.float64) / scale + 1e-9).astype(np.int64)
    return [int(np.searchsorted(projected, b, side="left")) for b in boundaries]


class ModelUpscaler(Upscaler):
    """An :class:`Upscaler` backed by an :class:`UpscaleModel`, run tile by tile.

    ``tile`` is the side of the input tiles in pixels; each is widened by the model's
    ``receptive_radius`` (cut at the image's border), so the result equals one pass over the
    whole image.
    """

    def __init__(self, model: UpscaleModel, *, device: str | torch.device | None = None, tile: int = 256,
                 name: str | None = None) -> None:
        from holefill.errors import InvalidArgumentError

        if not isinstance(model, UpscaleModel):
            raise InvalidArgumentError(f"{type(model).__name__} is not an upscaling model")
        if isinstance(tile, bool) or not isinstance(tile, int) or tile < 16:
            raise InvalidArgumentError(f"tile must be a whole number of pixels >= 16, got {tile!r}")
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.tile = tile
        self.max_scale = float(model.max_scale)
        self.name = name or model.architecture or type(model).__name__

    @classmethod
    def from_pretrained(cls, weights: str | Path, *, device: str | torch.device | None = None,
                        expect: str | None = None, **options) -> "ModelUpscaler":
        """Load a ``save_pretrained`` folder (checking the architecture when ``expect`` is given)."""
        return cls(load_model(weights, device="cpu", expect=expect), device=device, **options)

    @torch.inference_mode()
    def _upscale(self, image: np.ndarray, scale: float, size: tuple[int, int]) -> np.ndarray:
        x = to_unit_tensor(image, self.device)
        h, w = image.shape[:2]
        margin = self.model.receptive_radius
        if margin is None:
            return to_uint8(self.model(x, scale))
        out = torch.empty(1, 3, size[0], size[1], device=self.device)
        ys = list(range(0, h, self.tile)) + [h]
        xs = list(range(0, w, self.tile)) + [w]
        rows, cols = first_rows(ys, size[0], scale), first_rows(xs, size[1], scale)
        for i in range(len(ys) - 1):
            if rows[i] == rows[i + 1]:
                continue
            top, bottom = max(0, ys[i] - margin), min(h, ys[i + 1] + margin)
            for j in range(len(xs) - 1):
                if cols[j] == cols[j + 1]:
                    continue
                left, right = max(0, xs[j] - margin), min(w, xs[j + 1] + margin)
                out[:, :, rows[i]:rows[i + 1], cols[j]:cols[j + 1]] = self.model.upscale_region(
                    x[:, :, top:bottom, left:right], scale, (rows[i], rows[i + 1]), (cols[j], cols[j + 1]),
                    (top, left))
        return to_uint8(out)
