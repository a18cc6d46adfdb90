"""FineGym at its real size: the embeddings table's write, read and linear probe, time and peak memory.

FineGym's real evaluation embeds about 5,000 events of about 1,000 frames (5 x 10^6 frames) into
128-d embeddings. This simulates that on this CPU with random embeddings of the real shape (events
of 1,000 frames, a Gym99 and a Gym288 label per frame, 80% of the events for training), at 10^5,
10^6 and 5 x 10^6 frames, in two layouts:

* ``arrow`` (the project's): ``embedding.embeddings_table`` with its fixed-size float32 Arrow
  column, written and read by the catalog's ``EmbeddingsParquetDataset``, per-video views by
  ``embedding.per_video`` (one matrix, sliced);
* ``objects`` (the project's code before it, transcribed here): the ``embedding`` column a list of
  one float32 array per frame, written and read by ``AtomicParquetDataset`` (pandas'
  ``read_parquet``: one array object per frame), per-video views stacked video by video.

Each stage runs in a fresh process, so that its peak resident memory (``ru_maxrss``) is its own:
``write`` (build the table from per-event arrays and save it), ``read`` (load it and cut the
training and validation videos' matrices), ``probe`` (read, then FineGym's linear probe on Gym99 as
``evaluation.finegym`` trains it, ``--probe-epochs`` epochs of the released 100: the time per epoch
is printed, and the peak, which does not grow with epochs). The objects layout runs up to
``--objects-max`` frames (at 10^6 it already holds gigabytes).

Run: ``python benchmarks/bench_embeddings_table.py`` (about 10 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

FRAMES_PER_EVENT = 1_000
DIM = 128


def _data(frames: int, seed: int = 0):
    """Per-event embeddings, the video index and the frame labels of ``frames`` frames."""
    rng = np.random.default_rng(seed)
    events = max(frames // FRAMES_PER_EVENT, 2)
    ids = [f"event_{i:05d}" for i in range(events)]
    index = pd.DataFrame({"video_id": ids, "split": ["train" if i % 5 else "val" for i in range(events)],
                          "action": "gym", "num_frames": FRAMES_PER_EVENT})
    gym99 = rng.integers(0, 99, size=events)
    labels = pd.DataFrame({"video_id": np.repeat(ids, FRAMES_PER_EVENT),
                           "frame_index": np.tile(np.arange(FRAMES_PER_EVENT), events),
                           "gym99": np.repeat(gym99, FRAMES_PER_EVENT),
                           "gym288": np.repeat(gym99 * 2 + rng.integers(0, 2, size=events), FRAMES_PER_EVENT)})
    embeddings = {v: rng.standard_normal((FRAMES_PER_EVENT, DIM), dtype=np.float32) for v in ids}
    return embeddings, index, labels


def _objects_table(embeddings, index, labels) -> pd.DataFrame:
    """The table as the project built it before: one float32 array object per frame."""
    table = labels.merge(index[["video_id", "split", "action"]], on="video_id")
    table["embedding"] = [row for v in index["video_id"] for row in embeddings[v]]
    return table


def _objects_per_video(table: pd.DataFrame, label: str, split: str):
    chosen = table[table["split"] == split]
    ids, xs, ys = [], [], []
    for video_id, rows in chosen.groupby("video_id", sort=False):
        rows = rows.sort_values("frame_index")
        ids.append(video_id)
        xs.append(np.stack(rows["embedding"].to_numpy()).astype(np.float32))
        ys.append(rows[label].to_numpy(dtype=np.int64))
    return ids, xs, ys


def _dataset(layout: str, path: Path):
    from carl_pipeline.datasets import AtomicParquetDataset, EmbeddingsParquetDataset

    return (EmbeddingsParquetDataset if layout == "arrow" else AtomicParquetDataset)(filepath=str(path))


def _stage(stage: str, layout: str, frames: int, path: Path, epochs: int) -> dict:
    """One stage in this process: seconds, and this process's peak resident MiB."""
    from carl_pipeline.embedding.table import embeddings_table, per_video
    from carl_pipeline.evaluation.finegym import finegym_accuracy

    result: dict = {}
    if stage == "write":
        embeddings, index, labels = _data(frames)
        start = time.perf_counter()
        table = (embeddings_table if layout == "arrow" else _objects_table)(embeddings, index, labels)
        del embeddings
        _dataset(layout, path).save(table)
        result["seconds"] = time.perf_counter() - start
    else:
        start = time.perf_counter()
        table = _dataset(layout, path).load()
        views = per_video if layout == "arrow" else _objects_per_video
        _, train_x, train_y = views(table, "gym99", "train")
        _, val_x, val_y = views(table, "gym99", "val")
        result["seconds"] = time.perf_counter() - start
        if stage == "probe":
            del table
            start = time.perf_counter()
            result["accuracy"] = finegym_accuracy(train_x, train_y, val_x, val_y, 99, epochs=epochs)
            result["seconds"] = (time.perf_counter() - start) / epochs
    result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 5_000_000])
    parser.add_argument("--objects-max", type=int, default=1_000_000)
    parser.add_argument("--probe-epochs", type=int, default=2)
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--layout", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:  # a child process: one stage
        print(json.dumps(_stage(args.stage, args.layout, args.sizes[0], Path(args.path), args.probe_epochs)))
        return
    print("| frames | layout | write (s) | write peak (MiB) | read (s) | read peak (MiB) | file (MiB) "
          "| probe (s per epoch) | probe peak (MiB) |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for frames in args.sizes:
        for layout in ("arrow", "objects"):
            if layout == "objects" and frames > args.objects_max:
                continue
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "embeddings.parquet"
                out = {}
                for stage in ("write", "read", "probe"):
                    done = subprocess.run([sys.executable, __file__, "--stage", stage, "--layout", layout, "--path",
                                           str(path), "--sizes", str(frames), "--probe-epochs", str(args.probe_epochs)],
                                          check=True, capture_output=True, text=True)
                    out[stage] = json.loads(done.stdout.strip().splitlines()[-1])
                size = path.stat().st_size / 2**20
            print(f"| {frames:,} | {layout} | {out['write']['seconds']:.1f} | {out['write']['peak_mib']:,.0f} "
                  f"| {out['read']['seconds']:.1f} | {out['read']['peak_mib']:,.0f} | {size:,.0f} "
                  f"| {out['probe']['seconds']:.1f} | {out['probe']['peak_mib']:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
