"""Evaluation nodes: embed every frame, score the trained and the untrained encoder, report."""

import logging
from typing import Any

import pandas as pd

from carl_pipeline.devices import resolve_device
from carl_pipeline.distributed import writes
from carl_pipeline.embedding import (
    dtype_name,
    embedding_dtype,
    embeddings_table,
    extract_embeddings,
    input_settings,
    join_to_dataset,
    read_external_embeddings,
    untrained_checkpoint,
)
from carl_pipeline.embedding.pixels import pixel_embeddings
from carl_pipeline.evaluation import (
    alignment_breakdown,
    evaluate_table,
    label_alignment_tau,
    oriented,
    progress_reference,
    tau_ceiling,
    trained_scores,
)
from carl_pipeline.params import EvaluateParams, ExternalEmbeddingsParams, VideosReportParams
from carl_pipeline.record import (
    Checkpoint,
    RunDir,
    load_encoder,
    open_checkpoint,
    read_checkpoint,
    run_folder,
)
from carl_pipeline.reporting import (
    alignment_frames,
    metrics_figure,
    pick_pair,
    projection_figure,
    retrieval_frames,
    similarity_figure,
)
from carl_pipeline.reporting.tensorboard import log_evaluation
from carl_pipeline.training.tensorboard_log import summary_writer
from carl_pipeline.video.frame_store import FrameStore

logger = logging.getLogger(__name__)


def import_released_checkpoint(params: EvaluateParams) -> Checkpoint:
    """The model at ``params.checkpoint``, scored as it is: a checkpoint released by CARL's
    authors (converted into this project's checkpoint), or any model ``videos.model`` takes (a
    ``carl.pt``, a run folder, an exported model: e.g. the project's own Kinetics-400
    pre-training, scored on Penn Action as the released K400 run is).

    Raises:
        ValueError: ``checkpoint`` is not set.
        ModelSourceError: the path holds no model this project reads (names the file).
    """
    if not params.checkpoint:
        raise ValueError("evaluate.checkpoint is not set: point it at a released CARL checkpoint, e.g. "
                         "--params=\"pouring.evaluate.checkpoint=data/paper/06_models/released/pouring.pth\"")
    checkpoint = open_checkpoint(params.checkpoint, train_length=params.checkpoint_train_length)
    logger.info("model %s: %s", params.checkpoint, checkpoint.encoder)
    return checkpoint


def make_untrained_model(model: Checkpoint, params: EvaluateParams) -> Checkpoint:
    """The trained model's architecture with random weights: the reference every score is
    compared with.

    Args:
        model: the trained checkpoint.
        params: ``untrained_seed`` seeds the initialisation.
    """
    return untrained_checkpoint(model, params.untrained_seed)


def embed_frames(model: dict[str, Any], frame_store: FrameStore, video_index: pd.DataFrame,
                 frame_labels: pd.DataFrame, params: EvaluateParams) -> pd.DataFrame:
    """Embed every frame of every video with the frozen encoder (no projection head).

    Returns:
        One row per frame: ``video_id``, ``split``, ``action``, ``frame_index``, the label
        columns and ``embedding`` (float32 array of the embedding size).
    """
    return embeddings_of(model, frame_store, video_index, frame_labels, params)


def embeddings_of(model, frame_store: FrameStore, video_index: pd.DataFrame, frame_labels: pd.DataFrame,
                  params: EvaluateParams | VideosReportParams) -> pd.DataFrame:
    """Every frame of every video embedded with ``model`` (frozen, no projection head), one row
    per frame: what ``embed_frames`` and the own-videos pipeline's ``embed_own_videos`` return."""
    image_size, framing = input_settings(model, params.image_size, params.framing)
    embeddings = extract_embeddings(load_encoder(model), frame_store, video_index["video_id"].tolist(), image_size,
                                    device=params.device, progress=params.progress, framing=framing,
                                    precision=params.precision)
    return embeddings_table(embeddings, video_index, frame_labels)


def score_pixel_reference(model: dict[str, Any], frame_store: FrameStore, video_index: pd.DataFrame,
                          frame_labels: pd.DataFrame, params: EvaluateParams) -> dict[str, float]:
    """The protocol's scores of the raw-pixel reference (``carl_pipeline.embedding.pixels``): the
    frames framed as ``model`` sees them, each a ``pixels_side`` px grey image. ``{}`` when
    ``pixels_side`` is null."""
    if params.pixels_side is None:
        return {}
    image_size, framing = input_settings(model, params.image_size, params.framing)
    features = pixel_embeddings(frame_store, video_index["video_id"].tolist(), image_size, framing,
                                params.pixels_side, params.progress)
    return evaluate_table(embeddings_table(features, video_index, frame_labels), params.protocol)


def _better(metric: str, value: float, reference: float) -> bool:
    """``value`` beats ``reference`` on ``metric`` (lower is better for ``LOWER_IS_BETTER``)."""
    return oriented(metric, value) > oriented(metric, reference)


def evaluate_encoders(embeddings: pd.DataFrame, embeddings_untrained: pd.DataFrame, model: dict[str, Any],
                      params: EvaluateParams, pixel_scores: dict[str, float] | None = None) -> dict[str, Any]:
    """Score the trained and the untrained encoder with the same protocol.

    Returns:
        ``{"trained": {metric: value}, "untrained": {metric: value}, "model": {...}}`` with metric
        names such as ``classification@0.1``, ``progression``, ``kendalls_tau``, ``ap@5`` or
        ``gym99_accuracy``; phase tasks add ``"labels": {"kendalls_tau": ...}``, the tau of
        aligning the validation videos by their labels (``label_alignment_tau``), to read
        ``kendalls_tau`` against, ``"ceiling": {"kendalls_tau": ...}``, the most any alignment of
        videos of those lengths can score (``tau_ceiling``; matching by relative time reaches it),
        ``"progress"``: the constant 0.5's and relative time's ``online_progress_error`` on the
        same frames (``progress_reference``),
        ``"pixels"``: the raw-pixel reference's scores (``score_pixel_reference``), and ``"alignment"``: for the trained, the untrained and the
        labels' alignment, the fractions of tau's frame pairs matched in order, out of order
        (errors) and onto one frame (ties), which tau-b counts against an alignment too.
    """
    trained = evaluate_table(embeddings, params.protocol)
    untrained = evaluate_table(embeddings_untrained, params.protocol)
    better = sum(_better(k, trained[k], untrained[k]) for k in trained)
    logger.info("trained encoder beats the untrained one on %d of %d metrics", better, len(trained))
    model = read_checkpoint(model)
    reference = {}
    if params.protocol.task == "phases":
        reference = {
            "labels": {"kendalls_tau": label_alignment_tau(embeddings, params.protocol)},
            "ceiling": {"kendalls_tau": tau_ceiling(embeddings, params.protocol)},
            # the trivial online-progress estimates on the same frames (a constant nearly matches learned ones)
            "progress": progress_reference(embeddings, params.protocol),
            "alignment": {"trained": alignment_breakdown(embeddings, params.protocol),
                          "untrained": alignment_breakdown(embeddings_untrained, params.protocol),
                          "labels": alignment_breakdown(embeddings, params.protocol, by_labels=True)},
        }
    if pixel_scores:
        reference["pixels"] = dict(pixel_scores)
        below = [k for k in trained if k in pixel_scores and not _better(k, trained[k], pixel_scores[k])]
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
                  "embedding_dtype": dtype_name(embedding_dtype(params.precision, resolve_device(params.device)))},
    }


def plot_results(embeddings: pd.DataFrame, embeddings_untrained: pd.DataFrame, metrics: dict[str, Any],
                 params: EvaluateParams):
    """The figures of the report: embedding projection coloured by phase, frame-similarity
    matrix of two validation videos, and the metrics of both encoders side by side."""
    tables = {"trained": embeddings, "untrained": embeddings_untrained}
    label = _plot_label(params)
    return (projection_figure(tables, label, params.protocol.val_split),
            similarity_figure(tables, label, params.protocol.val_split),
            metrics_figure({"trained": trained_scores(metrics), "untrained": metrics["untrained"],
                            **({"raw pixels": metrics["pixels"]} if metrics.get("pixels") else {})}))


def render_alignment_video(embeddings: pd.DataFrame, frame_store: FrameStore, params: EvaluateParams):
    """Two validation videos played in step along the DTW path between their embeddings."""
    pair = params.alignment_pair or pick_pair(embeddings, params.protocol.val_split)
    return alignment_frames(frame_store, embeddings, _plot_label(params), pair[0], pair[1], params.alignment_height)


def render_retrieval_video(embeddings: pd.DataFrame, frame_store: FrameStore, params: EvaluateParams):
    """A validation video (the alignment pair's first) beside its nearest frames in the other
    validation videos, played over it (CARL's retrieval video)."""
    query = (params.alignment_pair or pick_pair(embeddings, params.protocol.val_split))[0]
    split = params.protocol.val_split
    if embeddings.loc[embeddings["split"] == split, "video_id"].nunique() < 2:
        split = None  # one validation video (a tiny demo): retrieve from every other video
    return retrieval_frames(frame_store, embeddings, _plot_label(params), query, params.retrieval_neighbours,
                            params.retrieval_stride, params.alignment_height, split=split,
                            distance=params.protocol.distance)


def log_metrics_to_tensorboard(metrics: dict[str, Any], model: Checkpoint, embeddings: pd.DataFrame,
                               frame_store: FrameStore, training_run: RunDir, params: EvaluateParams) -> None:
    """Write the scores of both encoders, the run's settings (HParams) and the validation frames'
    embeddings with thumbnails and labels (Projector) to the TensorBoard logs of the run that
    made the model (the runs' root for a checkpoint that no run here made), in a folder of the
    evaluating namespace's own (``tensorboard/evaluation/<namespace>``): several namespaces may
    score one run."""
    if not writes():
        return
    writer = summary_writer(run_folder(read_checkpoint(model).run_record, training_run),
                            f"evaluation/{training_run.namespace}" if training_run.namespace else "evaluation")
    try:
        log_evaluation(writer, metrics, model, embeddings, frame_store, _plot_label(params), params.protocol.val_split)
    finally:
        writer.close()


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


def score_external_embeddings(video_index: pd.DataFrame, frame_labels: pd.DataFrame, external: ExternalEmbeddingsParams,
                              params: EvaluateParams) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """Score frame embeddings made elsewhere with the dataset's protocol.

    Args:
        video_index, frame_labels: the dataset's (ingested) index and labels, which are scored.
        external: where the embeddings are and in which layout (``carl_pipeline.embedding.external``).
        params: the dataset's evaluation (its protocol).

    Returns:
        The embeddings as an embeddings table, the join report (entries scored, unmatched, of
        the wrong length, unreadable, labels disagreeing) and the metrics: ``trained`` holds the
        scores of the embeddings (the block every report and comparison reads), ``model`` says
        what made them, ``join`` how many entries were scored and left out.
    """
    if external.path is None:
        raise ValueError("external.path is null: set <dataset>.external.path to the folder or table to score "
                         "(kedro run --pipelines=evaluate_embeddings_<dataset> --params=<dataset>.external.path=...)")
    found = read_external_embeddings(external.path, external.layout)
    labels = tuple(params.protocol.finegym_labels) if params.protocol.task == "finegym" else (params.protocol.label,)
    table, report = join_to_dataset(found, video_index, frame_labels, labels)
    for problem in ("unmatched", "wrong_length", "unreadable"):
        if report[problem]:
            names = [entry.get("name") or entry.get("file") for entry in report[problem]]
            logger.warning("%d external entries %s, left out: %s", len(names), problem.replace("_", " "),
                           ", ".join(map(str, names[:10])))
    for split in (params.protocol.train_split, params.protocol.val_split):
        if not (table["split"] == split).any():
            raise ValueError(f"{external.path}: no entry matched a {split} video, so the protocol cannot score them "
                             f"(scored: {len(report['scored'])}, see the join report)")
    scores = evaluate_table(table, params.protocol)
    logger.info("external embeddings (%s): %s", external.method, {k: round(v, 4) for k, v in scores.items()})
    metrics = {"trained": scores,
               "model": {"algorithm": external.method, "source": str(external.path), "run": None},
               "join": {k: len(v) for k, v in report.items() if k != "not_embedded"}}
    return table, report, metrics


def plot_external_results(embeddings: pd.DataFrame, metrics: dict[str, Any], params: EvaluateParams):
    """The report's figures for external embeddings: projection, similarity of two validation
    videos and the scores."""
    tables = {metrics["model"]["algorithm"]: embeddings}
    label = _plot_label(params)
    return (projection_figure(tables, label, params.protocol.val_split),
            similarity_figure(tables, label, params.protocol.val_split),
            metrics_figure({metrics["model"]["algorithm"]: trained_scores(metrics)}))


def _plot_label(params: EvaluateParams) -> str:
    return params.protocol.finegym_labels[0] if params.protocol.task == "finegym" else params.protocol.label
