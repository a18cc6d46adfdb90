"""Online progress: how far through the action each frame is, estimated causally, frame by frame.

GTCC's estimate (Donahue & Elhamifar, CVPR 2024, Sec. 4; the GTCC repository's
``utils/evaluation.py`` ``OnlineGeoProgressError`` with ``utils/tensorops.py``): a video's
progress at frame ``t`` is the length of its embedding's path so far,
``sum_{s <= t} |e_s - e_(s-1)|``, divided by the mean total path length of the training videos;
the error is the mean over frames of ``|true - estimate|``, averaged over the validation videos
(lower is better). The true progress (``true_progress``) gives each labelled run of frames (a
step) an equal share, rising linearly through it; unlabelled frames (background) hold it.

A score means little alone: a third-party reproduction of GTCC found a constant 0.5 nearly
matches the learned estimate. So the two trivial estimates are scored beside it on the same
frames (``progress_baselines``): the constant 0.5, and relative time computed online, ``t``
divided by the training videos' mean length (the same normalisation as the path's, with frames
for distance).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: The protocol's metrics where lower is better (every other is higher-is-better).
LOWER_IS_BETTER = frozenset({"online_progress_error"})


def oriented(metric: str, value: float) -> float:
    """``value`` with the sign that makes larger better: negated for ``LOWER_IS_BETTER``
    metrics. The one rule every ranking of scores goes through (best row, beats a reference,
    a table's shading)."""
    return -value if metric in LOWER_IS_BETTER else value


def true_progress(labels: np.ndarray) -> np.ndarray:
    """``(T,)`` labels -> ``(T,)`` progress in [0, 1]: each run of one label >= 0 (a step) takes
    ``1 / steps`` of the progress, linearly from its first frame to its last (the repository's
    ``get_trueprogress``: ``linspace(previous, previous + share, run length)``); a run of
    unlabelled frames (< 0) holds the progress before it (0 at the start)."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        return np.zeros(0)
    bounds = [0, *(np.flatnonzero(np.diff(labels)) + 1), len(labels)]
    runs = [(bounds[k], bounds[k + 1]) for k in range(len(bounds) - 1)]
    steps = sum(1 for start, _ in runs if labels[start] >= 0)
    progress = np.zeros(len(labels))
    done = 0.0
    for start, end in runs:
        if labels[start] >= 0:
            progress[start:end] = np.linspace(done, done + 1 / steps, end - start)
            done += 1 / steps
        else:
            progress[start:end] = progress[start - 1] if start else 0.0
    return progress


def path_length(embeddings: np.ndarray) -> np.ndarray:
    """``(T, D)`` -> ``(T,)``: the embedding path's length up to each frame (0 at the first)."""
    steps = np.linalg.norm(np.diff(np.asarray(embeddings, dtype=np.float64), axis=0), axis=1)
    return np.concatenate([[0.0], np.cumsum(steps)])


def _mean_error(estimates: Sequence[np.ndarray], labels: Sequence[np.ndarray]) -> float:
    errors = [np.mean(np.abs(true_progress(y) - e)) for e, y in zip(estimates, labels, strict=True) if len(y)]
    return float(np.mean(errors)) if errors else float("nan")


def online_progress_error(train_embeddings: Sequence[np.ndarray], val_embeddings: Sequence[np.ndarray],
                          val_labels: Sequence[np.ndarray]) -> float:
    """GTCC's online geodesic progress error (module docstring); NaN without a training path.

    Args:
        train_embeddings: per training video ``(T_i, D)``: the normaliser, their mean path length.
        val_embeddings, val_labels: per validation video ``(T_j, D)`` and ``(T_j,)``. A video whose
            path has no length is left out (as the repository does).
    """
    totals = [path_length(x)[-1] for x in train_embeddings if len(x)]
    scale = float(np.mean(totals)) if totals else 0.0
    if not scale > 0:
        return float("nan")
    paths = [(path_length(x), y) for x, y in zip(val_embeddings, val_labels, strict=True) if len(x)]
    kept = [(path / scale, y) for path, y in paths if path[-1] > 0]
    return _mean_error([e for e, _ in kept], [y for _, y in kept])


def progress_baselines(train_lengths: Sequence[int], val_labels: Sequence[np.ndarray]) -> dict[str, float]:
    """The trivial estimates' errors on the same validation frames: ``constant 0.5`` and
    ``relative time`` (frame ``t`` / the training videos' mean length less one, online)."""
    scale = float(np.mean([n - 1 for n in train_lengths])) if len(train_lengths) else 0.0
    relative = [np.arange(len(y)) / scale for y in val_labels] if scale > 0 else None
    return {"constant 0.5": _mean_error([np.full(len(y), 0.5) for y in val_labels], val_labels),
            "relative time": _mean_error(relative, val_labels) if relative is not None else float("nan")}
