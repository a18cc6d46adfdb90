"""A dataset's evaluation report (``metrics.json``): the trained and the untrained encoder scored
by one protocol, beside the references a score is read against (the labels' own alignment, the
most any alignment can score, the trivial progress estimates, the raw pixels), and what was scored.

Not imported by ``carl_pipeline.evaluation`` itself: it reads checkpoints and frame packs, which
scoring a table made elsewhere does not need.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from carl_pipeline.devices import resolve_device
from carl_pipeline.embedding import embeddings_table
from carl_pipeline.embedding.pixels import pixel_embeddings
from carl_pipeline.evaluation.progress import oriented
from carl_pipeline.evaluation.protocol import (
    EvalConfig,
    alignment_breakdown,
    evaluate_table,
    label_alignment_tau,
    progress_reference,
    tau_ceiling,
    trained_scores,
)
from carl_pipeline.record import Checkpoint, read_checkpoint
from carl_pipeline.video.frame_store import FrameStore

logger = logging.getLogger(__name__)


def beats(metric: str, value: float, reference: float) -> bool:
    """``value`` is better than ``reference`` on ``metric`` (lower is better for ``LOWER_IS_BETTER``)."""
    return oriented(metric, value) > oriented(metric, reference)


def pixel_reference_scores(checkpoint: Checkpoint | dict[str, Any], store: FrameStore, video_index: pd.DataFrame,
                           frame_labels: pd.DataFrame, settings) -> dict[str, float]:
    """The protocol's scores of the raw-pixel reference (``carl_pipeline.embedding.pixels``): the
    frames framed as ``checkpoint``'s encoder sees them, each a ``pixels_side`` px grey image.

    Args:
        settings: a dataset's ``evaluate`` block (``pixels_side``: None computes nothing and
            gives ``{}``; ``image_size``, ``framing``, ``progress``, ``protocol``).
    """
    if settings.pixels_side is None:
        return {}
    from carl_pipeline.embedding import input_settings

    image_size, framing = input_settings(checkpoint, settings.image_size, settings.framing)
    features = pixel_embeddings(store, video_index["video_id"].tolist(), image_size, framing, settings.pixels_side,
                                settings.progress)
    return evaluate_table(embeddings_table(features, video_index, frame_labels), settings.protocol)


def encoder_scores(table: pd.DataFrame, protocol: EvalConfig, device: str = "auto") -> dict[str, Any]:
    """One encoder's part of the report, from its table alone: ``{"scores": the protocol's
    metrics, "alignment": alignment_breakdown}`` (phase tasks). Scoring the untrained encoder
    on its own lets the evaluation hold one encoder's table at a time (FineGym at its real size:
    gigabytes each)."""
    out: dict[str, Any] = {"scores": evaluate_table(table, protocol, str(resolve_device(device)))}
    if protocol.task == "phases":
        out["alignment"] = alignment_breakdown(table, protocol)
    return out


def evaluation_report(embeddings: pd.DataFrame, embeddings_untrained: pd.DataFrame | dict[str, Any],
                      checkpoint: Checkpoint | dict[str, Any], protocol: EvalConfig, *, precision: str = "auto",
                      device: str = "auto", pixel_scores: dict[str, float] | None = None) -> dict[str, Any]:
    """Score the trained and the untrained encoder with the same protocol.

    Args:
        embeddings: the trained encoder's embeddings table.
        embeddings_untrained: the untrained encoder's table of the same frames, or its
            ``encoder_scores`` (so that only one table is held at a time).
        checkpoint: the trained model (what the report says was scored).
        protocol: the dataset's evaluation protocol.
        precision, device: how the frames were embedded (recorded as ``model.embedding_dtype``).
        pixel_scores: the raw-pixel reference's scores on the same frames (``pixel_reference_scores``).

    Returns:
        ``{"trained": {metric: value}, "untrained": {metric: value}, "model": {...}}`` with metric
        names such as ``classification@0.1``, ``progression``, ``kendalls_tau``, ``ap@5`` or
        ``gym99_accuracy``; phase tasks add ``"labels": {"kendalls_tau": ...}``, the tau of
        aligning the validation videos by their labels (``label_alignment_tau``), to read
        ``kendalls_tau`` against, ``"ceiling": {"kendalls_tau": ...}``, the most any alignment of
        videos of those lengths can score (``tau_ceiling``; matching by relative time reaches it),
        ``"progress"``: the constant 0.5's and relative time's ``online_progress_error`` on the
        same frames (``progress_reference``), ``"pixels"``: the raw-pixel reference's scores, and
        ``"alignment"``: for the trained, the untrained and the labels' alignment, the fractions of
        tau's frame pairs matched in order, out of order (errors) and onto one frame (ties), which
        tau-b counts against an alignment too.
    """
    from carl_pipeline.embedding import dtype_name, embedding_dtype

    where = resolve_device(device)
    if isinstance(embeddings_untrained, pd.DataFrame):
        embeddings_untrained = encoder_scores(embeddings_untrained, protocol, str(where))
    untrained = embeddings_untrained["scores"]
    trained = evaluate_table(embeddings, protocol, str(where))
    better = sum(beats(k, trained[k], untrained[k]) for k in trained)
    logger.info("trained encoder beats the untrained one on %d of %d metrics", better, len(trained))
    model = read_checkpoint(checkpoint)
    reference: dict[str, Any] = {}
    if protocol.task == "phases":
        reference = {
            "labels": {"kendalls_tau": label_alignment_tau(embeddings, protocol)},
            "ceiling": {"kendalls_tau": tau_ceiling(embeddings, protocol)},
            # the trivial online-progress estimates on the same frames (a constant nearly matches learned ones)
            "progress": progress_reference(embeddings, protocol),
            "alignment": {"trained": alignment_breakdown(embeddings, protocol),
                          "untrained": embeddings_untrained["alignment"],
                          "labels": alignment_breakdown(embeddings, protocol, by_labels=True)},
        }
    if pixel_scores:
        reference["pixels"] = dict(pixel_scores)
        below = [k for k in trained if k in pixel_scores and not beats(k, trained[k], pixel_scores[k])]
        if below:
            logger.warning("the trained encoder is no better than the raw pixels on %s", ", ".join(below))
    return {
        "trained": trained, "untrained": untrained, **reference,
        "model": {"algorithm": model.algorithm, "backbone": model.encoder["backbone"],
                  "backbone_weights": model.backbone_init or model.encoder.get("backbone_weights") or "random init",
                  "epochs": model.epoch, "final_loss": model.history[-1] if model.history else None,
                  # the training run that made these weights (none for a released checkpoint)
                  "run": model.run_record.name, "run_folder": model.run_record.folder,
                  # which weights were scored: an export refuses scores of other weights
                  "weights": model.weights_digest(),
                  # the dtype the frames were embedded in (autocast on CUDA; float32 on a CPU)
                  "embedding_dtype": dtype_name(embedding_dtype(precision, where))},
    }


def combine_taxonomy_metrics(**metrics_by_taxonomy: dict[str, Any]) -> dict[str, Any]:
    """FineGym's per-taxonomy reports in one: ``{"trained": {"gym99_accuracy": ..., "gym288_accuracy":
    ...}, "untrained": {...}, "model": {"gym99": {...}, "gym288": {...}}}`` (each taxonomy's
    encoder trained and scored on its own, as the released configs do).

    Args:
        metrics_by_taxonomy: each taxonomy's ``metrics`` dict, keyed by the taxonomy.
    """
    combined: dict[str, Any] = {"trained": {}, "untrained": {}, "model": {}}
    for taxonomy, metrics in sorted(metrics_by_taxonomy.items()):
        combined["trained"].update(trained_scores(metrics))
        combined["untrained"].update(metrics.get("untrained", {}))  # none for external embeddings
        if metrics.get("pixels"):
            combined.setdefault("pixels", {}).update(metrics["pixels"])
        combined["model"][taxonomy] = metrics["model"]
    return combined


def score_external_embeddings(path: str, layout: str, method: str, video_index: pd.DataFrame,
                              frame_labels: pd.DataFrame, protocol: EvalConfig
                              ) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """Score frame embeddings made elsewhere with a dataset's protocol.

    Args:
        path, layout: where the embeddings are and in which layout (``carl_pipeline.embedding.external``).
        method: what made them, named in the report.
        video_index, frame_labels: the dataset's (ingested) index and labels, which are scored.
        protocol: the dataset's evaluation protocol.

    Returns:
        The embeddings as an embeddings table, the join report (entries scored, unmatched, of
        the wrong length, unreadable, labels disagreeing) and the metrics: ``trained`` holds the
        scores of the embeddings (the block every report and comparison reads), ``model`` says
        what made them, ``join`` how many entries were scored and left out.

    Raises:
        ValueError: ``path`` is None, or no entry matched a video of the training or the
            validation split (naming the path).
    """
    from carl_pipeline.embedding import join_to_dataset, read_external_embeddings

    if path is None:
        raise ValueError("external.path is null: set <dataset>.external.path to the folder or table to score "
                         "(kedro run --pipelines=evaluate_embeddings_<dataset> --params=<dataset>.external.path=...)")
    found = read_external_embeddings(path, layout)
    labels = tuple(protocol.finegym_labels) if protocol.task == "finegym" else (protocol.label,)
    table, report = join_to_dataset(found, video_index, frame_labels, labels)
    for problem in ("unmatched", "wrong_length", "unreadable"):
        if report[problem]:
            names = [entry.get("name") or entry.get("file") for entry in report[problem]]
            logger.warning("%d external entries %s, left out: %s", len(names), problem.replace("_", " "),
                           ", ".join(map(str, names[:10])))
    for split in (protocol.train_split, protocol.val_split):
        if not (table["split"] == split).any():
            raise ValueError(f"{path}: no entry matched a {split} video, so the protocol cannot score them "
                             f"(scored: {len(report['scored'])}, see the join report)")
    scores = evaluate_table(table, protocol)
    logger.info("external embeddings (%s): %s", method, {k: round(v, 4) for k, v in scores.items()})
    metrics = {"trained": scores, "model": {"algorithm": method, "source": str(path), "run": None},
               "join": {k: len(v) for k, v in report.items() if k != "not_embedded"}}
    return table, report, metrics


def plot_label(protocol: EvalConfig) -> str:
    """The label column a dataset's pictures colour by: FineGym's first taxonomy, else the protocol's label."""
    return protocol.finegym_labels[0] if protocol.task == "finegym" else protocol.label
