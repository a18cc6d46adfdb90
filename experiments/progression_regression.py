"""Is a progression score the encoder's, or the regression's? (issue 9, Penn Action)

The progression score (as released) fits an unregularised linear regression per action from the
embedding to the signed distances to the phase boundaries on the training videos, and reports R^2
on the validation videos. This refits it on an evaluation's embedding tables
(``data/07_model_output/<dataset>/embeddings.parquet`` and ``embeddings_untrained.parquet``, written
by ``kedro run --pipelines=<dataset>``) in ways the protocol does not, to see whether the score
measures the embedding or the size of the regression's training set: R^2 on the training frames,
on fewer training videos, with ridge instead of least squares, and with validation videos added
to the fit (cross-validated over ``--folds`` folds of the validation videos, scored on the
held-out ones). A diagnostic only: the protocol's number is ``metrics.json``'s.

Run: ``python experiments/progression_regression.py --dataset penn_action``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge

from carl_pipeline.evaluation.phases import phase_progression
from carl_pipeline.evaluation.protocol import per_video

ROOT = Path(__file__).resolve().parents[1]


def diagnose(table: pd.DataFrame, folds: int = 3, extra: tuple[int, ...] = (4, 8)) -> dict[str, float]:
    """The refits above for one embedding table, averaged over actions (each action alone)."""
    actions = sorted(table["action"].dropna().unique()) if "action" in table else []
    actions = actions or [None]  # one action (Pouring): score all videos together
    per_action = []
    for action in actions:
        _, train_x, train_y = per_video(table, "phase", "train", action)
        _, val_x, val_y = per_video(table, "phase", "val", action)
        phases = int(max(y.max() for y in train_y + val_y)) + 1
        row = {
            "train frames": phase_progression(train_x, train_y, train_x, train_y, phases),
            "protocol": phase_progression(train_x, train_y, val_x, val_y, phases),
            "ridge 1": phase_progression(train_x, train_y, val_x, val_y, phases, regressor=lambda: Ridge(1.0)),
        }
        for n in (2, 4):
            row[f"first {n} training videos"] = phase_progression(train_x[:n], train_y[:n], val_x, val_y, phases)
        for k in (0, *extra):
            scores = []
            for fold in range(folds):
                held = [i for i in range(len(val_x)) if i % folds == fold]
                added = [i for i in range(len(val_x)) if i % folds != fold][:k]
                scores.append(phase_progression(train_x + [val_x[i] for i in added], train_y + [val_y[i] for i in added],
                                                [val_x[i] for i in held], [val_y[i] for i in held], phases))
            row[f"+{k} validation videos (folds)"] = float(np.mean(scores))
        per_action.append(row)
    return {key: float(np.mean([row[key] for row in per_action])) for key in per_action[0]}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="penn_action")
    parser.add_argument("--folds", type=int, default=3)
    args = parser.parse_args(argv)
    folder = ROOT / "data/07_model_output" / args.dataset
    results = {which: diagnose(pd.read_parquet(folder / f"{which}.parquet"), args.folds)
               for which in ("embeddings", "embeddings_untrained")}
    print(f"{'R^2 of the progression regression':<36} {'trained':>8} {'untrained':>10}")
    for key in results["embeddings"]:
        print(f"{key:<36} {results['embeddings'][key]:>8.3f} {results['embeddings_untrained'][key]:>10.3f}")


if __name__ == "__main__":
    main()
