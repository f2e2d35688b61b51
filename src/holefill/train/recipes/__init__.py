"""The table of training recipes: one module per recipe, looked up by name.

Importing this package imports every recipe module, which registers its recipe with
:func:`~holefill.train.recipe.register_recipe`; add new recipe modules to the imports below.
A config's ``recipe.args`` are checked against the recipe's own Config here, where the
recipe is resolved (the config module knows nothing of recipes).
"""

from __future__ import annotations

from typing import Any

from holefill.errors import ConfigError, UnknownMethodError
from holefill.train.config import Config, parse_dataclass
from holefill.train.recipe import Recipe, registered_recipes
from holefill.train.recipes import bct_blend  # noqa: F401
from holefill.train.recipes import context_encoder  # noqa: F401
from holefill.train.recipes import cto_gan  # noqa: F401
from holefill.train.recipes import dcgan  # noqa: F401
from holefill.train.recipes import deepfill_v1  # noqa: F401
from holefill.train.recipes import deepfill_v2  # noqa: F401
from holefill.train.recipes import edgeconnect  # noqa: F401
from holefill.train.recipes import foreground_aware  # noqa: F401
from holefill.train.recipes import giraffe  # noqa: F401
from holefill.train.recipes import glcic  # noqa: F401
from holefill.train.recipes import guided  # noqa: F401
from holefill.train.recipes import meta_sr  # noqa: F401
from holefill.train.recipes import pennet  # noqa: F401
from holefill.train.recipes import pggan  # noqa: F401
from holefill.train.recipes import reconstruction  # noqa: F401
from holefill.train.recipes import vcnet  # noqa: F401

__all__ = ["build_recipe", "get_recipe", "list_recipes", "recipe_config"]


def list_recipes() -> list[str]:
    """Names of every registered recipe, sorted."""
    return sorted(registered_recipes())


def get_recipe(name: str) -> type[Recipe]:
    """The recipe class registered as ``name``, or a ConfigError listing the choices."""
    recipes = registered_recipes()
    if name not in recipes:
        raise ConfigError(f"unknown recipe {name!r}; choose from {', '.join(sorted(recipes)) or '(none)'}")
    return recipes[name]


def recipe_config(config: Config) -> Any:
    """The recipe's typed config from ``recipe.args`` (an unknown recipe or key is a ConfigError
    naming the config file and the key path)."""
    try:
        cls = get_recipe(config.recipe.name)
    except ConfigError as err:
        raise ConfigError(f"recipe.name: {err.problem}", config.source) from None
    return parse_dataclass(cls.Config, config.recipe.args, "recipe.args", config.source)


def build_recipe(config: Config) -> Recipe:
    """Build the recipe a training config names; recipe and model errors name the config file."""
    args = recipe_config(config)
    cls = get_recipe(config.recipe.name)
    try:
        return cls(args, config.model)
    except UnknownMethodError as err:
        raise ConfigError(f"model.name: {err.problem}", config.source) from None
    except ConfigError as err:
        if err.path is not None:
            raise
        raise ConfigError(f"model.args: {err.problem}", config.source) from None
