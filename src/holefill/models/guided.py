"""Guided inpainting: fill a hole with content pulled from another photo, the *guide*.

Paper: Yinan Zhao, Brian Price, Scott Cohen and Danna Gurari, "Guided Image Inpainting:
Replacing an Image Region by Pulling Content from Another Image", WACV 2019
(arXiv:1803.08435). The authors released no code; this is built from the paper.

What is the paper's (its method as the paper and its abstract describe it):

- one end-to-end network takes the incomplete image (with its hole mask) and a guidance
  image; a localisation network predicts a spatial-transformer transform that aligns the
  guide with the hole, and the aligned guide is sampled with it;
- the aligned guidance features are fused with the features of the incomplete image
  (the image concatenated with the hole mask);
- an attention branch marks where the aligned guide disagrees with the image's context, so
  that the decoder synthesises new content there instead of copying;
- a decoder renders the fill;
- self-supervised training data: the guide holds the hole's original content under a
  random transform (rotation, scale, translation, crop) next to irrelevant content
  (:mod:`holefill.masks.guidance`, :mod:`holefill.data.guided`).

What is ours (the paper's exact layers, widths and loss weights are not reproduced here):

- The transform is a similarity (rotation, scale, translation: the transforms of the
  training data), stated in long-side units (:mod:`holefill.masks.guidance`), so it holds
  for any image and guide sizes. The localisation network computes it rather than
  regressing its numbers from pooled features: a shared convolutional encoder embeds image
  and guide on an ``loc_size`` canvas; every known 1/8-scale cell of the image near the hole
  scores every guide cell (a correlation volume, softmax with a learned temperature), its
  expected match and a learned confidence give a weighted least-squares similarity, refined
  by iteratively reweighted least squares (Cauchy weights); then ``loc_stages - 1`` local
  stages warp the guide with the current estimate, match 1/4-scale cells within
  ``local_radius`` cells, and compose a correction. Every step is differentiable.
- The attention branch sees the aligned guide, its validity, the mask, and the aligned
  guide's difference from the image's known pixels; the decoder outputs a synthesis and the
  attention map ``A``, and the fill is ``A * aligned guide + (1 - A) * synthesis``
  (``A`` is 0 where the aligned guide has no pixels).
- Beyond the paper, ``colour_match``: the paper's guide keeps its own lighting, so a guide
  taken in other light pastes in the wrong colours. Before fusion the aligned guide is
  brought to the image's lighting: per channel, the mean and spread of the aligned guide on
  a ring of known pixels around the hole are matched to the image's there. The benchmark
  measures the gain (``holefill bench --guided``, on guides relit on purpose).
- ``guide=None``: without a guide the network fills from the context alone (the attention
  is 0 everywhere), so the model also works as a plain inpainting model.
- Training (:mod:`holefill.train.recipes.guided`): L1 on the fill plus a direct loss on the
  predicted transform against the known one; no adversarial term in the CPU-trained variant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from holefill.errors import ConfigError
from holefill.models.base import InpaintModel, InpaintOutput
from holefill.models.registry import build_config, register_model


@dataclass
class GuidedInpaintingConfig:
    """Settings of the guided inpainting network (widths and sizes are ours; see the module)."""

    #: Base width of the fusion network (encoders, middle, decoder).
    cnum: int = 24
    #: Base width of the localisation encoder.
    loc_cnum: int = 24
    #: Side of the square canvas the localisation network sees image and guide on.
    loc_size: int = 128
    #: 1 global matching stage + (loc_stages - 1) local refinement stages.
    loc_stages: int = 2
    #: Search radius of a local stage, in 1/4-scale cells.
    local_radius: int = 3
    #: Iteratively reweighted least-squares rounds per stage.
    irls_steps: int = 3
    #: Bring the aligned guide to the image's lighting before fusion (beyond the paper).
    colour_match: bool = True
    #: Width of the known ring the lighting is matched on, as a fraction of the long side.
    ring: float = 0.06
    #: Test-time refinement of the alignment (eval mode only; 0: off), see :meth:`GuidedInpainting.refine`.
    refine_steps: int = 45
    #: The refinement first tries shifts of up to this many pixels (of a 256 px side) in steps of 4.
    search_shift: int = 16
    #: The refinement also starts from a keypoint match (SIFT + RANSAC similarity; eval mode only).
    keypoints: bool = True

    def __post_init__(self) -> None:
        for name in ("cnum", "loc_cnum"):
            if getattr(self, name) < 4 or getattr(self, name) % 2:
                raise ConfigError(f"model guided_inpainting: {name} must be an even number >= 4, got {getattr(self, name)}")
        if self.loc_size < 32 or self.loc_size % 8:
            raise ConfigError(f"model guided_inpainting: loc_size must be a multiple of 8 and >= 32, got {self.loc_size}")
        if self.loc_stages < 1 or self.local_radius < 1 or self.irls_steps < 1:
            raise ConfigError("model guided_inpainting: loc_stages, local_radius and irls_steps must be >= 1")
        if not 0 < self.ring < 0.5:
            raise ConfigError(f"model guided_inpainting: ring must lie in (0, 0.5), got {self.ring}")
        if not 0 <= self.search_shift <= 64:
            raise ConfigError(f"model guided_inpainting: search_shift must lie in [0, 64], got {self.search_shift}")
        if not 0 <= self.refine_steps <= 1000:
            raise ConfigError(f"model guided_inpainting: refine_steps must lie in [0, 1000], got {self.refine_steps}")


@dataclass
class GuidedOutput(InpaintOutput):
    """The fill, and how it came about."""

    #: The decoder's own synthesis (used where the attention is low).
    synthesis: torch.Tensor = field(default=None)  # type: ignore[assignment]
    #: The guide aligned to the image (after lighting matching), N3HW; zeros without a guide.
    aligned: torch.Tensor = field(default=None)  # type: ignore[assignment]
    #: Where the aligned guide is used, N1HW in [0, 1].
    attention: torch.Tensor = field(default=None)  # type: ignore[assignment]
    #: The image-to-guide similarity of each localisation stage (N23, long-side units); the last is used.
    affines: tuple[torch.Tensor, ...] = ()


# ----------------------------------------------------------------------------- geometry


def identity_affine(n: int, device: torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.eye(2, 3, device=device, dtype=dtype).expand(n, 2, 3).contiguous()


def frame_scale(h: int, w: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """diag(s / w, s / h), s = max(h, w): long-side units to grid_sample's normalised coordinates."""
    s = float(max(h, w))
    return torch.tensor([[s / w, 0.0], [0.0, s / h]], device=device, dtype=dtype)


def grid_theta(affine: torch.Tensor, image_hw: tuple[int, int], guide_hw: tuple[int, int]) -> torch.Tensor:
    """grid_sample's theta (output = image, input = guide) for an image-to-guide map in long-side units."""
    di = frame_scale(*image_hw, affine.device, affine.dtype)
    dg = frame_scale(*guide_hw, affine.device, affine.dtype)
    lin = dg @ affine[:, :, :2] @ torch.linalg.inv(di)
    trans = (dg @ affine[:, :, 2:]).squeeze(-1)
    return torch.cat([lin, trans[..., None]], dim=2)


def warp(source: torch.Tensor, affine: torch.Tensor, out_hw: tuple[int, int]) -> torch.Tensor:
    """Sample ``source`` (the guide) at ``affine`` (image -> guide, long-side units) on an ``out_hw`` grid."""
    theta = grid_theta(affine, out_hw, (source.shape[-2], source.shape[-1]))
    grid = F.affine_grid(theta, [source.shape[0], source.shape[1], *out_hw], align_corners=False)
    return F.grid_sample(source, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def to_canvas(x: torch.Tensor, size: int) -> torch.Tensor:
    """``x`` on a ``size x size`` canvas in its own long-side frame (long side fills it, centred, zero padding)."""
    h, w = x.shape[-2:]
    s = max(h, w)
    if s > size:  # shrink first, so the sampling below does not alias
        x = F.interpolate(x, size=(max(1, round(h * size / s)), max(1, round(w * size / s))), mode="area")
    theta = torch.zeros(x.shape[0], 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0], theta[:, 1, 1] = s / w, s / h
    grid = F.affine_grid(theta, [x.shape[0], x.shape[1], size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def cell_positions(n: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Centres of an ``n x n`` grid of cells over [-1, 1]^2, (n*n, 2) as (x, y), row-major."""
    c = (torch.arange(n, device=device, dtype=dtype) * 2 + 1) / n - 1
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)


def apply_affine(affine: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(N, P, 2) points through (N, 2, 3) maps."""
    return points @ affine[:, :, :2].transpose(1, 2) + affine[:, None, :, 2]


def compose(outer: torch.Tensor, inner: torch.Tensor) -> torch.Tensor:
    """The map ``outer(inner(p))``."""
    lin = outer[:, :, :2] @ inner[:, :, :2]
    trans = (outer[:, :, :2] @ inner[:, :, 2:]).squeeze(-1) + outer[:, :, 2]
    return torch.cat([lin, trans[..., None]], dim=2)


def fit_similarity(points: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor,
                   ridge: float = 1e-4) -> torch.Tensor:
    """Weighted least-squares similarity ``[[a, -b, tx], [b, a, ty]]`` taking points to targets.

    ``points``, ``targets``: (N, P, 2); ``weights``: (N, P), >= 0. A small ridge pulls the
    answer towards the identity, which is what a sample without weight gets.
    """
    x, y = points[..., 0], points[..., 1]
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    jx = torch.stack([x, -y, one, zero], dim=-1)
    jy = torch.stack([y, x, zero, one], dim=-1)
    wsum = weights.sum(dim=1)
    lam = (ridge * wsum + 1e-6)[:, None, None]
    eye = torch.eye(4, device=points.device, dtype=points.dtype)
    normal = torch.einsum("np,npi,npj->nij", weights, jx, jx) + torch.einsum("np,npi,npj->nij", weights, jy, jy)
    normal = normal + lam * eye
    prior = torch.tensor([1.0, 0.0, 0.0, 0.0], device=points.device, dtype=points.dtype)
    rhs = torch.einsum("np,npi,np->ni", weights, jx, targets[..., 0]) + torch.einsum(
        "np,npi,np->ni", weights, jy, targets[..., 1]) + lam[:, :, 0] * prior
    # in float64: the 4x4 systems are tiny, and single precision makes a batch differ from its items
    a, b, tx, ty = torch.linalg.solve(normal.double(), rhs.double()).to(points.dtype).unbind(dim=1)
    return torch.stack([torch.stack([a, -b, tx], dim=1), torch.stack([b, a, ty], dim=1)], dim=1)


def robust_similarity(points: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, steps: int,
                      scale: float) -> torch.Tensor:
    """:func:`fit_similarity` refit ``steps`` times with Cauchy weights on the residuals (IRLS)."""
    w = weights
    affine = fit_similarity(points, targets, w)
    for _ in range(steps - 1):
        residual = (apply_affine(affine, points) - targets).norm(dim=-1)
        w = weights / (1.0 + (residual / scale) ** 2)
        affine = fit_similarity(points, targets, w)
    return affine


def nearness(hole: torch.Tensor, n: int, sigma: float) -> torch.Tensor:
    """exp(-distance to the nearest hole cell / sigma) for each cell of an n x n grid; (N, n*n).

    ``hole`` is (N, n*n) in [0, 1] (the fraction of each cell in the hole)."""
    pos = cell_positions(n, hole.device, hole.dtype)
    dist = torch.cdist(pos, pos)  # (P, P)
    big = dist.max() + 1.0
    d = torch.where(hole[:, None, :] > 0, dist[None], big).amin(dim=2)
    near = torch.exp(-d / sigma)
    return torch.where((hole > 0).any(dim=1, keepdim=True), near, torch.ones_like(near))


# ----------------------------------------------------------------------------- layers


def conv(cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1, act: bool = True) -> nn.Module:
    layer = nn.Conv2d(cin, cout, k, stride=stride, padding=dilation * (k - 1) // 2, dilation=dilation)
    return nn.Sequential(layer, nn.ELU()) if act else layer


class LocalisationEncoder(nn.Module):
    """Shared embedding of image and guide canvases: 1/4-scale and 1/8-scale features and confidences.

    Input channels: RGB (zeroed in the hole and off the canvas), hole, known."""

    def __init__(self, c: int, fine_dim: int = 32, coarse_dim: int = 64) -> None:
        super().__init__()
        self.stem = nn.Sequential(conv(5, c), conv(c, 2 * c, stride=2), conv(2 * c, 2 * c),
                                  conv(2 * c, 4 * c, stride=2), conv(4 * c, 4 * c))
        self.fine = conv(4 * c, fine_dim, 1, act=False)
        self.fine_weight = conv(4 * c, 1, 1, act=False)
        self.down = nn.Sequential(conv(4 * c, 4 * c, stride=2), conv(4 * c, 4 * c), conv(4 * c, 4 * c, dilation=2))
        self.coarse = conv(4 * c, coarse_dim, 1, act=False)
        self.coarse_weight = conv(4 * c, 1, 1, act=False)

    def fine_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.stem(x)
        return F.normalize(self.fine(h), dim=1), self.fine_weight(h), h

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        fine, fine_w, h = self.fine_features(x)
        h = self.down(h)
        return fine, fine_w, F.normalize(self.coarse(h), dim=1), self.coarse_weight(h)


class Localisation(nn.Module):
    """The spatial transformer's localisation network: image and guide -> similarity (see the module)."""

    def __init__(self, config: GuidedInpaintingConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = LocalisationEncoder(config.loc_cnum)
        self.log_temperature = nn.Parameter(torch.tensor([math.log(20.0), math.log(20.0)]))

    def _inputs(self, rgb: torch.Tensor, hole: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
        """Encoder input: each channel brought to mean 0 and spread 1 over the known pixels (so a
        global change of lighting between image and guide does not move the match), hole, known."""
        known = inside * (1 - hole)
        count = known.sum(dim=(2, 3), keepdim=True).clamp_min(1.0)
        mean = (rgb * known).sum(dim=(2, 3), keepdim=True) / count
        spread = ((((rgb - mean) ** 2) * known).sum(dim=(2, 3), keepdim=True) / count + 1e-3).sqrt()
        return torch.cat([(rgb - mean) / spread * known, hole, known], dim=1)

    def forward(self, image: torch.Tensor, mask: torch.Tensor, guide: torch.Tensor) -> list[torch.Tensor]:
        cfg = self.config
        n, size = image.shape[0], cfg.loc_size
        ones_i = torch.ones_like(mask)
        ones_g = torch.ones_like(guide[:, :1])
        img_c = to_canvas(torch.cat([image, mask, ones_i], dim=1), size)
        gd_c = to_canvas(torch.cat([guide, ones_g], dim=1), size)
        hole = (img_c[:, 3:4] > 1e-3).to(image.dtype)
        inside = (img_c[:, 4:5] > 0.999).to(image.dtype)
        g_inside = (gd_c[:, 3:4] > 0.999).to(image.dtype)
        f_img, w_img_fine, c_img, w_img = self.encoder(self._inputs(img_c[:, :3], hole, inside))
        _, _, c_gd, _ = self.encoder(self._inputs(gd_c[:, :3], torch.zeros_like(g_inside), g_inside))

        # Global stage: every known cell near the hole votes for where it lies in the guide.
        n8 = size // 8
        pos8 = cell_positions(n8, image.device, image.dtype)
        known8 = (F.avg_pool2d(inside * (1 - hole), 8).flatten(1) > 0.999).to(image.dtype)
        hole8 = F.avg_pool2d(hole, 8).flatten(1)
        g_known8 = F.avg_pool2d(g_inside, 8).flatten(1) > 0.5
        corr = torch.einsum("ncp,ncq->npq", c_img.flatten(2), c_gd.flatten(2)) * self.log_temperature[0].exp()
        corr = corr.masked_fill(~g_known8[:, None, :], -1e4)
        match = torch.softmax(corr, dim=-1) @ pos8
        weight = known8 * nearness(hole8, n8, 0.3) * F.softplus(w_img.flatten(1))
        points = pos8.expand(n, -1, -1)
        affine = robust_similarity(points, match, weight, cfg.irls_steps, scale=4.0 / n8)
        affines = [affine]

        # Local stages: warp the guide by the estimate, match 1/4-scale cells nearby, correct.
        n4 = size // 4
        r = cfg.local_radius
        k = 2 * r + 1
        pos4 = cell_positions(n4, image.device, image.dtype)
        known4 = (F.avg_pool2d(inside * (1 - hole), 4).flatten(1) > 0.999).to(image.dtype)
        near4 = nearness(F.avg_pool2d(hole, 4).flatten(1), n4, 0.3)
        step = 2.0 / n4
        dy, dx = torch.meshgrid(torch.arange(-r, r + 1, device=image.device, dtype=image.dtype),
                                torch.arange(-r, r + 1, device=image.device, dtype=image.dtype), indexing="ij")
        offsets = torch.stack([dx.reshape(-1), dy.reshape(-1)], dim=1) * step  # (k*k, 2)
        points4 = pos4.expand(n, -1, -1)
        for _ in range(cfg.loc_stages - 1):
            warped = warp(gd_c, affine, (size, size))
            w_inside = (warped[:, 3:4] > 0.999).to(image.dtype)
            f_gd, _, _ = self.encoder.fine_features(self._inputs(warped[:, :3], torch.zeros_like(w_inside), w_inside))
            c = f_gd.shape[1]
            f_gd = F.unfold(f_gd, k, padding=r).view(n, c, k * k, -1)
            ok = F.unfold(F.avg_pool2d(w_inside, 4), k, padding=r).view(n, k * k, -1) > 0.5
            local = (f_img.flatten(2)[:, :, None, :] * f_gd).sum(dim=1) * self.log_temperature[1].exp()
            local = local.masked_fill(~ok, -1e4)
            shift = torch.einsum("nkp,kd->npd", torch.softmax(local, dim=1), offsets)
            weight4 = known4 * near4 * F.softplus(w_img_fine.flatten(1)) * ok.any(dim=1).to(image.dtype)
            correction = robust_similarity(points4, points4 + shift, weight4, cfg.irls_steps, scale=2.0 * step)
            affine = compose(affine, correction)
            affines.append(affine)
        return affines


def keypoint_affine(image: torch.Tensor, mask: torch.Tensor, guide: torch.Tensor, *, min_inliers: int = 8
                    ) -> torch.Tensor | None:
    """A similarity (2x3, long-side units) from SIFT keypoints of the image's known pixels near the
    hole matched into the guide (Lowe's ratio test, RANSAC with OpenCV's
    ``estimateAffinePartial2D``), or None when too few matches agree. Ours, not the paper's: a
    second starting point for the test-time refinement. ``image``, ``guide``: 3HW in [-1, 1];
    ``mask``: HW."""
    import cv2
    import numpy as np

    def grey(x: torch.Tensor) -> np.ndarray:
        rgb = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
        return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)

    h, w = mask.shape
    hole = mask.detach().cpu().numpy() > 0.5
    r = max(8, round(0.25 * max(h, w)))
    near = cv2.dilate(hole.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0
    known = cv2.erode((~hole).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    sift = cv2.SIFT_create()
    kp_i, des_i = sift.detectAndCompute(grey(image), ((near & known) * 255).astype(np.uint8))
    kp_g, des_g = sift.detectAndCompute(grey(guide), None)
    if des_i is None or des_g is None or len(kp_i) < min_inliers or len(kp_g) < 2:
        return None
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(des_i, des_g, k=2)
    good = [m[0] for m in pairs if len(m) == 2 and m[0].distance < 0.8 * m[1].distance]
    if len(good) < min_inliers:
        return None
    src = np.float32([kp_i[m.queryIdx].pt for m in good])
    dst = np.float32([kp_g[m.trainIdx].pt for m in good])
    pixels, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=3.0)
    if pixels is None or inliers is None or int(inliers.sum()) < min_inliers:
        return None
    hg, wg = guide.shape[-2:]

    def frame(hh: int, ww: int) -> np.ndarray:
        s = max(hh, ww) / 2.0
        return np.array([[1 / s, 0, (0.5 - ww / 2) / s], [0, 1 / s, (0.5 - hh / 2) / s], [0, 0, 1]])

    full = frame(hg, wg) @ np.vstack([pixels, [0, 0, 1]]) @ np.linalg.inv(frame(h, w))
    return torch.from_numpy(full[:2]).to(image.dtype).to(image.device)


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of NCHW ``x`` (reflect padding)."""
    if sigma <= 0.3:
        return x
    r = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-r, r + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-(t ** 2) / (2 * sigma ** 2))
    k = k / k.sum()
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def grow(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """``mask`` (N1HW) dilated by a square of side ``2 * radius + 1``: two 1-D max pools, not one 2-D."""
    k = 2 * radius + 1
    out = F.max_pool2d(mask, (1, k), stride=1, padding=(0, radius))
    return F.max_pool2d(out, (k, 1), stride=1, padding=(radius, 0))


def match_lighting(aligned: torch.Tensor, image: torch.Tensor, ring: torch.Tensor) -> torch.Tensor:
    """``aligned`` with each channel's mean and spread on ``ring`` (N1HW weights) set to the image's there."""
    w = ring
    total = w.sum(dim=(2, 3), keepdim=True)
    has = total > 8
    total = total.clamp_min(1e-6)
    mean_a = (aligned * w).sum(dim=(2, 3), keepdim=True) / total
    mean_i = (image * w).sum(dim=(2, 3), keepdim=True) / total
    var_a = (((aligned - mean_a) ** 2) * w).sum(dim=(2, 3), keepdim=True) / total
    var_i = (((image - mean_i) ** 2) * w).sum(dim=(2, 3), keepdim=True) / total
    gain = ((var_i + 1e-3) / (var_a + 1e-3)).sqrt().clamp(1 / 3, 3.0)
    matched = ((aligned - mean_a) * gain + mean_i).clamp(-1, 1)
    return torch.where(has, matched, aligned)


class GuidedInpainting(InpaintModel):
    """Guided inpainting (Zhao et al., WACV 2019): align the guide, fuse, attend, decode."""

    size_multiple = 4
    extra_inputs = ("guide",)

    def __init__(self, config: GuidedInpaintingConfig) -> None:
        super().__init__(config)
        c = config.cnum
        self.localisation = Localisation(config)
        self.image_encoder = nn.ModuleList([conv(4, c, 5), nn.Sequential(conv(c, 2 * c, stride=2), conv(2 * c, 2 * c)),
                                            conv(2 * c, 4 * c, stride=2)])
        self.guide_encoder = nn.ModuleList([conv(8, c, 5), nn.Sequential(conv(c, 2 * c, stride=2), conv(2 * c, 2 * c)),
                                            conv(2 * c, 4 * c, stride=2)])
        self.middle = nn.Sequential(conv(8 * c, 4 * c), conv(4 * c, 4 * c, dilation=2), conv(4 * c, 4 * c, dilation=4),
                                    conv(4 * c, 4 * c, dilation=8), conv(4 * c, 4 * c))
        self.up2 = nn.Sequential(conv(8 * c, 2 * c), conv(2 * c, 2 * c))
        self.up1 = nn.Sequential(conv(4 * c, c), conv(c, c // 2), conv(c // 2, 4, act=False))

    def align(self, image: torch.Tensor, mask: torch.Tensor, guide: torch.Tensor,
              colour_match: bool | None = None) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """The guide aligned to the image (lighting matched unless off), its validity, the stages' maps."""
        # One sample at a time: the alignment amplifies float rounding (soft-argmax, least
        # squares, then sampling), so a batched run could shift a sample's guide by rounding
        # noise that depends on the batch; per sample, a fill never depends on its batch.
        stages = [self.localisation(image[i:i + 1], mask[i:i + 1], guide[i:i + 1]) for i in range(image.shape[0])]
        affines = [torch.cat(per_stage) for per_stage in zip(*stages)]
        h, w = image.shape[-2:]
        if not self.training and self.config.refine_steps > 0:
            starts = [keypoint_affine(image[i], mask[i, 0], guide[i]) if self.config.keypoints else None
                      for i in range(image.shape[0])]
            affines.append(self.refine(image, mask, guide, affines[-1], self.config.refine_steps, starts))
        sampled = warp(torch.cat([guide, torch.ones_like(guide[:, :1])], dim=1), affines[-1], (h, w))
        valid = (sampled[:, 3:4] > 0.999).to(image.dtype)
        aligned = sampled[:, :3] * valid
        use = self.config.colour_match if colour_match is None else colour_match
        if use:
            r = max(2, round(self.config.ring * max(h, w)))
            grown = grow(mask, r)
            ring = (grown - mask).clamp(0, 1) * valid
            aligned = match_lighting(aligned, image, ring) * valid
        return aligned, valid, affines

    def refine(self, image: torch.Tensor, mask: torch.Tensor, guide: torch.Tensor, affine: torch.Tensor,
               steps: int, others: list[torch.Tensor | None] | None = None) -> torch.Tensor:
        """Polish the similarity at full resolution (ours, at inference only): minimise the robust
        difference between the image's known pixels near the hole and the guide sampled there,
        both brought to mean 0 and spread 1 per channel (so lighting does not count): first over
        a grid of shifts (up to ``search_shift`` px of a 256 px side, heavily blurred) around the
        network's estimate and around ``others[i]`` (another estimate, e.g. a keypoint match),
        then by Adam on the four parameters over three levels of blur, coarse to fine. A sample
        keeps the network's estimate unless the refinement lowers the difference."""
        h, w = image.shape[-2:]
        s = max(h, w)
        r = max(4, round(2 * self.config.ring * s))
        band = (grow(mask, r) - mask).clamp(0, 1) > 0.5
        dg = frame_scale(guide.shape[-2], guide.shape[-1], image.device, image.dtype)
        levels = ((2.0, 4e-3), (1.0, 2e-3), (0.0, 1e-3))
        per_level = max(1, steps // len(levels))
        out = []
        for i in range(image.shape[0]):
            ys, xs = torch.nonzero(band[i, 0], as_tuple=True)
            if len(ys) < 16:
                out.append(affine[i])
                continue
            # the band's pixels in the image's long-side frame
            pts = torch.stack([(xs.to(image.dtype) + 0.5 - w / 2) / (s / 2),
                               (ys.to(image.dtype) + 0.5 - h / 2) / (s / 2)], dim=1)

            def params_to_matrix(p: torch.Tensor) -> torch.Tensor:
                a, b, tx, ty = p.unbind()
                return torch.stack([torch.stack([a, -b, tx]), torch.stack([b, a, ty])])

            def difference(p: torch.Tensor, target: torch.Tensor, gd: torch.Tensor) -> torch.Tensor:
                m = params_to_matrix(p)
                grid = ((pts @ m[:, :2].T + m[:, 2]) @ dg.T)[None, None]  # guide's normalised coordinates
                sampled = F.grid_sample(torch.cat([gd, torch.ones_like(gd[:, :1])], dim=1), grid, mode="bilinear",
                                        padding_mode="zeros", align_corners=False)[0, :, 0]  # (4, P)
                wgt = (sampled[3] > 0.999).to(target.dtype)
                total = wgt.sum().clamp_min(1.0)

                def normalised(x: torch.Tensor) -> torch.Tensor:
                    mean = (x * wgt).sum(dim=1, keepdim=True) / total
                    spread = ((((x - mean) ** 2) * wgt).sum(dim=1, keepdim=True) / total + 1e-2).sqrt()
                    return (x - mean) / spread

                err = ((((normalised(sampled[:3]) - normalised(target)) ** 2 + 1e-2).sqrt()) * wgt).sum()
                return err / (total * 3) + (wgt.sum() < 16).to(target.dtype) * 1e3

            start = torch.stack([affine[i, 0, 0], affine[i, 1, 0], affine[i, 0, 2], affine[i, 1, 2]]).detach()
            exact = image[i, :, ys, xs]
            with torch.no_grad():  # first the best shift on a coarse grid around the estimate, heavily blurred
                blur = 4.0 * s / 256
                target = _blur(image[i:i + 1], blur)[0, :, ys, xs]
                gd = _blur(guide[i:i + 1], blur)
                shifts = torch.arange(-self.config.search_shift, self.config.search_shift + 1, 4,
                                      device=image.device, dtype=image.dtype) * 2 / 256
                seeds = [start]
                other = None if others is None else others[i]
                if other is not None:
                    seeds.append(torch.stack([other[0, 0], other[1, 0], other[0, 2], other[1, 2]]).to(start))
                trials = [seed + torch.stack([torch.zeros_like(dx), torch.zeros_like(dx), dx, dy])
                          for seed in seeds for dy in shifts for dx in shifts]
                scores = torch.stack([difference(t, target, gd) for t in trials])
                coarse = trials[int(scores.argmin())]
            with torch.enable_grad():
                params = coarse.clone().requires_grad_(True)
                for sigma, lr in levels:
                    blur = sigma * s / 256
                    target = _blur(image[i:i + 1], blur)[0, :, ys, xs] if blur > 0 else exact
                    gd = _blur(guide[i:i + 1], blur) if blur > 0 else guide[i:i + 1]
                    opt = torch.optim.Adam([params], lr=lr)
                    for _ in range(per_level):
                        opt.zero_grad()
                        difference(params, target, gd).backward()
                        opt.step()
            with torch.no_grad():
                better = difference(params, exact, guide[i:i + 1]) < difference(start, exact, guide[i:i + 1])
                out.append(params_to_matrix(params.detach() if bool(better) else start))
        return torch.stack(out)

    def forward(self, image: torch.Tensor, mask: torch.Tensor, guide: torch.Tensor | None = None, *,
                colour_match: bool | None = None) -> GuidedOutput:
        known = 1.0 - mask
        image = image * known
        n, _, h, w = image.shape
        if guide is None:
            aligned = torch.zeros_like(image)
            valid = torch.zeros_like(mask)
            affines = [identity_affine(n, image.device, image.dtype)]
        else:
            aligned, valid, affines = self.align(image, mask, guide, colour_match)
        diff = (aligned - image) * known * valid
        e1 = self.image_encoder[0](torch.cat([image, mask], dim=1))
        e2 = self.image_encoder[1](e1)
        e3 = self.image_encoder[2](e2)
        g1 = self.guide_encoder[0](torch.cat([aligned, valid, mask, diff], dim=1))
        g2 = self.guide_encoder[1](g1)
        g3 = self.guide_encoder[2](g2)
        x = self.middle(torch.cat([e3, g3], dim=1))
        x = F.interpolate(x, size=e2.shape[-2:], mode="nearest")
        x = self.up2(torch.cat([x, e2, g2], dim=1))
        x = F.interpolate(x, size=(h, w), mode="nearest")
        x = self.up1(torch.cat([x, e1, g1], dim=1))
        synthesis = torch.tanh(x[:, :3])
        attention = torch.sigmoid(x[:, 3:4]) * valid
        output = attention * aligned + (1.0 - attention) * synthesis
        return GuidedOutput(output=output, synthesis=synthesis, aligned=aligned, attention=attention,
                            affines=tuple(affines))


@register_model(paper="Zhao, Price, Cohen and Gurari, Guided Image Inpainting, WACV 2019",
                code="none released (arXiv:1803.08435); built from the paper, see holefill.models.guided",
                tiny={"cnum": 8, "loc_cnum": 8, "loc_size": 32, "refine_steps": 3}, tasks=("guided",))
def guided_inpainting(**cfg: Any) -> GuidedInpainting:
    """Guided inpainting (Zhao et al., WACV 2019): a spatial transformer pulls the hole's content from a guide photo."""
    return GuidedInpainting(build_config(GuidedInpaintingConfig, "guided_inpainting", cfg))


__all__ = ["GuidedInpainting", "GuidedInpaintingConfig", "GuidedOutput", "fit_similarity", "grid_theta",
           "guided_inpainting", "warp"]
