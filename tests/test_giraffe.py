"""GIRAFFE: the paper config's parameter counts, rendering, poses and camera, controls, recipe, scene set."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from holefill.data.shapes import scene, write_shapes
from holefill.errors import InvalidArgumentError, OutputExistsError
from holefill.models import create_model
from holefill.models.giraffe import DCDiscriminator, Giraffe, look_at, rotation_z
from holefill.models.registry import load_model, model_entry
from holefill.models.shipped import WEIGHTS_ROOT
from holefill.train.recipes.giraffe import r1_penalty

#: A tiny scene model with the shipped config's geometry (boxes, depths), random weights.
GEOMETRY = {"depth_range": [1.5, 4.0], "scale_min": [0.3] * 3, "scale_max": [0.3] * 3,
            "translation_min": [-0.5, -0.5, 0.0], "translation_max": [0.5, 0.5, 0.0]}


def tiny(**overrides) -> Giraffe:
    torch.manual_seed(0)
    return create_model("giraffe", **{**model_entry("giraffe").tiny, **overrides}).eval()


def solid(g: Giraffe) -> Giraffe:
    """The objects' field made a uniform density of 10 (a random field is mostly empty):
    each object is then exactly its box."""
    with torch.no_grad():
        g.decoder.sigma_out.weight.zero_()
        g.decoder.sigma_out.bias.fill_(10.0)
    return g


def linear(cin: int, cout: int) -> int:
    return cin * cout + cout


def test_paper_config_parameter_counts():
    """autonomousvision/giraffe: im2scene/giraffe/models/decoder.py (Decoder: fc_in, fc_z, n_blocks - 1
    blocks, one skip pair at layer 4, sigma_out, fc_z_view, feat_view, fc_view, feat_out) with
    configs/default.yaml (z 256, hidden 128, 8 blocks, 128 features; background z 128, hidden 64,
    4 blocks, no skips); neural_renderer.py (n_feat 128, 64 px: two stages, RGB skips);
    discriminator/conv.py (DCDiscriminator, n_feat 512, 64 px)."""
    g = create_model("giraffe")
    pos, view = 6 * 10, 6 * 4
    obj = (linear(pos, 128) + linear(256, 128) + 7 * linear(128, 128) + linear(256, 128) + linear(pos, 128)
           + linear(128, 1) + linear(256, 128) + linear(128, 128) + linear(view, 128) + linear(128, 128))
    bg = (linear(pos, 64) + linear(128, 64) + 3 * linear(64, 64) + linear(64, 1) + linear(128, 64) + linear(64, 64)
          + linear(view, 64) + linear(64, 128))
    conv = lambda cin, cout, k: cin * cout * k * k + cout  # noqa: E731
    renderer = conv(128, 64, 3) + conv(64, 32, 3) + conv(128, 3, 3) + conv(64, 3, 3) + conv(32, 3, 3)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert (count(g.decoder), count(g.background), count(g.renderer)) == (obj, bg, renderer) == (266_241, 47_041, 98_313)
    assert g.num_parameters() == 411_595
    assert count(DCDiscriminator(512, 64)) == 3 * 64 * 16 + 64 * 128 * 16 + 128 * 256 * 16 + 256 * 512 * 16 \
        + 512 * 16 == 2_763_776


def test_renders_in_range_and_deterministically_in_eval():
    g = tiny()
    latents = g.sample_latents(3, torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = g(latents), g(latents)
        g.train()
        c = g(latents)
    assert a.shape == (3, 3, 16, 16) and a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)  # training mode jitters depths and densities
    again = g.sample_latents(3, torch.Generator().manual_seed(1))
    assert torch.equal(again.z_app, latents.z_app) and torch.equal(again.translation, latents.translation)


def test_poses_follow_their_ranges():
    g = tiny(**GEOMETRY)
    lat = g.sample_latents(200, torch.Generator().manual_seed(0))
    assert lat.translation[..., :2].abs().max() <= 0.5 and (lat.translation[..., 2] == 0).all()
    assert torch.allclose(lat.scale, torch.full_like(lat.scale, 0.3))
    assert torch.allclose(lat.rotation @ lat.rotation.transpose(-1, -2), torch.eye(3).expand(200, 1, 3, 3), atol=1e-5)


def test_camera_looks_at_the_origin_from_thirty_degrees():
    g = tiny()
    lat = g.sample_latents(1)
    origin, ray = g.rays(lat)
    eye = origin[0]
    assert eye.norm().item() == pytest.approx(2.732, abs=1e-4)
    assert math.degrees(math.asin(eye[2].item() / 2.732)) == pytest.approx(30.0, abs=1e-3)  # range_v 0.25
    rot = look_at(eye[None])[0]
    assert torch.allclose(rot.T @ rot, torch.eye(3), atol=1e-6)
    centre = (ray[0, 3 * 8 + 3] + ray[0, 4 * 8 + 4]) / 2  # between the 4 middle pixels of the 8x8 grid
    closest = eye - (eye @ centre) / (centre @ centre) * centre
    assert closest.norm() < 1e-4  # the central ray passes through the origin


def centroid(weights: torch.Tensor) -> tuple[float, float]:
    """(x, y) centroid of an HxW weight map, x to the right and y down."""
    h, w = weights.shape
    total = weights.sum()
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    return float((weights * xs).sum() / total), float((weights * ys).sum() / total)


def test_moving_the_box_moves_its_alpha_the_same_way():
    """Geometry alone (solid boxes): the objects' opacity follows the box in the image."""
    g = solid(tiny(**GEOMETRY, resolution_vol=16, image_size=32, n_ray_samples=24))
    lat = g.sample_latents(4, torch.Generator().manual_seed(2))
    lat.translation.zero_()
    with torch.no_grad():
        base = g.object_alpha(lat)
        right = g.object_alpha(g.apply_controls(lat, move_object=(0.8, 0)))
        down = g.object_alpha(g.apply_controls(lat, move_object=(0, 0.8)))
    for i in range(4):
        (x0, y0), (xr, yr), (xd, yd) = centroid(base[i]), centroid(right[i]), centroid(down[i])
        assert xr - x0 > 1.0 and abs(yr - y0) < 0.5 * (xr - x0)
        assert yd - y0 > 0.5 and abs(xd - x0) < 0.5 * (yd - y0)
    assert base.max() > 0.9  # the box is opaque where it is


def test_an_object_outside_the_view_leaves_no_opacity():
    g = solid(tiny(**GEOMETRY))
    lat = g.sample_latents(2)
    with torch.no_grad():
        assert g.object_alpha(lat).max() > 0.9
        lat.translation[..., 1] = 6.0  # far to the right of the view
        assert g.object_alpha(lat).abs().max() == 0


def test_controls_edit_the_codes_and_poses():
    g = tiny(**GEOMETRY)
    lat = g.sample_latents(3, torch.Generator().manual_seed(0))
    moved = g.apply_controls(lat, move_object=(0.5, -1.0))
    assert torch.allclose(moved.translation[..., 1] - lat.translation[..., 1], torch.full((3, 1), 0.25))
    assert torch.allclose(moved.translation[..., 0] - lat.translation[..., 0], torch.full((3, 1), -0.5))
    turned = g.apply_controls(lat, rotate=90)
    assert torch.allclose(turned.rotation, lat.rotation @ rotation_z(torch.tensor(math.pi / 2)).T, atol=1e-6)
    swapped = g.apply_controls(lat, swap_appearance=True)
    assert torch.equal(swapped.z_app[0], lat.z_app[1]) and torch.equal(swapped.z_shape, lat.z_shape)
    assert torch.equal(lat.translation, g.sample_latents(3, torch.Generator().manual_seed(0)).translation)  # a copy
    for bad in ({"move_object": (1,)}, {"move_object": (float("nan"), 0)}, {"move_object": (9, 0)},
                {"rotate": float("inf")}, {"rotate": "left"}):
        with pytest.raises(InvalidArgumentError):
            g.apply_controls(lat, **bad)
    with pytest.raises(InvalidArgumentError, match="2 or more"):
        g.apply_controls(g.sample_latents(1), swap_appearance=True)


def test_background_alone_and_objects_alone():
    g = solid(tiny())
    lat = g.sample_latents(2)
    with torch.no_grad():
        full, bg, objects = g.render(lat), g.render(lat, objects=False), g.render(lat, background=False)
    assert full.shape == bg.shape == objects.shape and not torch.equal(full, bg)
    with pytest.raises(InvalidArgumentError):
        g.render(lat, objects=False, background=False)


def test_r1_penalty_is_the_squared_input_gradient():
    d = DCDiscriminator(16, 16)
    x = torch.randn(3, 3, 16, 16, requires_grad=True)
    logits = d(x)
    penalty = r1_penalty(logits, x)
    grads = [torch.autograd.grad(logits[i, 0], x, retain_graph=True)[0][i] for i in range(3)]
    assert penalty.item() == pytest.approx(float(sum(gr.pow(2).sum() for gr in grads) / 3), rel=1e-5)
    penalty.backward()  # differentiable (it trains D)
    assert all(p.grad is not None for p in d.parameters())


def test_recipe_runs_in_the_trainer(tmp_path):
    from holefill.models import load_model
    from holefill.train.config import config_from_dict
    from holefill.train.trainer import Trainer

    write_shapes(tmp_path / "shapes", 8, 16)
    cfg = config_from_dict({
        "model": {"name": "giraffe", "args": model_entry("giraffe").tiny},
        "recipe": {"name": "giraffe", "args": {"d_features": 16}},
        "data": {"train": str(tmp_path / "shapes"), "crop": 16, "resize": 16, "batch_size": 4, "workers": 0,
                 "masks": [{"kind": "center"}]},
        "train": {"steps": 2, "seed": 0, "log_every": 1, "sample_every": 2, "ckpt_every": 0, "eval_every": 0,
                  "device": "cpu", "ema_decay": 0.9},
    }, source="giraffe-trainer.yaml")
    final = Trainer(cfg, tmp_path / "run", progress=False).fit()
    assert (tmp_path / "run" / "samples" / "step_00000002.png").is_file()
    model = load_model(final, expect="giraffe")
    assert model(model.sample_latents(2)).shape == (2, 3, 16, 16)


def test_scene_set_is_seeded_and_guarded(tmp_path):
    a, b = scene(0, 5, 32), scene(0, 5, 32)
    assert a.shape == (32, 32, 3) and a.dtype == np.uint8 and np.array_equal(a, b)
    assert not np.array_equal(a, scene(1, 5, 32))
    corners = a[[0, 0, -1, -1], [0, -1, 0, -1]].astype(int)
    assert np.abs(a.astype(int) - corners.mean(0)).max() > 60  # an object stands out from the background
    folder = write_shapes(tmp_path / "s", 3, 16)
    assert (folder / "README.md").is_file() and len(list(folder.glob("*.png"))) == 3
    with pytest.raises(OutputExistsError):
        write_shapes(folder, 3, 16)
    for bad in ({"count": 0}, {"size": 8}, {"seed": -1}):
        with pytest.raises(InvalidArgumentError):
            write_shapes(tmp_path / "t", **{"count": 2, "size": 16, **bad})


def test_the_shipped_model_moves_what_it_renders():
    """The lecture's point, on the trained tiny model (``giraffe_shapes``, shipped): moving the
    objects right (or down) moves their rendered opacity, and the rendered picture's object, the
    same way. The picture's object is where the full render differs from the background alone."""
    g = load_model(WEIGHTS_ROOT / "giraffe_shapes", expect="giraffe").eval()
    lat = g.sample_latents(16, torch.Generator().manual_seed(0))
    with torch.no_grad():
        runs = {}
        for name, move in (("base", None), ("right", (0.8, 0.0)), ("down", (0.0, 0.8))):
            edited = lat if move is None else g.apply_controls(lat, move_object=move)
            runs[name] = (g.object_alpha(edited), g.render(edited), g.render(edited, objects=False))
    seen = [i for i in range(16) if min(float(r[0][i].max()) for r in runs.values()) > 0.05]
    assert len(seen) >= 8, f"only {len(seen)} of 16 scenes render an object"
    for name, axis in (("right", 0), ("down", 1)):
        along, across, picture = [], [], []
        for i in seen:
            before, after = centroid(runs["base"][0][i]), centroid(runs[name][0][i])
            along.append(after[axis] - before[axis])
            across.append(abs(after[1 - axis] - before[1 - axis]))
            salient = [(r[1][i] - r[2][i]).abs().sum(0) for r in (runs["base"], runs[name])]
            picture.append(centroid(salient[1])[axis] - centroid(salient[0])[axis])
        along_t, across_t, picture_t = torch.tensor(along), torch.tensor(across), torch.tensor(picture)
        assert along_t.mean() > 0.5 and across_t.mean() < 0.5 * along_t.mean(), (name, along, across)
        assert picture_t.mean() > 0.25 and (picture_t > 0).float().mean() >= 0.75, (name, picture)
