"""Convolutions with TensorFlow "SAME" padding, gated convolution, and the 2x "deconv".

Gated convolution is from Yu et al., "Free-Form Image Inpainting with Gated Convolution",
ICCV 2019 (official code: github.com/JiahuiYu/generative_inpainting, branch v2.0.0,
``gen_conv`` / ``gen_deconv`` in ``inpaint_ops.py``). A gated layer with ``filters`` output
filters splits them in half: ``activation(features) * sigmoid(gate)``, so only
``filters // 2`` channels go on. The DeepFill v1 layout uses the same layers without the
gate (:class:`ActConv2d`), and both papers end in a plain conv (:class:`SameConv2d`).

TensorFlow's "SAME" padding is not PyTorch's ``padding=k // 2``: for a strided conv TF pads
``max((ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)`` in total and puts the odd pixel at the
end, so a 3x3 stride-2 conv on an even size pads 0 before and 1 after, on an odd size 1 and 1.
:func:`tf_same_pad` reproduces that for every size, so weights trained in TF line up.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Activation = Literal["elu", "relu", "leaky_relu", "none"]


def same_padding(size: int, kernel_size: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """TF "SAME" padding (before, after) of one axis of length ``size``."""
    effective = (kernel_size - 1) * dilation + 1
    if size % stride == 0:  # the usual case, a constant (which keeps exported shapes simple)
        total = max(effective - stride, 0)
    else:
        total = max((-(-size // stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def tf_same_pad(x: torch.Tensor, kernel_size: int, stride: int = 1, dilation: int = 1) -> torch.Tensor:
    """Zero-pad NCHW ``x`` the way TF's ``padding='SAME'`` does before a conv."""
    top, bottom = same_padding(x.shape[-2], kernel_size, stride, dilation)
    left, right = same_padding(x.shape[-1], kernel_size, stride, dilation)
    if top == bottom == left == right == 0:
        return x
    return F.pad(x, (left, right, top, bottom))


def _activate(x: torch.Tensor, activation: Activation, inplace: bool) -> torch.Tensor:
    if activation == "elu":
        return F.elu(x, inplace=inplace)
    if activation == "relu":
        return F.relu(x, inplace=inplace)
    if activation == "leaky_relu":
        return F.leaky_relu(x, 0.2, inplace=inplace)
    return x


def _memory_format(x: torch.Tensor) -> torch.memory_format:
    """channels_last when ``x`` is stored that way, else the usual NCHW."""
    if not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format


class SameConv2d(nn.Conv2d):
    """A square conv with TF "SAME" zero padding (right for odd sizes and strides), no activation.

    Weights start as TF's defaults do (Glorot-uniform kernel, zero bias).
    """

    def __init__(self, in_channels: int, filters: int, kernel_size: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__(in_channels, filters, kernel_size, stride=stride, padding=0, dilation=dilation, bias=True)
        nn.init.xavier_uniform_(self.weight)
        nn.init.zeros_(self.bias)

    @property
    def out_features(self) -> int:
        """Channels this layer hands on."""
        return self.out_channels

    def conv(self, x: torch.Tensor) -> torch.Tensor:
        k, s, d = self.kernel_size[0], self.stride[0], self.dilation[0]
        if s == 1 and (k - 1) * d % 2 == 0:  # symmetric: let the conv pad, saving a copy
            return F.conv2d(x, self.weight, self.bias, 1, (k - 1) * d // 2, d)
        return F.conv2d(tf_same_pad(x, k, s, d), self.weight, self.bias, s, 0, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class ActConv2d(SameConv2d):
    """SAME conv followed by an activation (ELU by default): DeepFill v1's generator layer."""

    def __init__(self, in_channels: int, filters: int, kernel_size: int, stride: int = 1, dilation: int = 1,
                 activation: Activation = "elu") -> None:
        super().__init__(in_channels, filters, kernel_size, stride, dilation)
        self.activation: Activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inplace = not (torch.is_grad_enabled() or torch.compiler.is_compiling())
        return _activate(self.conv(x), self.activation, inplace=inplace)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", activation={self.activation}"


class GatedConv2d(SameConv2d):
    """Gated SAME conv: ``filters`` filters, ``activation(first half) * sigmoid(second half)``.

    Hands on ``filters // 2`` channels. Without gradients the gating runs in place, which
    keeps the full-resolution layers of a 1024x1024 fill small. Inputs stored channels_last
    stay channels_last (oneDNN then needs no reorder copies: faster, less memory).
    """

    def __init__(self, in_channels: int, filters: int, kernel_size: int, stride: int = 1, dilation: int = 1,
                 activation: Activation = "elu") -> None:
        if filters % 2:
            raise ValueError(f"a gated conv needs an even number of filters, got {filters}")
        super().__init__(in_channels, filters, kernel_size, stride, dilation)
        self.activation: Activation = activation

    @property
    def out_features(self) -> int:
        return self.out_channels // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        features, gate = y.chunk(2, dim=1)
        if torch.is_grad_enabled() or torch.compiler.is_compiling():  # (traced graphs need no in-place tricks)
            return _activate(features, self.activation, inplace=False) * torch.sigmoid(gate)
        features = _activate(features, self.activation, inplace=True)
        return features.mul_(gate.sigmoid_()).contiguous(memory_format=_memory_format(y))

    def extra_repr(self) -> str:
        return super().extra_repr() + f", activation={self.activation}, gated"


def gen_conv(in_channels: int, filters: int, kernel_size: int, stride: int = 1, dilation: int = 1, *,
             activation: Activation = "elu", gated: bool = True) -> SameConv2d:
    """A generator layer as DeepFill builds it: gated (v2) or conv + activation (v1).

    ``activation="none"`` gives the plain output conv, never gated.
    """
    if activation == "none":
        return SameConv2d(in_channels, filters, kernel_size, stride, dilation)
    if gated:
        return GatedConv2d(in_channels, filters, kernel_size, stride, dilation, activation)
    return ActConv2d(in_channels, filters, kernel_size, stride, dilation, activation)


class UpConv2d(nn.Module):
    """DeepFill's "deconv": nearest-neighbour 2x upsampling, then a 3x3 stride-1 generator layer."""

    def __init__(self, in_channels: int, filters: int, *, activation: Activation = "elu", gated: bool = True) -> None:
        super().__init__()
        self.conv = gen_conv(in_channels, filters, 3, 1, activation=activation, gated=gated)

    @property
    def out_features(self) -> int:
        return self.conv.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TF's align_corners nearest resize at exactly 2x picks source pixel i // 2, as this does.
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
