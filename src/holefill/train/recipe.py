"""Recipes: what differs from one paper's training to the next, behind one interface.

The :class:`~holefill.train.trainer.Trainer` owns the loop (devices, mixed precision, EMA,
gradient accumulation, checkpoints, logging, DDP). A recipe owns the rest: the networks,
the losses and how a batch turns into a loss. Writing a recipe for a paper means:

1. Subclass :class:`Recipe`, set ``name`` (the registry name configs use) and ``Config``
   (a frozen dataclass of the recipe's own options; ``recipe.args`` in the YAML is checked
   against it, so an unknown or mistyped option is a one-line ConfigError).
2. In ``__init__(self, config, model)``, call ``super().__init__(config, model)`` (it builds
   ``self.generator`` with :func:`~holefill.models.create_model` from the ``model`` section)
   and build ``self.discriminator`` (an ``nn.Module``, an ``nn.ModuleDict`` for several, or
   None) and the loss objects (weights are constructor arguments, never a global config).
3. Implement :meth:`Recipe.generator_step` and, when there is a discriminator,
   :meth:`Recipe.discriminator_step`. Each takes a batch and the current :class:`Phase` and
   returns ``(loss, logs)``: a scalar tensor the trainer back-propagates, and a dict of
   floats or 0-dim tensors to log (tensors are only turned into numbers when a log line is
   written, so the GPU is not synchronised every step).
4. Override :meth:`Recipe.phases` for multi-stage training (GLCIC trains G alone, then D
   alone, then both; EdgeConnect trains its edge model, then its inpainting model, then
   both), :meth:`Recipe.generator_parameters` / :meth:`Recipe.discriminator_parameters` when
   only some parameters are optimised, :meth:`Recipe.samples` for custom sample grids, and
   :meth:`Recipe.generator_samples` / :meth:`Recipe.evaluate_batch` for models that do not
   inpaint (an upscaler, an image generator: their batches carry images whose masks they ignore).
5. Decorate the class with :func:`register_recipe` and import its module in
   :mod:`holefill.train.recipes`, which is the table of recipes: it looks them up by name,
   checks ``recipe.args`` against the recipe's Config and builds them (:func:`build_recipe`).

A batch is a dict of tensors on the training device: ``"image"`` N3HW in [-1, 1] (the
complete ground truth: recipes blank the hole themselves, e.g. with :meth:`Recipe.masked`),
``"mask"`` N1HW float with 1 = hole, and optionally ``"edge"`` and ``"segmentation"``. For a
blind recipe (one that sets :attr:`Recipe.corruption`) the batch also holds ``"corrupted"``, the
damaged image, and ``"mask"`` is where the damage is.

Within one optimiser step the trainer first calls ``generator_step`` on every micro-batch
(the discriminator's parameters are frozen meanwhile), steps G, then calls
``discriminator_step`` on the same micro-batches (G frozen) and steps D. A generator step may
leave tensors in the batch dict for the discriminator step of the same micro-batch; the
helper :meth:`Recipe.fake` does this for the generator's output, so D does not run G again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import torch
from torch import nn


if TYPE_CHECKING:
    from holefill.models.base import InpaintModel, InpaintOutput
    from holefill.train.config import ModelSection

Batch = dict[str, Any]
Logs = dict[str, "float | torch.Tensor"]
StepResult = tuple[torch.Tensor, Logs]

TRAINS = ("generator", "discriminator", "both")


@dataclass(frozen=True)
class Phase:
    """One stage of training: which networks train, and for how many optimiser steps.

    ``steps=None`` means "until ``train.steps``" and is only allowed for the last phase.
    ``d_updates`` discriminator updates (each on a fresh batch, the last on the generator's
    batch) come with every step that trains both (WGAN-GP's n_critic).
    """

    name: str
    trains: Literal["generator", "discriminator", "both"] = "both"
    steps: int | None = None
    d_updates: int = 1

    def __post_init__(self) -> None:
        if self.trains not in TRAINS:
            raise ValueError(f"phase {self.name!r}: trains must be one of {TRAINS}, got {self.trains!r}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"phase {self.name!r}: steps must be >= 1 or None, got {self.steps}")
        if self.d_updates < 1:
            raise ValueError(f"phase {self.name!r}: d_updates must be >= 1, got {self.d_updates}")

    @property
    def trains_generator(self) -> bool:
        return self.trains in ("generator", "both")

    @property
    def trains_discriminator(self) -> bool:
        return self.trains in ("discriminator", "both")


@dataclass(frozen=True)
class NoOptions:
    """The Config of a recipe that takes no options."""


class Recipe(nn.Module):
    """Base class of training recipes; see the module docstring for the contract."""

    #: The registry name configs use (``recipe.name``).
    name: ClassVar[str] = ""
    #: The recipe's options: a frozen dataclass filled from ``recipe.args``.
    Config: ClassVar[type] = NoOptions
    #: The generator class a paper's recipe trains (None: any registered model).
    model_type: ClassVar[type | None] = None

    def __init__(self, config: Any, model: "ModelSection") -> None:
        super().__init__()
        from holefill.errors import UnknownMethodError
        from holefill.models.registry import create_model

        self.config = config
        self.model_spec = model
        self.generator: InpaintModel = create_model(model.name, **dict(model.args))
        if self.model_type is not None and not isinstance(self.generator, self.model_type):
            # build_recipe reports this as "model.name: ..." with the config file
            raise UnknownMethodError(f"recipe {self.name} trains the {self.name} model, not {model.name!r}")
        init = getattr(config, "init_weights", None)
        if init:
            self.load_generator_weights(init)
        self.discriminator: nn.Module | None = None
        #: Blind recipes (VCNet) set a damage generator (a
        #: :class:`~holefill.masks.corruption.Corruption`): the trainer then damages every crop
        #: on the fly (:class:`~holefill.data.datasets.BlindDataset`, batches gain ``"corrupted"``)
        #: and evaluates blind.
        self.corruption: Any = None

    def load_generator_weights(self, folder: str) -> None:
        """Start the generator from a weights folder (``save_pretrained``, ``holefill convert``):
        the recipes' ``init_weights`` option. Architectures must match exactly."""
        from holefill.models.base import load_state_strict
        from holefill.models.registry import load_model

        start = load_model(folder, expect=self.generator.architecture or self.model_spec.name)
        load_state_strict(self.generator, start.state_dict(), source=str(folder))

    # -- what trains ------------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        """The training stages in order; by default one that trains everything there is."""
        return [Phase("train", "both" if self.discriminator is not None else "generator")]

    def generator_parameters(self) -> Iterable[nn.Parameter]:
        """What the G optimiser updates (every generator parameter by default)."""
        return self.generator.parameters()

    def discriminator_parameters(self) -> Iterable[nn.Parameter]:
        """What the D optimiser updates (every discriminator parameter by default)."""
        return self.discriminator.parameters() if self.discriminator is not None else iter(())

    def networks(self) -> dict[str, nn.Module]:
        """The trained networks by name, as saved in checkpoints."""
        nets: dict[str, nn.Module] = {"generator": self.generator}
        if self.discriminator is not None:
            nets["discriminator"] = self.discriminator
        return nets

    # -- the steps --------------------------------------------------------------------------
    def generator_step(self, batch: Batch, phase: Phase) -> StepResult:
        """The generator's loss on ``batch`` (and what to log)."""
        raise NotImplementedError(f"recipe {self.name!r} does not implement generator_step")

    def discriminator_step(self, batch: Batch, phase: Phase) -> StepResult:
        """The discriminator's loss on ``batch`` (and what to log)."""
        raise NotImplementedError(f"recipe {self.name!r} has no discriminator_step")

    # -- helpers for recipes ----------------------------------------------------------------
    @staticmethod
    def masked(batch: Batch) -> torch.Tensor:
        """The image with its hole zeroed, as generators expect it."""
        return batch["image"] * (1.0 - batch["mask"])

    def forward_generator(self, batch: Batch) -> "InpaintOutput":
        """Run the generator on the batch (hole zeroed) and remember its output for :meth:`fake`."""
        out = self.generator(self.masked(batch), batch["mask"])
        batch["_fake"] = out.output.detach()
        return out

    def fake(self, batch: Batch) -> torch.Tensor:
        """The generator's output for ``batch``, detached: the one a generator step left, or a new one."""
        cached = batch.get("_fake")
        if cached is not None:
            return cached
        with torch.no_grad():
            out = self.generator(self.masked(batch), batch["mask"]).output.detach()
        batch["_fake"] = out
        return out

    @staticmethod
    def composite(batch: Batch, output: torch.Tensor) -> torch.Tensor:
        """Known pixels from the image, hole pixels from ``output``."""
        m = batch["mask"]
        return batch["image"] * (1.0 - m) + output * m

    # -- data --------------------------------------------------------------------------------
    def build_dataset(self, path: str, *, split: str, data: Any, seed: int, train: bool) -> Any:
        """The dataset of ``split`` at ``path`` for recipes that read more than images (label
        maps, ...); None (the default) means the trainer's image crops with masks from
        ``data.masks``. ``train`` False asks for fixed (centre) crops; items are
        ``(epoch, index)``-addressable like :class:`~holefill.data.datasets.InpaintDataset`'s."""
        return None

    def has_split(self, path: str, split: str) -> bool:
        """Whether ``path`` holds ``split`` in the layout :meth:`build_dataset` reads."""
        return False

    @torch.no_grad()
    def samples(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Images for the sample grid, each N3HW in [-1, 1]: one column per entry, in order."""
        out = self.generator(self.masked(batch), batch["mask"]).output.float()
        hole = batch["mask"].expand_as(batch["image"])
        shown = torch.where(hole > 0.5, torch.ones_like(batch["image"]), batch["image"])
        return {"input": shown, "output": out.clamp(-1, 1),
                "composite": self.composite(batch, out).clamp(-1, 1), "target": batch["image"]}

    @torch.no_grad()
    def generator_samples(self, batch: Batch, generator: nn.Module) -> dict[str, torch.Tensor]:
        """Sample-grid columns that show what ``generator`` (the exported EMA copy) makes of
        the batch: for inpainting, its fill composited into the crops. Recipes of models that
        are not inpainting generators override this (and :meth:`evaluate_batch`)."""
        m = batch["mask"]
        out = generator(batch["image"] * (1 - m), m, *extras(generator, batch)).output.float().clamp(-1, 1)
        return {"ema composite": batch["image"] * (1 - m) + out * m}

    @torch.no_grad()
    def evaluate_batch(self, batch: Batch, generator: nn.Module) -> dict[str, torch.Tensor]:
        """Per-image scores (each a tensor of N values) of ``generator`` on held-out crops, which
        the trainer averages and logs as ``eval/<name>``: for inpainting, the hole's L1 (in
        [0, 1] units) and the PSNR of the composite. An empty dict: nothing to evaluate."""
        image, mask = batch["image"], batch["mask"]
        out = generator(image * (1 - mask), mask, *extras(generator, batch)).output.float().clamp(-1, 1)
        comp = image * (1 - mask) + out * mask
        err = (comp - image).abs() / 2.0
        l1 = (err * mask).flatten(1).sum(1) / (mask.flatten(1).sum(1) * 3).clamp_min(1)
        mse = (err ** 2).flatten(1).mean(1).clamp_min(1e-10)
        return {"l1_hole": l1, "psnr": -10.0 * torch.log10(mse)}

    def extra_repr(self) -> str:
        return f"name={self.name!r}, model={self.model_spec.name!r}"


def extras(generator: nn.Module, batch: Batch) -> list[torch.Tensor]:
    """The batch entries ``generator`` takes after (image, mask), in order (its ``extra_inputs``:
    the guide photo of guided inpainting)."""
    return [batch[name] for name in getattr(generator, "extra_inputs", ())]


# ----------------------------------------------------------------------------- registry

_RECIPES: dict[str, type[Recipe]] = {}


def register_recipe(cls: type[Recipe]) -> type[Recipe]:
    """Class decorator: register a :class:`Recipe` subclass under its ``name``."""
    if not (isinstance(cls, type) and issubclass(cls, Recipe)):
        raise TypeError("register_recipe decorates Recipe subclasses")
    if not cls.name:
        raise TypeError(f"{cls.__name__} must set a class attribute `name`")
    if not (dataclasses.is_dataclass(cls.Config) and cls.Config.__dataclass_params__.frozen):  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__name__}.Config must be a frozen dataclass")
    if cls.name in _RECIPES and _RECIPES[cls.name] is not cls:
        existing = _RECIPES[cls.name]
        if (existing.__module__, existing.__qualname__) != (cls.__module__, cls.__qualname__):
            raise RuntimeError(f"recipe {cls.name!r} is registered twice")
    _RECIPES[cls.name] = cls
    return cls


def registered_recipes() -> dict[str, type[Recipe]]:
    """Every recipe registered so far, by name (:mod:`holefill.train.recipes` registers them all)."""
    return dict(_RECIPES)


def iter_params(params: Iterable[nn.Parameter]) -> Iterator[nn.Parameter]:
    """Unique parameters, in order (a parameter listed twice would be stepped twice)."""
    seen: set[int] = set()
    for p in params:
        if id(p) not in seen:
            seen.add(id(p))
            yield p
