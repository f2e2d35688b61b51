"""The one training loop every recipe runs in.

:class:`Trainer` takes a :class:`~holefill.train.config.Config` and a run folder, builds the
recipe, the optimisers and the data stream, and runs the recipe's phases step by step with

- mixed precision on GPUs (bf16, or fp16 with a gradient scaler; always off on the CPU);
- an EMA of the generator (:mod:`holefill.train.ema`), which is what gets exported;
- gradient accumulation over ``train.grad_accum`` micro-batches;
- data-parallel training under torchrun (:mod:`holefill.train.distributed`);
- a JSONL log (``log.jsonl``, one line per ``log_every`` steps), a progress bar, TensorBoard
  when it is installed, sample grids (``samples/step_*.png``), evaluation on held-out crops;
- atomic checkpoints (:mod:`holefill.train.checkpoint`) that hold everything needed to resume
  exactly: networks, optimisers, EMA, gradient scalers, every RNG stream and the position in
  the data stream. On the CPU a run killed and resumed ends with the very same weights
  (bit for bit) as one that ran straight through, and so does a second run of a config.

At the end the EMA generator is written with ``save_pretrained`` to ``RUN/final`` (fp32),
ready for ``--weights``. A run folder that already holds something is never overwritten:
a new run there needs ``overwrite=True`` (``--overwrite``); ``resume=True`` continues it.

One optimiser step: for every micro-batch, ``recipe.generator_step`` and a backward pass
(the discriminator frozen), then the G optimiser steps and the EMA follows; then
``recipe.discriminator_step`` on the same micro-batches (the generator frozen) and the D
optimiser steps. Phases that train only one of them skip the other half.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import shutil
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from holefill.errors import (
    ConfigError,
    HolefillError,
    HolefillWarning,
    InputNotFoundError,
    InvalidArgumentError,
    OutputExistsError,
    WeightsError,
)
from holefill.train import distributed as dist_utils
from holefill.train.checkpoint import (
    capture_rng_state,
    list_checkpoints,
    load_checkpoint,
    preserved_rng,
    restore_rng_state,
    save_checkpoint,
    set_aside,
)
from holefill.train.config import Config
from holefill.train.ema import EMA
from holefill.train.recipe import Batch, Phase, Recipe, iter_params
from holefill.train.recipes import build_recipe
from holefill.train.threads import ThreadPlan, apply_threads, choose_threads, init_loader_worker

#: What a run folder holds; ``--overwrite`` removes exactly these, nothing else.
RUN_ITEMS = ("config.yaml", "log.jsonl", "checkpoints", "samples", "final", "tensorboard")
CHECKPOINT_FORMAT = "holefill-train"
CHECKPOINT_VERSION = 1

Callback = Callable[["Trainer", int], None]


class TrainingDivergedError(HolefillError):
    """A loss became NaN or infinite."""


class TrainingInterrupted(Exception):
    """SIGINT (Ctrl+C) or SIGTERM stopped training after a step; a checkpoint of that step was
    written to ``checkpoint``, from which ``--resume`` continues."""

    def __init__(self, signum: int, step: int, total: int, checkpoint: Path | None) -> None:
        self.signum, self.step, self.total, self.checkpoint = signum, step, total, checkpoint
        name = signal.Signals(signum).name
        super().__init__(f"{name} at step {step} of {total}; checkpoint: {checkpoint}")

    @property
    def exit_code(self) -> int:
        """The shell's code for a process ended by this signal (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + self.signum


def resolve_amp(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``train.amp`` on ``device`` (None = full precision)."""
    if device.type != "cuda" or amp == "off":
        return None
    if amp == "bf16":
        return torch.bfloat16
    if amp == "fp16":
        return torch.float16
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def learning_rate(base: float, step: int, total: int, warmup: int, schedule: str) -> float:
    """The learning rate of optimiser step ``step`` (0-based) of ``total``."""
    factor = min(1.0, (step + 1) / warmup) if warmup > 0 else 1.0
    progress = min(1.0, step / max(1, total))
    if schedule == "linear":
        factor *= 1.0 - progress
    elif schedule == "cosine":
        factor *= 0.5 * (1.0 + math.cos(math.pi * progress))
    return base * factor


@contextlib.contextmanager
def frozen(params: Iterable[nn.Parameter]) -> Iterator[None]:
    """Turn off ``requires_grad`` for ``params`` inside the block, then restore each flag."""
    saved = [(p, p.requires_grad) for p in params]
    for p, _ in saved:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in saved:
            p.requires_grad_(flag)


def default_run_dir(config: Config) -> Path:
    """``runs/<config file name>`` in the current folder."""
    stem = Path(config.source).stem if config.source and not config.source.startswith("<") else "run"
    return Path("runs") / stem


def _phase_plan(phases: Sequence[Phase], steps: int, recipe_name: str) -> list[tuple[int, int, Phase]]:
    """(first step, end step, phase) for each phase, cut at ``steps``."""
    if not phases:
        raise ConfigError(f"recipe {recipe_name!r} returned no training phases")
    plan = []
    start = 0
    for i, phase in enumerate(phases):
        if phase.steps is None and i != len(phases) - 1:
            raise ConfigError(f"recipe {recipe_name!r}: only the last phase may run until the end ({phase.name!r})")
        end = steps if phase.steps is None else min(steps, start + phase.steps)
        if start < end:
            plan.append((start, end, phase))
        start = end
    return plan


def _clean_worker_error(err: HolefillError) -> HolefillError:
    """A HolefillError re-raised by a DataLoader worker carries a traceback; keep its message."""
    text = err.problem
    marker = f"{type(err).__name__}: "
    if "Original Traceback" in text and marker in text:
        return type(err)(text.rsplit(marker, 1)[1].strip())
    return err


class Trainer:
    """Runs a training config into a run folder; see the module docstring.

    ``callbacks`` are called as ``callback(trainer, step)`` after every optimiser step (on every
    rank). ``mask_fn`` replaces the mask generators of ``data.masks`` (tests, custom masks).
    """

    def __init__(self, config: Config, out_dir: str | PathLike[str] | None = None, *, resume: bool = False,
                 overwrite: bool = False, progress: bool = True, callbacks: Sequence[Callback] = (),
                 mask_fn: Callable[[int, int, np.random.Generator], np.ndarray] | None = None) -> None:
        from holefill.pipeline import resolve_device

        if resume and overwrite:
            raise InvalidArgumentError("--resume continues a run and --overwrite starts it again; give one")
        self.config = config
        tc = config.train
        self.out = Path(out_dir) if out_dir is not None else Path(tc.out) if tc.out else default_run_dir(config)
        self.progress = progress
        self.callbacks = list(callbacks)

        device = resolve_device(None if tc.device == "auto" else tc.device)
        self._owns_group = not torch.distributed.is_initialized()
        self.dist = dist_utils.init_distributed(device.type)
        if device.type == "cuda" and self.dist.enabled:
            device = torch.device("cuda", self.dist.local_rank)
        self.device = device
        self.amp_dtype = resolve_amp(tc.amp, device)
        self.is_main = self.dist.is_main
        self._threads_before = torch.get_num_threads()
        local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1) if self.dist.enabled else 1
        self.threads: ThreadPlan = choose_threads(tc.threads, workers=config.data.workers,
                                                  local_processes=local_processes)
        apply_threads(self.threads)
        self.say(self.threads.describe())

        self._check_run_dir(resume, overwrite)
        self._seed_everything(tc.seed)
        if tc.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
        elif device.type == "cuda":
            torch.backends.cudnn.benchmark = True

        self.recipe: Recipe = build_recipe(config).to(device)
        self.recipe.train()
        for net in self.recipe.networks().values():
            dist_utils.broadcast_module(net, self.dist)
        self.plan = _phase_plan(self.recipe.phases(), tc.steps, config.recipe.name)
        self.total_steps = self.plan[-1][1]

        self.g_params = list(iter_params(self.recipe.generator_parameters()))
        self.d_params = list(iter_params(self.recipe.discriminator_parameters()))
        if not self.g_params:
            raise ConfigError(f"recipe {config.recipe.name!r} gives the generator optimiser no parameters",
                              config.source)
        if any(p.trains_discriminator for _, _, p in self.plan) and not self.d_params:
            raise ConfigError(f"recipe {config.recipe.name!r} trains a discriminator but gives it no parameters",
                              config.source)
        oc = config.optim
        self.opt_g = self._optimizer(self.g_params, oc.lr_g)
        self.opt_d = self._optimizer(self.d_params, oc.lr_d) if self.d_params else None
        fp16 = self.amp_dtype == torch.float16
        self.scaler_g = torch.amp.GradScaler(device.type, enabled=fp16)
        self.scaler_d = torch.amp.GradScaler(device.type, enabled=fp16)
        self.ema = EMA(self.recipe.generator, tc.ema_decay, warmup=tc.ema_warmup) if tc.ema_decay is not None else None

        self._build_data(mask_fn)
        self.step = 0
        self.samples_seen = 0
        self._iter: Iterator[Batch] | None = None
        self._log_sums: dict[str, torch.Tensor] = {}
        self._log_counts: dict[str, int] = {}
        self._lrs = (0.0, 0.0)
        self._last_log = (time.perf_counter(), 0)
        self._trained_before = 0.0  # seconds of training before this process (a resumed run)
        self._started = time.perf_counter()
        self._tb: Any = None
        self._stop: int | None = None
        self.last_logs: dict[str, Any] = {}
        if resume:
            self._resume_latest_good()
        if self._to_clear:
            self._clear_old_run()
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            from holefill.io import write_bytes_atomic

            write_bytes_atomic(self.out / "config.yaml", config.to_yaml().encode())
        dist_utils.barrier(self.dist)

    # -- setup ----------------------------------------------------------------------------
    def say(self, message: str) -> None:
        """One line on stderr from the main process, unless progress output is off (``-q``)."""
        if self.is_main and self.progress:
            from tqdm import tqdm

            tqdm.write(message, file=sys.stderr)

    def _check_run_dir(self, resume: bool, overwrite: bool) -> None:
        out = self.out
        if out.exists() and not out.is_dir():
            raise OutputExistsError("is a file; a run folder is needed", out)
        every = self.config.train.ckpt_every
        when = f"every {every} steps and when stopped by Ctrl+C" if every else "only at its end and when stopped"
        if resume:
            if not list_checkpoints(out):
                what = "folder does not exist" if not out.exists() else "run stopped before its first checkpoint"
                raise InputNotFoundError(f"has no checkpoint to resume from (the {what}; this config saves one {when});"
                                         " start the run again with --overwrite, or without --resume in a new folder",
                                         out)
            self._to_clear = []
            return
        held = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
        strangers = [n for n in held if n not in RUN_ITEMS]
        if strangers:
            raise OutputExistsError(f"holds files that are not part of a run ({', '.join(strangers[:3])});"
                                    " choose a new or empty run folder", out)
        if held and not overwrite:
            found = list_checkpoints(out)
            if found:
                raise OutputExistsError(f"already holds a run (last checkpoint: {found[-1].name}); pass --resume to"
                                        " continue it or --overwrite to start again", out)
            raise OutputExistsError(f"already holds a run that stopped before its first checkpoint"
                                    f" ({', '.join(held[:3])}), so it cannot be resumed; pass --overwrite to start"
                                    " it again", out)
        self._to_clear = held  # removed once the whole config has been checked and built

    def _clear_old_run(self) -> None:
        dist_utils.barrier(self.dist)
        if self.is_main:
            for name in self._to_clear:
                target = self.out / name
                shutil.rmtree(target) if target.is_dir() else target.unlink()
        self._to_clear = []
        dist_utils.barrier(self.dist)

    def _seed_everything(self, seed: int) -> None:
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)

    def _optimizer(self, params: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
        oc = self.config.optim
        kwargs: dict[str, Any] = {"lr": lr, "weight_decay": oc.weight_decay}
        if oc.name == "adadelta":  # no fused implementation
            return torch.optim.Adadelta(params, rho=oc.rho, **kwargs)
        if self.device.type == "cuda":
            kwargs["fused"] = True
        if oc.name == "sgd":
            return torch.optim.SGD(params, momentum=oc.momentum, **kwargs)
        cls = torch.optim.AdamW if oc.name == "adamw" else torch.optim.Adam
        return cls(params, betas=oc.betas, **kwargs)

    def _build_data(self, mask_fn: Callable[..., np.ndarray] | None) -> None:
        from holefill.data.datasets import BlindDataset, InpaintDataset, build_mask_fn, corpus_split, open_source

        dc, tc = self.config.data, self.config.train
        source = self.config.source
        self.mask_fn = mask_fn
        if self._build_recipe_data():
            return
        try:
            train_src = open_source(dc.train, root=dc.root, split="train")
        except HolefillError as err:
            raise ConfigError(f"data.train: {err}", source) from None
        self.mask_fn = mask_fn if mask_fn is not None else build_mask_fn(dc.masks, source)
        # Blind recipes (VCNet) damage the crops on the fly; their datasets add "corrupted".
        corruption = self.recipe.corruption

        def dataset(src: Any, seed: int, what: str, **kwargs: Any) -> InpaintDataset:
            if corruption is None:
                return self._dataset_class()(src, dc.crop, self.mask_fn, seed=seed, resize=dc.resize, **kwargs)
            try:
                return BlindDataset(src, dc.crop, self.mask_fn, corruption, seed=seed, resize=dc.resize, **kwargs)
            except HolefillError as err:
                raise ConfigError(f"{what}: {err.problem}", source) from None

        self.dataset = dataset(train_src, tc.seed, "data.train", scale=dc.scale, hflip=dc.hflip, cache_mb=dc.cache_mb)
        val_path = dc.val
        if val_path is None and corpus_split(dc.train, "val") is not None:
            val_path = dc.train
        self.val_dataset = None
        if val_path is not None:
            try:
                val_src = open_source(val_path, root=dc.root, split="val")
            except HolefillError as err:
                raise ConfigError(f"data.val: {err}", source) from None
            self.val_dataset = dataset(val_src, tc.seed + 1, "data.val", random_crop=False, cache_mb=dc.cache_mb)
        # Sample grids show fixed crops: held-out ones when there are, else centre crops of training images.
        self.preview_dataset = self.val_dataset or dataset(train_src, tc.seed + 2, "data.train", random_crop=False)
        if self.val_dataset is None and tc.eval_every and self.is_main:
            warnings.warn(f"no held-out images: data.train is not a corpus with a val split and data.val is not set,"
                          f" so evaluation (train.eval_every = {tc.eval_every}) is skipped; set data.val to a folder"
                          " of held-out images to evaluate", HolefillWarning, stacklevel=2)

    def _build_recipe_data(self) -> bool:
        """The datasets of a recipe that reads its own data (image + label pairs, ...), if it does."""
        dc, tc, source = self.config.data, self.config.train, self.config.source

        def build(path: str, split: str, key: str, *, train: bool, seed: int) -> Any:
            try:
                return self.recipe.build_dataset(path, split=split, data=dc, seed=seed, train=train)
            except HolefillError as err:
                raise ConfigError(f"{key}: {err}", source) from None

        dataset = build(dc.train, "train", "data.train", train=True, seed=tc.seed)
        if dataset is None:
            return False
        self.dataset = dataset
        self.val_dataset = None
        if dc.val is not None:
            self.val_dataset = build(dc.val, "val", "data.val", train=False, seed=tc.seed + 1)
        elif self.recipe.has_split(dc.train, "val"):
            self.val_dataset = build(dc.train, "val", "data.train", train=False, seed=tc.seed + 1)
        self.preview_dataset = self.val_dataset or build(dc.train, "train", "data.train", train=False,
                                                         seed=tc.seed + 2)
        return True

    def _dataset_class(self) -> type:
        """The dataset that feeds the generator what its forward pass takes: crops and holes, and
        self-made guides for guided inpainting (a generator whose ``extra_inputs`` name ``guide``)."""
        from holefill.data.datasets import InpaintDataset

        if "guide" in getattr(self.recipe.generator, "extra_inputs", ()):
            from holefill.data.guided import GuidedDataset

            return GuidedDataset
        return InpaintDataset

    def _loader(self) -> Iterator[Batch]:
        from holefill.data.datasets import StreamSampler, make_loader

        dc = self.config.data
        sampler = StreamSampler(len(self.dataset), dc.batch_size, seed=self.config.train.seed,
                                start=self.samples_seen, rank=self.dist.rank, world_size=self.dist.world_size)
        return iter(make_loader(self.dataset, sampler, dc.workers, pin_memory=self.device.type == "cuda",
                                worker_init_fn=init_loader_worker))

    # -- the loop ---------------------------------------------------------------------------
    @property
    def global_batch(self) -> int:
        return self.config.data.batch_size * self.dist.world_size

    def phase_at(self, step: int) -> Phase:
        for start, end, phase in self.plan:
            if start <= step < end:
                return phase
        return self.plan[-1][2]

    def _next_batch(self) -> Batch:
        if self._iter is None:
            self._iter = self._loader()
        failure = None
        try:
            batch = next(self._iter)
        except HolefillError as err:
            failure = _clean_worker_error(err)
            # The re-raised error's frames hold the loader in a reference cycle; clearing them
            # lets the workers shut down now instead of whenever the garbage collector runs.
            traceback.clear_frames(err.__traceback__)
            err.__traceback__ = None
        if failure is not None:
            self._iter = None
            raise failure
        self.samples_seen += self.global_batch
        return {k: v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor) else v
                for k, v in batch.items()}

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def _record(self, prefix: str, logs: dict[str, Any], weight: float, seen: set[str]) -> None:
        """Add a micro-batch's logs (weighted) to the sums of the current log period."""
        for key, value in logs.items():
            name = f"{prefix}/{key}"
            v = value.detach().float() if isinstance(value, torch.Tensor) else torch.tensor(float(value))
            self._log_sums[name] = self._log_sums.get(name, 0) + v * weight
            seen.add(name)

    def _update(self, which: str, micro: list[Batch], phase: Phase) -> None:
        """One optimiser step of G (``which='g'``) or D over the micro-batches."""
        if which == "g":
            opt, scaler, params, step_fn = self.opt_g, self.scaler_g, self.g_params, self.recipe.generator_step
            others = list(self.recipe.discriminator.parameters()) if self.recipe.discriminator is not None else []
        else:
            assert self.opt_d is not None
            opt, scaler, params, step_fn = self.opt_d, self.scaler_d, self.d_params, self.recipe.discriminator_step
            others = list(self.recipe.generator.parameters())
        opt.zero_grad(set_to_none=True)
        n = len(micro)
        seen: set[str] = set()
        with frozen(others):
            for batch in micro:
                with self._autocast():
                    loss, logs = step_fn(batch, phase)
                if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
                    raise TypeError(f"recipe {self.recipe.name!r}: {which}-step must return a scalar tensor loss")
                scaler.scale(loss.float() / n).backward()
                self._record(which, logs, 1.0 / n, seen)
        for name in seen:  # one count per update: the log shows means over updates
            self._log_counts[name] = self._log_counts.get(name, 0) + 1
        dist_utils.average_gradients(params, self.dist)
        clip = self.config.optim.grad_clip
        if clip is not None:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], clip)
        scaler.step(opt)
        scaler.update()
        if which == "g" and self.ema is not None:
            self.ema.update(self.recipe.generator)
        for net in self.recipe.networks().values():  # keep BatchNorm statistics the same on every rank
            dist_utils.broadcast_module(net, self.dist, buffers_only=True)

    def train_step(self) -> Phase:
        """Run optimiser step ``self.step`` and advance it."""
        phase = self.phase_at(self.step)
        oc = self.config.optim
        lr_g = learning_rate(oc.lr_g, self.step, self.total_steps, oc.warmup_steps, oc.schedule)
        lr_d = learning_rate(oc.lr_d, self.step, self.total_steps, oc.warmup_steps, oc.schedule)
        for group in self.opt_g.param_groups:
            group["lr"] = lr_g
        if self.opt_d is not None:
            for group in self.opt_d.param_groups:
                group["lr"] = lr_d
        accum = self.config.train.grad_accum
        if phase.trains_generator and phase.trains_discriminator:
            for _ in range(phase.d_updates - 1):
                self._update("d", [self._next_batch() for _ in range(accum)], phase)
        micro = [self._next_batch() for _ in range(accum)]
        if phase.trains_generator:
            self._update("g", micro, phase)
        if phase.trains_discriminator:
            self._update("d", micro, phase)
        self.step += 1
        self._lrs = (lr_g, lr_d)
        return phase

    def fit(self) -> Path:
        """Train to the last step; returns the folder of the exported generator (``RUN/final``)."""
        from tqdm import tqdm

        tc = self.config.train
        bar = tqdm(total=self.total_steps, initial=self.step, disable=not (self.progress and self.is_main),
                   desc=f"train {self.recipe.name}", unit="step", file=sys.stderr, dynamic_ncols=True)
        self._last_log = (time.perf_counter(), self.samples_seen)
        self._started = self._last_log[0] - self._trained_before
        self._stop = None
        try:
            with self._stop_on_signals(bar):
                while self.step < self.total_steps:
                    phase = self.train_step()
                    bar.update(1)
                    step = self.step
                    last = step == self.total_steps
                    if tc.log_every and (step % tc.log_every == 0 or last):
                        self._write_log(phase, bar)
                    if tc.sample_every and step % tc.sample_every == 0 and self.is_main:
                        self.write_samples()
                    if tc.eval_every and step % tc.eval_every == 0 and self.val_dataset is not None and self.is_main:
                        self.evaluate()
                    saved = None
                    if (tc.ckpt_every and step % tc.ckpt_every == 0) or last:
                        saved = self.save()
                        if tc.export_every_ckpt and not last:
                            self.export()
                    for callback in self.callbacks:
                        callback(self, step)
                    if not last and self._stop_requested():
                        if saved is None and not (tc.ckpt_every and step % tc.ckpt_every == 0):
                            saved = self.save()
                        assert self._stop is not None
                        raise TrainingInterrupted(self._stop, step, self.total_steps,
                                                  saved or list_checkpoints(self.out)[-1])
            final = self.export()
        finally:
            bar.close()
            self._iter = None  # lets DataLoader workers exit
            if self._tb:
                self._tb.close()
        dist_utils.barrier(self.dist)
        return final

    @contextlib.contextmanager
    def _stop_on_signals(self, bar: Any) -> Iterator[None]:
        """While training, SIGINT (Ctrl+C) and SIGTERM ask the loop to stop after the current step
        and write a checkpoint; a second Ctrl+C stops at once. Only where signals can be caught
        (the main thread)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def ask(signum: int, frame: Any) -> None:
            if self._stop is not None and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self._stop = signum
            if self.is_main:
                bar.write(f"{signal.Signals(signum).name}: stopping after step {self.step + 1} to write a"
                          " checkpoint (Ctrl+C again stops at once, without one)", file=sys.stderr)

        saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        for sig in saved:
            signal.signal(sig, ask)
        try:
            yield
        finally:
            for sig, handler in saved.items():
                signal.signal(sig, handler)

    def _stop_requested(self) -> bool:
        """Whether a signal asked to stop, on any rank (all ranks must stop at the same step)."""
        if not self.dist.enabled:
            return self._stop is not None
        flag = torch.tensor([0.0 if self._stop is None else float(self._stop)], device=self.device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        if flag.item() > 0 and self._stop is None:
            self._stop = int(flag.item())
        return self._stop is not None

    @property
    def elapsed(self) -> float:
        """Seconds of training in this run so far, those before a resume included."""
        return time.perf_counter() - self._started

    def close(self) -> None:
        """Leave the process group if this trainer joined it, and give the process back the
        intra-op threads it had."""
        torch.set_num_threads(self._threads_before)
        if self._owns_group:
            dist_utils.shutdown(self.dist)

    # -- logging ----------------------------------------------------------------------------
    def _write_log(self, phase: Phase, bar: Any) -> None:
        values = {key: float(self._log_sums[key]) / max(1, self._log_counts.get(key, 1))
                  for key in sorted(self._log_sums)}
        values = dist_utils.mean_over_ranks(values, self.dist, self.device)
        now = time.perf_counter()
        then, seen = self._last_log
        rate = (self.samples_seen - seen) / max(now - then, 1e-9)
        self._last_log = (now, self.samples_seen)
        self._log_sums, self._log_counts = {}, {}
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        record = {"step": self.step, "phase": phase.name, "lr_g": self._lrs[0], "lr_d": self._lrs[1],
                  "images_per_s": round(rate, 3), "elapsed_s": round(self.elapsed, 3), **values}
        self.last_logs = record
        if self.is_main:
            with open(self.out / "log.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
            shown = {k.split("/", 1)[1] if k.count("/") == 1 else k: f"{v:.4g}" for k, v in list(values.items())[:4]}
            bar.set_postfix(shown, refresh=False)
            self._tensorboard({k: v for k, v in record.items() if k not in ("step", "phase")})
        if bad:
            raise TrainingDivergedError(f"{bad[0]} is {values[bad[0]]} at step {self.step}; lower the learning rate,"
                                        " use grad_clip, or resume from an earlier checkpoint", self.out)

    def _tensorboard(self, scalars: dict[str, float]) -> None:
        if self._tb is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # TensorBoard is optional
                self._tb = False
                return
            self._tb = SummaryWriter(str(self.out / "tensorboard"))
        if self._tb:
            for key, value in scalars.items():
                self._tb.add_scalar(key, value, self.step)

    # -- samples and evaluation -------------------------------------------------------------
    def _preview_batch(self, count: int) -> Batch:
        items = [self.preview_dataset[i] for i in range(min(count, len(self.preview_dataset)))]
        return {k: torch.stack([it[k] for it in items]).to(self.device) for k in items[0]}

    @torch.no_grad()
    def write_samples(self, count: int = 8) -> Path:
        """A grid of fixed crops (rows): the recipe's sample images, then the EMA generator's fill."""
        from holefill.io import write_image

        with preserved_rng():
            batch = self._preview_batch(count)
            was_training = self.recipe.training
            self.recipe.eval()
            try:
                with self._autocast():
                    columns = dict(self.recipe.samples(batch))
                    if self.ema is not None:  # what the exported generator makes of the same crops
                        columns.update(self.recipe.generator_samples(batch, self.ema.module))
            finally:
                self.recipe.train(was_training)
        grid = image_grid(list(columns.values()))
        return write_image(self.out / "samples" / f"step_{self.step:08d}.png", grid, overwrite=True)

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """The recipe's scores (:meth:`Recipe.evaluate_batch`; for inpainting the hole L1 and the
        PSNR) of the exported generator on held-out crops, averaged over the images."""
        if self.val_dataset is None:
            return {}
        net = self.ema.module if self.ema is not None else self.recipe.generator
        was_training = net.training
        net.eval()
        n = min(self.config.train.eval_images, len(self.val_dataset))
        sums: dict[str, float] = {}
        with preserved_rng():
            for start in range(0, n, self.config.data.batch_size):
                items = [self.val_dataset[i] for i in range(start, min(n, start + self.config.data.batch_size))]
                batch = {k: torch.stack([it[k] for it in items]).to(self.device) for k in items[0]}
                with self._autocast():
                    scores = self.recipe.evaluate_batch(batch, net)
                for key, value in scores.items():
                    sums[key] = sums.get(key, 0.0) + float(value.float().sum())
        net.train(was_training)
        values = {f"eval/{key}": total / n for key, total in sums.items()}
        if self.is_main and values:
            record = {"step": self.step, "phase": "eval", "images": n, **values}
            with open(self.out / "log.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
            self._tensorboard(values)
        return values

    # -- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs (this rank's RNG streams under ``rng``)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "step": self.step,
            "samples_seen": self.samples_seen,
            "recipe": self.config.recipe.name,
            "model": {"name": self.config.model.name, "args": dict(self.config.model.args)},
            "config": self.config.to_dict(),
            "networks": {name: net.state_dict() for name, net in self.recipe.networks().items()},
            "optimizers": {"g": self.opt_g.state_dict(), **({"d": self.opt_d.state_dict()} if self.opt_d else {})},
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "scalers": {"g": self.scaler_g.state_dict(), "d": self.scaler_d.state_dict()},
            "world_size": self.dist.world_size,
            "elapsed_s": self.elapsed,
            # The log period in progress: a resumed run's next log line averages the same steps.
            "log_window": {"sums": dict(self._log_sums), "counts": dict(self._log_counts)},
        }

    def save(self) -> Path | None:
        """Write a checkpoint of the current step (rank 0; every rank's RNG state is gathered)."""
        rngs = dist_utils.gather_objects(capture_rng_state(), self.dist)
        path = None
        if self.is_main:
            state = self.state_dict()
            state["rng"] = rngs
            path = save_checkpoint(state, self.out, self.step, self.config.train.keep_last)
        dist_utils.barrier(self.dist)
        return path

    def _resume_latest_good(self) -> None:
        """Resume from the newest checkpoint that reads back whole (checksum verified); a damaged
        newer one is set aside (``.damaged``) with a one-line warning naming the one used instead."""
        found = list_checkpoints(self.out)
        damaged: list[tuple[Path, str]] = []
        for path in reversed(found):
            try:
                state = load_checkpoint(path)
            except WeightsError as err:
                damaged.append((path, err.problem))
                continue
            if damaged:
                if self.is_main:
                    for bad, _ in damaged:
                        set_aside(bad)
                names = ", ".join(f"{bad.name} ({why})" for bad, why in damaged)
                if self.is_main:
                    warnings.warn(f"{self.out}: damaged checkpoint {names}; resuming from {path.name} instead"
                                  " (the damaged file is kept as .damaged)", HolefillWarning, stacklevel=2)
            self.resume_from(path, state=state)
            return
        details = "; ".join(f"{bad.name}: {why}" for bad, why in damaged)
        raise WeightsError(f"has no readable checkpoint ({details}); start the run again with --overwrite", self.out)

    def resume_from(self, path: str | PathLike[str], *, state: dict[str, Any] | None = None) -> None:
        """Restore the state saved in checkpoint ``path`` (already read: ``state``); a checkpoint
        of another setup is an error."""
        state = load_checkpoint(path) if state is None else state
        cfg = self.config
        if state.get("recipe") != cfg.recipe.name or state.get("model", {}).get("name") != cfg.model.name:
            raise ConfigError(f"was written by recipe {state.get('recipe')!r} with model"
                              f" {state.get('model', {}).get('name')!r}; the config asks for recipe"
                              f" {cfg.recipe.name!r} with model {cfg.model.name!r}", path)
        if state.get("model", {}).get("args") != dict(cfg.model.args):
            raise ConfigError(f"was written for model args {state['model']['args']}; the config has"
                              f" {dict(cfg.model.args)} (architectures must match to resume; {self.out / 'config.yaml'}"
                              " holds the run's own settings)", path)
        from holefill.models.base import load_state_strict

        nets = self.recipe.networks()
        if set(state["networks"]) != set(nets):
            raise WeightsError(f"holds networks {sorted(state['networks'])}, but recipe {cfg.recipe.name!r}"
                               f" has {sorted(nets)}", path)
        for name, net in nets.items():
            load_state_strict(net, state["networks"][name], source=f"{path} ({name})")
        try:
            self.opt_g.load_state_dict(state["optimizers"]["g"])
            if self.opt_d is not None:
                self.opt_d.load_state_dict(state["optimizers"]["d"])
        except (KeyError, ValueError) as exc:
            raise WeightsError(f"optimiser state does not fit this recipe's parameters ({exc})", path) from None
        if self.ema is not None:
            if state.get("ema") is None:
                raise ConfigError("holds no EMA, but train.ema_decay is set; set it to null to resume", path)
            self.ema.load_state_dict(state["ema"], source=str(path))
        self.scaler_g.load_state_dict(state["scalers"]["g"])
        self.scaler_d.load_state_dict(state["scalers"]["d"])
        self.step = int(state["step"])
        self.samples_seen = int(state["samples_seen"])
        self._trained_before = float(state.get("elapsed_s", 0.0))
        self._started = time.perf_counter() - self._trained_before
        window = state.get("log_window") or {}
        self._log_sums = {k: v.to(self.device) if isinstance(v, torch.Tensor) else v
                          for k, v in window.get("sums", {}).items()}
        self._log_counts = {k: int(v) for k, v in window.get("counts", {}).items()}
        self._iter = None
        rngs = state.get("rng") or []
        if self.dist.rank < len(rngs):
            restore_rng_state(rngs[self.dist.rank])
        if self.is_main:
            self._truncate_log(self.step)

    def _truncate_log(self, step: int) -> None:
        """Drop log lines a killed run wrote after the checkpoint it resumes from."""
        log = self.out / "log.jsonl"
        if not log.exists():
            return
        kept = []
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                if json.loads(line).get("step", 0) <= step:
                    kept.append(line)
            except json.JSONDecodeError:
                continue
        from holefill.io import write_bytes_atomic

        write_bytes_atomic(log, ("\n".join(kept) + "\n" if kept else "").encode())

    def export(self) -> Path:
        """Write the EMA generator (or the generator, without EMA) to ``RUN/final`` in fp32."""
        target = self.out / "final"
        if self.is_main:
            net = self.ema.module if self.ema is not None else self.recipe.generator
            net.save_pretrained(target, overwrite=True, dtype=torch.float32,
                                extra={"training": {"recipe": self.config.recipe.name, "steps": self.step,
                                                    "ema": self.ema is not None}})
        dist_utils.barrier(self.dist)
        return target


def image_grid(columns: list[torch.Tensor], pad: int = 2) -> np.ndarray:
    """Tile N3HW tensors in [-1, 1] as an image: one row per sample, one column per tensor."""
    if not columns:
        raise InvalidArgumentError("no images to tile")
    n, _, h, w = columns[0].shape
    cols = len(columns)
    grid = np.full((n * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, np.uint8)
    for c, t in enumerate(columns):
        t = t.detach().float()
        if t.shape[1] == 1:
            t = t.expand(-1, 3, -1, -1)
        arr = ((t.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        for r in range(min(n, arr.shape[0])):
            y, x = pad + r * (h + pad), pad + c * (w + pad)
            grid[y:y + h, x:x + w] = arr[r, :h, :w]
    return grid


def train(config: Config, out_dir: str | PathLike[str] | None = None, *, resume: bool = False,
          overwrite: bool = False, progress: bool = True) -> Path:
    """Build a :class:`Trainer`, run it to the end and leave the process group; returns ``RUN/final``."""
    trainer = Trainer(config, out_dir, resume=resume, overwrite=overwrite, progress=progress)
    try:
        return trainer.fit()
    finally:
        trainer.close()
