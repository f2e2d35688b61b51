"""VGG-16 and VGG-19 feature extractors (Simonyan & Zisserman, ICLR 2015) for the losses.

Written in plain PyTorch so that holefill needs no torchvision, yet the convolution stack is
a ``features`` ``nn.Sequential`` with exactly torchvision's indices (``features.0.weight``,
``features.2.weight``, ... ``features.34.bias`` for VGG-19). A state dict saved from
torchvision's ``vgg16()``/``vgg19()`` (``.pth``) or converted to ``.safetensors`` loads
directly; its ``classifier.*`` tensors are not needed and are ignored (and reported).

Weights are never downloaded: the user names a local file (see :func:`load_vgg`).

Inputs are NCHW in [-1, 1]. They are mapped to [0, 1] and, by default, normalised with the
ImageNet mean and std that torchvision's weights were trained with. Outputs are named taps:
``conv{b}_{k}`` (before the ReLU), ``relu{b}_{k}`` and ``pool{b}``, with ``b`` the block
(1-5) and ``k`` the convolution within it (1-based), the names the inpainting papers use.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from torch import nn

from holefill.errors import InvalidArgumentError, WeightsError
from holefill.state_dicts import state_dict_problems

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "VGG_ARCHS",
    "VGGFeatures",
    "load_vgg",
    "read_state_dict",
    "vgg_layer_names",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Output channels per convolution, one inner list per block; each block ends in a 2x2 max-pool.
_BLOCKS: dict[str, tuple[tuple[int, ...], ...]] = {
    "vgg16": ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
    "vgg19": ((64, 64), (128, 128), (256, 256, 256, 256), (512, 512, 512, 512), (512, 512, 512, 512)),
}
VGG_ARCHS: tuple[str, ...] = tuple(_BLOCKS)


def _check_arch(arch: str) -> str:
    if arch not in _BLOCKS:
        raise InvalidArgumentError(f"arch: unknown VGG {arch!r}; choose one of {', '.join(VGG_ARCHS)}")
    return arch


def _build(arch: str) -> tuple[nn.Sequential, dict[str, int]]:
    """The ``features`` stack and the index in it at which each named tap is taken."""
    layers: list[nn.Module] = []
    taps: dict[str, int] = {}
    in_ch = 3
    for b, block in enumerate(_BLOCKS[arch], start=1):
        for k, out_ch in enumerate(block, start=1):
            taps[f"conv{b}_{k}"] = len(layers)
            layers.append(nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1))
            taps[f"relu{b}_{k}"] = len(layers)
            layers.append(nn.ReLU(inplace=False))  # not in place: conv taps must survive
            in_ch = out_ch
        taps[f"pool{b}"] = len(layers)
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers), taps


def vgg_layer_names(arch: str = "vgg19") -> tuple[str, ...]:
    """Every tap name of ``arch``, shallowest first."""
    _, taps = _build(_check_arch(arch))
    return tuple(sorted(taps, key=taps.__getitem__))


class VGGFeatures(nn.Module):
    """A frozen VGG convolution stack that returns the named taps asked for.

    The network is in eval mode with ``requires_grad=False`` on every parameter; gradients
    still flow through it to the input. The forward pass stops at the deepest tap asked for.
    ``imagenet_norm=False`` feeds [0, 1] images without mean/std normalisation (what
    EdgeConnect's official code does).
    """

    def __init__(self, arch: str = "vgg19", *, imagenet_norm: bool = True) -> None:
        super().__init__()
        self.arch = _check_arch(arch)
        self.features, self._tap_index = _build(arch)
        self.imagenet_norm = imagenet_norm
        # Non-persistent: the state dict holds only torchvision's ``features.*`` keys.
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        #: Keys of the loaded file that were not used (e.g. ``classifier.*``).
        self.ignored_keys: tuple[str, ...] = ()
        #: The file the weights came from, if any.
        self.source: str | None = None
        self.freeze()

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(sorted(self._tap_index, key=self._tap_index.__getitem__))

    def freeze(self) -> VGGFeatures:
        for p in self.parameters():
            p.requires_grad_(False)
        return self.eval()

    def train(self, mode: bool = True) -> VGGFeatures:
        """Always stays in eval mode: a frozen feature extractor."""
        return super().train(False)

    def check_taps(self, names: Iterable[str]) -> tuple[str, ...]:
        """The names as a tuple, or an InvalidArgumentError naming an unknown one."""
        names = tuple(names)
        for name in names:
            if name not in self._tap_index:
                raise InvalidArgumentError(
                    f"layers: {self.arch} has no layer {name!r}; use conv{{b}}_{{k}}, relu{{b}}_{{k}} or pool{{b}}, "
                    f"e.g. {', '.join(self.layer_names[:3])}"
                )
        if not names:
            raise InvalidArgumentError("layers: at least one VGG layer is needed")
        return names

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """[-1, 1] -> [0, 1] -> ImageNet-normalised (unless ``imagenet_norm`` is off)."""
        x = (x + 1.0) * 0.5
        if self.imagenet_norm:
            x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        return x

    def forward(self, x: torch.Tensor, taps: Iterable[str]) -> dict[str, torch.Tensor]:
        """The activations named in ``taps`` for images ``x`` (NCHW, 3 channels, [-1, 1])."""
        names = self.check_taps(taps)
        if x.dim() != 4 or x.shape[1] != 3:
            raise InvalidArgumentError(f"VGG input must be N x 3 x H x W, got {tuple(x.shape)}")
        wanted = {self._tap_index[n]: n for n in names}
        last = max(wanted)
        out: dict[str, torch.Tensor] = {}
        h = self.normalize(x)
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in wanted:
                out[wanted[i]] = h
            if i == last:
                break
        return {n: out[n] for n in names}

    def load_weights(self, path: str | os.PathLike[str]) -> VGGFeatures:
        """Load a torchvision-style state dict from ``path`` (``.pth``/``.pt`` or ``.safetensors``).

        ``features.*`` must match exactly; ``classifier.*`` (and nothing else) is ignored and
        listed in :attr:`ignored_keys`. Anything else is a :class:`WeightsError` naming the file
        and the keys that do not fit.
        """
        state = read_state_dict(path)
        if state and all(k.startswith("module.") for k in state):  # saved from DataParallel
            state = {k[len("module."):]: v for k, v in state.items()}
        ignored = tuple(sorted(k for k in state if k.startswith("classifier.")))
        feats = {k: v for k, v in state.items() if not k.startswith("classifier.")}
        own = self.state_dict()
        problems = state_dict_problems(own, feats, order=_key_order, owner=self.arch, examples=4)
        if problems:
            raise WeightsError(f"is not a torchvision {self.arch} state dict: " + "; ".join(problems), path)
        with torch.no_grad():
            for k, v in own.items():
                v.copy_(feats[k].to(v.dtype))
        self.ignored_keys = ignored
        self.source = str(path)
        return self.freeze()


def _key_order(key: str) -> tuple[int, str]:
    parts = key.split(".")
    return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 10**6, key)


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """A flat name -> tensor dict from a ``.safetensors`` file or a torch-saved state dict.

    Torch files are read with ``weights_only=True`` (no code runs). A checkpoint that wraps
    the state dict under ``"state_dict"`` or ``"model"`` is unwrapped.
    """
    p = Path(path)
    if not p.is_file():
        raise WeightsError("no such weights file", p)
    if p.suffix.lower() == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            state: object = load_file(str(p))
        except (SafetensorError, OSError, ValueError) as exc:
            raise WeightsError(f"cannot be read as safetensors ({_one_line(exc)})", p) from None
    else:
        try:
            state = torch.load(str(p), map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many kinds on a bad file: all mean "not weights"
            raise WeightsError(f"cannot be read as a torch state dict ({_one_line(exc)})", p) from None
    if isinstance(state, Mapping) and not all(isinstance(v, torch.Tensor) for v in state.values()):
        for wrapper in ("state_dict", "model"):
            if isinstance(state.get(wrapper), Mapping):
                state = state[wrapper]
                break
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError("does not hold a state dict (a mapping of names to tensors)", p)
    return {str(k): v for k, v in state.items()}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:160] + "...") if len(text) > 160 else text or type(exc).__name__


def load_vgg(path: str | os.PathLike[str], arch: str = "vgg19", *, imagenet_norm: bool = True) -> VGGFeatures:
    """A frozen :class:`VGGFeatures` with weights from the local file ``path``."""
    return VGGFeatures(arch, imagenet_norm=imagenet_norm).load_weights(path)
