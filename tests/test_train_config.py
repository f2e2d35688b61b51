"""Typed training configs: loading, defaults, overrides, and one-line errors for every mistake."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from holefill.errors import ConfigError
from holefill.models.base import InpaintModel, InpaintOutput
from holefill.models.registry import build_config, list_models, register_model
from holefill.train.config import (
    Config,
    MaskSpec,
    bundled_configs,
    config_from_dict,
    load_config,
    parse_value,
)
from holefill.train.recipes import build_recipe, list_recipes, recipe_config

BASE = {
    "model": {"name": "cfg_test_net", "args": {"width": 4}},
    "recipe": {"name": "reconstruction", "args": {"hole_weight": 6.0}},
    "data": {"train": "corpus", "crop": 64, "masks": [{"kind": "box", "weight": 2}, {"kind": "freeform"}]},
    "train": {"steps": 10},
}


def write(tmp_path: Path, data, name: str = "cfg.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def one_line_error(path: Path, *needles: str, overrides: tuple[str, ...] = ()) -> str:
    with pytest.raises(ConfigError) as err:
        recipe_config(load_config(path, list(overrides)))  # the recipe's args are checked where it is resolved
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(path)), message
    for needle in needles:
        assert needle in message, message
    return message


def with_(section: str, **values) -> dict:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data.setdefault(section, {}).update(values)
    return data


# ----------------------------------------------------------------------------- loading


def test_a_valid_config_loads_with_types_and_defaults(tmp_path):
    path = write(tmp_path, BASE)
    cfg = load_config(path)
    assert isinstance(cfg, Config) and cfg.source == str(path)
    assert cfg.model.args == {"width": 4} and cfg.recipe.args == {"hole_weight": 6.0}
    assert cfg.data.masks == (MaskSpec("box", 2.0), MaskSpec("freeform", 1.0))
    assert isinstance(cfg.data.masks[0].weight, float)
    assert cfg.data.scale == (1.0, 1.0) and cfg.optim.betas == (0.5, 0.999) and cfg.train.steps == 10
    assert cfg.train.ema_decay == 0.999 and cfg.train.out is None
    with pytest.raises(AttributeError):
        cfg.train.steps = 5  # frozen
    again = load_config(write(tmp_path, cfg.to_yaml(), "again.yaml"))
    assert again == cfg


def test_bundled_configs_load():
    found = bundled_configs()
    assert "reconstruction" in found
    for path in found.values():
        cfg = load_config(path)
        assert cfg.recipe.name in list_recipes()


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("data, needles", [
    ({**BASE, "trian": {}}, ["unknown key trian", "allowed keys in the top level: model, recipe, data, optim, train"]),
    (with_("train", stepz=5), ["unknown key train.stepz", "steps", "seed", "ema_decay"]),
    (with_("data", masks=[{"kind": "box", "wieght": 1}]), ["unknown key data.masks[0].wieght", "kind, weight, params"]),
    (with_("optim", lr=0.1), ["unknown key optim.lr", "lr_g"]),
])
def test_unknown_keys_name_the_file_the_path_and_the_allowed_keys(tmp_path, data, needles):
    one_line_error(write(tmp_path, data), *needles)


@pytest.mark.parametrize("data, needles", [
    (with_("train", steps="ten"), ["train.steps: expected an integer, got string 'ten'"]),
    (with_("train", steps=2.5), ["train.steps: expected an integer"]),
    (with_("data", hflip="yes"), ["data.hflip: expected true/false"]),
    (with_("optim", betas=[0.5]), ["optim.betas: expected a list of 2"]),
    (with_("optim", betas=[0.5, "x"]), ["optim.betas[1]: expected a number"]),
    (with_("train", amp="fp8"), ["train.amp: expected one of 'auto', 'bf16', 'fp16', 'off'"]),
    (with_("data", masks={"kind": "box"}), ["data.masks: expected a list"]),
    (with_("model", args=[1, 2]), ["model.args: expected a mapping"]),
    ({**BASE, "train": [1]}, ["train: expected a mapping"]),
    (with_("train", steps=0), ["train.steps: must be >= 1"]),
    (with_("data", scale=[2.0, 1.0]), ["data.scale: must be [low, high]"]),
    (with_("train", ema_decay=1.5), ["train.ema_decay: must lie in [0, 1)"]),
    ({k: v for k, v in BASE.items() if k != "data"}, ["missing key data"]),
    (with_("recipe", args={"hole_wieght": 1}), ["unknown key recipe.args.hole_wieght", "hole_weight, valid_weight"]),
    (with_("recipe", args={"hole_weight": "big"}), ["recipe.args.hole_weight: expected a number"]),
    (with_("recipe", name="nope"), ["recipe.name: unknown recipe 'nope'", "reconstruction"]),
])
def test_wrong_types_and_values_are_one_line_errors(tmp_path, data, needles):
    one_line_error(write(tmp_path, data), *needles)


@pytest.mark.parametrize("text, needles", [
    ("model: {name: x\nrecipe: [", ["is not valid YAML at line"]),
    ("", ["is empty"]),
    ("- 1\n- 2\n", ["must hold a mapping of sections, got list"]),
])
def test_bad_yaml_is_a_one_line_error(tmp_path, text, needles):
    one_line_error(write(tmp_path, text), *needles)


def test_missing_or_folder_config(tmp_path):
    one_line_error(tmp_path / "none.yaml", "no such config file")
    (tmp_path / "dir.yaml").mkdir()
    one_line_error(tmp_path / "dir.yaml", "is a folder")


# ----------------------------------------------------------------------------- overrides


def test_dotted_overrides(tmp_path):
    path = write(tmp_path, BASE)
    cfg = load_config(path, ["train.steps=100", "optim.lr_g=1e-3", "data.scale=[0.5, 2]", "model.args.width=16",
                             "data.masks.0.weight=3", "train.ema_decay=null", "data.val=some/folder",
                             "recipe.args.valid_weight=0"])
    assert cfg.train.steps == 100 and cfg.optim.lr_g == 1e-3 and cfg.data.scale == (0.5, 2.0)
    assert cfg.model.args == {"width": 16} and cfg.data.masks[0].weight == 3.0 and cfg.train.ema_decay is None
    assert cfg.data.val == "some/folder" and cfg.recipe.args["valid_weight"] == 0
    assert load_config(path) == load_config(path, [])  # the file itself is untouched
    one_line_error(path, "--set train.stepz=1: unknown key train.stepz", "allowed keys in train", overrides=("train.stepz=1",))
    one_line_error(path, "--set takes key.path=value", overrides=("train.steps",))
    one_line_error(path, "train.steps: expected an integer", overrides=("train.steps=many",))
    one_line_error(path, "data.masks has only 2 entries", overrides=("data.masks.5.weight=1",))
    one_line_error(path, "train.steps is a single value", overrides=("train.steps.x=1",))


def test_parse_value():
    assert parse_value("3") == 3 and parse_value("1e-4") == 1e-4 and parse_value("true") is True
    assert parse_value("null") is None and parse_value("[1, 2]") == [1, 2] and parse_value("a/b") == "a/b"


# ----------------------------------------------------------------------------- model args


@dataclass(frozen=True)
class TinyConfig:
    width: int = 4


class Tiny(InpaintModel):
    def __init__(self, config: TinyConfig) -> None:
        super().__init__(config)
        import torch.nn as nn

        self.conv = nn.Conv2d(4, 3, 1)

    def forward(self, image, mask):
        import torch

        return InpaintOutput(self.conv(torch.cat([image, mask], 1)))


def cfg_test_net(**cfg) -> Tiny:
    """A 1x1 convolution, for config tests."""
    return Tiny(build_config(TinyConfig, "cfg_test_net", cfg))


def test_model_args_are_checked_when_the_recipe_is_built(tmp_path):
    if "cfg_test_net" not in list_models():
        register_model(cfg_test_net)
    path = write(tmp_path, BASE)
    recipe = build_recipe(load_config(path))
    assert recipe.generator.architecture == "cfg_test_net" and recipe.generator.config.width == 4
    with pytest.raises(ConfigError) as err:
        build_recipe(load_config(path, ["model.args.depth=3"]))
    message = str(err.value)
    assert message.startswith(str(path)) and "model.args" in message and "depth" in message and "\n" not in message
    with pytest.raises(ConfigError, match=r"model\.name: unknown model 'nonesuch'"):
        build_recipe(load_config(path, ["model.name=nonesuch"]))


def test_config_from_dict_names_its_source():
    with pytest.raises(ConfigError, match=r"^inline: unknown key train\.bad"):
        config_from_dict(with_("train", bad=1), source="inline")
