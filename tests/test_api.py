"""The public Python API: inpaint, outpaint, blend, list_methods."""

from __future__ import annotations

import numpy as np
import pytest

import holefill
from holefill.errors import (
    EmptyMaskWarning,
    FullMaskError,
    HolefillError,
    InvalidArgumentError,
    MaskSizeError,
    UnknownMethodError,
    WeightsError,
)
from holefill.fillers import Filler


def test_inpaint_default_method_keeps_known_pixels(photo, box_mask):
    out = holefill.inpaint(photo, box_mask)
    assert out.dtype == np.uint8 and out.shape == photo.shape
    assert np.array_equal(out[~box_mask], photo[~box_mask])
    # The fill is plausible: closer to the truth than a black hole.
    err = np.abs(out[box_mask].astype(int) - photo[box_mask]).mean()
    assert err < np.abs(photo[box_mask].astype(int)).mean() / 2


def test_fill_never_sees_the_hole_content(photo, box_mask):
    garbage = photo.copy()
    garbage[box_mask] = 255
    assert np.array_equal(holefill.inpaint(photo, box_mask, "telea"), holefill.inpaint(garbage, box_mask, "telea"))


def test_empty_mask_returns_input_with_warning(photo):
    with pytest.warns(EmptyMaskWarning):
        out = holefill.inpaint(photo, np.zeros(photo.shape[:2], bool))
    assert np.array_equal(out, photo)


def test_full_mask_is_an_error_for_context_methods(photo):
    with pytest.raises(FullMaskError):
        holefill.inpaint(photo, np.ones(photo.shape[:2], bool), "telea")


def test_bad_arguments(photo, box_mask):
    with pytest.raises(UnknownMethodError, match="telea"):
        holefill.inpaint(photo, box_mask, "no-such-method")
    with pytest.raises(MaskSizeError):
        holefill.inpaint(photo, box_mask[:-1])
    with pytest.raises(WeightsError):
        holefill.inpaint(photo, box_mask, "telea", weights="somewhere")
    with pytest.raises(InvalidArgumentError):
        holefill.outpaint(photo)
    with pytest.raises(InvalidArgumentError):
        holefill.outpaint(photo, left=-3)
    with pytest.raises(InvalidArgumentError):
        holefill.blend(photo, photo, gap=0)


def test_outpaint_extends_each_side(photo):
    out = holefill.outpaint(photo, left=7, right=5, top=3, bottom=11, method="telea")
    h, w = photo.shape[:2]
    assert out.shape == (h + 14, w + 12, 3)
    assert np.array_equal(out[3:3 + h, 7:7 + w], photo)
    # The new area continues the border colours rather than staying black.
    assert out[:3].mean() > 0.5 * photo[0].mean()


def test_blend_joins_two_photos_and_matches_heights(photo):
    right = np.ascontiguousarray(photo[::2, ::2])  # half height: resized to the left's
    out = holefill.blend(photo, right, gap=20, method="ns")
    h, w = photo.shape[:2]
    assert out.shape[0] == h and out.shape[1] == w + 20 + w
    assert np.array_equal(out[:, :w], photo)
    assert out[:, w:w + 20].mean() > 10


def test_a_filler_object_can_be_passed(photo, box_mask):
    class Grey(Filler):
        name = "grey"

        def _fill(self, image, mask):
            return np.full_like(image, 128)

    out = holefill.inpaint(photo, box_mask, Grey())
    assert (out[box_mask] == 128).all() and np.array_equal(out[~box_mask], photo[~box_mask])
    with pytest.raises(InvalidArgumentError):
        holefill.inpaint(photo, box_mask, Grey(), radius=3)


def test_list_methods_names_the_classical_table():
    names = [m.name for m in holefill.list_methods()]
    assert {"telea", "ns"} <= set(names)
    assert holefill.DEFAULT_METHOD in names
    assert all(m.summary and m.kind in ("classical", "learned") for m in holefill.list_methods())


def test_errors_are_holefill_errors_with_one_line():
    err = FullMaskError("covers\nthe whole image", "m.png")
    assert isinstance(err, HolefillError) and str(err) == "m.png: covers the whole image"


def test_an_unknown_method_names_the_task_s_methods_and_the_closest_name(photo, box_mask):
    from holefill.methods import get_blender, get_filler, method_names

    with pytest.raises(UnknownMethodError) as err:
        holefill.inpaint(photo, box_mask, "patchmach")
    text = str(err.value)
    assert "did you mean 'patchmatch'?" in text and "\n" not in text
    assert text.endswith(", ".join(method_names(task="inpaint")))
    with pytest.raises(UnknownMethodError) as err:
        get_blender("bct_blend_lite")
    text = str(err.value)
    assert "did you mean 'bct_blend'?" in text and "the blend methods" in text
    assert "lanczos" not in text and "bct_blend" in text  # upscalers do not blend
    with pytest.raises(UnknownMethodError) as err:
        get_filler("zzz", task="outpaint")
    assert "did you mean" not in str(err.value) and "the outpaint methods" in str(err.value)


def test_unknown_method_options_are_one_line_errors(photo, box_mask):
    with pytest.raises(InvalidArgumentError, match="radius"):
        holefill.inpaint(photo, box_mask, "telea", bogus=1)
    out = holefill.inpaint(photo, box_mask, "telea", radius=7)
    assert np.array_equal(out[~box_mask], photo[~box_mask])


def test_each_task_has_its_default_and_a_method_must_serve_the_task(photo, box_mask, monkeypatch):
    import dataclasses

    from holefill import methods
    from holefill.errors import InvalidArgumentError

    assert set(methods.TASKS) == {"inpaint", "outpaint", "blend", "upscale", "generate", "blind", "guided"}
    # a generator is always named; blind and guided fills have their own defaults (a shipped model each)
    assert set(holefill.DEFAULT_METHODS) == set(methods.TASKS) - {"generate", "blind", "guided"}
    with pytest.raises(InvalidArgumentError, match="generate needs a method"):
        holefill.default_method("generate")
    for task, name in holefill.DEFAULT_METHODS.items():
        assert holefill.default_method(task) == name and task in methods.get_method(name).tasks
    monkeypatch.setitem(methods.DEFAULT_METHODS, "outpaint", "telea")
    assert holefill.get_filler(task="outpaint").name == "telea"
    assert holefill.get_filler(task="inpaint").name == holefill.DEFAULT_METHODS["inpaint"]
    table = dict(methods._table())
    table["ns"] = dataclasses.replace(table["ns"], tasks=("inpaint",))  # a method that only inpaints
    monkeypatch.setattr(methods, "_table", lambda: table)
    monkeypatch.setattr(methods, "_classical_table", lambda: {k: v for k, v in table.items() if v.kind == "classical"})
    assert "ns" not in methods.method_names(task="blend") and "ns" in methods.method_names(task="inpaint")
    with pytest.raises(InvalidArgumentError, match="'ns' does not blend"):
        holefill.blend(photo, photo, gap=8, method="ns")
    with pytest.raises(InvalidArgumentError, match="unknown task"):
        holefill.default_method("paint")
