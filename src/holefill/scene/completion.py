"""Scene completion from a photo database: Hays and Efros, "Scene Completion Using Millions of
Photographs", SIGGRAPH 2007 (ACM TOG 26(3)).

The paper's pipeline, and how it is done here:

1. **Scene matching.** The database scenes nearest to the query by a gist descriptor with the
   hole masked, plus a small colour layout (:mod:`holefill.scene.descriptors`); the database
   is any folder, indexed once and cached in it (:mod:`holefill.scene.index`). The paper keeps
   the 200 best of 2.3 million photos; ``scenes`` (default 200) here.
2. **Local context matching.** Each candidate is placed under the query at every translation
   and a few scales (``scales``, as factors on the candidate resized to cover the query), and
   scored over the *local context*, the known pixels within ``context`` (a fraction of the long
   side) of the hole: the squared CIE L*a*b* difference with each image's mean over the
   context removed (ours: the blend removes such an offset anyway), plus ``texture_weight``
   times the squared difference of local gradient magnitude (the paper, too, adds a texture
   term). The paper's context is an 80-pixel band; candidates are ranked by this cost plus
   the seam's (the paper also mixes in the scene distance). Ours, for speed: all ``scenes``
   are first placed with the query shrunk to a long side of :data:`COARSE_SIDE`, and only
   the ``refine`` best of them (default 20) again at full resolution.
3. **Graph-cut seam.** Inside the hole's neighbourhood a minimum cut (PyMaxflow) decides
   which pixels would come from the candidate: the hole must, pixels beyond the context must
   not, and between them the cut runs where query and candidate agree (edge cost: the squared
   colour difference of both images at both pixels, as in graph-cut textures), with a penalty
   growing with the distance from the hole, so that the query's pixels are kept where they fit.
   The cut's cost (per context pixel) joins the context cost in the final ranking, with one
   term of ours: ``texture_weight`` times the squared difference between the candidate's
   mean texture inside the hole and the query's over the context, so that gravel is not
   chosen for a hole in blurred fur because its edges happen to fit.
4. **Poisson blending** of the candidate into the query (OpenCV's ``seamlessClone``, normal
   cloning), so colours meet without a step.

One difference from the paper, by design: holefill never changes known pixels (every
filler composites its output onto the input), so the candidate cannot replace the known
pixels on its side of the seam as the paper's composite does. The cut into the context
therefore only ranks the candidates (how cleanly each one would cut into the context). What
the composite uses instead is ours: a second cut runs *inside* the hole, between the candidate
and a fill of the hole from the photo's own pixels (PatchMatch), within ``seam_depth`` context
widths of the hole's border (:func:`inner_seam`). Where the candidate fits the context, the
cut sits on the hole's border and the candidate fills the whole hole; where it does not (a
scene from another photo), the cut moves inward to where the two fills agree, so the
photo's own texture continues into the hole and the foreign content starts along a seam that
follows the image rather than the hole's outline. The candidate is Poisson-blended into that
fill over its side of the cut (:attr:`Completion.region`), and faded in from that fill over
the first ``feather`` context widths of its side, less for a scene that fits the context
closely (:data:`FIT_COST`; :func:`feather`; ours: Poisson blending
evens out colour at the seam, not structure, so without the fade the hole's outline can show
where the scene's edges do not continue the photo's). ``seam_depth=0`` gives the plain
composite: the candidate over the whole hole, blended at the hole's border.

``fill`` returns the best-ranked completion; ``fill_samples(k, seed)`` the k best from rank
``seed`` on (the paper shows the user several results to choose from).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from holefill import io
from holefill.errors import HolefillError, InvalidArgumentError, MissingDependencyError
from holefill.fillers import Filler, composite
from holefill.options import Option, checked
from holefill.scene.descriptors import describe
from holefill.scene.index import Match, SceneIndex, open_index

#: The long side at which the many scenes are compared before the best are placed at full size.
COARSE_SIDE = 128
#: A placement's context cost from which the scene fades in over the full ``feather`` width: a
#: mean squared L*a*b* difference of 100 per context pixel, i.e. colour differences of about 10
#: (a just noticeable difference is about 2.3). Below it the fade narrows in proportion.
FIT_COST = 100.0


@dataclass(frozen=True)
class Placement:
    """Where a candidate scene sits under the query, and how well it fits."""

    path: Path
    scene_distance: float
    #: Mean squared L*a*b* difference over the local context (per pixel and channel).
    context_cost: float
    #: The candidate resized (RGB uint8) and the query-space offset of its top-left corner.
    scale: float
    top: int
    left: int
    image: np.ndarray


@dataclass(frozen=True)
class Completion:
    """One completed image and the numbers that ranked it."""

    image: np.ndarray
    placement: Placement
    seam_cost: float
    #: The hole's pixels that come from the candidate (its side of the cut inside the hole, :func:`inner_seam`).
    region: np.ndarray

    #: ``texture_weight`` times the squared difference between the candidate's mean texture in the
    #: hole and the query's over the context (ours: a busy scene in a calm photo, or the reverse,
    #: shows however well its edges fit).
    texture_cost: float = 0.0

    @property
    def score(self) -> float:
        return self.placement.context_cost + self.seam_cost + self.texture_cost


def _lab(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def _bbox(region: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(region)
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


def context_band(mask: np.ndarray, radius: int) -> np.ndarray:
    """Known pixels within ``radius`` of the hole."""
    k = 2 * radius + 1
    grown = cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0
    return grown & ~mask


def texture(lab: np.ndarray) -> np.ndarray:
    """Local texture: the gradient magnitude of L*, averaged over 5 x 5 pixels (HxW float32)."""
    light = np.ascontiguousarray(lab[..., 0])
    gx = cv2.Sobel(light, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(light, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.blur(np.sqrt(gx * gx + gy * gy), (5, 5))


def place(query_lab: np.ndarray, mask: np.ndarray, band: np.ndarray, candidate: np.ndarray,
          scales: tuple[float, ...], texture_weight: float = 1.0) -> tuple[float, float, int, int, np.ndarray] | None:
    """Best (cost, scale, top, left, resized candidate) over translations and ``scales``, or None if
    the candidate is too small at every scale. ``top``/``left``: the candidate's corner in query pixels.

    The cost, per context pixel: the squared L*a*b* difference once each image's mean over the
    context is removed (Poisson blending removes such an offset anyway), plus ``texture_weight``
    times the squared difference of local texture (:func:`texture`; Hays and Efros also compare
    texture)."""
    h, w = mask.shape
    y0, y1, x0, x1 = _bbox(mask | band)
    template = np.ascontiguousarray(query_lab[y0:y1, x0:x1])
    ring = np.ascontiguousarray(band[y0:y1, x0:x1].astype(np.float32))
    weight = np.ascontiguousarray(np.repeat(ring[..., None], 3, axis=2))
    count = max(float(ring.sum()), 1.0)
    t_mean = (template * ring[..., None]).reshape(-1, 3).sum(0) / count
    t_texture = np.ascontiguousarray(texture(query_lab)[y0:y1, x0:x1])
    # texture is compared only where its filters (about 4 px) do not see the hole's zeroed pixels
    near_hole = cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8))[y0:y1, x0:x1] > 0
    t_ring = np.ascontiguousarray(ring * ~near_hole)
    t_count = max(float(t_ring.sum()), 1.0)
    hc, wc = candidate.shape[:2]
    best = None
    for s in scales:
        factor = max(h / hc, w / wc) * s
        nh, nw = max(1, round(hc * factor)), max(1, round(wc * factor))
        if nh < y1 - y0 or nw < x1 - x0:
            continue
        resized = cv2.resize(candidate, (nw, nh), interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)
        lab = _lab(resized)
        ssd = cv2.matchTemplate(lab, template, cv2.TM_SQDIFF, mask=weight)
        # sum over the context of the candidate's colour at each placement, for the mean's correction
        sums = np.stack([cv2.matchTemplate(np.ascontiguousarray(lab[..., c]), ring, cv2.TM_CCORR)
                         for c in range(3)], axis=-1)
        offset = sums / count - t_mean
        colour = ssd - count * (offset ** 2).sum(axis=-1)
        tex = cv2.matchTemplate(texture(lab), t_texture, cv2.TM_SQDIFF, mask=t_ring)
        cost = colour / count + texture_weight * tex / t_count
        cost = np.where(np.isfinite(cost), cost, np.inf)
        _, _, (bx, by), _ = cv2.minMaxLoc(np.nan_to_num(cost, nan=np.inf, posinf=np.finfo(np.float32).max))
        value = float(cost[by, bx])
        if best is None or value < best[0]:
            best = (value, float(s), y0 - by, x0 - bx, resized)
    return best


def _shrink(image: np.ndarray, mask: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """``image`` and ``mask`` scaled by ``factor`` (< 1): the image by area, the mask grown so
    that every pixel touched by the hole stays in it."""
    h, w = mask.shape
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    small_mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    small_mask |= cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
    return small, small_mask


def _grid_cut(right: np.ndarray, down: np.ndarray, source: np.ndarray, sink: np.ndarray) -> tuple[float, np.ndarray]:
    """A minimum cut of a 4-connected pixel grid (PyMaxflow): ``right`` and ``down`` are the
    symmetric costs of cutting each pixel from its right and lower neighbour, ``source`` and
    ``sink`` the terminal costs. The flow and the pixels on the source side."""
    try:
        import maxflow
    except ImportError:  # pragma: no cover - a core dependency
        raise MissingDependencyError("scene completion needs PyMaxflow: pip install PyMaxflow") from None
    graph = maxflow.Graph[float]()
    nodes = graph.add_grid_nodes(right.shape)
    graph.add_grid_edges(nodes, weights=right + 1e-3, structure=np.array([[0, 0, 0], [0, 0, 1], [0, 0, 0]]),
                         symmetric=True)
    graph.add_grid_edges(nodes, weights=down + 1e-3, structure=np.array([[0, 0, 0], [0, 0, 0], [0, 1, 0]]),
                         symmetric=True)
    graph.add_grid_tedges(nodes, source, sink)
    flow = graph.maxflow()
    return float(flow), ~graph.get_grid_segments(nodes)


def seam_region(query_lab: np.ndarray, placed_lab: np.ndarray, mask: np.ndarray, band: np.ndarray,
                radius: int, stay_close: float = 1.0) -> tuple[np.ndarray, float]:
    """The pixels to take from the candidate (a minimum cut, see the module) and the cut's cost
    per context pixel."""
    y0, y1, x0, x1 = _bbox(mask | band)
    q, c = query_lab[y0:y1, x0:x1], placed_lab[y0:y1, x0:x1]
    hole, ctx = mask[y0:y1, x0:x1], band[y0:y1, x0:x1]
    diff = ((q - c) ** 2).sum(axis=2)
    big = 1e9
    right = np.zeros_like(diff)
    right[:, :-1] = diff[:, :-1] + diff[:, 1:]
    down = np.zeros_like(diff)
    down[:-1, :] = diff[:-1, :] + diff[1:, :]
    dist = cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, 3)
    scale = float(np.median(diff[ctx])) + 1.0 if ctx.any() else 1.0
    take_cost = stay_close * scale * (dist / max(radius, 1)) ** 2
    source = np.where(hole, big, 0.0)  # source = candidate
    sink = np.where(hole, 0.0, np.where(ctx, take_cost, big))
    flow, from_candidate = _grid_cut(right, down, source, sink)
    region = np.zeros_like(mask)
    region[y0:y1, x0:x1] = from_candidate | hole
    return region, flow / max(float(ctx.sum()), 1.0)


def inner_seam(own_lab: np.ndarray, placed_lab: np.ndarray, mask: np.ndarray, depth: int,
               stay_close: float = 1.0) -> np.ndarray:
    """The hole's pixels to take from the candidate: a minimum cut between the candidate
    (``placed_lab``) and a fill of the hole from the photo itself (``own_lab``, the known pixels
    in place), run inside the hole. Known pixels are the photo's; hole pixels more than
    ``depth`` pixels from the border are the candidate's; between them the cut runs where the
    two agree (edge cost: the squared L*a*b* difference of both fills at both pixels, as
    :func:`seam_region`), with a cost for leaving a hole pixel to the photo's own fill that grows
    with its depth, so that the candidate fills the hole wherever it fits. ``depth`` 0: the
    whole hole."""
    if depth <= 0:
        return mask.copy()
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    y0, y1, x0, x1 = _bbox(grown)
    hole = mask[y0:y1, x0:x1]
    inside = cv2.distanceTransform(np.pad(hole, 1, constant_values=False).astype(np.uint8), cv2.DIST_L2, 3)[1:-1, 1:-1]
    core = hole & (inside > depth)
    free = hole & ~core
    if not free.any():
        return mask.copy()
    diff = ((own_lab[y0:y1, x0:x1] - placed_lab[y0:y1, x0:x1]) ** 2).sum(axis=2)
    big = 1e9
    # An edge across the hole's border shows the candidate next to a real pixel: its cost is how
    # well the candidate continues that pixel (twice its difference there), not how far the own
    # fill's guess on the hole's side is from the candidate.
    right = np.zeros_like(diff)
    right[:, :-1] = np.where(hole[:, :-1] == hole[:, 1:], diff[:, :-1] + diff[:, 1:],
                             2 * np.where(hole[:, :-1], diff[:, 1:], diff[:, :-1]))
    down = np.zeros_like(diff)
    down[:-1, :] = np.where(hole[:-1, :] == hole[1:, :], diff[:-1, :] + diff[1:, :],
                            2 * np.where(hole[:-1, :], diff[1:, :], diff[:-1, :]))
    scale = float(np.median(diff[free])) + 1.0
    own_cost = stay_close * scale * (inside / depth) ** 2  # leaving a hole pixel to the photo's own fill
    source = np.where(core, big, np.where(free, own_cost, 0.0))  # source = candidate
    sink = np.where(hole, 0.0, big)
    _, from_candidate = _grid_cut(right, down, source, sink)
    region = np.zeros_like(mask)
    region[y0:y1, x0:x1] = from_candidate & hole
    return region


def poisson_clone(source: np.ndarray, target: np.ndarray, region: np.ndarray) -> np.ndarray:
    """``source``'s pixels in ``region`` blended into ``target`` (same size) by OpenCV's seamless
    cloning (normal clone). OpenCV keeps the target's pixels on a rim about 4 pixels wide inside
    the mask it is given (measured: tests/test_scene.py), so the mask handed to it is the region
    grown by 5 pixels, and a reflected border keeps it off the image edge, where cloning fails.
    Outside ``region`` the result is the target's."""
    rim, pad = 5, 8
    src = cv2.copyMakeBorder(source, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    dst = cv2.copyMakeBorder(target, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    m = np.zeros(src.shape[:2], np.uint8)
    m[pad:-pad, pad:-pad] = region.astype(np.uint8)
    m = cv2.dilate(m, np.ones((2 * rim + 1, 2 * rim + 1), np.uint8)) * 255
    x, y, bw, bh = cv2.boundingRect(m)
    out = cv2.seamlessClone(src, dst, m, (x + bw // 2, y + bh // 2), cv2.NORMAL_CLONE)[pad:-pad, pad:-pad]
    return np.where(region[..., None], out, target)


def feather(blended: np.ndarray, target: np.ndarray, region: np.ndarray, width: float) -> np.ndarray:
    """``blended`` inside ``region``, faded into ``target`` over the first ``width`` pixels from the
    region's border (linear in the distance; ``width`` 0: no fade). Poisson blending matches
    colours at the border but not structure, so a scene whose edges do not continue the photo's
    would show the hole's outline; the fade hands over from the photo's own fill instead."""
    if width <= 0 or not region.any():
        return blended
    inside = cv2.distanceTransform(np.pad(region, 1).astype(np.uint8), cv2.DIST_L2, 3)[1:-1, 1:-1]
    alpha = np.clip(inside / width, 0.0, 1.0)[..., None]
    mixed = (alpha * blended + (1.0 - alpha) * target).round().astype(np.uint8)
    return np.where(region[..., None], mixed, target)


class SceneCompletion(Filler):
    """Scene completion from a photo folder (Hays and Efros, SIGGRAPH 2007); see the module."""

    name = "scene"
    options = (
        Option("db", "path", None, "the photo folder to search (indexed once, the index kept in it)", nullable=True),
        Option("scenes", "int", 200, "best-matching scenes (by descriptor) compared by their local context at a"
               " coarse scale", minimum=1, maximum=1000),
        Option("refine", "int", 20, "of those, the best placed again at full resolution", minimum=1, maximum=1000),
        Option("context", "float", 0.1, "the context ring's width, as a fraction of the long side", minimum=0.001,
               maximum=0.5),
        Option("scales", "float", None, "one scale at which each scene is matched (default: 0.81, 0.9 and 1 "
               "together; SceneCompletion(scales=...) takes several)", minimum=0.25, maximum=4.0, nullable=True),
        Option("colour_weight", "float", 1.0, "weight of the colour term in the match", minimum=0.0, maximum=100.0),
        Option("texture_weight", "float", 1.0, "weight of the texture term in the match", minimum=0.0, maximum=100.0),
        Option("seam_depth", "float", 1.0, "how far into the hole the composite's seam may run, in context widths "
               "(0: the scene fills the whole hole)", minimum=0.0, maximum=10.0),
        Option("feather", "float", 0.5, "how far the scene fades in from the photo's own fill at the seam, in context"
               " widths (0: no fade)", minimum=0.0, maximum=10.0),
        Option("work_limit", "int", 1024, "the largest side the matching works at", minimum=64, maximum=8192),
        Option("exclude", "path", None, "a photo of the folder to leave out (the query itself)", nullable=True),
        Option("progress", "bool", False, "show the indexing's progress"),
    )

    def __init__(self, db: str | os.PathLike[str] | None = None, *, scenes: int = 200, refine: int = 20,
                 context: float = 0.1, scales: tuple[float, ...] = (0.81, 0.9, 1.0), colour_weight: float = 1.0,
                 texture_weight: float = 1.0,
                 seam_depth: float = 1.0, feather: float = 0.5, work_limit: int = 1024,
                 exclude: str | os.PathLike[str] | None = None,
                 progress: bool = False) -> None:
        if db is None:
            raise InvalidArgumentError("scene completion needs a photo database: pass --db FOLDER (any folder of photos)")
        if isinstance(scales, bool) or not isinstance(scales, (tuple, list)):
            scales = checked(self.options, scales=scales)["scales"]
        values = checked(self.options, scenes=scenes, refine=refine, context=context, colour_weight=colour_weight,
                         texture_weight=texture_weight, seam_depth=seam_depth, feather=feather,
                         work_limit=work_limit, progress=progress)
        self.seam_depth = float(values["seam_depth"])
        self.feather = float(values["feather"])
        scenes, context, colour_weight = values["scenes"], values["context"], values["colour_weight"]
        texture_weight, work_limit, progress = values["texture_weight"], values["work_limit"], values["progress"]
        if isinstance(scenes, bool) or not isinstance(scenes, (int, np.integer)) or not 1 <= scenes <= 1000:
            raise InvalidArgumentError(f"scenes must be a whole number in [1, 1000], got {scenes!r}")
        if not 0 < float(context) <= 0.5:
            raise InvalidArgumentError(f"context must be a fraction of the long side in (0, 0.5], got {context!r}")
        if isinstance(scales, (int, float)):
            scales = (float(scales),)
        if not scales or len(scales) > 10 or not all(0.25 <= float(s) <= 4 for s in scales):
            raise InvalidArgumentError(f"scales must be 1 to 10 factors in [0.25, 4], got {scales!r}")
        if not 0 <= float(colour_weight) <= 100:
            raise InvalidArgumentError(f"colour_weight must lie in [0, 100], got {colour_weight!r}")
        if not 0 <= float(texture_weight) <= 100:
            raise InvalidArgumentError(f"texture_weight must lie in [0, 100], got {texture_weight!r}")
        if isinstance(work_limit, bool) or not isinstance(work_limit, (int, np.integer)) or work_limit < 64:
            raise InvalidArgumentError(f"work_limit must be a whole number of pixels >= 64, got {work_limit!r}")
        self.db = Path(db)
        self.scenes = int(scenes)
        self.refine = int(values["refine"])
        self.context = float(context)
        self.scales = tuple(float(s) for s in scales)
        self.colour_weight = float(colour_weight)
        self.texture_weight = float(texture_weight)
        self.work_limit = int(work_limit)
        self.exclude = Path(exclude) if exclude is not None else None
        self.progress = progress
        self._index: SceneIndex | None = None

    @property
    def index(self) -> SceneIndex:
        """The database index, opened (built or refreshed) on first use."""
        if self._index is None:
            self._index = open_index(self.db, progress=self.progress)
        return self._index

    # -- the pipeline -----------------------------------------------------------------------
    def completions(self, image: np.ndarray, mask: np.ndarray, count: int, skip: int = 0) -> list[Completion]:
        """The ``count`` best completions after the ``skip`` best (inputs valid, hole zeroed)."""
        h, w = mask.shape
        factor = min(1.0, self.work_limit / max(h, w))
        work, work_mask = _shrink(image, mask, factor) if factor < 1 else (image, mask)
        radius = max(3, round(self.context * max(work_mask.shape)))
        band = context_band(work_mask, radius)
        if not band.any():
            raise InvalidArgumentError("the hole leaves no known pixels around it to match scenes on")
        query_lab = _lab(work)
        matches = self.index.search(describe(work, work_mask), max(self.scenes, skip + count),
                                    colour_weight=self.colour_weight, exclude=self.exclude)
        matches = self._shortlist(matches, work, work_mask, max(self.refine, 2 * (skip + count)))
        placements = [Placement(m.path, m.distance, *best)
                      for _, m, best in self._placed(matches, query_lab, work_mask, band)]
        if not placements:
            raise InvalidArgumentError(f"no photo of the database {self.db} is large enough to fill this hole")
        placements.sort(key=lambda p: p.context_cost)
        # the seam's cost joins the ranking, so a few more candidates than asked for are cut
        pool = placements[:max(2 * (skip + count), skip + count + 4)]
        own = self._own_fill(work, work_mask)
        far = band & ~(cv2.dilate(work_mask.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0)  # unaffected by the hole
        ring_texture = float(texture(query_lab)[far].mean()) if far.any() else 0.0
        done = [self._complete(work, query_lab, work_mask, band, radius, p, own, ring_texture) for p in pool]
        done.sort(key=lambda c: c.score)
        chosen = done[skip:skip + count]
        if len(chosen) < count:
            raise InvalidArgumentError(f"asked for {count} completion(s) from rank {skip}, but the database"
                                       f" {self.db} gives {len(done)} usable scene(s)")
        if factor < 1:
            chosen = [Completion(cv2.resize(c.image, (w, h), interpolation=cv2.INTER_CUBIC), c.placement, c.seam_cost,
                                 c.region, c.texture_cost) for c in chosen]
        return chosen

    def _shortlist(self, matches: list[Match], work: np.ndarray, mask: np.ndarray, keep: int) -> list[Match]:
        """The ``keep`` scenes of ``matches`` whose local context fits best at a coarse scale
        (long side :data:`COARSE_SIDE`): coarse-to-fine, so that many scenes can be compared
        for the cost of placing a few at full resolution. All of them when there are no more
        than ``keep`` or the photo is that small already."""
        h, w = mask.shape
        if len(matches) <= keep or max(h, w) <= COARSE_SIDE:
            return matches
        small, small_mask = _shrink(work, mask, COARSE_SIDE / max(h, w))
        band = context_band(small_mask, max(2, round(self.context * max(small_mask.shape))))
        if not band.any() or small_mask.all():
            return matches[:keep]
        scored = sorted((best[0], rank, m) for rank, m, best in self._placed(matches, _lab(small), small_mask, band))
        return [m for _, _, m in scored[:keep]]

    def _placed(self, matches: list[Match], query_lab: np.ndarray, mask: np.ndarray,
                band: np.ndarray) -> Iterator[tuple[int, Match, tuple[float, float, int, int, np.ndarray]]]:
        """``(rank, match, best placement)`` (:func:`place`) of each scene in ``matches`` that can
        still be read and is large enough at some scale."""
        for rank, m in enumerate(matches):
            try:
                candidate = io.read_image(m.path)
            except HolefillError:  # changed or removed since indexing
                continue
            best = place(query_lab, mask, band, candidate, self.scales, self.texture_weight)
            if best is not None:
                yield rank, m, best

    def _own_fill(self, work: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The hole filled from the photo's own pixels, the target of the blend: PatchMatch when the
        seam may enter the hole, else a smooth (Telea) start that cloning overwrites (not a black
        step, in case cloning reads it). With its L*a*b* for :func:`inner_seam` (None at depth 0)."""
        if self.seam_depth <= 0:
            return cv2.inpaint(work, mask.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA), None
        from holefill.classical.pypatchmatch import PatchMatch

        own = PatchMatch().fill(work, mask)
        return own, _lab(own)

    def _complete(self, work: np.ndarray, query_lab: np.ndarray, mask: np.ndarray, band: np.ndarray, radius: int,
                  p: Placement, own: tuple[np.ndarray, np.ndarray | None], ring_texture: float) -> Completion:
        h, w = mask.shape
        placed = work.copy()
        ph, pw = p.image.shape[:2]
        t, l = max(0, p.top), max(0, p.left)
        b, r = min(h, p.top + ph), min(w, p.left + pw)
        placed[t:b, l:r] = p.image[t - p.top:b - p.top, l - p.left:r - p.left]
        placed_lab = _lab(placed)
        _, seam_cost = seam_region(query_lab, placed_lab, mask, band, radius)  # ranks the candidate
        texture_cost = self.texture_weight * (float(texture(placed_lab)[mask].mean()) - ring_texture) ** 2
        target, own_lab = own
        if own_lab is None:
            region = mask
        else:  # the blend removes a colour offset, so the cut compares the candidate without its own
            offset = (placed_lab[band] - query_lab[band]).mean(axis=0)
            region = inner_seam(own_lab, placed_lab - offset, mask, round(self.seam_depth * radius))
        blended = poisson_clone(placed, target, region) if region.any() else target.copy()
        # the fade grows with the scene's misfit around the hole: none for a scene that continues
        # the photo exactly, the full width from a visible misfit (FIT_COST) on
        fade = self.feather * radius * min(1.0, p.context_cost / FIT_COST)
        blended = feather(blended, target, region, fade)
        return Completion(blended, p, seam_cost, region, texture_cost)

    def _fill(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.completions(image, mask, 1)[0].image

    def fill_samples(self, image: np.ndarray, mask: np.ndarray, samples: int, seed: int = 0) -> list[np.ndarray]:
        """The ``samples`` best completions, from rank ``seed`` on (seed 0: the best first)."""
        from holefill.io import check_image, check_mask

        if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or not 1 <= samples <= 100:
            raise InvalidArgumentError(f"samples must be a whole number in [1, 100], got {samples!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise InvalidArgumentError(f"seed must be a whole number >= 0, got {seed!r}")
        image = check_image(image)
        mask = check_mask(mask, image.shape[:2], needs_context=True)
        if not mask.any():
            return [image.copy() for _ in range(int(samples))]
        blanked = image.copy()
        blanked[mask] = 0
        found = self.completions(blanked, mask, int(samples), int(seed))
        return [composite(image, c.image, mask) for c in found]


__all__ = ["Completion", "Placement", "SceneCompletion", "context_band", "inner_seam", "place", "poisson_clone",
           "seam_region"]
