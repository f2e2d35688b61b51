"""Per-image quality metrics for hole filling, as pure functions on numpy arrays.

Images are HxWx3 (or HxW) uint8 arrays and masks HxW bool arrays, True = hole. Every
function checks its inputs and raises :class:`~holefill.errors.InvalidArgumentError` with a
one-line message on a wrong shape or dtype; nothing is converted silently.

Units: the L1, L2 and TV errors are in [0, 1] units (pixel values divided by 255); PSNR is in
dB for a peak of 255; SSIM and MS-SSIM are unitless, 1 for identical images. The DeepFill
relative errors are unitless fractions (multiply by 100 for the percentages of Yu et al.).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from holefill.errors import InvalidArgumentError

#: Gaussian window of SSIM (Wang et al. 2004): sigma 1.5, cut at 3.5 sigma, so 11 taps.
SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5
SSIM_WIN = 2 * int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5) + 1  # 11
SSIM_K1 = 0.01
SSIM_K2 = 0.03
#: Scale weights of MS-SSIM (Wang, Simoncelli and Bovik 2003), finest scale first.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
#: Smallest side, in pixels, for five-scale MS-SSIM: the coarsest scale must hold a window.
MS_SSIM_MIN_SIZE = SSIM_WIN * 2 ** (len(MS_SSIM_WEIGHTS) - 1)  # 176

#: The keys of :func:`score`, in table order.
SCORE_KEYS = ("psnr", "ssim", "ms_ssim", "l1_hole", "l2_hole", "l1", "l2", "rel_l1", "rel_l2", "rel_tv",
              "tv_ratio", "colour_out", "seam")
#: Width, in pixels, of the ring of known pixels around a hole whose colours bound a fill
#: (:func:`colour_outside`), and the tolerance, in levels, around that range.
COLOUR_RING = 16
COLOUR_TOLERANCE = 8


# --------------------------------------------------------------------------- checks


def _check_image(img: object, name: str) -> np.ndarray:
    if not isinstance(img, np.ndarray):
        raise InvalidArgumentError(f"{name} must be a numpy array, got {type(img).__name__}")
    if img.dtype != np.uint8:
        raise InvalidArgumentError(f"{name} must be uint8 in [0, 255], got dtype {img.dtype}")
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
        raise InvalidArgumentError(f"{name} must be HxWx3 RGB or HxW, got shape {img.shape}")
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise InvalidArgumentError(f"{name} has no pixels (shape {img.shape})")
    return img


def _check_pair(a: object, b: object, names: tuple[str, str] = ("a", "b")) -> tuple[np.ndarray, np.ndarray]:
    a = _check_image(a, names[0])
    b = _check_image(b, names[1])
    if a.shape != b.shape:
        raise InvalidArgumentError(f"{names[0]} and {names[1]} differ in shape: {a.shape} vs {b.shape}")
    return a, b


def _check_mask(mask: object, shape: tuple[int, ...], name: str = "mask") -> np.ndarray:
    if not isinstance(mask, np.ndarray):
        raise InvalidArgumentError(f"{name} must be a numpy array, got {type(mask).__name__}")
    if mask.dtype != bool:
        raise InvalidArgumentError(f"{name} must be a bool array (True = hole), got dtype {mask.dtype}")
    if mask.shape != tuple(shape[:2]):
        raise InvalidArgumentError(f"{name} has shape {mask.shape} but the images are {tuple(shape[:2])}")
    return mask


def _check_hole(mask: object, shape: tuple[int, ...], name: str = "mask") -> np.ndarray:
    mask = _check_mask(mask, shape, name)
    if not mask.any():
        raise InvalidArgumentError(f"{name} has no hole pixels, so an error over the hole is undefined")
    return mask


def _unit(img: np.ndarray) -> np.ndarray:
    """uint8 -> float64 in [0, 1]."""
    return img.astype(np.float64) / 255.0


def _ratio(num: float, den: float) -> float:
    """num / den, with 0/0 = 0 (nothing to measure, no error) and x/0 = inf."""
    if den == 0.0:
        return 0.0 if num == 0.0 else math.inf
    return float(num / den)


# --------------------------------------------------------------------------- pixel errors


def _diff(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Differences in [0, 1] units, over the hole (n or nx3) or the whole image."""
    d = _unit(a) - _unit(b)
    if mask is None:
        return d
    mask = _check_hole(mask, a.shape)
    return d[mask]


def l1(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean absolute error in [0, 1] units; over the hole pixels and channels if ``mask`` is given."""
    a, b = _check_pair(a, b)
    return float(np.abs(_diff(a, b, mask)).mean())


def l2(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean squared error in [0, 1] units; over the hole pixels and channels if ``mask`` is given."""
    a, b = _check_pair(a, b)
    return float(np.square(_diff(a, b, mask)).mean())


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 255) -> float:
    """Peak signal-to-noise ratio in dB over the whole image: ``10 log10(R^2 / MSE)``.

    The MSE is taken over all pixels and channels in 0..255 units. Identical images have
    no error and give ``inf`` (no warning); averaging over a set then also gives ``inf``.
    """
    a, b = _check_pair(a, b)
    if not (isinstance(data_range, (int, float)) and math.isfinite(data_range) and data_range > 0):
        raise InvalidArgumentError(f"data_range must be a positive number, got {data_range!r}")
    mse = float(np.square(a.astype(np.float64) - b.astype(np.float64)).mean())
    if mse == 0.0:
        return math.inf
    return float(10.0 * math.log10(float(data_range) ** 2 / mse))


# --------------------------------------------------------------------------- SSIM


def _channels(img: np.ndarray) -> np.ndarray:
    """HxW or HxWxC uint8 -> CxHxW float64 in 0..255 (channel-first, for fast 2-D filtering)."""
    x = img.astype(np.float64)
    return x[None] if x.ndim == 2 else np.ascontiguousarray(x.transpose(2, 0, 1))


def _gaussian_taps() -> np.ndarray:
    """The 11 normalised taps of the SSIM window (as scipy.ndimage builds them)."""
    r = (SSIM_WIN - 1) // 2
    k = np.exp(-0.5 * (np.arange(-r, r + 1, dtype=np.float64) / SSIM_SIGMA) ** 2)
    return k / k.sum()


def _blur_valid(planes: np.ndarray) -> np.ndarray:
    """Gaussian-window means of each HxW plane of a KxHxW stack, on the valid interior only.

    The result is Kx(H-10)x(W-10): only pixels whose whole window lies inside the image, so the
    border rule of the filter never enters. OpenCV's separable filter does the work (several
    times faster than scipy.ndimage here; the two agree to ~1e-15 relative).
    """
    k = _gaussian_taps()
    r = (SSIM_WIN - 1) // 2
    h, w = planes.shape[1:]
    out = np.empty((planes.shape[0], h - 2 * r, w - 2 * r))
    for i, plane in enumerate(planes):
        out[i] = cv2.sepFilter2D(plane, cv2.CV_64F, k, k, borderType=cv2.BORDER_REFLECT)[r : h - r, r : w - r]
    return out


def _ssim_terms(x: np.ndarray, y: np.ndarray, data_range: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel SSIM and contrast-structure maps of two CxHxW stacks, on the valid interior.

    Local statistics are Gaussian-weighted means with population covariance. Only pixels whose
    window lies wholly inside the image are kept, so the maps are Cx(H-10)x(W-10).
    """
    c = x.shape[0]
    stats = _blur_valid(np.concatenate([x, y, x * x, y * y, x * y], axis=0))
    mx, my, mxx, myy, mxy = (stats[i * c : (i + 1) * c] for i in range(5))
    vx = mxx - mx * mx
    vy = myy - my * my
    cov = mxy - mx * my
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    cs = (2.0 * cov + c2) / (vx + vy + c2)
    lum = (2.0 * mx * my + c1) / (mx * mx + my * my + c1)
    return lum * cs, cs


def _check_ssim_size(shape: tuple[int, ...], what: str = "ssim") -> None:
    if min(shape[:2]) < SSIM_WIN:
        raise InvalidArgumentError(
            f"{what} needs images of at least {SSIM_WIN}x{SSIM_WIN} pixels (the Gaussian window), "
            f"got {shape[1]}x{shape[0]}"
        )


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The local SSIM map, averaged over channels, on the valid interior: (H-10)x(W-10) float64.

    Its mean is :func:`ssim`. Pixel (i, j) of the map belongs to image pixel (i+5, j+5).
    """
    a, b = _check_pair(a, b)
    _check_ssim_size(a.shape)
    s, _ = _ssim_terms(_channels(a), _channels(b), 255.0)
    return s.mean(axis=0)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity (Wang et al. 2004) of two uint8 images, averaged over channels.

    Gaussian window of 11 taps (sigma 1.5), K1 = 0.01, K2 = 0.03, data range 255, population
    (not sample) covariance. Each channel's SSIM map is averaged over the pixels whose window
    lies wholly inside the image (a 5-pixel border is left out), then the channels are averaged.
    This is exactly what ``skimage.metrics.structural_similarity(a, b, channel_axis=2,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)`` computes
    (the tests check agreement to 1e-9). Images must be at least 11x11.
    """
    a, b = _check_pair(a, b)
    _check_ssim_size(a.shape)
    s, _ = _ssim_terms(_channels(a), _channels(b), 255.0)
    return float(s.mean(axis=(1, 2)).mean())


def _halve(x: np.ndarray) -> np.ndarray:
    """2x2 average downsampling of a CxHxW stack; an odd last row or column is dropped."""
    h, w = (x.shape[1] // 2) * 2, (x.shape[2] // 2) * 2
    x = x[:, :h, :w]
    return 0.25 * (x[:, 0::2, 0::2] + x[:, 1::2, 0::2] + x[:, 0::2, 1::2] + x[:, 1::2, 1::2])


def ms_ssim(a: np.ndarray, b: np.ndarray, weights: Sequence[float] = MS_SSIM_WEIGHTS) -> float:
    """Multi-scale SSIM (Wang, Simoncelli and Bovik 2003), averaged over channels.

    At scales 1..M-1 the mean contrast-structure term ``cs_j`` is taken; at the coarsest scale
    M the full SSIM (mean of luminance x contrast-structure). Per channel, the result is
    ``prod_j cs_j^w_j * ssim_M^w_M``, then averaged over channels. Between scales the image is
    averaged over 2x2 blocks (an odd last row or column is dropped). The SSIM settings are
    those of :func:`ssim`. Terms below 0 are set to 0 first, so that a fractional power is
    defined (the convention of TensorFlow's ``ssim_multiscale``). With ``weights=(1.0,)`` this
    is :func:`ssim`.

    The coarsest scale must still hold an 11-pixel window, so the default five scales need
    both sides at least 176 pixels (:data:`MS_SSIM_MIN_SIZE`); smaller images are an error.
    """
    a, b = _check_pair(a, b)
    w = np.asarray(list(weights), dtype=np.float64)
    if w.ndim != 1 or w.size == 0 or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InvalidArgumentError(f"weights must be a non-empty sequence of non-negative numbers, got {weights!r}")
    need = SSIM_WIN * 2 ** (w.size - 1)
    if min(a.shape[:2]) < need:
        raise InvalidArgumentError(
            f"ms_ssim with {w.size} scales needs images of at least {need}x{need} pixels, "
            f"got {a.shape[1]}x{a.shape[0]}"
        )
    x, y = _channels(a), _channels(b)
    terms = []
    for j in range(w.size):
        s, cs = _ssim_terms(x, y, 255.0)
        if j == w.size - 1:
            terms.append(s.mean(axis=(1, 2)))
        else:
            terms.append(cs.mean(axis=(1, 2)))
            x, y = _halve(x), _halve(y)
    per_scale = np.maximum(np.stack(terms), 0.0)  # scales x channels
    per_channel = np.prod(per_scale ** w[:, None], axis=0)
    return float(per_channel.mean())


# --------------------------------------------------------------------------- TV and DeepFill


def _abs_gradients(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = _unit(img)
    return np.abs(np.diff(x, axis=1)), np.abs(np.diff(x, axis=0))


def total_variation(img: np.ndarray) -> float:
    """Mean absolute difference between neighbouring pixels, in [0, 1] units.

    All horizontally and all vertically adjacent pairs (and every channel) are pooled into one
    mean, so the value lies in [0, 1]: 0 for a flat image, 1 for a black-and-white checkerboard.
    A 1x1 image has no neighbours and gives 0.
    """
    img = _check_image(img, "img")
    dx, dy = _abs_gradients(img)
    n = dx.size + dy.size
    return float((dx.sum() + dy.sum()) / n) if n else 0.0


def relative_l1(original: np.ndarray, filled: np.ndarray, mask: np.ndarray | None = None) -> float:
    """DeepFill's "mean l1 error": the relative L1 error ``||filled - original||_1 / ||original||_1``.

    Both images are scaled to [0, 1] and the sums run over all pixels and channels (over the
    hole only when ``mask`` is given). The result is a fraction; Yu et al. (CVPR 2018, Table 1)
    print it as a percentage, averaged over the validation images. The authors say
    (github.com/JiahuiYu/generative_inpainting issue #146) that their l1 and l2 numbers are
    "relative L1 error and squared relative L2 error"; the formula itself was posted there as
    an image, and we take the standard definition, per image over the whole image. An all-black
    original gives 0 when ``filled`` is black too, else inf.
    """
    original, filled = _check_pair(original, filled, ("original", "filled"))
    d = _diff(filled, original, mask)
    ref = _unit(original) if mask is None else _unit(original)[mask]
    return _ratio(float(np.abs(d).sum()), float(ref.sum()))


def relative_l2(original: np.ndarray, filled: np.ndarray, mask: np.ndarray | None = None) -> float:
    """DeepFill's "mean l2 error": the squared relative L2 error ``||filled - original||_2^2 / ||original||_2^2``.

    On [0, 1]-scaled images, sums over all pixels and channels (the hole only if ``mask`` is
    given); a fraction, printed as a percentage by Yu et al. (CVPR 2018, Table 1). See
    :func:`relative_l1` for the source of the definition.
    """
    original, filled = _check_pair(original, filled, ("original", "filled"))
    d = _diff(filled, original, mask)
    ref = _unit(original) if mask is None else _unit(original)[mask]
    return _ratio(float(np.square(d).sum()), float(np.square(ref).sum()))


def relative_tv(img: np.ndarray) -> float:
    """DeepFill's "mean TV loss" in the same relative form: ``||grad img||_1 / ||img||_1``.

    The sum of the absolute horizontal and vertical neighbour differences divided by the sum
    of the pixel values, both in [0, 1] units, over all channels; a fraction. It measures the
    filled image alone (no reference): Yu et al. (CVPR 2018, Table 1) report it as a
    percentage and note that patch-copying methods score lower. The paper does not spell the
    TV formula out; this normalisation, like that of the l1 and l2 errors, is our reading, so
    compare its absolute level with the paper's only loosely and rank methods with it. A black
    image gives 0.
    """
    img = _check_image(img, "img")
    dx, dy = _abs_gradients(img)
    return _ratio(float(dx.sum() + dy.sum()), float(_unit(img).sum()))


def seam_step(image: np.ndarray, columns: Sequence[int]) -> float:
    """How sharply ``image`` changes across vertical seams: the mean absolute difference between
    column ``c - 1`` and column ``c`` for each ``c`` in ``columns``, in [0, 1] units, over rows,
    channels and seams.

    The blend benchmark takes it at the two edges of the generated middle and subtracts the true
    window's value (``seam``): 0 means the joins are as smooth as the photo itself there, a
    positive value a visible step (a middle drawn a little too dark or too bright).
    """
    img = _check_image(image, "image")
    w = img.shape[1]
    if not columns or any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not 0 < c < w
                          for c in columns):
        raise InvalidArgumentError(f"seam columns must be whole numbers in 1..{w - 1}, got {list(columns)!r}")
    unit = _unit(img)
    return float(np.mean([np.abs(unit[:, c] - unit[:, c - 1]).mean() for c in columns]))


def hole_tv_ratio(original: np.ndarray, filled: np.ndarray, mask: np.ndarray) -> float:
    """The hole's texture against the truth's: total variation inside the hole of ``filled``
    divided by that of ``original``.

    Only neighbour pairs with both pixels in the hole count, so the seam between fill and
    context does not; every channel is pooled. 1 means the fill is as busy as the truth; a
    smooth diffusion fill gives well under 1 (biharmonic fills score about 0.2-0.4 on photos),
    a patch copy near 1. NaN when the hole has no such pair or the truth is flat there.
    """
    original, filled = _check_pair(original, filled, ("original", "filled"))
    mask = _check_hole(mask, original.shape)
    pair_x = mask[:, 1:] & mask[:, :-1]
    pair_y = mask[1:, :] & mask[:-1, :]
    if not pair_x.any() and not pair_y.any():
        return math.nan

    def tv(img: np.ndarray) -> float:
        dx, dy = _abs_gradients(img)
        return float(dx[pair_x].sum() + dy[pair_y].sum())

    truth = tv(original)
    return tv(filled) / truth if truth > 0 else math.nan


def colour_outside(image: np.ndarray, mask: np.ndarray, ring: int = COLOUR_RING,
                   tolerance: float = COLOUR_TOLERANCE) -> float:
    """The fraction of hole pixels whose colour lies outside the range of their context.

    The context is the ring of known pixels within ``ring`` pixels of the hole; its range is,
    per channel, the 0.5th to 99.5th percentile widened by ``tolerance`` levels. A hole pixel
    counts when any channel leaves that range. A fill that invents colours (an extrapolation
    that overshoots to white) scores near 1; a fill made of the context's own colours near 0.
    The truth can score above 0 too (an object unlike its surroundings), so the benchmark
    reports a fill's value minus the truth's. NaN when the hole has no known ring.
    """
    image = _check_image(image, "image")
    mask = _check_hole(mask, image.shape)
    if not (isinstance(ring, int) and ring >= 1):
        raise InvalidArgumentError(f"ring must be a whole number >= 1, got {ring!r}")
    if not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance) and tolerance >= 0):
        raise InvalidArgumentError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * ring + 1, 2 * ring + 1))
    around = cv2.dilate(mask.astype(np.uint8), kernel).astype(bool) & ~mask
    if not around.any():
        return math.nan
    planes = image.reshape(*image.shape[:2], -1).astype(np.float64)
    context, hole = planes[around], planes[mask]
    lo = np.percentile(context, 0.5, axis=0) - tolerance
    hi = np.percentile(context, 99.5, axis=0) + tolerance
    return float(((hole < lo) | (hole > hi)).any(axis=1).mean())


# --------------------------------------------------------------------------- blind inpainting


def mask_bce(pred: np.ndarray, target: np.ndarray, eps: float = 1e-6) -> float:
    """Binary cross-entropy (natural log, mean over pixels) of a hole-probability map.

    ``pred`` is an HxW float array in [0, 1] (the predicted probability that a pixel is a
    hole), ``target`` the HxW bool true mask. ``pred`` is clipped to [eps, 1 - eps] so that a
    confident wrong pixel costs ``-log(eps)`` instead of infinity.
    """
    if not isinstance(pred, np.ndarray) or not np.issubdtype(pred.dtype, np.floating):
        got = pred.dtype if isinstance(pred, np.ndarray) else type(pred).__name__
        raise InvalidArgumentError(f"pred must be a float array of hole probabilities, got {got}")
    if pred.ndim != 2 or pred.size == 0:
        raise InvalidArgumentError(f"pred must be HxW, got shape {pred.shape}")
    if not np.all(np.isfinite(pred)) or pred.min() < 0.0 or pred.max() > 1.0:
        raise InvalidArgumentError("pred must hold probabilities in [0, 1] (no NaN or inf)")
    if not (isinstance(eps, (int, float)) and 0.0 < eps < 0.5):
        raise InvalidArgumentError(f"eps must lie in (0, 0.5), got {eps!r}")
    t = _check_mask(target, pred.shape, "target")
    p = np.clip(pred.astype(np.float64), eps, 1.0 - eps)
    return float(-np.where(t, np.log(p), np.log1p(-p)).mean())


def mask_scores(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Agreement of a predicted HxW bool damage mask with the true one.

    ``iou`` (intersection over union), ``precision`` (predicted pixels that are damage),
    ``recall`` (damage pixels found) and ``f1`` (their harmonic mean). When both masks are
    empty every score is 1 (nothing to find, nothing claimed); when only one is, IoU and F1
    are 0.
    """
    if not isinstance(pred, np.ndarray) or pred.ndim != 2 or pred.size == 0:
        raise InvalidArgumentError(f"pred must be an HxW mask, got {getattr(pred, 'shape', type(pred).__name__)}")
    p = _check_mask(pred, pred.shape, "pred")
    t = _check_mask(target, pred.shape, "target")
    inter = float(np.count_nonzero(p & t))
    n_pred, n_true = float(np.count_nonzero(p)), float(np.count_nonzero(t))
    union = n_pred + n_true - inter
    if union == 0:
        return {"iou": 1.0, "precision": 1.0, "recall": 1.0, "f1": 1.0}
    precision = inter / n_pred if n_pred else 0.0
    recall = inter / n_true if n_true else 0.0
    f1 = 2 * inter / (n_pred + n_true)
    return {"iou": inter / union, "precision": precision, "recall": recall, "f1": f1}


# --------------------------------------------------------------------------- all at once


def score(original: np.ndarray, filled: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Every per-image metric of the evaluation protocol, keyed as in :data:`SCORE_KEYS`.

    ``filled`` is first composited onto ``original`` (known pixels from ``original``), so a
    method is judged on its hole only, whatever it did elsewhere. Then:

    - ``psnr``, ``ssim``: on the full composited RGB image (dB; unitless);
    - ``ms_ssim``: the same, five scales; NaN when a side is under 176 pixels;
    - ``l1_hole``, ``l2_hole``: mean absolute / squared error over the hole, [0, 1] units;
    - ``l1``, ``l2``: the same over the whole image (the hole's error diluted by its area);
    - ``rel_l1``, ``rel_l2``, ``rel_tv``: DeepFill's relative errors over the whole image,
      as fractions (x100 for the percentages of Yu et al. 2018);
    - ``tv_ratio``: the hole's texture against the truth's (:func:`hole_tv_ratio`; 1 = as
      busy as the truth, a blur well under 1);
    - ``colour_out``: the fraction of hole pixels whose colour leaves the context's range
      (:func:`colour_outside`), minus the truth's own fraction (0 = no invented colours);
    - ``seam``: NaN here; the blend benchmark fills it in (:func:`seam_step` at the middle's
      edges, minus the truth's).

    The mask must have at least one hole pixel; images must be at least 11x11.
    """
    original, filled = _check_pair(original, filled, ("original", "filled"))
    mask = _check_hole(mask, original.shape)
    _check_ssim_size(original.shape, "score")
    comp = np.where(mask[..., None] if original.ndim == 3 else mask, filled, original)
    big = min(original.shape[:2]) >= MS_SSIM_MIN_SIZE
    return {
        "psnr": psnr(original, comp),
        "ssim": ssim(original, comp),
        "ms_ssim": ms_ssim(original, comp) if big else math.nan,
        "l1_hole": l1(original, comp, mask),
        "l2_hole": l2(original, comp, mask),
        "l1": l1(original, comp),
        "l2": l2(original, comp),
        "rel_l1": relative_l1(original, comp),
        "rel_l2": relative_l2(original, comp),
        "rel_tv": relative_tv(comp),
        "tv_ratio": hole_tv_ratio(original, comp, mask),
        "colour_out": colour_outside(comp, mask) - colour_outside(original, mask),
        "seam": math.nan,
    }
