"""Label by example on the Pouring demo: phase labels of k = 1, 2 and 4 training videos carried
to the 20 validation videos, accuracy against their true labels.

Three ways to label each validation frame, from the same labelled videos:

* the trained encoder's embeddings (``carl_pipeline.labels.propagate``, DTW and NN);
* the untrained encoder's (same architecture, random weights): what training bought;
* relative time: the labelled videos' phase at the same fraction of the video (no embedding).

For each k the labelled videos are drawn as disjoint groups of the 16 training videos (16, 8
and 4 groups); the table gives the mean accuracy over the groups, and the worst group.

Needs the demo's embeddings: run ``kedro run`` first (data/07_model_output/pouring/).
Run: ``python benchmarks/bench_label_propagation.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from carl_pipeline.labels.propagate import propagation_scores

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "data/07_model_output/pouring")
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    trained = pd.read_parquet(args.output / "embeddings.parquet")
    untrained = pd.read_parquet(args.output / "embeddings_untrained.parquet")
    train = list(dict.fromkeys(trained.loc[trained["split"] == "train", "video_id"]))
    val = list(dict.fromkeys(trained.loc[trained["split"] == "val", "video_id"]))
    print(f"{len(train)} training videos, {len(val)} validation videos")
    print("| k labelled | method | trained encoder | untrained encoder | relative time |")
    print("|---:|---|---:|---:|---:|")
    for k in args.ks:
        groups = [train[i:i + k] for i in range(0, len(train) - k + 1, k)]
        for method in ("dtw", "nn"):
            ours = [propagation_scores(trained, "phase", g, val, method) for g in groups]
            theirs = [propagation_scores(untrained, "phase", g, val, method)["propagated"] for g in groups]
            mine = [s["propagated"] for s in ours]
            clock = [s["relative_time"] for s in ours]
            print(f"| {k} | {method} | {np.mean(mine):.3f} (worst {min(mine):.3f}) | "
                  f"{np.mean(theirs):.3f} (worst {min(theirs):.3f}) | {np.mean(clock):.3f} (worst {min(clock):.3f}) |",
                  flush=True)


if __name__ == "__main__":
    main()
