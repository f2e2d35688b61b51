"""Learned blending: a blending model (``task == "blend"``) becomes a :class:`~holefill.fillers.Blender`.

The network needs heights, side widths and gaps that are multiples of its stride (64 for
``bct_blend``); photos and gaps of any size are handled here:

- the height is padded (mirrored) to a multiple of the stride, at least two strides, and
  the middle is cut back to it;
- each side hands the network up to ``context`` columns next to the gap (rounded down to the
  stride; a photo narrower than one stride is mirrored outwards to one), so the cost does not
  grow with the photos' widths;
- the gap is rounded up to the stride and the generated middle resized to the asked width
  (a gap that is a multiple of the stride is used as it is);
- ``scale`` runs the network on the photos resized by that factor and resizes the middle
  back (for weights trained on smaller photos than the ones given);
- ``seam="offset"`` (ours, not in the paper or its code) removes the step between each photo
  and the generated middle. The network redraws the whole panorama, sides included, and its
  redrawn sides differ from the photos (a small network's most of all); pasting the photos
  back then leaves a visible edge where the redrawn side's error stops. Per row and channel,
  the photo minus its redrawn copy over the ``SEAM_COLUMNS`` columns next to the gap,
  smoothed down the rows, is added to the middle, fading linearly from each edge to the
  other (the 1-D membrane that takes each edge's offset to the other's). ``"none"`` pastes
  the network's middle as it is.

The photos themselves come back unchanged: :meth:`Blender.blend` puts the original pixels
around the generated middle.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import torch

from holefill.errors import InvalidArgumentError
from holefill.fillers import Blender
from holefill.models.base import InpaintModel
from holefill.models.registry import load_model
from holefill.options import Option
from holefill.pipeline import resolve_device


#: Columns of each photo next to the gap whose offset to the network's redrawn copy ``seam="offset"`` takes.
SEAM_COLUMNS = 4
#: Standard deviation, in rows of the network's input, of the smoothing of those offsets down the rows.
SEAM_SIGMA = 4.0


def seam_offsets(panorama: np.ndarray, left: np.ndarray, right: np.ndarray, gap: int) -> np.ndarray:
    """The ``seam="offset"`` correction of a generated middle, (H, gap, 3) float32, in the images' units.

    ``panorama`` is the network's whole drawing (H, Wl + gap + Wr, 3), ``left`` and ``right``
    the photos it was given (H, Wl, 3) and (H, Wr, 3), all float. The result is
    ``(1 - t) * d_left + t * d_right`` at the middle's column with ``t = (x + 0.5) / gap``,
    where ``d`` is each photo minus its redrawn copy, averaged over the ``SEAM_COLUMNS``
    columns next to the gap and smoothed down the rows with a Gaussian of ``SEAM_SIGMA``.
    """
    wl = left.shape[1]
    c_l, c_r = min(SEAM_COLUMNS, wl), min(SEAM_COLUMNS, right.shape[1])
    d_l = (left[:, wl - c_l:] - panorama[:, wl - c_l:wl]).mean(axis=1)
    d_r = (right[:, :c_r] - panorama[:, wl + gap:wl + gap + c_r]).mean(axis=1)
    smooth = [cv2.GaussianBlur(d[:, None, :].astype(np.float32), (1, 0), sigmaX=0.1, sigmaY=SEAM_SIGMA,
                               borderType=cv2.BORDER_REFLECT)[:, 0, :] for d in (d_l, d_r)]
    t = ((np.arange(gap, dtype=np.float32) + 0.5) / gap)[None, :, None]
    return (1.0 - t) * smooth[0][:, None, :] + t * smooth[1][:, None, :]


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = image.shape[:2]
    if (h, w) == (height, width):
        return image
    shrink = width * height < w * h
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


class ModelBlender(Blender):
    """A :class:`Blender` backed by a blending model (e.g. :class:`~holefill.models.bct_blend.BCTBlend`)."""

    options = (
        Option("context", "int", 256, "columns of each photo next to the gap that the network sees (at least "
               "the model's stride)", minimum=1, maximum=4096),
        Option("scale", "float", 1.0, "run the network on the photos resized by this factor", minimum=0.05,
               maximum=4.0),
        Option("seam", "choice", "offset", "offset: shift the middle by each photo's difference to the network's "
               "redrawn copy at the gap, fading across it (no step at the seams); none: the network's middle as "
               "drawn", choices=("offset", "none")),
    )

    def __init__(self, model: InpaintModel, *, device: str | torch.device | None = None, name: str | None = None,
                 context: int = 256, scale: float = 1.0, seam: str = "offset") -> None:
        if getattr(model, "task", "inpaint") != "blend" or not hasattr(model, "blend"):
            raise InvalidArgumentError(f"{model.architecture or type(model).__name__} is not a blending model")
        if isinstance(context, bool) or not isinstance(context, int) or context < model.size_multiple:
            raise InvalidArgumentError(f"context must be a whole number of pixels >= {model.size_multiple}, "
                                       f"got {context!r}")
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0.05 <= scale <= 4:
            raise InvalidArgumentError(f"scale must be a number in [0.05, 4], got {scale!r}")
        if seam not in ("offset", "none"):
            raise InvalidArgumentError(f"seam must be offset or none, got {seam!r}")
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.name = name or model.architecture or type(model).__name__
        self.context = int(context)
        self.scale = float(scale)
        self.seam = seam

    @classmethod
    def from_pretrained(cls, weights: str | Path, *, device: str | torch.device | None = None, expect: str | None = None,
                        **options) -> "ModelBlender":
        """Load a ``save_pretrained`` folder (checking the architecture when ``expect`` is given).

        The folder's ``config.json`` may hold defaults for the options under ``"blender"``
        (e.g. ``{"context": 256, "scale": 0.5, "seam": "offset"}`` for weights trained on smaller
        photos);
        ``options`` override them.
        """
        from holefill.models.base import read_config

        defaults = read_config(weights).get("blender", {})
        if not isinstance(defaults, dict) or set(defaults) - {"context", "scale", "seam"}:
            raise InvalidArgumentError("config.json's \"blender\" entry may hold only context, scale and seam", weights)
        return cls(load_model(weights, device="cpu", expect=expect), device=device, **{**defaults, **options})

    def _side(self, photo: np.ndarray, at_right: bool) -> np.ndarray:
        """The ``context`` columns of ``photo`` next to the gap, a whole number of strides wide."""
        k = self.model.size_multiple
        width = photo.shape[1]
        if width < k:  # mirror outwards, away from the gap
            pad = ((0, 0), (0, k - width) if at_right else (k - width, 0), (0, 0))
            return np.pad(photo, pad, mode="symmetric")
        keep = min(width, self.context) // k * k
        return photo[:, :keep] if at_right else photo[:, width - keep:]

    @torch.inference_mode()
    def _blend(self, left: np.ndarray, right: np.ndarray, gap: int) -> np.ndarray:
        k = self.model.size_multiple
        h0 = left.shape[0]
        if self.scale != 1.0:
            h = max(1, round(h0 * self.scale))
            left = _resize(left, max(1, round(left.shape[1] * self.scale)), h)
            right = _resize(right, max(1, round(right.shape[1] * self.scale)), h)
            inner_gap = max(1, round(gap * self.scale))
        else:
            h, inner_gap = h0, gap
        rows = max(2 * k, math.ceil(h / k) * k)
        top = (rows - h) // 2
        pad = ((top, rows - h - top), (0, 0), (0, 0))
        sides = [np.pad(self._side(p, at_right), pad, mode="symmetric") for p, at_right in ((left, False), (right, True))]
        g = math.ceil(inner_gap / k) * k
        x_l, x_r = (torch.from_numpy(np.ascontiguousarray(s)).to(self.device).permute(2, 0, 1)[None].float()
                    / 127.5 - 1.0 for s in sides)
        panorama = self.model.blend(x_l, x_r, g).output
        wl = sides[0].shape[1]
        drawn = ((panorama[0].float() + 1.0) * 127.5).permute(1, 2, 0).cpu().numpy()
        middle = drawn[:, wl:wl + g]
        if self.seam == "offset":
            middle = middle + seam_offsets(drawn, *(s.astype(np.float32) for s in sides), g)
        middle = np.clip(np.rint(middle[top:top + h]), 0, 255).astype(np.uint8)
        return _resize(middle, gap, h0)

    def __repr__(self) -> str:
        return f"ModelBlender(name={self.name!r}, context={self.context}, scale={self.scale}, seam={self.seam!r})"
