"""Evaluation nodes: embed every frame, score the trained and the untrained encoder, report
(``carl_pipeline.evaluation.report``, ``carl_pipeline.embedding``, ``carl_pipeline.reporting``)."""

import logging
from typing import Any

import pandas as pd

from carl_pipeline.distributed import writes
from carl_pipeline.embedding import embed_videos, untrained_checkpoint
from carl_pipeline.evaluation import trained_scores
from carl_pipeline.evaluation.report import (
    combine_taxonomy_metrics,
    encoder_scores,
    evaluation_report,
    pixel_reference_scores,
    plot_label,
)
from carl_pipeline.evaluation.report import score_external_embeddings as score_external
from carl_pipeline.params import EvaluateParams, ExternalEmbeddingsParams
from carl_pipeline.record import Checkpoint, RunDir, open_checkpoint, read_checkpoint, run_folder
from carl_pipeline.reporting import (
    alignment_frames,
    pick_pair,
    report_figures,
    report_view,
    retrieval_frames,
)
from carl_pipeline.reporting.tensorboard import log_evaluation
from carl_pipeline.training.tensorboard_log import summary_writer
from carl_pipeline.video.frame_store import FrameStore

__all__ = ["combine_taxonomy_metrics"]  # a node used as it is

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
    """The trained model's architecture with random weights (seeded by ``untrained_seed``): the
    reference every score is compared with."""
    return untrained_checkpoint(model, params.untrained_seed)


def embed_frames(model: dict[str, Any], frame_store: FrameStore, video_index: pd.DataFrame,
                 frame_labels: pd.DataFrame, params: EvaluateParams) -> pd.DataFrame:
    """Every frame of every video embedded with the frozen encoder (``embedding.embed_videos``)."""
    return embed_videos(model, frame_store, video_index, frame_labels, params)


def score_pixel_reference(model: dict[str, Any], frame_store: FrameStore, video_index: pd.DataFrame,
                          frame_labels: pd.DataFrame, params: EvaluateParams) -> dict[str, float]:
    """The raw-pixel reference's scores (``evaluation.report.pixel_reference_scores``)."""
    return pixel_reference_scores(model, frame_store, video_index, frame_labels, params)


def score_untrained_encoder(embeddings_untrained: pd.DataFrame, params: EvaluateParams) -> dict[str, Any]:
    """The untrained encoder's scores, from its table alone (``evaluation.report.encoder_scores``)."""
    return encoder_scores(embeddings_untrained, params.protocol, params.device)


def evaluate_encoders(embeddings: pd.DataFrame, untrained_scores: dict[str, Any], model: dict[str, Any],
                      params: EvaluateParams, pixel_scores: dict[str, float] | None = None) -> dict[str, Any]:
    """Both encoders scored by one protocol, with the references (``evaluation.report.evaluation_report``);
    the untrained encoder's table was scored by its own node, so one table is held at a time."""
    return evaluation_report(embeddings, untrained_scores, model, params.protocol, precision=params.precision,
                             device=params.device, pixel_scores=pixel_scores)


def plotted_rows(embeddings: pd.DataFrame, params: EvaluateParams) -> pd.DataFrame:
    """The rows of one encoder's table that the report's figures draw (``reporting.report_view``),
    so that the figures' node holds two small tables, not two whole ones."""
    return report_view(embeddings, params.protocol.val_split)


def plot_results(embeddings: pd.DataFrame, embeddings_untrained: pd.DataFrame, metrics: dict[str, Any],
                 params: EvaluateParams):
    """The report's projection, similarity and scores figures, trained beside untrained (and raw
    pixels), from the rows they draw (``plotted_rows``)."""
    scores = {"trained": trained_scores(metrics), "untrained": metrics["untrained"],
              **({"raw pixels": metrics["pixels"]} if metrics.get("pixels") else {})}
    return report_figures({"trained": embeddings, "untrained": embeddings_untrained}, scores,
                          plot_label(params.protocol), params.protocol.val_split)


def render_alignment_video(embeddings: pd.DataFrame, frame_store: FrameStore, params: EvaluateParams):
    """Two validation videos played in step along the DTW path between their embeddings."""
    pair = params.alignment_pair or pick_pair(embeddings, params.protocol.val_split)
    return alignment_frames(frame_store, embeddings, plot_label(params.protocol), pair[0], pair[1], params.alignment_height)


def render_retrieval_video(embeddings: pd.DataFrame, frame_store: FrameStore, params: EvaluateParams):
    """A validation video (the alignment pair's first) beside its nearest frames in the other
    validation videos, played over it (CARL's retrieval video)."""
    query = (params.alignment_pair or pick_pair(embeddings, params.protocol.val_split))[0]
    split = params.protocol.val_split
    if embeddings.loc[embeddings["split"] == split, "video_id"].nunique() < 2:
        split = None  # one validation video (a tiny demo): retrieve from every other video
    return retrieval_frames(frame_store, embeddings, plot_label(params.protocol), query, params.retrieval_neighbours,
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
        log_evaluation(writer, metrics, model, embeddings, frame_store, plot_label(params.protocol), params.protocol.val_split)
    finally:
        writer.close()


def score_external_embeddings(video_index: pd.DataFrame, frame_labels: pd.DataFrame, external: ExternalEmbeddingsParams,
                              params: EvaluateParams) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """Frame embeddings made elsewhere scored with the dataset's protocol (``evaluation.report``)."""
    return score_external(external.path, external.layout, external.method, video_index, frame_labels,
                          params.protocol)


def plot_external_results(embeddings: pd.DataFrame, metrics: dict[str, Any], params: EvaluateParams):
    """The report's projection, similarity and scores figures for external embeddings."""
    method = metrics["model"]["algorithm"]
    return report_figures({method: embeddings}, {method: trained_scores(metrics)}, plot_label(params.protocol),
                          params.protocol.val_split)
