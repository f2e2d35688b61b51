"""LPIPS (Zhang et al., "The Unreasonable Effectiveness of Deep Features as a Perceptual
Metric", CVPR 2018), version 0.1, in plain PyTorch from local weight files.

As the reference implementation (github.com/richzhang/PerceptualSimilarity, ``lpips/lpips.py``):
images in [-1, 1] are shifted and scaled per channel (shift -0.030, -0.088, -0.188; scale
0.458, 0.448, 0.450), run through a frozen trunk (AlexNet's five ReLUs, or VGG-16's relu1_2,
relu2_2, relu3_3, relu4_3, relu5_3), each feature map is divided by its channel-wise L2 norm
(+1e-10), the squared difference of the two images' maps is weighted per channel by the learned
linear head of that layer (a 1x1 conv, no bias), averaged over space and summed over layers.

Weights (never downloaded):

- the heads: the LPIPS package's ``alex.pth`` or ``vgg.pth`` (``lin0.model.1.weight`` ... ``lin4``);
  the trunk is told from their channel counts;
- the trunk: torchvision's state dict (``alexnet-owt-7be5be79.pth``, ``vgg16-397923af.pth``;
  ``features.*`` keys). A full LPIPS state dict (heads plus ``net.slice{k}.{i}.*`` trunk keys)
  needs no second file.

:func:`load_lpips` takes the paths, or ``HOLEFILL_LPIPS_WEIGHTS`` and ``HOLEFILL_LPIPS_TRUNK``.
"""

from __future__ import annotations

import os
import re

import numpy as np
import torch
from torch import nn

from holefill.errors import InvalidArgumentError, WeightsError
from holefill.layers.alexnet import AlexNetFeatures
from holefill.layers.vgg import VGGFeatures, read_state_dict, vgg_layer_names

__all__ = ["LPIPS", "LPIPS_ENV", "LPIPS_TRUNK_ENV", "load_lpips", "lpips_distance"]

LPIPS_ENV = "HOLEFILL_LPIPS_WEIGHTS"
LPIPS_TRUNK_ENV = "HOLEFILL_LPIPS_TRUNK"
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
CHANNELS = {"alex": (64, 192, 384, 256, 256), "vgg": (64, 128, 256, 512, 512)}
TRUNK_FILES = {"alex": "alexnet-owt-7be5be79.pth", "vgg": "vgg16-397923af.pth"}
VGG_TAPS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
_HEAD_KEY = re.compile(r"^lin(\d)\.model\.(\d)\.weight$")
_SLICE_KEY = re.compile(r"^net\.slice\d\.(\d+)\.(weight|bias)$")


class LPIPS(nn.Module):
    """The LPIPS distance with a frozen trunk (``net``: "alex" or "vgg") and five linear heads."""

    def __init__(self, net: str = "alex") -> None:
        super().__init__()
        if net not in CHANNELS:
            raise InvalidArgumentError(f"LPIPS net must be one of {', '.join(CHANNELS)}, got {net!r}")
        self.net = net
        self.trunk: nn.Module = AlexNetFeatures() if net == "alex" else VGGFeatures("vgg16", imagenet_norm=False)
        names = vgg_layer_names("vgg16")
        self.vgg_taps = tuple(names.index(t) for t in VGG_TAPS)  # torchvision indices 3, 8, 15, 22, 29
        for k, ch in enumerate(CHANNELS[net]):
            self.register_buffer(f"head{k}", torch.zeros(1, ch, 1, 1))
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))
        self.eval()

    def heads(self) -> list[torch.Tensor]:
        return [getattr(self, f"head{k}") for k in range(5)]

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - self.shift.to(x.dtype)) / self.scale.to(x.dtype)
        if isinstance(self.trunk, AlexNetFeatures):
            return self.trunk(x)
        out = []
        for i, layer in enumerate(self.trunk.features):  # type: ignore[union-attr]
            x = layer(x)
            if i in self.vgg_taps:
                out.append(x)
            if i == self.vgg_taps[-1]:
                break
        return out

    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        """Distances (N,) between NCHW images ``x0`` and ``x1`` in [-1, 1]."""
        if x0.shape != x1.shape or x0.dim() != 4 or x0.shape[1] != 3:
            raise InvalidArgumentError(f"LPIPS needs two N x 3 x H x W batches of one shape, got {tuple(x0.shape)} "
                                       f"and {tuple(x1.shape)}")
        total = torch.zeros(x0.shape[0], dtype=x0.dtype, device=x0.device)
        for f0, f1, head in zip(self.features(x0), self.features(x1), self.heads()):
            n0 = f0 / (f0.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)
            n1 = f1 / (f1.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)
            total = total + ((n0 - n1) ** 2 * head.to(f0.dtype)).sum(dim=1).mean(dim=(1, 2))
        return total


def _heads_from(state: dict[str, torch.Tensor], path: str) -> tuple[str, list[torch.Tensor]]:
    heads: dict[int, torch.Tensor] = {}
    for key, value in state.items():
        m = _HEAD_KEY.match(key)
        if m:
            heads[int(m.group(1))] = value
    if sorted(heads) != [0, 1, 2, 3, 4]:
        raise WeightsError("is not an LPIPS weight file (alex.pth / vgg.pth): it needs lin0.model.1.weight ... "
                           f"lin4.model.1.weight, found {len(heads)} of them", path)
    channels = tuple(int(heads[k].shape[1]) if heads[k].dim() == 4 else -1 for k in range(5))
    for net, expected in CHANNELS.items():
        if channels == expected and all(tuple(heads[k].shape) == (1, expected[k], 1, 1) for k in range(5)):
            return net, [heads[k] for k in range(5)]
    raise WeightsError(f"has LPIPS heads with {channels} channels; alex has {CHANNELS['alex']}, "
                       f"vgg {CHANNELS['vgg']} (squeeze is not supported)", path)


def load_lpips(weights: str | os.PathLike[str] | None = None, trunk: str | os.PathLike[str] | None = None) -> LPIPS:
    """LPIPS from the heads file ``weights`` and the torchvision trunk file ``trunk``.

    Defaults: ``$HOLEFILL_LPIPS_WEIGHTS`` and ``$HOLEFILL_LPIPS_TRUNK``. The trunk file is not
    needed when ``weights`` is a full LPIPS state dict (with ``net.slice*`` keys).
    """
    path = weights or os.environ.get(LPIPS_ENV)
    if not path:
        raise WeightsError(f"LPIPS needs its weights (alex.pth or vgg.pth from the LPIPS package); give their path "
                           f"(--lpips-weights) or set {LPIPS_ENV}")
    state = read_state_dict(path)
    net, heads = _heads_from(state, str(path))
    model = LPIPS(net)
    with torch.no_grad():
        for own, value in zip(model.heads(), heads):
            own.copy_(value.to(own.dtype))
    sliced = {f"features.{m.group(1)}.{m.group(2)}": v for k, v in state.items() if (m := _SLICE_KEY.match(k))}
    leftover = sorted(k for k in state if not _HEAD_KEY.match(k) and not _SLICE_KEY.match(k)
                      and k not in ("scaling_layer.shift", "scaling_layer.scale"))
    if leftover:
        raise WeightsError(f"has {len(leftover)} keys that are not LPIPS heads or trunk (e.g. {leftover[0]})", path)
    if sliced:
        trunk_state = sliced
        source = str(path)
    else:
        trunk_path = trunk or os.environ.get(LPIPS_TRUNK_ENV)
        if not trunk_path:
            raise WeightsError(f"LPIPS-{net} also needs torchvision's {net} trunk weights ({TRUNK_FILES[net]}); give "
                               f"their path (--lpips-trunk) or set {LPIPS_TRUNK_ENV}", path)
        trunk_state = read_state_dict(trunk_path)
        source = str(trunk_path)
    _load_trunk(model, trunk_state, source)
    return model


def _load_trunk(model: LPIPS, state: dict[str, torch.Tensor], source: str) -> None:
    """Copy ``features.*`` into the trunk strictly (``classifier.*`` is ignored)."""
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    feats = {k: v for k, v in state.items() if k.startswith("features.")}
    own = model.trunk.state_dict()
    if model.net == "vgg":  # LPIPS-vgg stops at relu5_3: nothing past features.29 is needed
        own = {k: v for k, v in own.items() if int(k.split(".")[1]) <= model.vgg_taps[-1]}
        feats = {k: v for k, v in feats.items() if int(k.split(".")[1]) <= model.vgg_taps[-1]}
    bad = sorted(set(own) ^ set(feats)) or sorted(k for k in own if tuple(own[k].shape) != tuple(feats[k].shape))
    if bad:
        raise WeightsError(f"is not torchvision's {model.net} trunk for LPIPS-{model.net} ({bad[0]} does not fit; "
                           f"expected {TRUNK_FILES[model.net]})", source)
    with torch.no_grad():
        for k, v in own.items():
            v.copy_(feats[k].to(v.dtype))


def lpips_distance(model: LPIPS, a: np.ndarray, b: np.ndarray, device: str = "cpu") -> float:
    """LPIPS between two HxWx3 uint8 RGB images."""
    if a.shape != b.shape or a.dtype != np.uint8 or b.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        raise InvalidArgumentError(f"LPIPS needs two HxWx3 uint8 images of one size, got {a.shape} and {b.shape}")

    def tensor(img: np.ndarray) -> torch.Tensor:
        return torch.tensor(img).permute(2, 0, 1)[None].float().div(127.5).sub(1).to(device)

    with torch.inference_mode():
        return float(model.to(device)(tensor(a), tensor(b))[0])
