"""The whole evaluation protocol on an embeddings table: the metrics dict of one encoder."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from carl_pipeline.checks import check_choice
from carl_pipeline.compat import TRAINED_BEFORE
from carl_pipeline.embedding.table import per_video
from carl_pipeline.evaluation.alignment import (
    alignment_pair_counts,
    kendalls_tau,
    kendalls_tau_ceiling,
    retrieval_ap,
)
from carl_pipeline.evaluation.finegym import finegym_accuracy
from carl_pipeline.evaluation.phases import CLASSIFIERS, phase_classification, phase_progression
from carl_pipeline.evaluation.progress import online_progress_error, progress_baselines

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalConfig:
    """What to score and how (defaults: the paper's, Pouring)."""

    task: str = "phases"  # "phases" (Pouring, Penn Action) or "finegym"
    label: str = "phase"
    train_split: str = "train"
    val_split: str = "val"
    fractions: tuple[float, ...] = (0.1, 0.5, 1.0)
    # logistic_multinomial (CARL's released fit), logistic (scikit-learn's default fit: binary for
    # two phases) or svm (TCC's); see phase_classification
    classifier: str = "logistic_multinomial"
    # Which training videos are the first 10% / 50%: video_id (sorted by id) or dataset (the
    # order the released code reads the dataset in: the index's dataset_order column)
    subset_order: str = "video_id"
    # Frames labelled -1: keep (left out of classification only) or drop (left out of every task
    # before it runs, as the released evaluate.py does)
    unlabelled_frames: str = "keep"
    stride: int = 5  # Kendall's tau and retrieval: 5 Pouring, 2 Penn Action
    distance: str = "sqeuclidean"
    ks: tuple[int, ...] = (5, 10, 15)
    per_action: bool = False  # Penn Action: score each action, then average
    # Only these actions' videos are scored (released Kinetics-400 run: baseball_pitch); None: all
    actions: tuple[str, ...] | None = None
    # FineGym: label columns and their class counts (null: the largest label seen + 1)
    finegym_labels: tuple[str, ...] = ("gym99", "gym288")
    num_classes: dict[str, int] | None = None
    # FineGym's linear probe, as released (evaluate_finegym.py, configs/*finegym*.yml)
    finegym_epochs: int = 100  # EVAL.CLASSIFICATION_EPOCHS
    finegym_videos_per_batch: int = 10  # batch_size = 10
    finegym_lr: float = 50.0  # EVAL.CLASSIFICATION_LR, on L2-normalised embeddings

    def __post_init__(self):
        check_choice("task", self.task, ("phases", "finegym"))
        check_choice("classifier", self.classifier, CLASSIFIERS)
        check_choice("subset_order", self.subset_order, ("video_id", "dataset"))
        check_choice("unlabelled_frames", self.unlabelled_frames, ("keep", "drop"))


def dataset_ordered(table: pd.DataFrame, ids: list[str], *arrays: list) -> tuple[list, ...]:
    """``ids`` and the per-video lists beside them, reordered by the table's ``dataset_order``
    (each video's position in the order the released code reads its split). Videos without one
    (the released Penn Action converter never writes some: see ``penn_action_dataset_order``)
    come last, by id, with a warning naming them.

    Raises:
        ValueError: the table has no ``dataset_order`` column.
    """
    if "dataset_order" not in table.columns:
        raise ValueError("subset_order 'dataset' needs the video index's dataset_order column, which this "
                         "embeddings table lacks: run the dataset's ingestion again, or use subset_order video_id")
    order = table.groupby("video_id", sort=False)["dataset_order"].first()
    missing = sorted(v for v in ids if pd.isna(order.get(v)))
    if missing:
        logger.warning("subset_order 'dataset': %d videos have no position in the released reading order and come "
                       "last: %s", len(missing), ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else ""))
    def key(i):  # ordered videos by position, then the others by id
        position = order.get(ids[i])
        return (1, 0, ids[i]) if pd.isna(position) else (0, int(position), ids[i])

    permutation = sorted(range(len(ids)), key=key)
    return tuple([values[i] for i in permutation] for values in (ids, *arrays))


def labelled_only(embeddings: list[np.ndarray], labels: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each video's frames without those labelled -1 (released ``get_embeddings_dataset``:
    ``embs[frame_label >= 0]`` before any task)."""
    return [x[y >= 0] for x, y in zip(embeddings, labels, strict=True)], [y[y >= 0] for y in labels]


def _phase_metrics(table: pd.DataFrame, config: EvalConfig, action: str | None) -> dict[str, float]:
    train_ids, train_x, train_y = per_video(table, config.label, config.train_split, action)
    _, val_x, val_y = per_video(table, config.label, config.val_split, action)
    if not train_x or not val_x:
        raise ValueError(f"action {action!r}: needs videos in both '{config.train_split}' and '{config.val_split}'")
    if config.subset_order == "dataset":
        train_ids, train_x, train_y = dataset_ordered(table, train_ids, train_x, train_y)
    if config.unlabelled_frames == "drop":
        train_x, train_y = labelled_only(train_x, train_y)
        val_x, val_y = labelled_only(val_x, val_y)
    metrics = {f"classification@{f}": acc for f, acc in
               phase_classification(train_x, train_y, val_x, val_y, config.fractions, config.classifier).items()}
    # (videos left without a frame count in the classification subsets, as released, and nowhere else)
    train_x, train_y = [x for x in train_x if len(x)], [y for y in train_y if len(y)]
    val_x, val_y = [x for x in val_x if len(x)], [y for y in val_y if len(y)]
    num_phases = int(max(np.max(y) for y in train_y + val_y)) + 1
    metrics["progression"] = phase_progression(train_x, train_y, val_x, val_y, num_phases) if num_phases > 1 else float("nan")
    metrics["kendalls_tau"] = kendalls_tau(val_x, config.stride, config.distance) if len(val_x) > 1 else float("nan")
    for k in config.ks:
        metrics[f"ap@{k}"] = retrieval_ap(val_x, val_y, k, config.stride, config.distance) if len(val_x) > 1 else float("nan")
    metrics["online_progress_error"] = online_progress_error(train_x, val_x, val_y)  # lower is better
    return metrics


def phase_coordinates(labels: np.ndarray) -> np.ndarray:
    """Per-frame phase labels ``(T,)`` -> ``(T, 1)``: the phase plus the frame's linear progress
    through its run of that phase, ``label + (k + 0.5) / run_length``. As an embedding, it aligns
    two videos by their labels: a frame's nearest neighbour is the frame at the same progress
    through the same phase, what a perfect phase-aware encoder would find."""
    labels = np.asarray(labels)
    out = np.empty(len(labels), dtype=np.float64)
    start = 0
    for end in [*np.flatnonzero(np.diff(labels)) + 1, len(labels)]:
        out[start:end] = labels[start] + (np.arange(end - start) + 0.5) / (end - start)
        start = end
    return out[:, None]


def _validation_videos(table: pd.DataFrame, config: EvalConfig):
    """Per action (one group without ``per_action``) with at least two validation videos, those
    videos' embeddings and labels: what an alignment between validation videos compares."""
    if config.actions is not None:
        table = only_actions(table, config.actions)
    for action in sorted(table["action"].dropna().unique()) if config.per_action else [None]:
        _, val_x, val_y = per_video(table, config.label, config.val_split, action)
        if len(val_x) > 1:
            yield val_x, val_y


def label_alignment_tau(table: pd.DataFrame, config: EvalConfig) -> float:
    """Kendall's tau (as ``kendalls_tau``, same stride, mean over actions with ``per_action``) of
    the validation videos aligned by their labels alone (``phase_coordinates``).

    A reference for reading ``kendalls_tau``: tau rewards a match order that rises steadily, and
    counts two query frames matched to the same frame as a tie, so when phases last longer in one
    video than in another even the perfect alignment loses points, while an embedding of the
    frame's relative time alone (an untrained transformer's position encoding) maps frames
    linearly and loses fewer. On the demo's Pouring videos the labels score 0.97 and relative
    time 0.99 (experiments/LOG.md).
    """
    taus = [kendalls_tau([phase_coordinates(y) for y in val_y], config.stride, "sqeuclidean")
            for _, val_y in _validation_videos(table, config)]
    return float(np.nanmean(taus)) if taus else float("nan")


def tau_ceiling(table: pd.DataFrame, config: EvalConfig) -> float:
    """The highest Kendall's tau any encoder can score on the table's validation videos (as
    ``kendalls_tau``: same stride, mean over actions with ``per_action``): it depends on their
    lengths only (``kendalls_tau_ceiling``), and matching by relative time reaches it."""
    ceilings = [kendalls_tau_ceiling([len(x) for x in val_x], config.stride)
                for val_x, _ in _validation_videos(table, config)]
    return float(np.nanmean(ceilings)) if ceilings else float("nan")


def progress_reference(table: pd.DataFrame, config: EvalConfig) -> dict[str, float]:
    """What the trivial online-progress estimates score (``progress_baselines``: the constant
    0.5 and relative time) on the frames ``online_progress_error`` scores (the same videos and,
    with ``unlabelled_frames: drop``, frames; mean over actions with ``per_action``): the
    column's reference, since a constant nearly matches learned estimates."""
    if config.actions is not None:
        table = only_actions(table, config.actions)
    rows = []
    for action in sorted(table["action"].dropna().unique()) if config.per_action else [None]:
        _, train_x, train_y = per_video(table, config.label, config.train_split, action)
        _, val_x, val_y = per_video(table, config.label, config.val_split, action)
        if config.unlabelled_frames == "drop":
            train_x, train_y = labelled_only(train_x, train_y)
            val_x, val_y = labelled_only(val_x, val_y)
        rows.append(progress_baselines([len(x) for x in train_x if len(x)], [y for y in val_y if len(y)]))
    return {key: float(np.nanmean([row[key] for row in rows])) for key in rows[0]} if rows else {}


def alignment_breakdown(table: pd.DataFrame, config: EvalConfig, by_labels: bool = False) -> dict[str, float]:
    """Kendall's tau's pairs of query frames split into ``concordant``, ``discordant`` (matched
    out of order: alignment errors) and ``tied`` (matched to one frame), over the validation
    videos (``alignment_pair_counts``; the mean over actions with ``per_action``). With
    ``by_labels`` the videos are aligned by their labels (``phase_coordinates``) instead of the
    table's embeddings: the ties a correct alignment cannot avoid."""
    parts = []
    for val_x, val_y in _validation_videos(table, config):
        videos = [phase_coordinates(y) for y in val_y] if by_labels else val_x
        parts.append(alignment_pair_counts(videos, config.stride, "sqeuclidean" if by_labels else config.distance))
    keys = ("concordant", "discordant", "tied")
    return {k: float(np.mean([p[k] for p in parts])) if parts else float("nan") for k in keys}


#: The block of a metrics dict (``metrics.json``) holding the trained encoder's scores, whatever
#: algorithm trained it (``carl_pipeline.compat.TRAINED_BEFORE``: its name before 2026-12-02).
TRAINED = "trained"


def trained_scores(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The trained encoder's scores of a metrics dict, of this version (``trained``) or older (``carl``).

    Raises:
        KeyError: neither block is there (naming what is).
    """
    for key in (TRAINED, TRAINED_BEFORE):
        if key in metrics:
            return metrics[key]
    raise KeyError(f"no trained encoder's scores ('{TRAINED}') in these metrics; they hold {sorted(metrics)}")


def only_actions(table: pd.DataFrame, actions: tuple[str, ...]) -> pd.DataFrame:
    """The rows of ``actions``' videos.

    Raises:
        ValueError: an action has no video in the table (naming it and the actions there are).
    """
    present = set(table["action"].dropna().unique()) if "action" in table.columns else set()
    missing = sorted(set(actions) - present)
    if missing:
        raise ValueError(f"protocol.actions names {missing}, which have no videos here; the actions are "
                         f"{sorted(present)}")
    return table[table["action"].isin(actions)]


def finegym_subset_size(fraction: float, num_videos: int, videos_per_batch: int = 10, processes: int = 1) -> int:
    """How many of the ``num_videos`` training videos the probe at ``fraction`` trains on, as
    released ``evaluate_finegym.py``: ``max(NUM_GPUS x batch_size, int(fraction x N))`` (at most N).
    The project's probe runs in one process (``processes`` 1)."""
    return min(num_videos, max(processes * videos_per_batch, int(fraction * num_videos)))


def _finegym_metrics(table: pd.DataFrame, config: EvalConfig, device: str = "cpu") -> dict[str, float]:
    """``<label>_accuracy`` (the probe on every training video) and ``<label>_accuracy@<fraction>``
    for each other fraction: the probe on the first ``finegym_subset_size`` training videos in
    ``subset_order`` (as released: ``train_files[:num_train]``). Equal subsets are probed once."""
    metrics = {}
    for label in config.finegym_labels:
        train_ids, train_x, train_y = per_video(table, label, config.train_split)
        _, val_x, val_y = per_video(table, label, config.val_split)
        if config.subset_order == "dataset" and "dataset_order" in table.columns and table["dataset_order"].notna().any():
            train_ids, train_x, train_y = dataset_ordered(table, train_ids, train_x, train_y)
        else:  # by id (FineGym's released reading order is not known here: docs/FIDELITY.md)
            order = sorted(range(len(train_ids)), key=train_ids.__getitem__)
            train_ids, train_x, train_y = ([values[i] for i in order] for values in (train_ids, train_x, train_y))
        classes = (config.num_classes or {}).get(label) or int(table[label].max()) + 1
        by_size: dict[int, float] = {}
        for fraction in sorted(set(config.fractions) | {1.0}):  # @0.1, @0.5, then every video
            size = finegym_subset_size(fraction, len(train_x), config.finegym_videos_per_batch)
            if size not in by_size:
                by_size[size] = finegym_accuracy(
                    train_x[:size], train_y[:size], val_x, val_y, classes, epochs=config.finegym_epochs,
                    videos_per_batch=config.finegym_videos_per_batch, lr=config.finegym_lr, device=device)
            metrics[f"{label}_accuracy" if fraction == 1.0 else f"{label}_accuracy@{fraction:g}"] = by_size[size]
    return metrics


def evaluate_table(table: pd.DataFrame, config: EvalConfig, device: str = "cpu") -> dict[str, float]:
    """Every metric of the protocol for one encoder's embeddings table (FineGym's linear probe
    trains on ``device``, the evaluation's; the other tasks' fits are scikit-learn's, on the CPU).

    Returns:
        ``classification@<fraction>``, ``progression``, ``kendalls_tau``, ``ap@<k>``,
        ``online_progress_error`` (phases, the last lower-is-better; the mean over actions with
        ``per_action``), or, for each FineGym label, ``<label>_accuracy``
        and ``<label>_accuracy@<fraction>`` for the other ``fractions`` (``_finegym_metrics``).
    """
    if config.actions is not None:
        table = only_actions(table, config.actions)
    if config.task == "finegym":
        return _finegym_metrics(table, config, device)
    if not config.per_action:
        return _phase_metrics(table, config, None)
    per_action = {}
    for action in sorted(table["action"].dropna().unique()):
        per_action[action] = _phase_metrics(table, config, action)
    keys = next(iter(per_action.values())).keys()
    return {key: float(np.nanmean([m[key] for m in per_action.values()])) for key in keys}
