"""Aligning long videos: time and peak memory of one pair, 10^3 to 5 x 10^4 frames a video.

The project's alignment (``carl_pipeline.labels.align``: a row at a time, a multiscale band above
4 x 10^6 cells) against the whole-matrix DTW it replaces for long videos
(``carl_pipeline.evaluation.alignment.dtw_path``: (n + 1) x (m + 1) float64 totals and an n x m
cost matrix, one anti-diagonal at a time), on the same embeddings: 128-d random walks (smooth,
as frame embeddings are along a video), the second a random time-warp of the first plus noise.
Time: the median of 3 runs (1 above 10^4 frames), untraced; peak memory: what one traced run of
the alignment itself allocates (``tracemalloc``, which NumPy reports to).
The whole matrix is run up to ``--baseline-max`` frames (10^4 takes it about 40 s and 4 GB).

Run: ``python benchmarks/bench_long_alignment.py`` (about 5 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from carl_pipeline.evaluation.alignment import dtw_path
from carl_pipeline.labels.align import align


def _pair(n: int, dim: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = np.cumsum(rng.normal(size=(n, dim)), axis=0).astype(np.float32)
    warp = np.sort(rng.choice(n, size=n, replace=True))
    return base + rng.normal(size=(n, dim)).astype(np.float32), base[warp] + rng.normal(size=(n, dim)).astype(np.float32)


def _measure(function, repeats: int) -> tuple[float, float, object]:
    """Median seconds of ``repeats`` runs (untraced: tracing slows every allocation), then the
    peak MiB of one traced run."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    function()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return float(np.median(times)), peak / 2**20, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 20_000, 50_000])
    parser.add_argument("--baseline-max", type=int, default=10_000)
    args = parser.parse_args()
    print("| frames a video | method | time (s) | peak memory (MiB) | cells computed | same path as the whole matrix |")
    print("|---:|---|---:|---:|---:|---|")
    for n in args.sizes:
        a, b = _pair(n)
        whole = None
        repeats = 3 if n <= 10_000 else 1
        if n <= args.baseline_max:
            seconds, mib, path = _measure(lambda: dtw_path(a, b, "cosine"), 1)
            whole = path[np.searchsorted(path[:, 0], np.arange(n)), 1]
            print(f"| {n:,} | whole-matrix DTW (`dtw_path`) | {seconds:.2f} | {mib:,.0f} | {n * n:,} | - |", flush=True)
        seconds, mib, found = _measure(lambda: align(a, b), repeats)
        same = "-" if whole is None else ("yes" if np.array_equal(found.matches, whole) else
                                          f"{np.mean(found.matches == whole):.4f} of frames")
        print(f"| {n:,} | `align`, DTW | {seconds:.2f} | {mib:,.0f} | {found.cells:,} | {same} |", flush=True)
        seconds, mib, found = _measure(lambda: align(a, b, np.full(n, 0.5)), repeats)
        print(f"| {n:,} | `align`, Drop-DTW | {seconds:.2f} | {mib:,.0f} | {found.cells:,} | - |", flush=True)


if __name__ == "__main__":
    main()
