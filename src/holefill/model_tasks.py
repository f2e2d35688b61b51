"""Learned models that are not inpainting generators, behind their task's protocol.

- :class:`ModelUpscaler` turns an :class:`~holefill.models.base.UpscaleModel` (Meta-SR) into
  an :class:`~holefill.upscalers.Upscaler`: it runs the network on tiles of the input (each
  with a margin as wide as the network's receptive field, so tiles give the numbers the whole
  image would) and bounds memory on large photos.
- :class:`ModelGenerator` turns a :class:`~holefill.models.base.GenerativeModel` (DCGAN,
  GIRAFFE) into a :class:`~holefill.generators.Generator`.
- :class:`LatentSearchFiller` makes a generator a :class:`~holefill.fillers.Filler`: the hole
  is filled by the generated image whose code best explains the known pixels (Yeh et al.).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from holefill.classical.poisson import poisson_blend
from holefill.fillers import Filler, composite
from holefill.generators import Generator
from holefill.models import load_model
from holefill.models.base import GenerativeModel, UpscaleModel
from holefill.options import Option
from holefill.pipeline import resolve_device
from holefill.upscalers import Upscaler

#: The discriminator a generator's weights folder may hold (for Yeh et al.'s perceptual loss).
DISCRIMINATOR_NAME = "discriminator.safetensors"


def to_unit_tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    """HxWx3 uint8 to 13HW float in [-1, 1]."""
    return torch.tensor(image, device=device).permute(2, 0, 1)[None].float() / 127.5 - 1.0


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """3HW (or 13HW) in [-1, 1] to HxWx3 uint8 (clamped, rounded)."""
    if x.dim() == 4:
        x = x[0]
    return ((x.float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def first_rows(boundaries: list[int], size: int, scale: float) -> list[int]:
    """For LR indices ``boundaries``: the first output index projecting to each (``floor(i/r) >= b``)."""
    projected = np.floor(np.arange(size, dtype=np.float64) / scale + 1e-9).astype(np.int64)
    return [int(np.searchsorted(projected, b, side="left")) for b in boundaries]


class ModelUpscaler(Upscaler):
    """An :class:`Upscaler` backed by an :class:`UpscaleModel`, run tile by tile.

    ``tile`` is the side of the input tiles in pixels; each is widened by the model's
    ``receptive_radius`` (cut at the image's border), so the result equals one pass over the
    whole image.
    """

    options = (Option("tile", "int", 256, "the side of the input tiles, in pixels (the result is the same)",
                      minimum=16, maximum=4096),)

    def __init__(self, model: UpscaleModel, *, device: str | torch.device | None = None, tile: int = 256,
                 name: str | None = None) -> None:
        from holefill.errors import InvalidArgumentError

        if not isinstance(model, UpscaleModel):
            raise InvalidArgumentError(f"{type(model).__name__} is not an upscaling model")
        if isinstance(tile, bool) or not isinstance(tile, int) or tile < 16:
            raise InvalidArgumentError(f"tile must be a whole number of pixels >= 16, got {tile!r}")
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.tile = tile
        self.max_scale = float(model.max_scale)
        self.name = name or model.architecture or type(model).__name__

    @classmethod
    def from_pretrained(cls, weights: str | Path, *, device: str | torch.device | None = None,
                        expect: str | None = None, **options) -> "ModelUpscaler":
        """Load a ``save_pretrained`` folder (checking the architecture when ``expect`` is given)."""
        return cls(load_model(weights, device="cpu", expect=expect), device=device, **options)

    @torch.inference_mode()
    def _upscale(self, image: np.ndarray, scale: float, size: tuple[int, int]) -> np.ndarray:
        x = to_unit_tensor(image, self.device)
        h, w = image.shape[:2]
        margin = self.model.receptive_radius
        if margin is None:
            return to_uint8(self.model(x, scale))
        out = torch.empty(1, 3, size[0], size[1], device=self.device)
        ys = list(range(0, h, self.tile)) + [h]
        xs = list(range(0, w, self.tile)) + [w]
        rows, cols = first_rows(ys, size[0], scale), first_rows(xs, size[1], scale)
        for i in range(len(ys) - 1):
            if rows[i] == rows[i + 1]:
                continue
            top, bottom = max(0, ys[i] - margin), min(h, ys[i + 1] + margin)
            for j in range(len(xs) - 1):
                if cols[j] == cols[j + 1]:
                    continue
                left, right = max(0, xs[j] - margin), min(w, xs[j + 1] + margin)
                out[:, :, rows[i]:rows[i + 1], cols[j]:cols[j + 1]] = self.model.upscale_region(
                    x[:, :, top:bottom, left:right], scale, (rows[i], rows[i + 1]), (cols[j], cols[j + 1]),
                    (top, left))
        return to_uint8(out)


class ModelGenerator(Generator):
    """A :class:`Generator` backed by a :class:`GenerativeModel`: codes from a seeded prior,
    edited by the model's controls, rendered in batches of ``batch_size``."""

    options = (Option("batch_size", "int", 16, "images rendered together", minimum=1, maximum=256),)

    def __init__(self, model: GenerativeModel, *, device: str | torch.device | None = None, batch_size: int = 16,
                 name: str | None = None) -> None:
        from holefill.errors import InvalidArgumentError

        if not isinstance(model, GenerativeModel):
            raise InvalidArgumentError(f"{type(model).__name__} is not an image generator")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgumentError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.batch_size = batch_size
        self.controls = tuple(model.controls)
        self.name = name or model.architecture or type(model).__name__

    @classmethod
    def from_pretrained(cls, weights: str | Path, *, device: str | torch.device | None = None,
                        expect: str | None = None, **options) -> "ModelGenerator":
        return cls(load_model(weights, device="cpu", expect=expect), device=device, **options)

    @property
    def image_size(self) -> tuple[int, int]:
        return self.model.image_size, self.model.image_size

    @torch.inference_mode()
    def _generate(self, n: int, seed: int, controls: dict[str, Any]) -> list[np.ndarray]:
        latents = self.model.sample_latents(n, torch.Generator().manual_seed(seed))
        if controls:
            latents = self.model.apply_controls(latents, **controls)
        images: list[np.ndarray] = []
        for start in range(0, n, self.batch_size):
            out = self.model(self.model.select(latents, slice(start, start + self.batch_size)))
            images.extend(to_uint8(out[i]) for i in range(out.shape[0]))
        return images


def importance_weights(hole: torch.Tensor, window: int = 7) -> torch.Tensor:
    """Yeh et al.'s weights (Eq. 5): a known pixel weighs the fraction of hole pixels in the
    ``window x window`` square around it (0 far from the hole); hole pixels weigh 0.
    ``hole`` is N1HW with 1 = hole; the square is cut at the image's border."""
    pad = window // 2
    ones = torch.ones_like(hole)
    counts = F.avg_pool2d(F.pad(ones, (pad,) * 4), window, stride=1) * window * window
    holes = F.avg_pool2d(F.pad(hole, (pad,) * 4), window, stride=1) * window * window
    return (1 - hole) * holes / counts


class LatentSearchFiller(Filler):
    """Semantic inpainting (Yeh et al., CVPR 2017): fill a hole with the generated image whose
    known pixels best match the photo's.

    The code ``z`` is searched by back-propagation to the generator's input: Adam minimises
    the contextual loss ``|| W (G(z) - y) ||_1`` (the importance weights ``W`` of
    :func:`importance_weights`, window 7) plus ``perceptual_weight`` (the paper's lambda =
    0.003) times the perceptual loss ``log(1 - D(G(z)))`` when a discriminator is given,
    ``iterations`` steps (the paper: 1500), ``z`` clipped to the prior's box after each step
    (as the authors' code does). ``restarts`` codes start from the seeded prior and are
    searched together; the one with the lowest loss fills the hole, then Poisson blending
    (the paper's last step; ``blend="none"`` pastes it as is). Our choices: Adam's rate
    ``lr`` and the number of restarts.

    The generator makes images of one size, so the photo must have that size (64x64 for
    DCGAN); a different size is an error rather than a silently resized fill. A hole over the
    whole image is generation: with no known pixel the contextual loss is zero and the fill
    is a sample from the prior (pushed towards realism by the perceptual loss, if any).
    """

    stochastic = True
    needs_context = False
    options = (
        Option("iterations", "int", 1500, "Adam steps of the search (the paper: 1500)", minimum=1, maximum=100_000),
        Option("restarts", "int", 16, "codes searched together; the best fills", minimum=1, maximum=256),
        Option("lr", "float", 0.01, "Adam's learning rate", minimum=1e-6, maximum=10.0),
        Option("perceptual_weight", "float", 0.003, "weight of the discriminator's realism term (the paper: 0.003)",
               minimum=0.0, maximum=1000.0),
        Option("window", "int", 7, "side of the importance weights' window", minimum=1, maximum=63),
        Option("blend", "choice", "poisson", "how the search's image is pasted in", choices=("poisson", "none")),
    )

    def __init__(self, model: GenerativeModel, *, discriminator: torch.nn.Module | None = None,
                 iterations: int = 1500, restarts: int = 16, lr: float = 0.01, perceptual_weight: float = 0.003,
                 window: int = 7, blend: str = "poisson", device: str | torch.device | None = None,
                 name: str | None = None) -> None:
        from holefill.errors import InvalidArgumentError

        if not (isinstance(model, GenerativeModel) and model.searchable):
            raise InvalidArgumentError(f"{model.architecture or type(model).__name__} cannot fill by latent search")
        for key, value, low in (("iterations", iterations, 1), ("restarts", restarts, 1), ("window", window, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidArgumentError(f"{key} must be a whole number >= {low}, got {value!r}")
        if iterations > 100_000 or restarts > 256:
            raise InvalidArgumentError("iterations must be at most 100000 and restarts at most 256")
        if not (isinstance(lr, (int, float)) and 0 < lr <= 10):
            raise InvalidArgumentError(f"lr must be a number in (0, 10], got {lr!r}")
        if not (isinstance(perceptual_weight, (int, float)) and perceptual_weight >= 0):
            raise InvalidArgumentError(f"perceptual_weight must be >= 0, got {perceptual_weight!r}")
        if blend not in ("poisson", "none"):
            raise InvalidArgumentError(f"blend must be 'poisson' or 'none', got {blend!r}")
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval().requires_grad_(False)
        self.discriminator = discriminator.to(self.device).eval().requires_grad_(False) if discriminator else None
        self.iterations, self.restarts, self.lr = iterations, restarts, float(lr)
        self.perceptual_weight, self.window, self.blend = float(perceptual_weight), window, blend
        self.name = name or model.architecture or type(model).__name__
        self._seed = 0

    @classmethod
    def from_pretrained(cls, weights: str | Path, *, device: str | torch.device | None = None,
                        expect: str | None = None, **options) -> "LatentSearchFiller":
        """A generator's weights folder; its ``discriminator.safetensors``, when there, gives the
        perceptual loss (:func:`load_discriminator`)."""
        model = load_model(weights, device="cpu", expect=expect)
        return cls(model, discriminator=load_discriminator(model, weights), device=device, **options)

    @contextlib.contextmanager
    def seeded(self, seed: int) -> Iterator[None]:
        """Start the search from codes drawn with ``seed`` (another seed, another fill)."""
        saved, self._seed = self._seed, seed
        try:
            yield
        finally:
            self._seed = saved

    def search(self, image: torch.Tensor, hole: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(best generated image 13HW, its final loss) for ``image`` (13HW, [-1, 1]) and ``hole`` (11HW)."""
        weights = importance_weights(hole, self.window)
        z = self.model.sample_latents(self.restarts, torch.Generator().manual_seed(self._seed)).clone()
        z.requires_grad_(True)
        optimizer = torch.optim.Adam([z], lr=self.lr)
        for _ in range(self.iterations):
            optimizer.zero_grad(set_to_none=True)
            loss = self.losses(z, image, weights)
            loss.sum().backward()
            optimizer.step()
            with torch.no_grad():
                z.copy_(self.model.clamp_latents(z))
        with torch.no_grad():
            final = self.losses(z, image, weights)
            best = int(torch.argmin(final))
            return self.model(z[best:best + 1]), final[best]

    def losses(self, z: torch.Tensor, image: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Contextual (+ perceptual) loss of every code in ``z``."""
        fake = self.model(z)
        loss = (weights * (fake - image)).abs().flatten(1).sum(1)
        if self.discriminator is not None and self.perceptual_weight > 0:
            loss = loss - self.perceptual_weight * F.softplus(self.discriminator(fake).flatten(1).mean(1))
        return loss

    def _fill(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        from holefill.errors import InvalidArgumentError

        size = self.model.image_size
        if image.shape[:2] != (size, size):
            raise InvalidArgumentError(f"{self.name} fills {size}x{size} images (the size its generator makes);"
                                       f" this one is {image.shape[1]}x{image.shape[0]}")
        x = to_unit_tensor(image, self.device)
        hole = torch.from_numpy(mask).to(self.device)[None, None].float()
        with torch.enable_grad():
            generated, _ = self.search(x, hole)
        filled = composite(image, to_uint8(generated), mask)
        if self.blend == "poisson":
            filled = poisson_blend(filled, mask)
        return filled


def load_discriminator(model: GenerativeModel, weights: str | Path) -> torch.nn.Module | None:
    """The DCGAN discriminator saved beside a generator (``discriminator.safetensors``), or None."""
    from safetensors.torch import load_file

    from holefill.models.base import load_state_strict
    from holefill.models.dcgan import DCGANDiscriminator, DCGANGenerator

    path = Path(weights) / DISCRIMINATOR_NAME
    if not isinstance(model, DCGANGenerator) or not path.is_file():
        return None
    cfg = model.config
    critic = DCGANDiscriminator(cfg.ndf, cfg.image_size, cfg.kernel_size)
    load_state_strict(critic, load_file(str(path)), source=str(path))
    return critic.eval()
