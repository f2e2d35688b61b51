"""Classical fillers: the filler contract for every classical method in the table, plus
method-specific checks (options, missing dependencies, Criminisi's priorities and copies)."""

from __future__ import annotations

import sys
import warnings

import cv2
import numpy as np
import pytest

import holefill
from holefill.classical.criminisi import DATA_FLOOR, FrontPriorities, criminisi_inpaint
from holefill.errors import FullMaskError, HolefillWarning, InvalidArgumentError, MissingDependencyError
from holefill.methods import get_filler, get_method, list_methods

#: The classical fillers that run on an image and a mask alone (scene completion, which also
#: needs a photo database, has its own tests in test_scene.py).
CLASSICAL = [m.name for m in list_methods("classical", task="inpaint") if not m.requires]

#: Loose bounds on the hole's mean absolute error (0-255 scale) for the smooth gradient of
#: :func:`gradient_image`, per method, measured with margin (observed maxima across the masks
#: below in brackets). Diffusion and surface methods interpolate a ramp almost exactly;
#: exemplar methods copy patches from elsewhere on the ramp, so each copied pixel is off by
#: the slope times the copy distance, and shift-map's few dominant offsets are far apart.
GRADIENT_MAE = {
    "biharmonic": 3.0,  # [1.4]
    "fsr": 10.0,  # [6.9, the corner hole]
    "patchmatch": 5.0,  # [2.0]
    "telea": 12.0,  # [7.5]
    "ns": 12.0,  # [6.1]
    "criminisi": 25.0,  # [15.9]
    "shiftmap": 35.0,  # [25.1]
}
#: For a method added to the table later without a bound of its own.
DEFAULT_GRADIENT_MAE = 35.0


def gradient_image(h: int = 37, w: int = 53) -> np.ndarray:
    """A smooth colour ramp, different in each channel (3 levels per pixel at most)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    return np.stack([40 + 3 * xx, 50 + 3 * yy, 120 + 1.5 * (xx - yy)], -1).round().astype(np.uint8)


def box(h: int, w: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def odd_masks(h: int = 37, w: int = 53) -> dict[str, np.ndarray]:
    """Holes in the middle, in a corner, along an edge, and of a single pixel."""
    one = np.zeros((h, w), bool)
    one[h // 2, w // 2] = True
    one_corner = np.zeros((h, w), bool)
    one_corner[-1, -1] = True
    return {
        "centre": box(h, w, 12, 25, 18, 34),
        "corner": box(h, w, 0, 10, 0, 12),
        "edge": box(h, w, 14, 22, w - 9, w),
        "one_pixel": one,
        "one_pixel_corner": one_corner,
    }


def inpaint_quiet(image: np.ndarray, mask: np.ndarray, method: str, **options: object) -> np.ndarray:
    """``holefill.inpaint`` with shift-map's fallback warning silenced (tested on its own)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HolefillWarning)
        return holefill.inpaint(image, mask, method=method, **options)


def test_every_classical_method_has_a_summary_and_a_paper() -> None:
    for name in ("telea", "ns", "fsr", "shiftmap", "patchmatch", "biharmonic", "criminisi"):
        assert name in CLASSICAL
    for name in CLASSICAL:
        info = get_method(name)
        assert info.summary and info.paper, name
        assert get_filler(name).name == name


@pytest.mark.parametrize("name", CLASSICAL)
def test_known_pixels_unchanged_and_hole_filled(name: str, photo: np.ndarray, box_mask: np.ndarray) -> None:
    out = inpaint_quiet(photo, box_mask, name)
    assert out.shape == photo.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[~box_mask], photo[~box_mask])
    # The hole is really filled: much nearer the truth than the blanked (black) input.
    fill_error = np.abs(out[box_mask].astype(int) - photo[box_mask]).mean()
    black_error = photo[box_mask].astype(int).mean()
    assert fill_error < 0.5 * black_error


@pytest.mark.parametrize("name", CLASSICAL)
def test_hole_content_does_not_matter(name: str, photo: np.ndarray, box_mask: np.ndarray,
                                      rng: np.random.Generator) -> None:
    a, b = photo.copy(), photo.copy()
    a[box_mask] = 255
    b[box_mask] = rng.integers(0, 256, (int(box_mask.sum()), 3), dtype=np.uint8)
    np.testing.assert_array_equal(inpaint_quiet(a, box_mask, name), inpaint_quiet(b, box_mask, name))


@pytest.mark.parametrize("name", CLASSICAL)
def test_deterministic(name: str, photo: np.ndarray, box_mask: np.ndarray) -> None:
    first = get_filler(name).fill(photo, box_mask)
    second = holefill.inpaint(photo, box_mask, method=name)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("mask_name", ["centre", "corner", "edge", "one_pixel", "one_pixel_corner"])
@pytest.mark.parametrize("name", CLASSICAL)
def test_constant_image_fills_with_its_colour(name: str, mask_name: str) -> None:
    image = np.empty((37, 53, 3), np.uint8)
    image[:] = (200, 40, 90)
    mask = odd_masks()[mask_name]
    out = inpaint_quiet(image, mask, name)
    # Colour-space round trips (Lab, YCrCb) and OpenCV's Telea cost a few levels at most.
    assert np.abs(out.astype(int) - image).max() <= 6


@pytest.mark.parametrize("mask_name", ["centre", "corner", "edge", "one_pixel", "one_pixel_corner"])
@pytest.mark.parametrize("name", CLASSICAL)
def test_smooth_gradient_fills_near_the_truth(name: str, mask_name: str) -> None:
    """Odd size (37x53), holes in the middle, in a corner, on an edge and of one pixel."""
    image = gradient_image()
    mask = odd_masks()[mask_name]
    out = inpaint_quiet(image, mask, name)
    np.testing.assert_array_equal(out[~mask], image[~mask])
    mae = np.abs(out[mask].astype(int) - image[mask]).mean()
    assert mae < GRADIENT_MAE.get(name, DEFAULT_GRADIENT_MAE), f"{name} {mask_name}: hole MAE {mae:.2f}"


@pytest.mark.parametrize("name", CLASSICAL)
def test_all_hole_mask_is_refused(name: str) -> None:
    with pytest.raises(FullMaskError):
        holefill.inpaint(gradient_image(16, 20), np.ones((16, 20), bool), method=name)


@pytest.mark.parametrize("shape", [(1, 9), (2, 2), (3, 3), (5, 7), (17, 5)])
@pytest.mark.parametrize("name", CLASSICAL)
def test_tiny_images(name: str, shape: tuple[int, int], rng: np.random.Generator) -> None:
    image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    mask = np.zeros(shape, bool)
    mask.flat[mask.size // 2] = True
    out = inpaint_quiet(image, mask, name)
    assert out.shape == image.shape
    np.testing.assert_array_equal(out[~mask], image[~mask])


#: Hole MAE bound for :func:`test_scattered_hole`; black would be ~93. Shift-map gives every
#: pixel one of a few dozen global offsets, which suits large holes, not pepper noise [42.9].
SCATTERED_MAE = {"shiftmap": 60.0}
#: Every other method [14 at most].
DEFAULT_SCATTERED_MAE = 25.0


@pytest.mark.parametrize("name", CLASSICAL)
def test_scattered_hole(name: str, photo: np.ndarray, rng: np.random.Generator) -> None:
    """A third of the pixels missing at random: every method fills them from the others."""
    image = np.ascontiguousarray(photo[:40, :48])
    mask = rng.random(image.shape[:2]) < 0.33
    out = inpaint_quiet(image, mask, name)
    np.testing.assert_array_equal(out[~mask], image[~mask])
    assert np.abs(out[mask].astype(int) - image[mask]).mean() < SCATTERED_MAE.get(name, DEFAULT_SCATTERED_MAE)


# --- options -------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "options"), [
    ("fsr", {"quality": "medium"}),
    ("shiftmap", {"passes": 0}),
    ("patchmatch", {"patch_radius": 0}),
    ("patchmatch", {"patch_radius": 2.5}),
    ("patchmatch", {"seed": -1}),
    ("biharmonic", {"split_into_regions": "yes"}),
    ("criminisi", {"patch_size": 8}),
    ("criminisi", {"patch_size": 1}),
    ("criminisi", {"search_radius": 0}),
    ("criminisi", {"patch_size": True}),
])
def test_bad_options_are_one_line_errors(name: str, options: dict[str, object]) -> None:
    with pytest.raises(InvalidArgumentError) as err:
        get_filler(name, **options)
    assert "\n" not in str(err.value) and next(iter(options)) in str(err.value)


def test_fsr_best_quality_runs_and_differs_from_fast() -> None:
    image = gradient_image(32, 32)
    image[:, 16:] //= 2  # an edge, so that the two profiles have something to disagree on
    mask = box(32, 32, 10, 20, 10, 22)
    best = holefill.inpaint(image, mask, method="fsr", quality="best")
    fast = holefill.inpaint(image, mask, method="fsr", quality="fast")
    np.testing.assert_array_equal(best[~mask], image[~mask])
    assert np.abs(best[mask].astype(int) - image[mask]).mean() < 20
    assert (best != fast).any()


def test_fsr_fills_a_partial_last_block() -> None:
    """OpenCV's FSR skips holes in the last, partial block column (53 = 3 * 16 + 5)."""
    image = np.empty((37, 53, 3), np.uint8)
    image[:] = (10, 220, 130)
    mask = box(37, 53, 15, 25, 46, 53)
    out = holefill.inpaint(image, mask, method="fsr")
    assert np.abs(out.astype(int) - image).max() <= 2


def test_shiftmap_fills_pixels_without_a_known_offset() -> None:
    """With 9 known pixels no offset reaches a known pixel from most of the hole; OpenCV
    would leave those black. Further passes and the fallback fill them with the colour."""
    image = np.empty((37, 53, 3), np.uint8)
    image[:] = (200, 40, 90)
    mask = np.ones((37, 53), bool)
    mask[:3, :3] = False
    out = inpaint_quiet(image, mask, "shiftmap")
    assert np.abs(out.astype(int) - image).max() <= 6


def test_patchmatch_seed(photo: np.ndarray, box_mask: np.ndarray) -> None:
    a = holefill.inpaint(photo, box_mask, method="patchmatch", seed=7)
    b = holefill.inpaint(photo, box_mask, method="patchmatch", seed=7)
    c = holefill.inpaint(photo, box_mask, method="patchmatch", seed=8)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_patchmatch_missing_is_a_dependency_error(monkeypatch: pytest.MonkeyPatch, photo: np.ndarray,
                                                  box_mask: np.ndarray) -> None:
    monkeypatch.setitem(sys.modules, "patchmatch", None)  # makes the import fail
    with pytest.raises(MissingDependencyError, match="pip install pypatchmatch") as err:
        holefill.inpaint(photo, box_mask, method="patchmatch")
    assert "\n" not in str(err.value)


def test_patchmatch_without_native_library_is_a_dependency_error(monkeypatch: pytest.MonkeyPatch,
                                                                  photo: np.ndarray, box_mask: np.ndarray) -> None:
    from patchmatch import patch_match

    monkeypatch.setattr(patch_match, "patchmatch_available", False)
    with pytest.raises(MissingDependencyError, match="native library"):
        holefill.inpaint(photo, box_mask, method="patchmatch")


@pytest.mark.parametrize("name", ["fsr", "shiftmap"])
def test_missing_opencv_contrib_is_a_dependency_error(name: str, monkeypatch: pytest.MonkeyPatch,
                                                      photo: np.ndarray, box_mask: np.ndarray) -> None:
    monkeypatch.delattr(cv2, "xphoto")
    with pytest.raises(MissingDependencyError, match="opencv-contrib"):
        holefill.inpaint(photo, box_mask, method=name)


def test_biharmonic_split_into_regions_gives_the_same_fill(photo: np.ndarray) -> None:
    mask = box(96, 128, 10, 30, 10, 30) | box(96, 128, 50, 70, 80, 110)
    joint = holefill.inpaint(photo, mask, method="biharmonic")
    split = holefill.inpaint(photo, mask, method="biharmonic", split_into_regions=True)
    assert np.abs(joint.astype(int) - split).max() <= 1


# --- Criminisi -----------------------------------------------------------------------------

def edge_scene() -> tuple[np.ndarray, np.ndarray]:
    """A vertical edge (dark left of column 20, light right of it) entering a hole from above."""
    image = np.full((40, 40, 3), 200, np.uint8)
    image[:, :20] = 40
    return image, box(40, 40, 12, 28, 12, 28)


def test_criminisi_data_term_is_highest_where_the_edge_meets_the_front() -> None:
    image, mask = edge_scene()
    lum = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32)
    lum[mask] = 0
    front = FrontPriorities(lum, mask.copy(), (~mask).astype(np.float32), radius=4)
    on_front = np.isfinite(front.priority)
    # The front is the hole's outline.
    ring = mask & ~cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    np.testing.assert_array_equal(on_front, ring)
    # The isophote is vertical: it meets the top and bottom sides head on, the left and
    # right sides not at all. Patches more than a radius from the edge see no gradient.
    data = front.data_term
    assert data[12, 19] > 0.1 and data[12, 20] > 0.1
    assert data[12, 12:15].max() == 0 and data[12, 25:28].max() == 0
    assert data[20, 12] == 0
    # The first pick is on the top side, in a patch that reaches the edge.
    best_y, best_x = front.best()
    assert best_y == 12 and 15 <= best_x <= 24
    assert front.priority[best_y, best_x] == front.priority[np.isfinite(front.priority)].max()
    # Off the edge the priority is the confidence times the floor.
    np.testing.assert_allclose(front.priority[12, 14], front.confidence_term[12, 14] * DATA_FLOOR, rtol=1e-6)


def test_criminisi_confidence_term() -> None:
    mask = box(30, 30, 10, 20, 10, 20)
    front = FrontPriorities(np.zeros((30, 30), np.float32), mask.copy(), (~mask).astype(np.float32), radius=1)
    # Mid-side: 3 of 9 pixels known; outer corner: 5 of 9.
    assert front.confidence_term[10, 15] == pytest.approx(3 / 9)
    assert front.confidence_term[10, 10] == pytest.approx(5 / 9)
    # At the image border the patch is clipped, and the area shrinks with it.
    mask = box(30, 30, 0, 10, 10, 20)
    front = FrontPriorities(np.zeros((30, 30), np.float32), mask.copy(), (~mask).astype(np.float32), radius=1)
    assert front.confidence_term[9, 15] == pytest.approx(3 / 9)
    assert front.confidence_term[0, 10] == pytest.approx(2 / 6)


def test_criminisi_incremental_update_matches_a_fresh_computation(rng: np.random.Generator) -> None:
    lum = rng.random((40, 48)).astype(np.float32) * 255
    unfilled = box(40, 48, 5, 30, 0, 20)
    confidence = (~unfilled).astype(np.float32)
    front = FrontPriorities(lum, unfilled, confidence, radius=4)
    for y0, x0 in [(3, 0), (20, 14), (26, 8), (9, 9)]:
        patch = unfilled[y0:y0 + 9, x0:x0 + 9]
        confidence[y0:y0 + 9, x0:x0 + 9][patch] = 0.5
        lum[y0:y0 + 9, x0:x0 + 9][patch] = rng.random(int(patch.sum())) * 255
        patch[:] = False
        front.update(y0, min(40, y0 + 9), x0, min(48, x0 + 9))
    fresh = FrontPriorities(lum, unfilled, confidence, radius=4)
    np.testing.assert_array_equal(front.priority, fresh.priority)
    np.testing.assert_array_equal(front.data_term, fresh.data_term)


def test_criminisi_continues_a_line_through_the_hole() -> None:
    """A thin dark line crosses the image; the data term makes the fill carry it across."""
    image = np.full((48, 48, 3), 210, np.uint8)
    image[:, 22:25] = 30
    mask = box(48, 48, 14, 34, 12, 36)
    out = holefill.inpaint(image, mask, method="criminisi")
    np.testing.assert_array_equal(out, image)


@pytest.mark.parametrize("slope", [1.0, 0.5])
def test_criminisi_continues_a_slanted_edge(slope: float) -> None:
    """A straight edge between two flat regions crosses a 32x32 hole: the fill continues it."""
    yy, xx = np.mgrid[0:64, 0:64]
    image = np.full((64, 64, 3), 210, np.uint8)
    image[yy > slope * xx + 32 * (1 - slope)] = 40
    mask = box(64, 64, 16, 48, 16, 48)
    out = holefill.inpaint(image, mask, method="criminisi")
    np.testing.assert_array_equal(out, image)


def test_criminisi_warns_when_it_cannot_copy(rng: np.random.Generator) -> None:
    """Two rows have no 3x3 source patch: Telea fills the hole, and the user is told."""
    image = rng.integers(0, 256, (2, 12, 3), dtype=np.uint8)
    mask = box(2, 12, 0, 2, 5, 7)
    with pytest.warns(HolefillWarning, match="telea"):
        out = holefill.inpaint(image, mask, method="criminisi")
    np.testing.assert_array_equal(out[~mask], image[~mask])


@pytest.mark.parametrize(("where", "search_radius"), [("inside", None), ("corner", None), ("inside", 12)])
def test_criminisi_restores_a_periodic_texture_exactly(where: str, search_radius: int | None,
                                                       rng: np.random.Generator) -> None:
    """Every target patch has exact copies among the source patches, so the SSD search
    must find one and the copy must land in phase. (A search window near the corner holds
    no in-phase source for some patches, so the window is only tried inside.)"""
    tile = rng.integers(0, 256, (7, 6, 3), dtype=np.uint8)
    image = np.tile(tile, (8, 10, 1))  # 56x60, periods 7 and 6
    mask = box(56, 60, 20, 37, 25, 44) if where == "inside" else box(56, 60, 0, 15, 40, 60)
    out = holefill.inpaint(image, mask, method="criminisi", search_radius=search_radius)
    np.testing.assert_array_equal(out, image)


def test_criminisi_copies_only_from_known_pixels(rng: np.random.Generator) -> None:
    """Every filled pixel is a copy of an originally known pixel (exemplars, no blending)."""
    image = rng.integers(0, 4, (30, 34, 3), dtype=np.uint8) * 60
    mask = box(30, 34, 8, 22, 10, 25)
    out = criminisi_inpaint(np.where(mask[..., None], 0, image).astype(np.uint8), mask)
    known = {tuple(p) for p in image[~mask]}
    assert all(tuple(p) in known for p in out[mask])


def test_criminisi_small_image_shrinks_the_patch(rng: np.random.Generator) -> None:
    """A 7x7 image has no 9x9 source patch; a smaller one is used instead of failing."""
    image = rng.integers(0, 256, (7, 7, 3), dtype=np.uint8)
    mask = box(7, 7, 3, 4, 3, 5)
    out = holefill.inpaint(image, mask, method="criminisi")
    np.testing.assert_array_equal(out[~mask], image[~mask])
    known = {tuple(p) for p in image[~mask]}
    assert all(tuple(p) in known for p in out[mask])
