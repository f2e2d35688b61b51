"""AlexNet's convolution trunk (Krizhevsky et al. 2012, torchvision's single-tower variant).

Plain PyTorch with torchvision's ``features`` indices (``features.0.weight`` ... ``features.10.bias``),
so a state dict saved from torchvision's ``alexnet()`` (``alexnet-owt-7be5be79.pth``) loads as is;
its ``classifier.*`` tensors are not needed and are ignored. LPIPS (Zhang et al., CVPR 2018)
reads the five ReLU outputs (64, 192, 384, 256, 256 channels). Weights are never downloaded.

Layout: conv 11x11/4 pad 2 (64), ReLU, max-pool 3/2, conv 5x5 pad 2 (192), ReLU, max-pool 3/2,
conv 3x3 pad 1 (384), ReLU, conv 3x3 (256), ReLU, conv 3x3 (256), ReLU, max-pool 3/2.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from holefill.errors import WeightsError
from holefill.layers.vgg import read_state_dict

__all__ = ["AlexNetFeatures", "load_alexnet"]


class AlexNetFeatures(nn.Module):
    """The frozen AlexNet ``features`` stack; ``forward`` returns the five ReLU outputs."""

    #: Index in ``features`` of each ReLU that LPIPS taps (relu1 ... relu5).
    TAPS = (1, 4, 7, 9, 11)
    CHANNELS = (64, 192, 384, 256, 256)

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        )
        self.ignored_keys: tuple[str, ...] = ()
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> AlexNetFeatures:
        return super().train(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.TAPS:
                out.append(x)
            if i == self.TAPS[-1]:
                break
        return out

    def load_weights(self, path: str | os.PathLike[str]) -> AlexNetFeatures:
        """Load ``features.*`` of a torchvision AlexNet state dict strictly; ``classifier.*`` is ignored."""
        state = read_state_dict(path)
        if state and all(k.startswith("module.") for k in state):
            state = {k[len("module."):]: v for k, v in state.items()}
        ignored = tuple(sorted(k for k in state if k.startswith("classifier.")))
        feats = {k: v for k, v in state.items() if not k.startswith("classifier.")}
        own = self.state_dict()
        bad = sorted(set(own) ^ set(feats)) or sorted(k for k in own if tuple(own[k].shape) != tuple(feats[k].shape))
        if bad:
            raise WeightsError(f"is not a torchvision AlexNet state dict (e.g. {', '.join(bad[:3])} does not fit)", path)
        with torch.no_grad():
            for k, v in own.items():
                v.copy_(feats[k].to(v.dtype))
        self.ignored_keys = ignored
        return self


def load_alexnet(path: str | os.PathLike[str]) -> AlexNetFeatures:
    return AlexNetFeatures().load_weights(path)
