"""Query time of the scene database search for 1k, 10k and 100k descriptors.

Scene completion asks for the database scenes nearest to a query by a *weighted* distance
whose weights depend on the query's hole (:mod:`holefill.scene.descriptors`), so a tree built
once cannot answer it. This script times, on random descriptors of holefill's size:

- ``numpy``: what holefill does, one pass of matrix-vector products over all descriptors
  plus ``argpartition`` (:meth:`holefill.scene.index.SceneIndex.search`'s core);
- ``python loop``: one distance per descriptor in a Python loop (the thing to avoid; timed
  on 1k and extrapolated linearly for the larger sizes, marked ``~``);
- ``sklearn brute`` and ``sklearn ball tree`` (when scikit-learn is installed): the weights
  folded into the data, so the index must be rebuilt per query; the build is counted, and
  the query alone is shown too, for a database whose weights would never change.

    PYTHONPATH=src python benchmarks/scene_index.py [--sizes 1000 10000 100000] [--repeats 5]

Times are medians of wall-clock seconds on whatever machine runs this; quote the machine.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

from holefill.scene.descriptors import DIMS, Descriptor, weighted_distances


def median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--k", type=int, default=20, help="scenes returned per query")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    query = Descriptor(rng.random(DIMS, dtype=np.float32), (rng.random(DIMS) > 0.25).astype(np.float32))
    try:
        from sklearn.neighbors import NearestNeighbors
    except ImportError:
        NearestNeighbors = None  # noqa: N806
    print(f"machine: {platform.processor() or platform.machine()}, numpy {np.__version__}; "
          f"{DIMS} dims, k = {args.k}, median of {args.repeats}")
    print("| descriptors | numpy (s) | python loop (s) | sklearn brute: build+query (s) | query only |"
          " sklearn ball tree: build+query (s) | query only |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    loop_per_item = None
    for n in args.sizes:
        data = rng.random((n, DIMS), dtype=np.float32)
        k = min(args.k, n)

        def numpy_search() -> np.ndarray:
            d = weighted_distances(data, query)
            top = np.argpartition(d, k - 1)[:k]
            return top[np.argsort(d[top])]

        t_numpy = median_time(numpy_search, args.repeats)
        if loop_per_item is None:
            w, q = query.weights, query.vector
            sample = data[:1000]
            start = time.perf_counter()
            _ = [float((w * (row - q) ** 2).sum()) for row in sample]
            loop_per_item = (time.perf_counter() - start) / len(sample)
        loop = f"{loop_per_item * n:.3f}" if n <= 1000 else f"~{loop_per_item * n:.2f}"
        cells = [f"{n:,}", f"{t_numpy:.4f}", loop]
        if NearestNeighbors is not None:
            scale = np.sqrt(query.weights)
            for algorithm in ("brute", "ball_tree"):
                scaled = data * scale

                def build() -> object:
                    return NearestNeighbors(n_neighbors=k, algorithm=algorithm).fit(data * scale)

                fitted = build()
                t_build_query = median_time(lambda: build().kneighbors((query.vector * scale)[None]), args.repeats)
                t_query = median_time(lambda: fitted.kneighbors((query.vector * scale)[None]), args.repeats)
                del scaled
                cells += [f"{t_build_query:.4f}", f"{t_query:.4f}"]
        else:
            cells += ["(not installed)"] * 4
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
