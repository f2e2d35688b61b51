"""Training: typed configs, recipes, the single Trainer, checkpoints, EMA and DDP.

``load_config`` reads a YAML config; :class:`Trainer` (or :func:`train`) runs it. Recipes
(what differs per paper) subclass :class:`Recipe` and register with :func:`register_recipe`.
"""

from __future__ import annotations

from holefill.train.config import Config, load_config
from holefill.train.recipe import Phase, Recipe, register_recipe
from holefill.train.recipes import build_recipe, get_recipe, list_recipes
from holefill.train.trainer import Trainer, train

__all__ = ["Config", "Phase", "Recipe", "Trainer", "build_recipe", "get_recipe", "list_recipes", "load_config",
           "register_recipe", "train"]
