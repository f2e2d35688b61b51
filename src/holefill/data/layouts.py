"""Image + label-map pairs for layout-driven models (CTO-GAN), and label maps made without labels.

On disk the pairs follow COCO-Stuff's layout (``stuffthingmaps``)::

    ROOT/images/<split>/NAME.jpg        (or .png)
    ROOT/annotations/<split>/NAME.png   one class id per pixel, 0 .. K-1; 255 = unlabelled

COCO-Stuff's ids 0-90 are "things" (objects: the foreground of contextual outpainting) and
91-181 "stuff" (the background).

No such data set can be had here, so :func:`write_label_corpus` makes the pairs for holefill's
photo corpus with an unsupervised segmentation, **a deviation from the paper's data**: SLIC
superpixels (scikit-image) of each photo, described by their mean and spread of CIELAB colour,
clustered into K classes by k-means (k-means++ seeding) fitted on the training photos' superpixels
and applied to every split, so a class id means the same kind of region in every photo. The
classes are colour/texture clusters, not object categories; none is a "thing", so
:class:`LayoutDataset` picks the foreground as the segments that sit in a random central box.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import cv2
import numpy as np
import torch

from holefill import io
from holefill.errors import InputNotFoundError, InvalidArgumentError, OutputExistsError

UNLABELLED = 255
#: COCO-Stuff's object ("thing") ids: the foreground of contextual outpainting.
COCO_STUFF_THINGS = tuple(range(91))
COCO_STUFF_CLASSES = 182
SPLITS = ("train", "val", "test")


# ----------------------------------------------------------------------------- pairs on disk


def label_pairs(root: str | PathLike[str], split: str) -> list[tuple[Path, Path]]:
    """(image, label map) paths of ``root``'s ``split`` in COCO-Stuff's layout, by file stem."""
    base = Path(root).expanduser()
    images, labels = base / "images" / split, base / "annotations" / split
    for folder in (images, labels):
        if not folder.is_dir():
            raise InputNotFoundError(f"has no {folder.relative_to(base)} folder (COCO-Stuff's layout: images/<split>/ "
                                     "and annotations/<split>/)", base)
    label_by_stem = {p.stem: p for p in labels.iterdir() if p.suffix.lower() == ".png"}
    pairs = []
    for image in sorted(images.iterdir()):
        if image.suffix.lower() not in io.IMAGE_SUFFIXES or image.name.startswith("."):
            continue
        if image.stem not in label_by_stem:
            raise InputNotFoundError(f"has no label map annotations/{split}/{image.stem}.png", image)
        pairs.append((image, label_by_stem[image.stem]))
    if not pairs:
        raise InvalidArgumentError(f"holds no images in images/{split}", base)
    return pairs


def read_labels(path: str | PathLike[str], shape: tuple[int, int] | None = None) -> np.ndarray:
    """A label map as HxW uint8 (class ids; 255 = unlabelled), checked against ``shape``."""
    labels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if labels is None:
        raise InvalidArgumentError("cannot be read as a PNG label map", path)
    if labels.ndim != 2 or labels.dtype != np.uint8:
        raise InvalidArgumentError(f"a label map is one 8-bit channel of class ids, got shape {labels.shape} "
                                   f"{labels.dtype}", path)
    if shape is not None and labels.shape != tuple(shape):
        raise InvalidArgumentError(f"is {labels.shape[1]}x{labels.shape[0]}, but its image is {shape[1]}x{shape[0]}",
                                   path)
    return labels


# ----------------------------------------------------------------------------- unsupervised labels


def superpixel_features(photo: np.ndarray, segments: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """SLIC superpixels of ``photo`` (HxW ids) and each one's mean and std of CIELAB colour (S x 6)."""
    from skimage.segmentation import slic

    lab = cv2.cvtColor(photo, cv2.COLOR_RGB2LAB).astype(np.float64)
    seg = slic(photo, n_segments=segments, compactness=10, start_label=0, channel_axis=-1)
    n = int(seg.max()) + 1
    flat, ids = lab.reshape(-1, 3), seg.ravel()
    count = np.bincount(ids, minlength=n).astype(np.float64)[:, None]
    mean = np.stack([np.bincount(ids, flat[:, c], n) for c in range(3)], 1) / count
    sq = np.stack([np.bincount(ids, flat[:, c] ** 2, n) for c in range(3)], 1) / count
    std = np.sqrt(np.maximum(sq - mean ** 2, 0.0))
    return seg, np.concatenate([mean, std], axis=1)


def kmeans(points: np.ndarray, k: int, seed: int, iterations: int = 100) -> np.ndarray:
    """k cluster centres of ``points`` (k-means++ seeding, then Lloyd's iterations)."""
    if len(points) < k:
        raise InvalidArgumentError(f"{k} classes need at least {k} superpixels, got {len(points)}")
    rng = np.random.default_rng(seed)
    centres = [points[rng.integers(len(points))]]
    for _ in range(1, k):
        d = np.min(((points[:, None] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
        centres.append(points[rng.choice(len(points), p=d / d.sum())] if d.sum() > 0 else points[rng.integers(len(points))])
    c = np.array(centres)
    for _ in range(iterations):
        assign = np.argmin(((points[:, None] - c[None]) ** 2).sum(-1), axis=1)
        new = np.array([points[assign == j].mean(0) if np.any(assign == j) else c[j] for j in range(k)])
        if np.allclose(new, c):
            break
        c = new
    return c


@dataclass(frozen=True)
class LabelModel:
    """What turns a photo into a label map: k-means centres over standardised superpixel features."""

    centres: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    segments: int
    seed: int

    def labels(self, photo: np.ndarray, superpixels: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """HxW uint8 class ids of ``photo`` (``superpixels``: its :func:`superpixel_features`, if known)."""
        seg, feats = superpixels or superpixel_features(photo, self.segments, self.seed)
        z = (feats - self.mean) / self.scale
        cls = np.argmin(((z[:, None] - self.centres[None]) ** 2).sum(-1), axis=1).astype(np.uint8)
        return cls[seg]


def fit_label_model(photos: Sequence[np.ndarray], classes: int, *, segments: int = 300, seed: int = 0,
                    superpixels: Sequence[tuple[np.ndarray, np.ndarray]] | None = None) -> LabelModel:
    """Fit the k-means classes on the superpixels of ``photos`` (the training split)."""
    if not 2 <= classes <= 254:
        raise InvalidArgumentError(f"--classes must be between 2 and 254, got {classes}")
    if superpixels is None:
        superpixels = [superpixel_features(p, segments, seed) for p in photos]
    feats = np.concatenate([f for _, f in superpixels])
    mean, scale = feats.mean(0), feats.std(0) + 1e-6
    centres = kmeans((feats - mean) / scale, classes, seed)
    return LabelModel(centres, mean, scale, segments, seed)


def write_label_corpus(corpus: str | PathLike[str], out: str | PathLike[str], *, classes: int = 12,
                       segments: int = 300, seed: int = 0, overwrite: bool = False) -> dict[str, int]:
    """Unsupervised image + label-map pairs for a photo corpus (``holefill data photos``), in
    COCO-Stuff's layout under ``out``; returns the number of pairs per split."""
    src = Path(corpus).expanduser()
    if not (src / "photos" / "train").is_dir():
        raise InputNotFoundError("is not a photo corpus (no photos/train; build one with holefill data photos)", src)
    dst = Path(out)
    if dst.exists() and any(dst.iterdir()) and not overwrite:
        raise OutputExistsError("already exists and is not empty; pass --overwrite to replace it", dst)
    photos = {split: [(p, io.read_image(p)) for p in io.list_images(src / "photos" / split)]
              for split in SPLITS if (src / "photos" / split).is_dir()}
    train_sp = [superpixel_features(img, segments, seed) for _, img in photos["train"]]
    model = fit_label_model([img for _, img in photos["train"]], classes, segments=segments, seed=seed,
                            superpixels=train_sp)
    if dst.exists() and overwrite:
        for sub in ("images", "annotations"):
            shutil.rmtree(dst / sub, ignore_errors=True)
    counts = {}
    for split, items in photos.items():
        (dst / "images" / split).mkdir(parents=True, exist_ok=True)
        (dst / "annotations" / split).mkdir(parents=True, exist_ok=True)
        for k, (path, img) in enumerate(items):
            io.write_bytes_atomic(dst / "images" / split / path.name, path.read_bytes())
            ok, png = cv2.imencode(".png", model.labels(img, train_sp[k] if split == "train" else None))
            io.write_bytes_atomic(dst / "annotations" / split / f"{path.stem}.png", png.tobytes())
        counts[split] = len(items)
    for name in ("LICENSES.md", "manifest.csv"):
        if (src / name).is_file():
            io.write_bytes_atomic(dst / name, (src / name).read_bytes())
    readme = (f"# Unsupervised label maps for {src.name}\n\nMade by `holefill data labels` (holefill.data.layouts): "
              f"SLIC superpixels (about {segments} per photo) described by their CIELAB mean and spread, clustered "
              f"into {classes} classes by k-means (seed {seed}) fitted on the training photos. Classes are "
              "colour/texture clusters, not object categories: a stand-in for COCO-Stuff's annotations, which "
              "cannot be had here. Photos and their licences: see LICENSES.md.\n")
    io.write_bytes_atomic(dst / "README.md", readme.encode())
    return counts


# ----------------------------------------------------------------------------- training samples


def central_components(labels: np.ndarray, rng: np.random.Generator, *, box: tuple[float, float] = (0.3, 0.6),
                       limit: float = 0.6) -> np.ndarray:
    """A foreground for label maps without object classes: the connected regions of equal label
    whose centre lies in a random central box (sides a fraction ``box`` of the image's), at
    most ``limit`` of the pixels (the largest regions first)."""
    h, w = labels.shape
    bh, bw = (int(rng.uniform(*box) * s) for s in (h, w))
    top, left = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
    chosen: list[tuple[int, np.ndarray]] = []
    for value in np.unique(labels):
        if value == UNLABELLED:
            continue
        n, comp, stats, centroids = cv2.connectedComponentsWithStats((labels == value).astype(np.uint8), connectivity=4)
        for i in range(1, n):
            cx, cy = centroids[i]
            if top <= cy < top + bh and left <= cx < left + bw:
                chosen.append((int(stats[i, cv2.CC_STAT_AREA]), comp == i))
    fg = np.zeros((h, w), bool)
    for area, region in sorted(chosen, key=lambda t: -t[0]):
        if (fg.sum() + area) / fg.size > limit:
            continue
        fg |= region
    if not fg.any():  # nothing fitted: the box itself
        fg[top:top + bh, left:left + bw] = True
    return fg


class LayoutDataset(torch.utils.data.Dataset):
    """Crops of image + label-map pairs with the background as the hole.

    Item ``(epoch, i)`` is fixed by ``(seed, epoch, i)`` (like :class:`~holefill.data.datasets.InpaintDataset`):
    the pair is scaled so its short side is ``crop`` times a factor from ``scale`` (labels with
    nearest-neighbour sampling), cropped at random (the centre when not ``random_crop``) and
    flipped. The foreground is the ``things`` pixels when the crop has some, else
    :func:`central_components`. A sample is ``{"image": 3HW in [-1, 1], "mask": 1HW (1 =
    background, the hole), "segmentation": 1HW int64 class ids (255 = unlabelled)}``.
    """

    def __init__(self, pairs: Sequence[tuple[Path, Path]], crop: int, *, seed: int = 0,
                 scale: tuple[float, float] = (1.0, 1.0), hflip: bool = True, random_crop: bool = True,
                 things: Sequence[int] = (), classes: int = COCO_STUFF_CLASSES, min_foreground: float = 0.02) -> None:
        if crop < 8:
            raise InvalidArgumentError(f"crop must be >= 8 pixels, got {crop}")
        self.pairs = list(pairs)
        self.crop, self.seed, self.scale = int(crop), int(seed), (float(scale[0]), float(scale[1]))
        self.hflip, self.random_crop = bool(hflip), bool(random_crop)
        self.things = np.array(sorted(set(int(t) for t in things)), dtype=np.int64)
        self.classes = int(classes)
        self.min_foreground = float(min_foreground)

    def __len__(self) -> int:
        return len(self.pairs)

    def sample(self, epoch: int, index: int) -> dict[str, torch.Tensor]:
        from holefill.data.datasets import sample_rng, to_tensor

        image_path, label_path = self.pairs[index]
        image = io.read_image(image_path)
        labels = read_labels(label_path, image.shape[:2])
        bad = labels[(labels != UNLABELLED) & (labels >= self.classes)]
        if bad.size:
            raise InvalidArgumentError(f"holds class id {int(bad.max())}, but the model has {self.classes} classes",
                                       label_path)
        rng = sample_rng(self.seed, epoch, index, 0)
        h, w = labels.shape
        factor = self.crop / min(h, w) * (float(rng.uniform(*self.scale)) if self.random_crop else 1.0)
        nh, nw = max(self.crop, round(h * factor)), max(self.crop, round(w * factor))
        image = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if nh < h else cv2.INTER_CUBIC)
        labels = cv2.resize(labels, (nw, nh), interpolation=cv2.INTER_NEAREST)
        if self.random_crop:
            top, left = int(rng.integers(0, nh - self.crop + 1)), int(rng.integers(0, nw - self.crop + 1))
        else:
            top, left = (nh - self.crop) // 2, (nw - self.crop) // 2
        image = image[top:top + self.crop, left:left + self.crop]
        labels = labels[top:top + self.crop, left:left + self.crop]
        if self.random_crop and self.hflip and rng.random() < 0.5:
            image, labels = image[:, ::-1], labels[:, ::-1]
        labels = np.ascontiguousarray(labels)
        fg = np.isin(labels, self.things) if self.things.size else np.zeros(labels.shape, bool)
        if fg.mean() < self.min_foreground:
            fg = central_components(labels, sample_rng(self.seed, epoch, index, 1))
        return {"image": to_tensor(np.ascontiguousarray(image)), "mask": torch.from_numpy(~fg)[None].float(),
                "segmentation": torch.from_numpy(labels.astype(np.int64))[None]}

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        if isinstance(key, tuple):
            return self.sample(key[0], key[1])
        return self.sample(0, int(key))


def cmc_objects(segmentation: torch.Tensor, mask: torch.Tensor, *, max_objects: int = 4,
                min_pixels: int = 16) -> list[tuple[int, torch.Tensor]]:
    """The foreground objects of a batch for the object-level contrastive loss: (image index,
    HxW bool mask) for the connected regions of equal label in each foreground, the largest
    ``max_objects`` per image, each of at least ``min_pixels`` pixels."""
    out = []
    seg = segmentation[:, 0].cpu().numpy()
    fg = (mask[:, 0] < 0.5).cpu().numpy()
    for i in range(seg.shape[0]):
        found = []
        for value in np.unique(seg[i][fg[i]]):
            if value == UNLABELLED:
                continue
            n, comp, stats, _ = cv2.connectedComponentsWithStats(((seg[i] == value) & fg[i]).astype(np.uint8),
                                                                 connectivity=4)
            found += [(int(stats[j, cv2.CC_STAT_AREA]), comp == j) for j in range(1, n)
                      if stats[j, cv2.CC_STAT_AREA] >= min_pixels]
        for _, region in sorted(found, key=lambda t: -t[0])[:max_objects]:
            out.append((i, torch.from_numpy(region).to(segmentation.device)))
    return out


__all__ = ["COCO_STUFF_CLASSES", "COCO_STUFF_THINGS", "LabelModel", "LayoutDataset", "UNLABELLED",
           "central_components", "cmc_objects", "fit_label_model", "kmeans", "label_pairs", "read_labels",
           "superpixel_features", "write_label_corpus"]

