"""Faster inference for any generator, same numbers: batch-norm folding and channels-last.

- :func:`fold_batch_norms`: in eval mode a batch norm after a convolution is an affine map
  per channel, so it folds into the convolution's weights and bias (``w * g / sqrt(v + e)``,
  ``(b - m) * g / sqrt(v + e) + beta``) and disappears: one pass over the activations less
  per layer (GLCIC, Context Encoder, PGGAN). Pairs are found in ``nn.Sequential``s
  (a conv directly followed by its norm) and in blocks that hold a ``conv`` and a ``bn`` or
  ``norm`` applied to its output (GLCIC's ``ConvBlock``, PGGAN's ``InterpolatedConv``);
  instance norms depend on the input and stay.
- :func:`channels_last`: weights and activations stored NHWC, which oneDNN convolves
  without reordering every tensor on the way in and out.

:func:`optimize_for_inference` applies both to a copy. Outputs equal the original's to
float rounding (tests check 1e-4); ``benchmarks/inference_steps.py`` times each step.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.parametrize import is_parametrized

from holefill.models.base import InpaintModel

_Conv = (nn.Conv2d, nn.ConvTranspose2d)


@torch.no_grad()
def _fold(conv: nn.Conv2d | nn.ConvTranspose2d, norm: nn.BatchNorm2d) -> None:
    """Fold ``norm`` (eval statistics) into ``conv`` in place."""
    if norm.running_mean is None or norm.running_var is None:
        raise ValueError("a batch norm without running statistics cannot be folded")
    scale = torch.rsqrt(norm.running_var + norm.eps)
    if norm.weight is not None:
        scale = scale * norm.weight
    shift = -norm.running_mean * scale
    if norm.bias is not None:
        shift = shift + norm.bias
    # Conv2d weights are (out, in, k, k); ConvTranspose2d weights are (in, out / groups, k, k).
    if isinstance(conv, nn.ConvTranspose2d):
        conv.weight.mul_(scale.view(1, -1, 1, 1))
    else:
        conv.weight.mul_(scale.view(-1, 1, 1, 1))
    bias = conv.bias if conv.bias is not None else torch.zeros_like(scale)
    new_bias = bias * scale + shift
    if conv.bias is None:
        conv.bias = nn.Parameter(new_bias)
    else:
        conv.bias.copy_(new_bias)


def fold_batch_norms(model: nn.Module) -> int:
    """Fold every eval-mode batch norm that directly follows a convolution into it, in
    place; returns how many were folded. Call on a model in eval mode only."""
    if model.training:
        raise ValueError("fold batch norms of a model in eval mode (training uses batch statistics)")
    folded = 0
    for module in list(model.modules()):
        if isinstance(module, nn.Sequential):
            items = list(module._modules.items())
            for (_, first), (key, second) in zip(items, items[1:]):
                if isinstance(first, _Conv) and type(second) is nn.BatchNorm2d and not is_parametrized(first):
                    _fold(first, second)
                    module._modules[key] = nn.Identity()
                    folded += 1
        conv = getattr(module, "conv", None)
        for attr in ("bn", "norm"):
            norm = getattr(module, attr, None)
            if isinstance(conv, _Conv) and type(norm) is nn.BatchNorm2d and not is_parametrized(conv):
                _fold(conv, norm)
                setattr(module, attr, nn.Identity())
                folded += 1
    return folded


def channels_last(model: nn.Module) -> nn.Module:
    """Store the model's 4-D weights channels-last (in place); its convolutions then keep
    channels-last inputs channels-last."""
    return model.to(memory_format=torch.channels_last)


def optimize_for_inference(model: InpaintModel, *, fold: bool = True, nhwc: bool = True) -> InpaintModel:
    """A copy of ``model`` (in eval mode) with batch norms folded and weights channels-last."""
    fast = copy.deepcopy(model).eval()
    if fold:
        fold_batch_norms(fast)
    if nhwc:
        channels_last(fast)
    return fast
