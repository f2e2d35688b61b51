"""Contrastive and per-pixel adversarial objectives of CTO-GAN (Li, Chen and Xiong, CVPR 2022).

- :class:`CrossModalContrastive` (the paper's CMC loss): M objects, each with an embedding from
  the image (``u``) and one from the layout (``v``), both L2-normalised. With scores
  ``s_ij = u_i . v_j / tau``, each object's image embedding must pick its own layout embedding
  among the batch's, and the other way round (InfoNCE in both directions, averaged)::

      L = 1/2 [ mean_i -log softmax_j(s_ij)[i] + mean_i -log softmax_j(s_ji)[i] ]

- :class:`ContextAwareGAN` (the context-aware discriminator's objective): the discriminator
  scores every pixel (N1HW logits). Every pixel of a real image is real; of a generated one,
  the given foreground is real and the generated context (the mask) is fake: per-pixel binary
  cross-entropy, averaged over each image's pixels, real and generated terms summed. The
  generator makes its generated pixels score real: the cross-entropy with target "real",
  averaged over the mask.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from holefill.errors import InvalidArgumentError
from holefill.losses._checks import check_nonneg

__all__ = ["ContextAwareGAN", "CrossModalContrastive"]


class CrossModalContrastive(nn.Module):
    """``weight`` x the symmetric InfoNCE of paired embeddings with temperature ``tau``."""

    name = "cmc"

    def __init__(self, tau: float = 0.07, weight: float = 1.0) -> None:
        super().__init__()
        check_nonneg(weight=weight)
        if not tau > 0:
            raise InvalidArgumentError(f"tau must be > 0, got {tau}")
        self.tau, self.weight = float(tau), float(weight)

    def forward(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        if u.dim() != 2 or u.shape != v.shape or u.shape[0] < 1:
            raise InvalidArgumentError(f"CMC needs two M x D embeddings of one shape, got {tuple(u.shape)} and "
                                       f"{tuple(v.shape)}")
        scores = u.float() @ v.float().T / self.tau
        target = torch.arange(u.shape[0], device=u.device)
        return self.weight * 0.5 * (F.cross_entropy(scores, target) + F.cross_entropy(scores.T, target))

    def extra_repr(self) -> str:
        return f"tau={self.tau}, weight={self.weight}"


class ContextAwareGAN(nn.Module):
    """Per-pixel real/generated objective; ``weight`` scales G's loss, ``d_weight`` D's."""

    name = "adv_context"

    def __init__(self, weight: float = 1.0, d_weight: float = 1.0) -> None:
        super().__init__()
        check_nonneg(weight=weight, d_weight=d_weight)
        self.weight, self.d_weight = float(weight), float(d_weight)

    @staticmethod
    def _check(logits: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        if logits.dim() != 4 or logits.shape[1] != 1:
            raise InvalidArgumentError(f"per-pixel logits must be N1HW, got {tuple(logits.shape)}")
        if mask is not None and mask.shape != logits.shape:
            raise InvalidArgumentError(f"the mask must match the logits {tuple(logits.shape)}, got {tuple(mask.shape)}")

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor,
                           mask: torch.Tensor) -> torch.Tensor:
        """``mask`` (N1HW, 1 = generated) marks the fake images' generated pixels."""
        self._check(real_logits)
        self._check(fake_logits, mask)
        real = F.softplus(-real_logits.float()).mean()
        target = 1.0 - mask.float()
        fake = F.binary_cross_entropy_with_logits(fake_logits.float(), target)
        return self.d_weight * (real + fake)

    def generator_loss(self, fake_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        self._check(fake_logits, mask)
        m = mask.float()
        return self.weight * (F.softplus(-fake_logits.float()) * m).sum() / m.sum().clamp_min(1.0)

    def extra_repr(self) -> str:
        return f"weight={self.weight}, d_weight={self.d_weight}"
