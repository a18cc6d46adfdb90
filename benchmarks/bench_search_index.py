"""The library's search index (FAISS, ``carl_pipeline.search.FrameIndex``) against brute force.

A synthetic library shaped like frame embeddings (videos as slow walks between a few hundred
action states, 128 dimensions, unit length) of 10^5 and 10^6 frames; queries are frames of
other walks, not in the library. For each size: the time per query (one query at a time, the
median over the queries), and recall@5 against the exact top 5 of brute force (NumPy: one
matrix product and a partial sort per query). The project's index is what ``videos.search``
builds by default: exact (``IndexFlatIP``) below 200,000 frames, an inverted file above.

Run: ``python benchmarks/bench_search_index.py`` (about 2 minutes and 1.5 GB on 2 cores).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from carl_pipeline.search import FrameIndex, normalised

DIM = 128


def library(frames: int, rng: np.random.Generator, states: int = 400, frames_per_video: int = 250) -> np.ndarray:
    """``(frames, DIM)`` unit vectors: each video walks from one action state to the next."""
    centres = rng.normal(size=(states, DIM)).astype(np.float32)
    videos = -(-frames // frames_per_video)
    start, end = centres[rng.integers(states, size=videos)], centres[rng.integers(states, size=videos)]
    t = np.linspace(0, 1, frames_per_video, dtype=np.float32)[None, :, None]
    walk = start[:, None] * (1 - t) + end[:, None] * t
    walk += 0.35 * rng.normal(size=walk.shape).astype(np.float32)
    return normalised(walk.reshape(-1, DIM)[:frames])


def brute_force(vectors: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    scores = vectors @ query
    top = np.argpartition(-scores, k)[:k]
    return top[np.argsort(-scores[top])]


def measure(frames: int, queries: int, nprobes: list[int], seed: int = 0) -> list[dict]:
    """One row per ``nprobe`` (one row for an exact index), the index built once."""
    rng = np.random.default_rng(seed)
    vectors = library(frames, rng)
    asked = library(queries * 250, np.random.default_rng(seed + 1))[::250][:queries]
    started = time.perf_counter()
    index = FrameIndex.build(vectors, np.zeros(frames, dtype=object), np.arange(frames))
    build = time.perf_counter() - started
    brute_times, exact = [], []
    for query in asked:
        started = time.perf_counter()
        exact.append(brute_force(vectors, query, 5))
        brute_times.append(time.perf_counter() - started)
    rows_out = []
    for nprobe in (nprobes if index.kind != "flat" else [0]):
        if nprobe:
            index.index.nprobe = nprobe
        index_times, recalls = [], []
        for query, truth in zip(asked, exact):
            started = time.perf_counter()
            _, rows = index.search(query[None], 5)
            index_times.append(time.perf_counter() - started)
            recalls.append(len(set(rows[0]) & set(truth)) / 5)
        rows_out.append({"frames": frames, "kind": index.kind + (f", nprobe {nprobe}" if nprobe else ""),
                         "build_s": build, "index_ms": 1000 * statistics.median(index_times),
                         "brute_ms": 1000 * statistics.median(brute_times), "recall@5": float(np.mean(recalls))})
    return rows_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--nprobes", type=int, nargs="+", default=[32, 64, 128],
                        help="IVF cells searched per query, each measured (64: videos.search.nprobe's default)")
    args = parser.parse_args()
    print("| frames | project index | build s | project ms/query | brute force ms/query | speed-up | recall@5 |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for frames in args.sizes:
        for r in measure(frames, args.queries, args.nprobes):
            print(f"| {r['frames']:,} | {r['kind']} | {r['build_s']:.1f} | {r['index_ms']:.3f} | {r['brute_ms']:.2f} | "
                  f"{r['brute_ms'] / r['index_ms']:.1f}x | {r['recall@5']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
