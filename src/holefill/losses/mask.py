"""Losses on predicted masks: VCNet's class-balanced binary cross-entropy.

VCNet (Wang et al., ECCV 2020, Sec. 3.1) trains its mask prediction network with a binary
cross-entropy whose two classes are balanced by how much of the image each covers, so that
thin damage is not drowned by the many clean pixels. The official code
(shepnerd/blindinpainting_vcnet, ``tensorflow_version/net/loss.py``, ``bce_weighted``,
lines 98-112) computes, with ``r`` the hole ratio of the mask,

    ``mean( (1-r)/(r+eps) * y * softplus(-x) + (1 - y) * softplus(x) )``

(``tf.nn.weighted_cross_entropy_with_logits`` with ``pos_weight = known / unknown``), i.e.
the paper's ``tau`` weighting with ``tau`` the known-pixel ratio on the hole term and
``1 - tau`` on the known term, divided by ``r``. Deviation: the official graph has one mask
per batch and first averages the logits over the batch; here every image has its own mask,
so ``r`` is per image and the logits are not averaged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from holefill.losses._checks import check_mask, check_nonneg

__all__ = ["WeightedMaskBCE", "mask_bce"]


def mask_bce(logits: torch.Tensor, mask: torch.Tensor, *, balanced: bool = True, eps: float = 1e-5) -> torch.Tensor:
    """Mean binary cross-entropy of N1HW ``logits`` against the 0/1 ``mask``; ``balanced``
    weights the hole term by ``(1 - r) / (r + eps)`` per image (``r`` its hole ratio)."""
    check_mask(mask, logits, "mask")
    x = logits.float()
    y = mask.to(x.dtype)
    if balanced:
        ratio = y.flatten(1).mean(1).view(-1, 1, 1, 1)
        pos_weight = (1.0 - ratio) / (ratio + eps)
    else:
        pos_weight = torch.ones_like(y[:, :1, :1, :1])
    return (pos_weight * y * F.softplus(-x) + (1.0 - y) * F.softplus(x)).mean()


class WeightedMaskBCE(nn.Module):
    """``weight * mask_bce(logits, mask)``: VCNet's mask loss (official ``mask_loss_alpha`` 2.0)."""

    name = "mask_bce"

    def __init__(self, weight: float = 1.0, balanced: bool = True) -> None:
        super().__init__()
        check_nonneg(weight=weight)
        self.weight = float(weight)
        self.balanced = bool(balanced)

    def forward(self, logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.weight * mask_bce(logits, mask, balanced=self.balanced)

    def extra_repr(self) -> str:
        return f"weight={self.weight}, balanced={self.balanced}"
