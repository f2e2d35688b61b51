"""Method options: every option of every method has a documented range, checked before work."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

import holefill
from holefill.errors import InvalidArgumentError
from holefill.methods import get_filler, get_method, get_upscaler, list_methods
from holefill.options import Option, check_options


def _builder_params(info) -> set[str]:
    """The keyword parameters that the class behind the method's first task really takes."""
    from functools import partial

    builder = info.builder(info.tasks[0])
    target = builder.func if isinstance(builder, partial) else builder
    owner = getattr(target, "__self__", None)  # X.from_pretrained -> X
    cls = owner if isinstance(owner, type) else target
    skip = {"self", "model", "device", "name", "backend", "graph", "discriminator"}  # set by the table, not options
    params = inspect.signature(cls.__init__).parameters.values()
    return {p.name for p in params if p.name not in skip and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


@pytest.mark.parametrize("info", list_methods(), ids=lambda i: i.name)
def test_every_method_declares_exactly_its_options_with_ranges(info):
    assert {o.name for o in info.options} == _builder_params(info)
    for option in info.options:
        assert option.help and option.range_text in option.describe()
        if option.kind in ("int", "float"):
            assert math.isfinite(option.minimum) and math.isfinite(option.maximum)
            assert option.minimum <= option.maximum


@pytest.mark.parametrize("info", [m for m in list_methods() if m.kind == "classical"], ids=lambda i: i.name)
def test_numbers_past_either_end_are_refused_by_the_method_table_and_the_filler(info, tmp_path):
    needed = {name: str(tmp_path) for name in info.requires}  # scene completion's photo folder
    build = info.builder(info.tasks[0])
    make = get_upscaler if "upscale" in info.tasks else get_filler
    for option in info.options:
        if option.kind not in ("int", "float"):
            continue
        for bad in (option.maximum + 1, option.minimum - 1, math.inf, math.nan, 1e308, True, "5"):
            with pytest.raises(InvalidArgumentError, match=f"option {option.name} must be"):
                make(info.name, **needed, **{option.name: bad})
            with pytest.raises(InvalidArgumentError, match=option.name):
                build(**needed, **{option.name: bad})  # the filler's own constructor checks too
        make(info.name, **needed, **{option.name: option.maximum})  # both ends are valid
        make(info.name, **needed, **{option.name: option.minimum})


def test_the_cases_from_the_issue(photo, box_mask):
    # radius=100 on telea took 21 s instead of 0.19 s; 1e308 was accepted.
    for radius in (100, 1e308):
        with pytest.raises(InvalidArgumentError, match=r"option radius must be 1 to 16, got"):
            holefill.inpaint(photo, box_mask, "telea", radius=radius)
    out = holefill.inpaint(photo, box_mask, "telea", radius=16)
    assert np.array_equal(out[~box_mask], photo[~box_mask])


def test_unknown_option_lists_every_option_with_its_range():
    with pytest.raises(InvalidArgumentError) as err:
        get_filler("criminisi", bogus=1)
    text = str(err.value)
    assert "no option bogus" in text and "\n" not in text
    assert "patch_size (odd whole number 3 to 31, default 9)" in text
    assert "search_radius (whole number 1 to 100000, or none, default none)" in text


def test_kinds_convert_what_the_cli_and_json_give():
    radius = Option("radius", "float", 3.0, "r", minimum=1.0, maximum=16.0)
    assert radius.check(5) == 5.0 and isinstance(radius.check(5), float)
    assert radius.check(np.float32(2.5)) == 2.5
    count = Option("n", "int", 4, "n", minimum=1, maximum=16)
    assert count.check(5.0) == 5 and isinstance(count.check(5.0), int)
    for bad in (5.5, "5", True, None):
        with pytest.raises(InvalidArgumentError, match="whole number 1 to 16"):
            count.check(bad)
    flag = Option("f", "bool", False, "f")
    assert flag.check("TRUE") is True and flag.check(0) is False
    with pytest.raises(InvalidArgumentError, match="true or false"):
        flag.check(2)
    pick = Option("q", "choice", "fast", "q", choices=("fast", "best"))
    assert pick.check("Best") == "best"
    with pytest.raises(InvalidArgumentError, match="fast or best"):
        pick.check("ok")
    odd = Option("p", "int", 9, "p", minimum=3, maximum=31, odd=True)
    with pytest.raises(InvalidArgumentError, match="odd"):
        odd.check(8)
    maybe = Option("s", "int", None, "s", minimum=1, maximum=10, nullable=True)
    assert maybe.check("none") is None and maybe.check(None) is None and maybe.check(3) == 3


def test_an_option_without_bounds_or_with_a_bad_default_cannot_be_declared():
    with pytest.raises(ValueError, match="minimum and a maximum"):
        Option("r", "float", 3.0, "r", minimum=1.0)
    with pytest.raises(InvalidArgumentError):
        Option("r", "float", 30.0, "r", minimum=1.0, maximum=16.0)


def test_check_options_normalises_so_equal_values_are_equal():
    info = get_method("telea")
    assert check_options(info.options, {"radius": 4}, method="telea") == \
        check_options(info.options, {"radius": 4.0}, method="telea")


def test_learned_options_are_checked_before_the_weights_load(tmp_path):
    pytest.importorskip("torch")
    info = get_method("deepfill_v2")
    assert {o.name for o in info.options} >= {"strategy", "resize_limit"}
    # An unknown strategy or an absurd limit fails first, even though the weights folder is missing.
    with pytest.raises(InvalidArgumentError, match="option strategy must be"):
        get_filler("deepfill_v2", weights=tmp_path / "none", strategy="everything")
    with pytest.raises(InvalidArgumentError, match="option resize_limit must be"):
        get_filler("deepfill_v2", weights=tmp_path / "none", resize_limit=10**9)

