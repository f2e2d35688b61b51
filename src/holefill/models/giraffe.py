"""GIRAFFE: scenes as compositional generative neural feature fields.

Paper: Michael Niemeyer, Andreas Geiger, "GIRAFFE: Representing Scenes as Compositional
Generative Neural Feature Fields", CVPR 2021 (arXiv:2011.12100).
Official code: https://github.com/autonomousvision/giraffe (MIT; read, not copied):
``im2scene/giraffe/models/{generator,decoder,neural_renderer,bounding_box_generator}.py``,
``im2scene/camera.py``, ``im2scene/common.py``, ``im2scene/discriminator/conv.py``,
``im2scene/giraffe/training.py``, ``configs/default.yaml``.

A scene is one or more objects and a background, each a generative neural feature field:
an MLP of a 3D point and a viewing direction (both positionally encoded) and of a shape code
and an appearance code, giving a density and a feature vector (:class:`FeatureField`, the
code's ``Decoder``). Each object lives in its own box: a world point is mapped to the box's
coordinates by the object's pose (scale ``s``, translation ``t``, rotation ``R``:
``R (p - t) / s``), and its density is zero outside the box (padded by 0.1). Rays through a
``resolution_vol`` x ``resolution_vol`` grid of pixels are sampled at ``n_ray_samples`` depths;
the fields are composited by density (``sigma = sum sigma_i``, ``f = sum sigma_i f_i / sigma``),
volume-rendered to a feature image, and a 2D neural renderer (:class:`NeuralRenderer`:
nearest 2x upsampling of features, 3x3 convolutions, LeakyReLU, RGB skips upsampled
bilinearly and blurred, a sigmoid) makes the RGB image. Poses, codes and the camera are
drawn from their priors (:meth:`Giraffe.sample_latents`), so editing them moves, turns or
re-colours an object (:meth:`Giraffe.apply_controls`).

The paper configuration (``configs/default.yaml`` at 64x64, used by the cars, CelebA, cats,
chairs and church 64 configs with their own pose ranges): shape and appearance codes of 256
(background 128), object field 8 layers of 128 with a skip at layer 4 and 128 features,
background field 4 layers of 64 with points scaled down by 12, renderer with 128 features
(minimum 32), 16x16 feature image, 64 samples per ray in depth [0.5, 6], camera at radius
2.732 and elevation 30 degrees (``range_v = 0.25``), field of view 49.13, one object box of
scale 0.5 with translations in [-0.75, 0.75]^2 x {0} and any rotation about the vertical.
Generator: 411,595 parameters (object field 266,241, background field 47,041, renderer
98,313); the DC discriminator of the recipe (``n_feat = 512``): 2,763,776. Both derived from
the layer lists of the code and checked in ``tests/test_giraffe.py``.

Deviations, and why:

- Images are in [-1, 1] as everywhere in holefill: the renderer's sigmoid output is mapped by
  ``2 x - 1`` (the code's discriminator sees [0, 1]; an affine change of its input).
- Random draws take a ``torch.Generator`` (the code mixes numpy and torch global state), so
  a seed gives the same scene; pose sampling is the code's (uniform in the ranges; rotations
  ``Rz(2 pi r)``).
- The training-time noise (stratified depths, Gaussian noise on densities, as NeRF) is on in
  ``train()`` mode and off in ``eval()``, as the code's ``mode="training"`` / ``"val"``.
- ``sample_object_existence`` (CLEVR only in the code), the max composition and the Gaussian
  positional encoding are not built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from holefill.errors import ConfigError, InvalidArgumentError
from holefill.models.base import GenerativeModel
from holefill.models.registry import build_config, register_model


@dataclass
class GiraffeConfig:
    """The paper configuration (``configs/default.yaml`` at 64x64); see the module docstring."""

    image_size: int = 64
    z_dim: int = 256
    z_dim_bg: int = 128
    # object feature field
    hidden: int = 128
    blocks: int = 8
    skips: tuple[int, ...] = (4,)
    features: int = 128
    downscale_p: float = 2.0
    n_freq_pos: int = 10
    n_freq_view: int = 4
    # background feature field
    bg_hidden: int = 64
    bg_blocks: int = 4
    bg_skips: tuple[int, ...] = ()
    bg_downscale_p: float = 12.0
    # neural renderer
    render_features: int = 128
    min_features: int = 32
    resolution_vol: int = 16
    # volume rendering and camera
    n_ray_samples: int = 64
    depth_range: tuple[float, float] = (0.5, 6.0)
    fov: float = 49.13
    range_u: tuple[float, float] = (0.0, 0.0)
    range_v: tuple[float, float] = (0.25, 0.25)
    range_radius: tuple[float, float] = (2.732, 2.732)
    # object boxes
    n_boxes: int = 1
    scale_min: tuple[float, float, float] = (0.5, 0.5, 0.5)
    scale_max: tuple[float, float, float] = (0.5, 0.5, 0.5)
    translation_min: tuple[float, float, float] = (-0.75, -0.75, 0.0)
    translation_max: tuple[float, float, float] = (0.75, 0.75, 0.0)
    rotation_range: tuple[float, float] = (0.0, 1.0)
    fix_scale_ratio: bool = True
    bg_rotation_range: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        positive = ("image_size", "z_dim", "z_dim_bg", "hidden", "blocks", "features", "bg_hidden", "bg_blocks",
                    "render_features", "min_features", "resolution_vol", "n_ray_samples", "n_boxes",
                    "n_freq_pos", "n_freq_view")
        for key in positive:
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"giraffe: {key} must be a positive integer, got {value!r}")
        ratio = self.image_size / self.resolution_vol
        if ratio < 2 or ratio != 2 ** int(round(math.log2(ratio))):
            raise ConfigError(f"giraffe: image_size / resolution_vol must be a power of two >= 2, got "
                              f"{self.image_size} / {self.resolution_vol}")
        if self.n_ray_samples < 2:
            raise ConfigError(f"giraffe: n_ray_samples must be >= 2, got {self.n_ray_samples}")
        if not 0 < self.depth_range[0] < self.depth_range[1]:
            raise ConfigError(f"giraffe: depth_range must be (near, far) with 0 < near < far, got {self.depth_range}")

    @property
    def upsamplings(self) -> int:
        """2x upsampling stages of the renderer (the code's ``log2(img_size) - 4`` at a 16x16 feature image)."""
        return int(round(math.log2(self.image_size / self.resolution_vol)))


@dataclass
class SceneLatents:
    """Everything a scene is drawn from: codes, object poses, camera and background rotation."""

    z_shape: torch.Tensor  # N x boxes x z_dim
    z_app: torch.Tensor  # N x boxes x z_dim
    z_shape_bg: torch.Tensor  # N x z_dim_bg
    z_app_bg: torch.Tensor  # N x z_dim_bg
    scale: torch.Tensor  # N x boxes x 3
    translation: torch.Tensor  # N x boxes x 3
    rotation: torch.Tensor  # N x boxes x 3 x 3 (world -> box)
    camera: torch.Tensor  # N x 4 x 4 (camera -> world)
    bg_rotation: torch.Tensor  # N x 3 x 3


def positional_encoding(p: torch.Tensor, frequencies: int) -> torch.Tensor:
    """``[sin(2^i pi p), cos(2^i pi p)]`` for i < ``frequencies``, in the code's order."""
    return torch.cat([torch.cat([torch.sin((2 ** i) * math.pi * p), torch.cos((2 ** i) * math.pi * p)], dim=-1)
                      for i in range(frequencies)], dim=-1)


class FeatureField(nn.Module):
    """A generative neural feature field (the code's ``Decoder``): (point, direction, z_shape, z_app)
    -> (features, density). Points and directions are divided by ``downscale_p`` and encoded."""

    def __init__(self, hidden: int, blocks: int, skips: tuple[int, ...], z_dim: int, features: int,
                 downscale_p: float, n_freq_pos: int = 10, n_freq_view: int = 4) -> None:
        super().__init__()
        self.downscale_p = float(downscale_p)
        self.n_freq_pos, self.n_freq_view = n_freq_pos, n_freq_view
        self.skips = tuple(skips)
        dim_pos, dim_view = 6 * n_freq_pos, 6 * n_freq_view
        self.fc_in = nn.Linear(dim_pos, hidden)
        self.fc_z = nn.Linear(z_dim, hidden)
        self.blocks = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(blocks - 1))
        n_skips = sum(i in self.skips for i in range(blocks - 1))
        self.fc_z_skips = nn.ModuleList(nn.Linear(z_dim, hidden) for _ in range(n_skips))
        self.fc_p_skips = nn.ModuleList(nn.Linear(dim_pos, hidden) for _ in range(n_skips))
        self.sigma_out = nn.Linear(hidden, 1)
        self.fc_z_view = nn.Linear(z_dim, hidden)
        self.feat_view = nn.Linear(hidden, hidden)
        self.fc_view = nn.Linear(dim_view, hidden)
        self.feat_out = nn.Linear(hidden, features)

    def forward(self, points: torch.Tensor, directions: torch.Tensor, z_shape: torch.Tensor,
                z_app: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """N x P x 3 points and directions, N x z codes -> (N x P x features, N x P densities)."""
        p = positional_encoding(points / self.downscale_p, self.n_freq_pos)
        net = F.relu(self.fc_in(p) + self.fc_z(z_shape).unsqueeze(1))
        skip = 0
        for idx, layer in enumerate(self.blocks):
            net = F.relu(layer(net))
            if (idx + 1) in self.skips and idx < len(self.blocks) - 1:
                net = net + self.fc_z_skips[skip](z_shape).unsqueeze(1) + self.fc_p_skips[skip](p)
                skip += 1
        sigma = self.sigma_out(net).squeeze(-1)
        d = directions / directions.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        view = positional_encoding(d / self.downscale_p, self.n_freq_view)
        net = F.relu(self.feat_view(net) + self.fc_z_view(z_app).unsqueeze(1) + self.fc_view(view))
        return self.feat_out(net), sigma


class Blur(nn.Module):
    """A normalised [1, 2, 1] x [1, 2, 1] blur (kornia's ``filter2D``, reflected borders)."""

    def __init__(self) -> None:
        super().__init__()
        f = torch.tensor([1.0, 2.0, 1.0])
        self.register_buffer("kernel", (f[:, None] * f[None, :] / 16.0)[None, None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), self.kernel.expand(c, 1, 3, 3), groups=c)


class NeuralRenderer(nn.Module):
    """Feature image -> RGB in [0, 1]: nearest 2x upsampling + 3x3 conv + LeakyReLU per stage,
    halving the features (at least ``min_features``), with bilinearly upsampled, blurred RGB skips."""

    def __init__(self, in_features: int, features: int, min_features: int, upsamplings: int) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(in_features, features, 1) if in_features != features else nn.Identity()
        widths = [features] + [max(features // 2 ** (i + 1), min_features) for i in range(upsamplings)]
        self.convs = nn.ModuleList(nn.Conv2d(widths[i], widths[i + 1], 3, 1, 1) for i in range(upsamplings))
        self.to_rgb = nn.ModuleList([nn.Conv2d(in_features, 3, 3, 1, 1)] +
                                    [nn.Conv2d(widths[i + 1], 3, 3, 1, 1) for i in range(upsamplings)])
        self.blur = Blur()

    def upsample_rgb(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.blur(F.interpolate(rgb, scale_factor=2.0, mode="bilinear", align_corners=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        net = self.conv_in(x)
        rgb = self.upsample_rgb(self.to_rgb[0](x))
        for idx, conv in enumerate(self.convs):
            net = F.leaky_relu(conv(F.interpolate(net, scale_factor=2.0, mode="nearest")), 0.2)
            rgb = rgb + self.to_rgb[idx + 1](net)
            if idx < len(self.convs) - 1:
                rgb = self.upsample_rgb(rgb)
        return torch.sigmoid(rgb)


class DCDiscriminator(nn.Module):
    """The code's ``DCDiscriminator``: 4x4 stride-2 convolutions (no bias, LeakyReLU 0.2) from
    ``n_feat / 2^(L-1)`` to ``n_feat`` channels at 4x4, then a 4x4 convolution to one logit."""

    def __init__(self, n_feat: int = 512, image_size: int = 64) -> None:
        super().__init__()
        layers = int(math.log2(image_size)) - 2
        if layers < 1 or 2 ** (layers + 2) != image_size:
            raise ConfigError(f"giraffe discriminator: image_size must be a power of two >= 8, got {image_size}")
        widths = [n_feat // 2 ** (layers - 1 - i) for i in range(layers)]
        self.blocks = nn.ModuleList([nn.Conv2d(3, widths[0], 4, 2, 1, bias=False)] +
                                    [nn.Conv2d(widths[i - 1], widths[i], 4, 2, 1, bias=False)
                                     for i in range(1, layers)])
        self.conv_out = nn.Conv2d(n_feat, 1, 4, 1, 0, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = F.leaky_relu(block(x), 0.2)
        return self.conv_out(x).flatten(1)


def rotation_z(angles: torch.Tensor) -> torch.Tensor:
    """Rotation matrices about the vertical (z) axis for ``angles`` (radians), shape ... x 3 x 3."""
    c, s = torch.cos(angles), torch.sin(angles)
    zero, one = torch.zeros_like(angles), torch.ones_like(angles)
    return torch.stack([torch.stack([c, -s, zero], -1), torch.stack([s, c, zero], -1),
                        torch.stack([zero, zero, one], -1)], -2)


def look_at(eye: torch.Tensor) -> torch.Tensor:
    """Camera-to-world rotations looking from ``eye`` (N x 3) at the origin with z up (the code's ``look_at``)."""
    up = torch.tensor([0.0, 0.0, 1.0], dtype=eye.dtype).expand_as(eye)
    z = eye / eye.norm(dim=-1, keepdim=True).clamp_min(1e-5)
    x = torch.linalg.cross(up, z)
    x = x / x.norm(dim=-1, keepdim=True).clamp_min(1e-5)
    y = torch.linalg.cross(z, x)
    y = y / y.norm(dim=-1, keepdim=True).clamp_min(1e-5)
    return torch.stack([x, y, z], dim=-1)


class Giraffe(GenerativeModel):
    """The GIRAFFE generator: feature fields for objects and background, volume rendering, 2D renderer."""

    controls = ("move_object", "rotate", "swap_appearance")

    def __init__(self, config: GiraffeConfig) -> None:
        super().__init__(config)
        self.image_size = config.image_size
        self.decoder = FeatureField(config.hidden, config.blocks, config.skips, config.z_dim, config.features,
                                    config.downscale_p, config.n_freq_pos, config.n_freq_view)
        self.background = FeatureField(config.bg_hidden, config.bg_blocks, config.bg_skips, config.z_dim_bg,
                                       config.features, config.bg_downscale_p, config.n_freq_pos, config.n_freq_view)
        self.renderer = NeuralRenderer(config.features, config.render_features, config.min_features,
                                       config.upsamplings)
        focal = 1.0 / math.tan(0.5 * math.radians(config.fov))
        self.register_buffer("inv_focal", torch.tensor(1.0 / focal), persistent=False)

    # -- priors ------------------------------------------------------------------------------
    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> SceneLatents:
        cfg = self.config
        b = cfg.n_boxes

        def uniform(*shape: int) -> torch.Tensor:
            return torch.rand(*shape, generator=generator)

        def between(low: Any, high: Any, r: torch.Tensor) -> torch.Tensor:
            low, high = torch.as_tensor(low, dtype=torch.float32), torch.as_tensor(high, dtype=torch.float32)
            return low + r * (high - low)

        z_shape = torch.randn(n, b, cfg.z_dim, generator=generator)
        z_app = torch.randn(n, b, cfg.z_dim, generator=generator)
        z_shape_bg = torch.randn(n, cfg.z_dim_bg, generator=generator)
        z_app_bg = torch.randn(n, cfg.z_dim_bg, generator=generator)
        scale = between(cfg.scale_min, cfg.scale_max, uniform(n, b, 1) if cfg.fix_scale_ratio else uniform(n, b, 3))
        translation = between(cfg.translation_min, cfg.translation_max, uniform(n, b, 3))
        rotation = rotation_z(2 * math.pi * between(*cfg.rotation_range, uniform(n, b)))
        u = between(*cfg.range_u, uniform(n))
        v = between(*cfg.range_v, uniform(n))
        radius = between(*cfg.range_radius, uniform(n))
        bg = rotation_z(2 * math.pi * between(*cfg.bg_rotation_range, uniform(n)))
        device = self.inv_focal.device
        latents = SceneLatents(z_shape, z_app, z_shape_bg, z_app_bg, scale.expand(n, b, 3).contiguous(), translation,
                               rotation, self.camera_pose(u, v, radius), bg)
        return SceneLatents(**{k: getattr(latents, k).to(device) for k in latents.__dataclass_fields__})

    @staticmethod
    def camera_pose(u: torch.Tensor, v: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
        """Camera-to-world matrices on the sphere point (u, v) (the code's ``to_sphere``) at ``radius``."""
        theta, phi = 2 * math.pi * u, torch.arccos(1 - 2 * v)
        eye = torch.stack([torch.sin(phi) * torch.cos(theta), torch.sin(phi) * torch.sin(theta), torch.cos(phi)], -1)
        eye = eye * radius[:, None]
        pose = torch.eye(4).repeat(len(u), 1, 1)
        pose[:, :3, :3] = look_at(eye)
        pose[:, :3, 3] = eye
        return pose

    # -- controls ---------------------------------------------------------------------------
    def apply_controls(self, latents: SceneLatents, *, move_object: tuple[float, float] | None = None,
                       rotate: float | None = None, swap_appearance: bool = False) -> SceneLatents:
        """Edit the scene: ``move_object = (dx, dy)`` moves every object by those fractions of
        half its translation range, along the ground-plane axes that look rightward (dx) and
        downward (dy) in the default camera (world +y and +x); ``rotate`` turns every object by
        that many degrees about the vertical (anticlockwise seen from above);
        ``swap_appearance`` gives sample i the objects' appearance codes of sample i + 1."""
        out = SceneLatents(**{k: getattr(latents, k).clone() for k in latents.__dataclass_fields__})
        cfg = self.config
        if move_object is not None:
            try:
                dx, dy = (float(v) for v in move_object)
            except (TypeError, ValueError):
                raise InvalidArgumentError(f"move_object takes two numbers (dx, dy), got {move_object!r}") from None
            if not (math.isfinite(dx) and math.isfinite(dy) and abs(dx) <= 4 and abs(dy) <= 4):
                raise InvalidArgumentError(f"move_object's dx and dy must lie in [-4, 4], got {move_object!r}")
            half = [(hi - lo) / 2 for lo, hi in zip(cfg.translation_min, cfg.translation_max)]
            out.translation[..., 1] += float(dx) * half[1]
            out.translation[..., 0] += float(dy) * half[0]
        if rotate is not None:
            if isinstance(rotate, bool) or not isinstance(rotate, (int, float)) or not math.isfinite(rotate):
                raise InvalidArgumentError(f"rotate takes an angle in degrees, got {rotate!r}")
            turn = rotation_z(torch.full(out.rotation.shape[:2], math.radians(float(rotate))))
            out.rotation = out.rotation @ turn.transpose(-1, -2).to(out.rotation)
        if swap_appearance:
            if out.z_app.shape[0] < 2:
                raise InvalidArgumentError("swap_appearance exchanges appearances between images: make 2 or more")
            out.z_app = torch.roll(out.z_app, shifts=-1, dims=0)
        return out

    # -- rendering --------------------------------------------------------------------------
    def rays(self, latents: SceneLatents) -> tuple[torch.Tensor, torch.Tensor]:
        """World-space camera centres (N x 3) and ray vectors to the image plane (N x P x 3), rows top to bottom."""
        res = self.config.resolution_vol
        device = latents.camera.device
        line = torch.linspace(-1.0, 1.0, res, device=device)
        py, px = torch.meshgrid(-line, line, indexing="ij")  # image up is +y
        pts = torch.stack([px * self.inv_focal, py * self.inv_focal, -torch.ones_like(px)], -1).view(1, -1, 3)
        rot, origin = latents.camera[:, :3, :3], latents.camera[:, :3, 3]
        pixels = pts @ rot.transpose(1, 2) + origin[:, None]
        return origin, pixels - origin[:, None]

    def depths(self, n: int, p: int, device: torch.device) -> torch.Tensor:
        """Sample depths along every ray (N x P x S): evenly spaced, jittered within their
        intervals in training (stratified sampling, as NeRF)."""
        cfg = self.config
        s = cfg.n_ray_samples
        near, far = cfg.depth_range
        depth = (near + torch.linspace(0, 1, s, device=device).view(1, 1, s) * (far - near)).expand(n, p, s)
        if self.training:
            mid = 0.5 * (depth[..., 1:] + depth[..., :-1])
            high = torch.cat([mid, depth[..., -1:]], -1)
            low = torch.cat([depth[..., :1], mid], -1)
            depth = low + (high - low) * torch.rand_like(low)
        return depth

    def object_field(self, latents: SceneLatents, i: int, origin: torch.Tensor, ray: torch.Tensor,
                     depth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features (N x P x S x F) and densities (N x P x S) of object ``i`` at the sample points,
        in its box's coordinates ``R (p - t) / s``; zero density outside the box (padded by 0.1)."""
        n, p, s = depth.shape
        rot, t, sc = latents.rotation[:, i], latents.translation[:, i], latents.scale[:, i]
        o_box = torch.einsum("nij,nj->ni", rot, origin - t) / sc
        r_box = torch.einsum("nij,npj->npi", rot, ray) / sc[:, None]
        pts = (o_box[:, None, None] + depth[..., None] * r_box[:, :, None]).reshape(n, -1, 3)
        dirs = r_box[:, :, None].expand(-1, -1, s, -1).reshape(n, -1, 3)
        feat, sigma = self.decoder(pts, dirs, latents.z_shape[:, i], latents.z_app[:, i])
        if self.training:  # as NeRF: noise on the densities
            sigma = sigma + torch.randn_like(sigma)
        inside = (pts.abs() <= 1.1).all(-1)
        sigma = torch.where(inside, sigma, torch.zeros_like(sigma))
        return feat.view(n, p, s, -1), sigma.view(n, p, s)

    def background_field(self, latents: SceneLatents, origin: torch.Tensor, ray: torch.Tensor,
                         depth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features and densities of the background at the sample points (rotated by its rotation)."""
        n, p, s = depth.shape
        rot = latents.bg_rotation
        o_bg = torch.einsum("nij,nj->ni", rot, origin)
        r_bg = torch.einsum("nij,npj->npi", rot, ray)
        pts = (o_bg[:, None, None] + depth[..., None] * r_bg[:, :, None]).reshape(n, -1, 3)
        dirs = r_bg[:, :, None].expand(-1, -1, s, -1).reshape(n, -1, 3)
        feat, sigma = self.background(pts, dirs, latents.z_shape_bg, latents.z_app_bg)
        if self.training:
            sigma = sigma + torch.randn_like(sigma)
        return feat.view(n, p, s, -1), sigma.view(n, p, s)

    def feature_image(self, latents: SceneLatents, objects: bool = True, background: bool = True) -> torch.Tensor:
        """The volume-rendered feature image (N x features x res x res)."""
        if not (objects or background):
            raise InvalidArgumentError("render at least the objects or the background")
        origin, ray = self.rays(latents)
        n, p = ray.shape[:2]
        depth = self.depths(n, p, ray.device)
        fields = [self.object_field(latents, i, origin, ray, depth) for i in range(latents.z_shape.shape[1])
                  ] if objects else []
        if background:
            fields.append(self.background_field(latents, origin, ray, depth))
        feat = torch.stack([f for f, _ in fields])
        sigma = F.relu(torch.stack([sg for _, sg in fields]))
        total = sigma.sum(0)
        denom = torch.where(total == 0, torch.full_like(total, 1e-4), total)
        mixed = (feat * (sigma / denom).unsqueeze(-1)).sum(0)
        image = (volume_weights(depth, ray, total).unsqueeze(-1) * mixed).sum(-2)  # N x P x features
        res = self.config.resolution_vol
        return image.transpose(1, 2).reshape(n, -1, res, res)

    def render(self, latents: SceneLatents, objects: bool = True, background: bool = True) -> torch.Tensor:
        """RGB images (N x 3 x S x S) in [-1, 1]; ``objects=False`` or ``background=False`` leaves those out."""
        return self.renderer(self.feature_image(latents, objects, background)) * 2 - 1

    def object_alpha(self, latents: SceneLatents) -> torch.Tensor:
        """Each ray's accumulated opacity of the objects alone (N x res x res, the code's alpha map)."""
        origin, ray = self.rays(latents)
        n, p = ray.shape[:2]
        depth = self.depths(n, p, ray.device)
        total = sum(F.relu(self.object_field(latents, i, origin, ray, depth)[1])
                    for i in range(latents.z_shape.shape[1]))
        alpha = volume_weights(depth, ray, total, last_distance=0.0).sum(-1)
        res = self.config.resolution_vol
        return alpha.view(n, res, res)

    def forward(self, latents: SceneLatents) -> torch.Tensor:
        return self.render(latents)


def volume_weights(depth: torch.Tensor, ray: torch.Tensor, sigma: torch.Tensor,
                   last_distance: float = 1e10) -> torch.Tensor:
    """NeRF's compositing weights ``alpha_j prod_{k<j} (1 - alpha_k)`` along each ray (the code's
    ``calc_volume_weights``): N x P x S."""
    dists = torch.cat([depth[..., 1:] - depth[..., :-1], torch.full_like(depth[..., :1], last_distance)], -1)
    dists = dists * ray.norm(dim=-1, keepdim=True)
    alpha = 1.0 - torch.exp(-F.relu(sigma) * dists)
    keep = torch.cumprod(torch.cat([torch.ones_like(alpha[..., :1]), 1.0 - alpha + 1e-10], -1), -1)[..., :-1]
    return alpha * keep


@register_model(paper="Niemeyer and Geiger, GIRAFFE: Representing Scenes as Compositional Generative Neural "
                      "Feature Fields, CVPR 2021",
                code="https://github.com/autonomousvision/giraffe",
                tiny={"image_size": 16, "resolution_vol": 8, "z_dim": 8, "z_dim_bg": 4, "hidden": 16, "blocks": 3,
                      "skips": [1], "features": 8, "bg_hidden": 8, "bg_blocks": 2, "render_features": 8,
                      "min_features": 4, "n_ray_samples": 6}, tasks=("generate",))
def giraffe(**cfg: Any) -> Giraffe:
    """GIRAFFE (Niemeyer and Geiger 2021): controllable scenes of objects and background; move, turn, re-colour."""
    return Giraffe(build_config(GiraffeConfig, "giraffe", cfg))
