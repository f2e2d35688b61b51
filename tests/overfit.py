"""The tiny-overfit check every recipe passes: a few 32x32 images, up to 100 steps, hole L1 halves.

Recipe tests call :func:`assert_hole_l1_halves` with their model's tiny config. The images are
smooth colour fields (learnable from their surroundings); masks are holefill's own random
boxes, so the check does not depend on any one mask generator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from holefill.train.config import config_from_dict
from holefill.train.trainer import Trainer


def write_images(folder: Path, count: int = 4, size: int = 40, seed: int = 0) -> Path:
    """Smooth colour fields: learnable from their surroundings."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(count):
        img = np.zeros((size, size, 3))
        for c in range(3):
            a, b, d = rng.uniform(-1, 1, 3)
            img[..., c] = 0.5 + 0.3 * np.sin(3 * a * xx + 2 * b * yy + d)
        Image.fromarray((img.clip(0, 1) * 255).astype(np.uint8)).save(folder / f"img{i}.png")
    return folder


def overfit_config(data_dir: Path, model: str, model_args: dict[str, Any], recipe: str,
                   recipe_args: dict[str, Any] | None = None, *, steps: int = 100, crop: int = 32,
                   batch_size: int = 4, lr_g: float = 2e-3, lr_d: float = 2e-3, masks: list | None = None,
                   **train: Any):
    """A typed config that trains ``model`` with ``recipe`` on ``data_dir`` (also the val set)."""
    cfg = {
        "model": {"name": model, "args": dict(model_args)},
        "recipe": {"name": recipe, "args": dict(recipe_args or {})},
        "data": {"train": str(data_dir), "val": str(data_dir), "crop": crop, "scale": [1.0, 1.0],
                 "batch_size": batch_size, "workers": 0,
                 "masks": masks or [{"kind": "box", "params": {"height": 0.4, "width": 0.4,
                                                             "max_delta_height": 0.1, "max_delta_width": 0.1}}]},
        "optim": {"lr_g": lr_g, "lr_d": lr_d},
        "train": {"steps": steps, "seed": 0, "log_every": 10, "sample_every": 0, "ckpt_every": 0,
                  "eval_every": 0, "eval_images": 8, "device": "cpu", "ema_decay": None, "threads": 1, **train},
    }
    return config_from_dict(cfg, source=f"{recipe}-overfit.yaml")


def assert_hole_l1_halves(tmp_path: Path, model: str, model_args: dict[str, Any], recipe: str,
                          recipe_args: dict[str, Any] | None = None, **kwargs: Any) -> tuple[float, float]:
    """Train briefly and check the held-out hole L1 falls to below half; returns (before, after)."""
    data_dir = write_images(tmp_path / "images")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = Trainer(overfit_config(data_dir, model, model_args, recipe, recipe_args, **kwargs),
                          tmp_path / "run", progress=False)
        before = trainer.evaluate()["eval/l1_hole"]
        trainer.fit()
        after = trainer.evaluate()["eval/l1_hole"]
    finally:
        torch.set_num_threads(threads)
    assert after < 0.5 * before, f"hole L1 went from {before:.4f} to {after:.4f}, not below half"
    return before, after
