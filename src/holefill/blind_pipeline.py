"""Turn a blind model (VCNet) into a :class:`~holefill.fillers.BlindFiller`.

:class:`ModelBlindFiller` runs the model's mask prediction network to find the damage
(probabilities ``sigmoid(logits)``; the paper's BCE is taken on these), optionally lowers
the regions without a sure core (``seed``: hysteresis, our addition, not in the paper),
thresholds and optionally grows the mask, then runs the whole model *with that mask*
(VCNet's given-mask mode, the official ``--phase acc``), so a mask the user corrected on the
web page is filled the same way as one the model found. Only the marked pixels change.

Sizes: the image is padded (reflecting) to the model's multiple. The model works at ``scale``
times the image's size (1: as it is), and at most at ``resize_limit`` on the long side: damage
must look to the network the size it had in training (a model trained on 128-px crops with
damage drawn relative to the crop sees 10-px strokes as 5-px ones). With ``second_scale`` (our
addition, not in the paper) the network also looks at the image at that fraction of the working
size and the two damage maps are averaged: texture the network doubts at one size it often
does not at the other, while strokes and letters look like damage at both. The damage map comes back
with bilinear interpolation, the repair with bicubic, and the original pixels are kept outside
the mask.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from holefill.errors import InvalidArgumentError, WeightsError
from holefill.fillers import BLIND_MASK_KEYS, BlindFiller, check_blind_options, check_seed_options
from holefill.models.base import InpaintModel, read_config
from holefill.models.registry import load_model
from holefill.options import Option, checked
from holefill.pipeline import resolve_device

#: The damage threshold and dilation the shipped VCNet uses unless told otherwise.
DEFAULT_THRESHOLD = 0.5
DEFAULT_DILATE = 0
#: What a weights folder's ``config.json`` may set under ``"blind"``.
BLIND_DEFAULT_KEYS = BLIND_MASK_KEYS


def _to_tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.array(image, dtype=np.uint8)).to(device).permute(2, 0, 1)[None].float() / 127.5 - 1.0


def _to_image(x: torch.Tensor) -> np.ndarray:
    return ((x[0].float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


class ModelBlindFiller(BlindFiller):
    """A :class:`BlindFiller` backed by a blind :class:`InpaintModel` (``model.blind``)."""

    options = (
        Option("threshold", "float", DEFAULT_THRESHOLD, "damage probability above which a pixel is damaged "
               "(default: the weights' own)", minimum=0.0, maximum=0.999),
        Option("dilate", "int", DEFAULT_DILATE, "pixels the damage mask grows by (default: the weights' own)",
               minimum=0, maximum=64),
        Option("seed", "float", None, "hysteresis: a region above the threshold is damage only if it holds pixels"
               " above this probability (none: off; default: the weights' own)", minimum=0.001, maximum=0.999,
               nullable=True),
        Option("seed_pixels", "int", 64, "with seed: how many pixels above seed a region must hold",
               minimum=1, maximum=100_000),
        Option("scale", "float", 1.0, "the size the model works at, relative to the photo (default: the weights' own)",
               minimum=0.1, maximum=1.0),
        Option("second_scale", "float", None, "also find the damage at this fraction of the working size and average"
               " the two maps (none: off; default: the weights' own)", minimum=0.25, maximum=0.95, nullable=True),
        Option("resize_limit", "int", 1024, "the largest side a network pass runs at", minimum=32, maximum=4096),
    )

    def __init__(self, model: InpaintModel, *, device: str | torch.device | None = None, name: str | None = None,
                 threshold: float = DEFAULT_THRESHOLD, dilate: int = DEFAULT_DILATE, resize_limit: int = 1024,
                 scale: float = 1.0, seed: float | None = None, seed_pixels: int = 64,
                 second_scale: float | None = None) -> None:
        if not getattr(model, "blind", False) or not hasattr(model, "predict_mask"):
            raise InvalidArgumentError(f"{model.architecture or type(model).__name__} is not a blind model "
                                       "(it needs a mask); blind inpainting needs one that finds the damage, e.g. vcnet")
        self.threshold, self.dilate = check_blind_options(threshold, dilate)
        self.seed, self.seed_pixels = check_seed_options(seed, seed_pixels, self.threshold)
        if isinstance(resize_limit, bool) or not isinstance(resize_limit, int) or resize_limit < 32:
            raise InvalidArgumentError(f"resize_limit must be a whole number >= 32, got {resize_limit!r}")
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0.1 <= float(scale) <= 1.0:
            raise InvalidArgumentError(f"scale must be a number in [0.1, 1], got {scale!r}")
        self.scale = float(scale)
        self.second_scale: float | None = checked(self.options, second_scale=second_scale)["second_scale"]
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.name = name or model.architecture or type(model).__name__
        self.resize_limit = resize_limit

    @classmethod
    def from_pretrained(cls, weights: str | Path, *, device: str | torch.device | None = None,
                        expect: str | None = None, **options: object) -> "ModelBlindFiller":
        """Load a ``save_pretrained`` folder of a blind model. Its ``config.json`` may hold a
        ``"blind"`` mapping of defaults chosen for those weights (``threshold``, ``dilate``,
        ``scale``, ``seed``, ``seed_pixels``, ``second_scale``, picked on held-out images);
        ``options`` override them."""
        defaults = read_config(weights).get("blind", {})
        if not isinstance(defaults, dict) or set(defaults) - set(BLIND_DEFAULT_KEYS):
            raise WeightsError(f"config.json: 'blind' must map some of {', '.join(BLIND_DEFAULT_KEYS)} to values",
                               weights)
        merged = {**defaults, **options}
        return cls(load_model(weights, device="cpu", expect=expect), device=device, **merged)  # type: ignore[arg-type]

    # -- sizes ------------------------------------------------------------------------------
    def _work_size(self, h: int, w: int) -> tuple[int, int]:
        scale = min(self.scale, self.resize_limit / max(h, w))
        return max(1, round(h * scale)), max(1, round(w * scale))

    def _padded(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        k = self.model.size_multiple
        h, w = x.shape[-2:]
        ph, pw = (-h) % k, (-w) % k
        if h + ph < k or w + pw < k:
            ph, pw = max(ph, k - h), max(pw, k - w)
        if ph or pw:
            mode = "reflect" if ph < h and pw < w else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        return x, h, w

    # -- the protocol -----------------------------------------------------------------------
    @torch.inference_mode()
    def _find(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        wh, ww = self._work_size(h, w)
        prob = self._map_at(image, wh, ww)
        if self.second_scale is not None:
            sh, sw = max(1, round(wh * self.second_scale)), max(1, round(ww * self.second_scale))
            prob = 0.5 * (prob + self._map_at(image, sh, sw))
        return prob

    @torch.inference_mode()
    def _map_at(self, image: np.ndarray, wh: int, ww: int) -> np.ndarray:
        """The damage probabilities of ``image`` (its own size) with the network run at ``wh`` x ``ww``."""
        h, w = image.shape[:2]
        small = image if (wh, ww) == (h, w) else cv2.resize(image, (ww, wh), interpolation=cv2.INTER_AREA)
        x, sh, sw = self._padded(_to_tensor(small, self.device))
        logits, _ = self.model.predict_mask(x)  # type: ignore[attr-defined, operator]
        prob = torch.sigmoid(logits.float())[0, 0, :sh, :sw].cpu().numpy()
        if (wh, ww) != (h, w):
            prob = cv2.resize(prob, (w, h), interpolation=cv2.INTER_LINEAR)
        return prob

    @torch.inference_mode()
    def _repair(self, image: np.ndarray, mask: np.ndarray, probability: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        wh, ww = self._work_size(h, w)
        small, small_mask = image, mask
        if (wh, ww) != (h, w):
            small = cv2.resize(image, (ww, wh), interpolation=cv2.INTER_AREA)
            small_mask = cv2.resize(mask.astype(np.float32), (ww, wh), interpolation=cv2.INTER_AREA) > 0
        x, sh, sw = self._padded(_to_tensor(small, self.device))
        m = torch.from_numpy(small_mask.astype(np.float32)).to(self.device)[None, None]
        m, _, _ = self._padded(m)
        fill = self.model(x, m).output[..., :sh, :sw]
        repaired = _to_image(fill)
        if (wh, ww) != (h, w):
            repaired = cv2.resize(repaired, (w, h), interpolation=cv2.INTER_CUBIC)
        return repaired


__all__ = ["BLIND_DEFAULT_KEYS", "DEFAULT_DILATE", "DEFAULT_THRESHOLD", "ModelBlindFiller"]
