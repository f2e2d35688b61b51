"""Adversarial objectives as objects with one interface.

Every objective has

- ``generator_loss(fake_logits, real_logits=None)``: the generator's loss, times ``weight``;
- ``discriminator_loss(real_logits, fake_logits)``: the discriminator's loss, times ``d_weight``;
- ``name`` for logging, and ``needs_real_for_generator`` (True for the relativistic ones,
  whose generator loss also needs the discriminator's logits on real images).

Logits are raw scores (no sigmoid) of any shape: a global discriminator's N x 1 or a
PatchGAN's N x 1 x h x w map; each is averaged over all its entries. A list (or tuple) of
logits, one per discriminator (DeepFill v1's global and local critics, multi-scale
PatchGANs), gives the sum of the per-discriminator losses; real and fake lists pair by index.

Each discriminator loss is the plain sum ``real term + fake term``. Codes that average the
two (EdgeConnect and PEN-Net's ``(real + fake) / 2``; neuralgym's hinge and LSGAN used by
DeepFill v2 take ``0.5 * real + 0.5 * fake``) correspond to ``d_weight=0.5``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Union

import torch
import torch.nn.functional as F
from torch import nn

from holefill.errors import ConfigError, InvalidArgumentError
from holefill.losses._checks import check_choice, check_mask, check_nonneg

__all__ = [
    "ADVERSARIAL_KINDS",
    "AdversarialLoss",
    "HingeGAN",
    "LSGAN",
    "Logits",
    "MinimaxGAN",
    "NonSaturatingGAN",
    "RelativisticAverageGAN",
    "WGANGP",
    "make_adversarial",
]

Logits = Union[torch.Tensor, Sequence[torch.Tensor]]


def _as_list(logits: Logits, what: str) -> list[torch.Tensor]:
    if isinstance(logits, torch.Tensor):
        return [logits]
    if isinstance(logits, (list, tuple)) and logits and all(isinstance(t, torch.Tensor) for t in logits):
        return list(logits)
    raise InvalidArgumentError(f"{what} must be a tensor or a non-empty list of tensors, got {type(logits).__name__}")


def _pairs(real: Logits, fake: Logits) -> list[tuple[torch.Tensor, torch.Tensor]]:
    reals, fakes = _as_list(real, "real_logits"), _as_list(fake, "fake_logits")
    if len(reals) != len(fakes):
        raise InvalidArgumentError(f"real_logits and fake_logits must come from the same discriminators, "
                                   f"got {len(reals)} and {len(fakes)} outputs")
    return list(zip(reals, fakes))


class AdversarialLoss(nn.Module):
    """Base of the objectives: holds the weights and sums over discriminators."""

    name = "adv"
    needs_real_for_generator = False

    def __init__(self, weight: float = 1.0, d_weight: float = 1.0) -> None:
        super().__init__()
        check_nonneg(weight=weight, d_weight=d_weight)
        self.weight = float(weight)
        self.d_weight = float(d_weight)

    # Per-discriminator terms, on one logits tensor each; averaged over all entries.
    def _g(self, fake: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def _d(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def generator_loss(self, fake_logits: Logits, real_logits: Logits | None = None) -> torch.Tensor:
        """The generator's loss on the discriminator's logits for generated images, times ``weight``."""
        fakes = _as_list(fake_logits, "fake_logits")
        if real_logits is None:
            if self.needs_real_for_generator:
                raise InvalidArgumentError(f"{type(self).__name__}.generator_loss needs real_logits "
                                           "(a relativistic loss compares fake with real)")
            terms = [self._g(f, None) for f in fakes]
        else:
            terms = [self._g(f, r) for r, f in _pairs(real_logits, fake_logits)]
        return self.weight * torch.stack(terms).sum()

    def discriminator_loss(self, real_logits: Logits, fake_logits: Logits) -> torch.Tensor:
        """The discriminator's loss on its logits for real and for generated images, times ``d_weight``."""
        terms = [self._d(r, f) for r, f in _pairs(real_logits, fake_logits)]
        return self.d_weight * torch.stack(terms).sum()

    def forward(self, fake_logits: Logits, real_logits: Logits | None = None) -> torch.Tensor:
        """Same as :meth:`generator_loss`, so the object also works as a plain loss module."""
        return self.generator_loss(fake_logits, real_logits)

    def extra_repr(self) -> str:
        return f"weight={self.weight}, d_weight={self.d_weight}"


class NonSaturatingGAN(AdversarialLoss):
    """The standard GAN with the non-saturating generator loss (Goodfellow et al., NeurIPS 2014).

    With logits ``x``: D minimises ``softplus(-x_real) + softplus(x_fake)`` (binary cross-entropy
    with targets 1 and 0); G minimises ``softplus(-x_fake)``. EdgeConnect's ``nsgan`` (a
    sigmoid then ``BCELoss``) is the same, computed stably here from logits.
    """

    name = "adv_nsgan"

    def _g(self, fake: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:
        return F.softplus(-fake).mean()

    def _d(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return F.softplus(-real).mean() + F.softplus(fake).mean()


class MinimaxGAN(AdversarialLoss):
    """The original minimax GAN objective (Goodfellow et al., NeurIPS 2014, Eq. 1).

    D maximises ``log D(x) + log(1 - D(G(z)))`` and G minimises ``log(1 - D(G(z)))``. With
    logits ``x`` and ``D = sigmoid(x)``: D minimises ``softplus(-x_real) + softplus(x_fake)``
    (as :class:`NonSaturatingGAN`) and G minimises ``-softplus(x_fake)``. This generator loss
    saturates: while D rejects the fakes confidently (``x_fake`` very negative), its gradient
    vanishes, which is why the paper proposes the non-saturating loss for training.
    """

    name = "adv_minimax"

    def _g(self, fake: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:
        return -F.softplus(fake).mean()

    def _d(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return F.softplus(-real).mean() + F.softplus(fake).mean()


class HingeGAN(AdversarialLoss):
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018), SN-PatchGAN's in DeepFill v2 (Yu et al., ICCV 2019).

    D: ``relu(1 - x_real) + relu(1 + x_fake)``; G: ``-x_fake``.
    """

    name = "adv_hinge"

    def _g(self, fake: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:
        return -fake.mean()

    def _d(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


class LSGAN(AdversarialLoss):
    """Least-squares GAN (Mao et al., ICCV 2017) with targets 0 (fake) and 1 (real).

    D: ``(x_real - 1)^2 + x_fake^2``; G: ``(x_fake - 1)^2``. The paper's 1/2 factors are
    ``d_weight=0.5`` and ``weight=0.5``.
    """

    name = "adv_lsgan"

    def _g(self, fake: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:
        return (fake - 1.0).square().mean()

    def _d(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return (real - 1.0).square().mean() + fake.square().mean()


class WGANGP(AdversarialLoss):
    """Wasserstein GAN (Arjovsky et al. 2017) with gradient penalty (Gulrajani et al., NeurIPS 2017).

    D (the critic): ``x_fake - x_real``; G: ``-x_fake``. Add :meth:`gradient_penalty` to the
    critic's loss. DeepFill v1 (Yu et al., CVPR 2018) uses this with ``lambda_gp=10`` on a
    global and a local critic, and restricts the penalty to the hole: see ``mask`` there.
    """

    name = "adv_wgan"

    def __init__(self, weight: float = 1.0, d_weight: float = 1.0, lambda_gp: float = 10.0) -> None:
        super().__init__(weight, d_weight)
        check_nonneg(lambda_gp=lambda_gp)
        self.lambda_gp = float(lambda_gp)

    def _g(self, fake: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:
        return -fake.mean()

    def _d(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return fake.mean() - real.mean()

    def gradient_penalty(self, discriminator: Callable[[torch.Tensor], Logits], real: torch.Tensor,
                         fake: torch.Tensor, mask: torch.Tensor | None = None, lambda_gp: float | None = None,
                         *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``d_weight * lambda_gp * mean_n (||grad D(x_hat_n)||_2 - 1)^2`` on random interpolates.

        ``x_hat = real + a * (fake - real)`` with ``a ~ U(0, 1)`` per image. ``discriminator``
        is any callable from images to logits (a tensor or a list, whose entries are summed);
        wrap it to add the mask channel where the critic takes one. With ``mask`` (N1HW,
        1 = hole), only the gradient on hole pixels counts:
        ``||grad * mask||``, DeepFill v1's masked penalty (paper Sec. 3.1; neuralgym
        ``gradients_penalty(x, y, mask)``: ``sqrt(sum(grad^2 * mask))``). ``lambda_gp``
        defaults to the constructor's. ``fake`` is detached here.
        """
        lam = self.lambda_gp if lambda_gp is None else float(lambda_gp)
        if real.shape != fake.shape:
            raise InvalidArgumentError(f"real and fake must have the same shape, got {tuple(real.shape)} and "
                                       f"{tuple(fake.shape)}")
        real = real.detach()
        fake = fake.detach()
        shape = (real.shape[0],) + (1,) * (real.dim() - 1)
        alpha = torch.rand(shape, generator=generator, dtype=real.dtype, device="cpu").to(real.device)
        x_hat = (real + alpha * (fake - real)).requires_grad_(True)
        with torch.enable_grad():
            out = _as_list(discriminator(x_hat), "discriminator output")
            total = torch.stack([o.sum() for o in out]).sum()
            (grad,) = torch.autograd.grad(total, x_hat, create_graph=True)
        sq = grad.square()
        if mask is not None:
            check_mask(mask, grad)
            sq = sq * mask.to(sq.dtype)
        norms = torch.sqrt(sq.flatten(1).sum(1) + 1e-12)
        return self.d_weight * lam * (norms - 1.0).square().mean()

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, lambda_gp={self.lambda_gp}"


_RA_FLAVOURS = ("standard", "ls", "hinge")


class RelativisticAverageGAN(AdversarialLoss):
    """Relativistic average GAN (Jolicoeur-Martineau, ICLR 2019): RaSGAN, RaLSGAN or RaHinge.

    With ``r = x_real - mean(x_fake)`` and ``f = x_fake - mean(x_real)`` (means over all the
    entries of one discriminator's logits), D treats ``r`` as real and ``f`` as fake, and G
    the other way round, so both losses are symmetric:

    - ``standard``: D ``softplus(-r) + softplus(f)``, G ``softplus(-f) + softplus(r)``;
    - ``ls``: D ``(r - 1)^2 + (f + 1)^2``, G ``(f - 1)^2 + (r + 1)^2``;
    - ``hinge``: D ``relu(1 - r) + relu(1 + f)``, G ``relu(1 - f) + relu(1 + r)``.

    The generator loss needs the real logits: ``generator_loss(fake_logits, real_logits)``.
    """

    needs_real_for_generator = True

    def __init__(self, weight: float = 1.0, d_weight: float = 1.0, flavour: str = "standard") -> None:
        super().__init__(weight, d_weight)
        self.flavour = check_choice("flavour", flavour, _RA_FLAVOURS)
        self.name = {"standard": "adv_rasgan", "ls": "adv_ralsgan", "hinge": "adv_rahinge"}[flavour]

    def _pair_loss(self, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        """``pos`` should score as real and ``neg`` as fake."""
        if self.flavour == "standard":
            return F.softplus(-pos).mean() + F.softplus(neg).mean()
        if self.flavour == "ls":
            return (pos - 1.0).square().mean() + (neg + 1.0).square().mean()
        return F.relu(1.0 - pos).mean() + F.relu(1.0 + neg).mean()

    def _g(self, fake: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:
        assert real is not None
        r = real - fake.mean()
        f = fake - real.mean()
        return self._pair_loss(f, r)

    def _d(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        r = real - fake.mean()
        f = fake - real.mean()
        return self._pair_loss(r, f)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, flavour={self.flavour!r}"


_KINDS: dict[str, Callable[..., AdversarialLoss]] = {
    "nsgan": NonSaturatingGAN,
    "non_saturating": NonSaturatingGAN,
    "minimax": MinimaxGAN,
    "saturating": MinimaxGAN,
    "hinge": HingeGAN,
    "lsgan": LSGAN,
    "wgan_gp": WGANGP,
    "wgan": WGANGP,
    "ragan": lambda **kw: RelativisticAverageGAN(flavour="standard", **kw),
    "rasgan": lambda **kw: RelativisticAverageGAN(flavour="standard", **kw),
    "ralsgan": lambda **kw: RelativisticAverageGAN(flavour="ls", **kw),
    "rahinge": lambda **kw: RelativisticAverageGAN(flavour="hinge", **kw),
}
#: The names :func:`make_adversarial` accepts.
ADVERSARIAL_KINDS: tuple[str, ...] = tuple(_KINDS)


def make_adversarial(kind: str, weight: float = 1.0, **kwargs: float) -> AdversarialLoss:
    """The objective called ``kind`` (see :data:`ADVERSARIAL_KINDS`) with generator weight ``weight``.

    Extra keyword arguments go to the constructor (``d_weight``, ``lambda_gp`` for WGAN-GP).
    An unknown kind, or an argument the kind does not take, is a ConfigError.
    """
    key = kind.strip().lower().replace("-", "_") if isinstance(kind, str) else None
    if key not in _KINDS:
        raise ConfigError(f"adversarial loss: unknown kind {kind!r}; choose one of {', '.join(ADVERSARIAL_KINDS)}")
    try:
        return _KINDS[key](weight=weight, **kwargs)
    except TypeError:
        raise ConfigError(f"adversarial loss {kind!r}: unexpected argument(s) {', '.join(sorted(kwargs))}") from None
