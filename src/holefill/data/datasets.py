"""Training data: image sources, random crops with masks, and a resumable sample stream.

- :class:`ImageFolder` (every image under a folder, recursively) and :class:`FileList` (one
  path per line) list the images; :func:`open_source` picks one from a config path, and
  understands corpus folders written by ``holefill data photos`` (``DIR/photos/train``).
- :class:`InpaintDataset` turns image ``i`` of epoch ``e`` into a training sample: the image
  is scaled (short side to ``resize``, then by a random factor from ``scale``), upscaled if
  it is still smaller than the crop (so small images are usable; they come out softer),
  cropped at random, flipped left-right with probability 1/2, and given a hole from the
  mask generators. Every random choice comes from ``(seed, e, i)`` alone, so a sample does
  not depend on the worker that made it, nor on what came before it.
- :class:`StreamSampler` orders samples into an endless stream (a fresh permutation per
  epoch, from ``(seed, e)``), shards it across DDP ranks and starts at any position, which
  is all a resumed run needs to see exactly the data it would have seen.

A sample is ``{"image": 3HW float in [-1, 1], "mask": 1HW float, 1 = hole}``; the default
collate stacks them into the batch dict recipes take.

- :class:`BlindDataset` (blind inpainting, VCNet) damages each crop on the fly with a seeded
  :class:`~holefill.masks.corruption.Corruption`; its samples add ``"corrupted"`` (the damaged
  crop) and their ``"mask"`` is where the damage is. The ``photo`` damage pastes a crop of
  another image of the same source, so training damage comes from training photos only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from os import PathLike
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import torch

from holefill import io
from holefill.errors import ConfigError, InputNotFoundError, InvalidArgumentError

MaskFn = Callable[[int, int, np.random.Generator], np.ndarray]
Key = tuple[int, int]

#: Subfolders of a corpus built by ``holefill data photos`` that hold full photos per split.
CORPUS_PHOTOS = "photos"


class ImageSource(Protocol):
    """Anything with a list of image paths."""

    paths: list[Path]


class ImageFolder:
    """Every image file (by extension) under ``root``, recursively, in sorted order.

    Hidden files and folders (names starting with a dot) are skipped.
    """

    def __init__(self, root: str | PathLike[str]) -> None:
        self.root = Path(root)
        if not self.root.exists():
            raise InputNotFoundError("no such folder", self.root)
        if not self.root.is_dir():
            raise InvalidArgumentError("is a file, expected a folder of images", self.root)
        found = []
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=True):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in filenames:
                if not name.startswith(".") and Path(name).suffix.lower() in io.IMAGE_SUFFIXES:
                    found.append(Path(dirpath) / name)
        self.paths = sorted(found)
        if not self.paths:
            raise InvalidArgumentError("holds no images (PNG, JPEG, WebP, BMP or TIFF), not even in subfolders",
                                       self.root)

    def __len__(self) -> int:
        return len(self.paths)


class FileList:
    """Images named one per line in a text file; blank lines and ``#`` comments are skipped.

    Relative paths are taken relative to ``root`` when given, else to the list's folder.
    Every listed file must exist.
    """

    def __init__(self, list_file: str | PathLike[str], root: str | PathLike[str] | None = None) -> None:
        self.list_file = Path(list_file)
        if not self.list_file.is_file():
            raise InputNotFoundError("no such file list", self.list_file)
        base = Path(root) if root is not None else self.list_file.parent
        paths = []
        try:
            lines = self.list_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidArgumentError(f"cannot be read as a text file list ({exc})", self.list_file) from None
        for number, line in enumerate(lines, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            path = Path(text).expanduser()
            path = path if path.is_absolute() else base / path
            if not path.is_file():
                raise InputNotFoundError(f"line {number} names a missing file {path}", self.list_file)
            paths.append(path)
        if not paths:
            raise InvalidArgumentError("lists no images", self.list_file)
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)


def corpus_split(path: str | PathLike[str], split: str) -> Path | None:
    """``path/photos/<split>`` when ``path`` is a corpus folder from ``holefill data photos``."""
    candidate = Path(path) / CORPUS_PHOTOS / split
    return candidate if candidate.is_dir() else None


def open_source(path: str | PathLike[str], *, root: str | PathLike[str] | None = None,
                split: str = "train") -> ImageFolder | FileList:
    """A corpus folder (its ``photos/<split>``), a folder of images, or a file list."""
    p = Path(path).expanduser()
    if p.is_dir():
        return ImageFolder(corpus_split(p, split) or p)
    if p.is_file():
        return FileList(p, root)
    raise InputNotFoundError("no such folder or file list", p)


# ----------------------------------------------------------------------------- masks


def _make_generator(kind: str, **params: Any) -> MaskFn:
    """A :mod:`holefill.masks` generator by kind name."""
    try:
        from holefill.masks import make_generator
    except ImportError:
        from holefill.errors import MissingDependencyError

        raise MissingDependencyError("the mask generators (holefill.masks) are not installed") from None
    return make_generator(kind, **params)


class MaskMixture:
    """Draw each mask from one of several generators, picked by weight with the sample's rng."""

    def __init__(self, generators: Sequence[MaskFn], weights: Sequence[float]) -> None:
        if len(generators) != len(weights) or not generators:
            raise InvalidArgumentError("a mask mixture needs one weight per generator")
        w = np.asarray(weights, dtype=np.float64)
        if np.any(w < 0) or w.sum() <= 0:
            raise InvalidArgumentError(f"mask weights must be >= 0 with a positive sum, got {list(weights)}")
        self.generators = list(generators)
        self.weights = w / w.sum()

    def __call__(self, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
        k = 0 if len(self.generators) == 1 else int(rng.choice(len(self.generators), p=self.weights))
        return np.asarray(self.generators[k](h, w, rng), dtype=bool)


def build_mask_fn(specs: Sequence[Any], source: str = "<config>") -> MaskFn:
    """The mask function a config's ``data.masks`` describes (kinds from :mod:`holefill.masks`)."""
    from holefill.errors import HolefillError, MissingDependencyError

    generators = []
    for i, spec in enumerate(specs):
        try:
            generators.append(_make_generator(spec.kind, **dict(spec.params)))
        except MissingDependencyError:
            raise
        except HolefillError as err:
            raise ConfigError(f"data.masks[{i}]: {err.problem}", source) from None
    return MaskMixture(generators, [spec.weight for spec in specs])


# ----------------------------------------------------------------------------- samples


def sample_rng(seed: int, epoch: int, index: int, stream: int) -> np.random.Generator:
    """The random stream of one sample: ``stream`` 0 for geometry, 1 for the mask."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(epoch), int(index), int(stream)]))


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    h, w = image.shape[:2]
    if (h, w) == (height, width):
        return image
    shrinking = height * width < h * w
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 to 3HW float in [-1, 1]."""
    # a copy (torch.tensor): cached crops are read-only arrays, which torch.from_numpy warns about
    return torch.tensor(image, dtype=torch.float32).permute(2, 0, 1).div(127.5).sub(1.0)


class InpaintDataset(torch.utils.data.Dataset):
    """Crops of the source's images with masks; item ``(epoch, i)`` is fixed by ``(seed, epoch, i)``.

    With ``random_crop=False`` (validation) the crop is the centre of the image scaled to a
    short side of ``crop`` (or ``resize``), unflipped; the mask still comes from ``(seed, 0, i)``.
    """

    def __init__(self, source: ImageSource, crop: int, mask_fn: MaskFn, *, seed: int = 0,
                 resize: int | None = None, scale: tuple[float, float] = (1.0, 1.0), hflip: bool = True,
                 random_crop: bool = True, max_pixels: int | None = None, cache_mb: int = 0) -> None:
        if crop < 1:
            raise InvalidArgumentError(f"crop must be positive, got {crop}")
        lo, hi = scale
        if not 0 < lo <= hi:
            raise InvalidArgumentError(f"scale must be (low, high) with 0 < low <= high, got {scale}")
        self.paths = list(source.paths)
        self.crop = int(crop)
        self.mask_fn = mask_fn
        self.seed = int(seed)
        self.resize = resize
        self.scale = (float(lo), float(hi))
        self.hflip = bool(hflip)
        self.random_crop = bool(random_crop)
        self.max_pixels = max_pixels
        # Decoded images kept in memory (per process), up to cache_mb megabytes: a small
        # corpus is then decoded once instead of once per sample. Samples are unchanged.
        self.cache_bytes = int(cache_mb) * 2**20
        self._cache: dict[int, np.ndarray] = {}
        self._cached = 0

    def load(self, index: int) -> np.ndarray:
        """Image ``index`` as HxWx3 uint8, from the cache when it is there."""
        image = self._cache.get(index)
        if image is None:
            image = io.read_image(self.paths[index], max_pixels=self.max_pixels)
            if self._cached + image.nbytes <= self.cache_bytes:
                self._cache[index] = image
                self._cached += image.nbytes
        return image

    def __len__(self) -> int:
        return len(self.paths)

    def place(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int, int]:
        """Scale and flip one image as the settings say, and pick the crop's corner, drawing
        from ``rng``: (the scaled, maybe flipped image, top, left). The crop is
        ``scaled[top:top + crop, left:left + crop]``."""
        h, w = image.shape[:2]
        factor = 1.0
        if self.resize is not None:
            factor = self.resize / min(h, w)
        if self.random_crop:
            lo, hi = self.scale
            if hi > lo:
                factor *= float(rng.uniform(lo, hi))
            else:
                factor *= lo
        else:
            factor = (self.resize or self.crop) / min(h, w)
        # Images (still) smaller than the crop are upscaled until the crop fits.
        factor = max(factor, self.crop / min(h, w))
        nh, nw = max(self.crop, round(h * factor)), max(self.crop, round(w * factor))
        image = _resize(image, nh, nw)
        if self.random_crop:
            top = int(rng.integers(0, nh - self.crop + 1))
            left = int(rng.integers(0, nw - self.crop + 1))
        else:
            top, left = (nh - self.crop) // 2, (nw - self.crop) // 2
        if self.random_crop and self.hflip and rng.random() < 0.5:
            image, left = image[:, ::-1], nw - self.crop - left
        return np.ascontiguousarray(image), top, left

    def crop_image(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Scale, crop and flip one image as the settings say, drawing from ``rng``."""
        scaled, top, left = self.place(image, rng)
        return np.ascontiguousarray(scaled[top:top + self.crop, left:left + self.crop])

    def sample(self, epoch: int, index: int) -> dict[str, torch.Tensor]:
        """Sample ``index`` of ``epoch`` as tensors."""
        if not 0 <= index < len(self.paths):
            raise IndexError(f"sample {index} of a dataset of {len(self.paths)}")
        crop = self.crop_image(self.load(index), sample_rng(self.seed, epoch, index, 0))
        mask = np.asarray(self.mask_fn(self.crop, self.crop, sample_rng(self.seed, epoch, index, 1)), dtype=bool)
        if mask.shape != (self.crop, self.crop):
            raise InvalidArgumentError(f"the mask generator returned {mask.shape}, expected {(self.crop, self.crop)}")
        return {"image": to_tensor(crop), "mask": torch.from_numpy(mask)[None].float()}

    def __getitem__(self, key: int | Key) -> dict[str, torch.Tensor]:
        if isinstance(key, tuple):
            return self.sample(key[0], key[1])
        return self.sample(0, int(key))


class BlindDataset(InpaintDataset):
    """Damaged crops for blind inpainting: ``{"image", "mask", "corrupted"}`` per sample.

    ``corruption`` damages the crop (its stroke shapes come from ``mask_fn``, the config's
    ``data.masks``); the ``photo`` damage takes a crop of another image of this source, chosen
    and cropped with the sample's own random stream. Every choice of sample ``(epoch, i)`` is
    fixed by ``(seed, epoch, i)``, as for :class:`InpaintDataset`.
    """

    def __init__(self, source: ImageSource, crop: int, mask_fn: MaskFn, corruption: Any, **kwargs: Any) -> None:
        super().__init__(source, crop, mask_fn, **kwargs)
        if corruption.needs_source and len(self.paths) < 2:
            raise InvalidArgumentError("the 'photo' damage pastes another photo of the set: give at least two images")
        self.corruption = corruption

    def _source(self, index: int) -> Callable[[np.random.Generator], np.ndarray]:
        def draw(rng: np.random.Generator) -> np.ndarray:
            other = (index + 1 + int(rng.integers(0, len(self.paths) - 1))) % len(self.paths)
            return self.crop_image(self.load(other), rng) if self.random_crop else self._centre(other)
        return draw

    def _centre(self, index: int) -> np.ndarray:
        return self.crop_image(self.load(index), np.random.default_rng(0))

    def sample(self, epoch: int, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self.paths):
            raise IndexError(f"sample {index} of a dataset of {len(self.paths)}")
        crop = self.crop_image(self.load(index), sample_rng(self.seed, epoch, index, 0))
        corrupted, mask = self.corruption(crop, sample_rng(self.seed, epoch, index, 1), self._source(index),
                                          strokes=self.mask_fn)
        return {"image": to_tensor(crop), "mask": torch.from_numpy(np.ascontiguousarray(mask))[None].float(),
                "corrupted": to_tensor(corrupted)}


class StreamSampler(torch.utils.data.Sampler):
    """An endless, resumable stream of ``(epoch, index)`` batches, sharded across ranks.

    The stream is global: sample n is image ``perm_e[n mod N]`` of epoch ``e = n // N``, where
    ``perm_e`` is a permutation drawn from ``(seed, e)`` (or the identity when not
    ``shuffle``). Every micro-batch takes the next ``batch_size x world_size`` samples, and
    rank r gets the r-th run of ``batch_size`` of them. ``start`` is the first global sample,
    so a resumed run (or one rank of N) picks up exactly where it belongs.
    """

    def __init__(self, num_items: int, batch_size: int, *, seed: int = 0, start: int = 0, rank: int = 0,
                 world_size: int = 1, shuffle: bool = True) -> None:
        if num_items < 1 or batch_size < 1 or start < 0 or not 0 <= rank < world_size:
            raise InvalidArgumentError("a sampler needs items, a positive batch size and a valid rank")
        self.num_items = int(num_items)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.start = int(start)
        self.rank = int(rank)
        self.world_size = int(world_size)
        self.shuffle = bool(shuffle)
        self._perm: tuple[int, np.ndarray] | None = None

    def order(self, epoch: int) -> np.ndarray:
        """The image order of ``epoch``."""
        if self._perm is None or self._perm[0] != epoch:
            if self.shuffle:
                perm = np.random.default_rng(np.random.SeedSequence([self.seed, epoch, 0xDA7A])).permutation(
                    self.num_items)
            else:
                perm = np.arange(self.num_items)
            self._perm = (epoch, perm)
        return self._perm[1]

    def key(self, n: int) -> Key:
        """The ``(epoch, index)`` of global sample ``n``."""
        epoch, pos = divmod(n, self.num_items)
        return epoch, int(self.order(epoch)[pos])

    def __iter__(self) -> Iterator[list[Key]]:
        n = self.start
        step = self.batch_size * self.world_size
        while True:
            first = n + self.rank * self.batch_size
            yield [self.key(first + j) for j in range(self.batch_size)]
            n += step


def make_loader(dataset: InpaintDataset, sampler: StreamSampler, workers: int,
                pin_memory: bool = False,
                worker_init_fn: Callable[[int], None] | None = None) -> torch.utils.data.DataLoader:
    """A DataLoader over the stream. It gets a generator of its own, so starting it never draws
    from torch's global random stream (which a resumed run must find as it was saved).
    ``worker_init_fn`` runs in each worker process as it starts (the trainer's sets threads)."""
    return torch.utils.data.DataLoader(
        dataset, batch_sampler=sampler, num_workers=workers, pin_memory=pin_memory,
        persistent_workers=False, generator=torch.Generator().manual_seed(sampler.seed),
        prefetch_factor=4 if workers > 0 else None, worker_init_fn=worker_init_fn if workers > 0 else None,
    )
