"""Scene completion (Hays and Efros 2007) on the benchmark's holes, with and without the source photo.

It builds two photo databases from the corpus (never from the reserved packages), in OUT:

- ``db-with-source``: unrelated photos (random 256 px crops, at several scales, of every
  train and val photo, and their mirror images) plus, for each test crop, two *other* crops of the same photo: the
  photo at the crops' scale (short side 512, as the corpus builds its crops), shifted 16-48 px
  each way and rescaled by up to 8 %, so they hold the hole's content at another place;
- ``db-without-source``: the unrelated photos only.

Then it fills the benchmark's holes (the corpus test crops, holefill-masks-v1, the given sets)
with ``scene`` on each database and with the reference classical methods, scores them with
the benchmark's code, writes a report (``OUT/report``), says how often the best completion
came from a crop of the query's own photo, and draws example pictures (``OUT/examples.png``).

    PYTHONPATH=src python benchmarks/scene_completion.py --corpus corpus --out /tmp/scene-bench
"""

from __future__ import annotations

import argparse
import csv
import shutil
import time
from pathlib import Path

import numpy as np

from holefill import benchmark as B
from holefill import io
from holefill.classical import Biharmonic, PatchMatch
from holefill.data.corpus import resize_short_side
from holefill.fillers import Filler
from holefill.metrics import Evaluator
from holefill.scene import SceneCompletion

CROP = 256


def crop_at(image: np.ndarray, x: float, y: float, side: float) -> np.ndarray:
    """The ``side`` x ``side`` window at (x, y) of ``image``, resized to CROP (clamped inside)."""
    import cv2

    h, w = image.shape[:2]
    side = int(round(min(side, h, w)))
    x0 = int(round(min(max(0, x), w - side)))
    y0 = int(round(min(max(0, y), h - side)))
    window = image[y0:y0 + side, x0:x0 + side]
    return cv2.resize(window, (CROP, CROP), interpolation=cv2.INTER_AREA if side > CROP else cv2.INTER_CUBIC)


def build_databases(corpus: Path, out: Path, seed: int, unrelated_per_photo: int) -> tuple[Path, Path, int, int]:
    rng = np.random.default_rng(seed)
    with_src, without = out / "db-with-source", out / "db-without-source"
    for d in (with_src, without):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    unrelated = 0
    for split in ("train", "val"):
        for path in io.list_images(corpus / "photos" / split):
            photo = io.read_image(path)
            for k in range(unrelated_per_photo):
                scaled, _ = resize_short_side(photo, int(rng.integers(CROP, 640)))
                h, w = scaled.shape[:2]
                img = crop_at(scaled, rng.integers(0, w - CROP + 1), rng.integers(0, h - CROP + 1), CROP)
                for d in (with_src, without):
                    io.write_image(d / f"{path.stem}_{k:02d}.png", img, overwrite=True)
                    io.write_image(d / f"{path.stem}_{k:02d}_flip.png", np.ascontiguousarray(img[:, ::-1]),
                                   overwrite=True)
                unrelated += 2
    related = 0
    photos: dict[str, np.ndarray] = {}
    with open(corpus / "manifest.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "test"]
    for r in rows:
        pid = r["photo_id"]
        if pid not in photos:
            found = [p for p in io.list_images(corpus / "photos" / "test") if p.stem == pid]
            photos[pid] = resize_short_side(io.read_image(found[0]), 512)[0]
        scaled = photos[pid]
        x, y = int(r["x"]), int(r["y"])
        for k in range(2):
            dx, dy = rng.integers(16, 49, 2) * rng.choice([-1, 1], 2)
            side = CROP / float(rng.uniform(0.92, 1.08))
            img = crop_at(scaled, x + dx - (side - CROP) / 2, y + dy - (side - CROP) / 2, side)
            io.write_image(with_src / f"{Path(r['file']).stem}_other{k}.png", img, overwrite=True)
            related += 1
    return with_src, without, unrelated, related


class Recording(SceneCompletion):
    """Scene completion that remembers the photo each fill came from."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.sources: list[str] = []

    def _fill(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        best = self.completions(image, mask, 1)[0]
        self.sources.append(best.placement.path.name)
        return best.image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sets", default="center", help="mask sets of the benchmark protocol, comma-separated")
    parser.add_argument("--limit", type=int, default=None, help="only the first N test crops")
    parser.add_argument("--unrelated", type=int, default=10, help="unrelated crops per train/val photo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenes", type=int, default=None,
                        help="best-matching scenes tried per fill (default: SceneCompletion's)")
    parser.add_argument("--feather", type=float, default=None,
                        help="the scene's fade-in width in context widths (default: SceneCompletion's; 0: none)")
    parser.add_argument("--ablate-seam", action="store_true",
                        help="also fill with seam_depth=0 (the scene over the whole hole, no seam inside it)")
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with_src, without, n_unrelated, n_related = build_databases(args.corpus, out, args.seed, args.unrelated)
    print(f"databases: {with_src} ({n_unrelated + n_related} photos: {n_related} other crops of the test photos),"
          f" {without} ({n_unrelated} unrelated photos); built in {time.perf_counter() - start:.0f} s")
    images = B.load_images(args.corpus / "crops" / "test", args.limit)
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    mask_sets = B.generated_mask_sets(images[0][1].shape[:2], min(len(images), 100), args.seed, sets)
    extra = {k: v for k, v in (("scenes", args.scenes), ("feather", args.feather)) if v is not None}
    scene_with = Recording(with_src, scales=(0.9, 1.0, 1.1), **extra)
    scene_without = Recording(without, scales=(0.9, 1.0, 1.1), **extra)
    fillers: dict[str, Filler] = {"biharmonic": Biharmonic(), "patchmatch": PatchMatch(),
                                  "scene (with source)": scene_with, "scene (without source)": scene_without}
    if args.ablate_seam:
        fillers["scene (with source, seam_depth 0)"] = SceneCompletion(with_src, scales=(0.9, 1.0, 1.1), seam_depth=0,
                                                                       **extra)
        fillers["scene (without source, seam_depth 0)"] = SceneCompletion(without, scales=(0.9, 1.0, 1.1),
                                                                          seam_depth=0, **extra)
    notes = (B.protocol_notes(args.corpus / "crops" / "test", len(images), "generated", images[0][1].shape[:2],
                              min(len(images), 100), args.seed)
             + f" Scene databases: {n_unrelated + n_related} photos with {n_related} other crops of the test photos;"
               f" {n_unrelated} unrelated photos without them.")
    evaluator = B.run_benchmark(fillers, images, mask_sets, evaluator=Evaluator(title="scene completion", notes=notes))
    B.write_report(evaluator, out / "report", overwrite=True)
    print(B.summary_table(evaluator))
    items = B.pairs(images, mask_sets)
    own = [src.rsplit("_other", 1)[0] == item.image_name for src, item in zip(scene_with.sources, items)]
    same_photo = [src.startswith(item.image_name.rsplit("_", 1)[0]) for src, item in zip(scene_with.sources, items)]
    print(f"with source: the best completion came from another crop of the query's own crop position in"
          f" {sum(own)}/{len(own)} fills, from its photo in {sum(same_photo)}/{len(same_photo)}")
    draw_examples(images, items, fillers, out / "examples.png")
    print(f"report: {out / 'report'}; examples: {out / 'examples.png'}; {time.perf_counter() - start:.0f} s in all")


def draw_examples(images, items, fillers, path: Path, count: int = 4) -> None:  # noqa: ANN001
    """Rows of examples: the input with its hole, then each method's fill (recomputed)."""
    import cv2

    picks = np.linspace(0, len(items) - 1, count).round().astype(int)
    rows = []
    for i in picks:
        item = items[i]
        original = images[item.image_index][1]
        shown = original.copy()
        shown[item.mask] = 255
        cells = [shown] + [f.fill(original, item.mask) for f in fillers.values()]
        rows.append(np.concatenate([np.pad(c, ((2, 2), (2, 2), (0, 0)), constant_values=255) for c in cells], 1))
    grid = np.concatenate(rows, 0)
    header = np.full((28, grid.shape[1], 3), 255, np.uint8)
    for k, name in enumerate(["input"] + list(fillers)):
        cv2.putText(header, name, (6 + k * (CROP + 4), 19), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    io.write_image(path, np.concatenate([header, grid], 0), overwrite=True)


if __name__ == "__main__":
    main()
