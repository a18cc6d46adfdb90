"""Training nodes: pretrain the backbone (optional) and train the encoder."""

import logging
from typing import Any

import pandas as pd

from carl_pipeline.embedding.features import FeatureCache
from carl_pipeline.params import ModelSource, TrainParams
from carl_pipeline.record import Checkpoint, RunDir, open_checkpoint
from carl_pipeline.training import pretrain_backbone, train
from carl_pipeline.video.frame_store import FrameStore

logger = logging.getLogger(__name__)


def _training_videos(video_index: pd.DataFrame, frame_labels: pd.DataFrame, params: TrainParams) -> list[str]:
    chosen = video_index["split"].isin(params.splits)
    if params.labelled_by is not None:
        if params.labelled_by not in frame_labels.columns:
            raise ValueError(f"labelled_by: no label column {params.labelled_by!r} in the frame labels "
                             f"(columns: {[c for c in frame_labels.columns if c not in ('video_id', 'frame_index')]})")
        labelled = frame_labels.loc[frame_labels[params.labelled_by] >= 0, "video_id"].unique()
        chosen &= video_index["video_id"].isin(labelled)
    video_ids = video_index.loc[chosen, "video_id"].tolist()
    if not video_ids:
        raise ValueError(f"no video in splits {list(params.splits)} of the video index"
                         + (f" with a frame labelled in {params.labelled_by!r}" if params.labelled_by else ""))
    return video_ids


def pretrain_frame_backbone(frame_store: FrameStore, video_index: pd.DataFrame, frame_labels: pd.DataFrame,
                            params: TrainParams) -> dict[str, Any]:
    """Pretrain the backbone self-supervised (SimCLR) on the training videos' frames, for runs
    that have no pretrained weights to start from (``params.pretrain.epochs`` 0: skipped).

    Returns:
        ``{"state_dict": ResNet weights or {} when skipped, "history", "config", "backbone"}``.
    """
    video_ids = _training_videos(video_index, frame_labels, params)
    if params.pretrain.epochs:
        logger.info("pretraining %s on the frames of %d videos (SimCLR, %d epochs)", params.model.backbone,
                    len(video_ids), params.pretrain.epochs)
    # On the device the encoder trains on (train.optim.device), not wherever "auto" points.
    return pretrain_backbone(str(frame_store.root), video_ids, params.model.backbone, params.augment, params.pretrain,
                             device=params.optim.device, input_norm=params.model.input_norm)


def train_encoder(frame_store: FrameStore, video_index: pd.DataFrame, frame_labels: pd.DataFrame,
                  pretrained_backbone: dict[str, Any], run_dir: RunDir, params: TrainParams,
                  feature_cache: FeatureCache | None = None) -> Checkpoint:
    """Train a CARL encoder (or a baseline's: ``params.loss.algorithm``) on the training videos.

    Args:
        frame_store: the dataset's frame packs.
        video_index: one row per video; ``params.splits`` selects the training videos.
        frame_labels: one row per frame; read to select the videos with a frame labelled in
            ``params.labelled_by`` (FineGym's taxonomies), and as the training signal only by the
            ``supervised`` reference (column ``params.loss.label``).
        pretrained_backbone: ``pretrain_frame_backbone``'s result; its weights (when any) are
            where the backbone starts.
        run_dir: where epoch checkpoints and TensorBoard logs go; a rerun resumes from the last
            checkpoint there.
        params: architecture, sampling, augmentation and optimisation.
        feature_cache: where a frozen backbone's per-frame features are kept and read from with
            ``params.optim.feature_cache`` (``<dataset>.feature_cache``).

    Returns:
        The trained model's checkpoint (weights, configs, loss history).
    """
    video_ids = _training_videos(video_index, frame_labels, params)
    state = pretrained_backbone.get("state_dict") or None
    if state is not None and pretrained_backbone.get("backbone") != params.model.backbone:
        raise ValueError(f"the pretrained backbone is a {pretrained_backbone.get('backbone')}, the model a "
                         f"{params.model.backbone}: rerun pretrain_frame_backbone")
    init = (f"SimCLR on the training frames ({len(pretrained_backbone['history'])} epochs)" if state is not None
            else None)
    logger.info("training %s on %d videos of %s%s", params.loss.algorithm.upper(), len(video_ids), frame_store.root,
                f" (labelled in {params.labelled_by})" if params.labelled_by else "")
    labels = _frame_labels(frame_labels, video_ids, params.loss.label) if params.loss.uses_labels else None
    return train(str(frame_store.root), video_ids, params.model, params.sampling, params.augment, params.optim,
                 run_dir, loss_config=params.loss, backbone_state=state, backbone_init=init, labels=labels,
                 feature_cache=feature_cache)


def pretrain_unless_given(frame_store: FrameStore, video_index: pd.DataFrame, frame_labels: pd.DataFrame,
                          params: TrainParams, model_choice: ModelSource) -> dict[str, Any]:
    """``pretrain_frame_backbone`` when ``model_choice`` is ``train``; with a model given, nothing
    trains and the result is the skipped pretraining's (no weights)."""
    if model_choice.trains:
        return pretrain_frame_backbone(frame_store, video_index, frame_labels, params)
    return {"state_dict": {}, "history": [], "config": {}, "backbone": None}


def train_unless_given(frame_store: FrameStore, video_index: pd.DataFrame, frame_labels: pd.DataFrame,
                       pretrained_backbone: dict[str, Any], run_dir: RunDir, params: TrainParams,
                       model_choice: ModelSource, feature_cache: FeatureCache | None = None) -> Checkpoint:
    """``train_encoder`` when ``model_choice`` is ``train``; else the model it names, used as it
    is (``carl_pipeline.record.open_checkpoint``: a carl.pt or run folder, a released CARL checkpoint,
    an exported model) and nothing trains. A released checkpoint's clip length (which scales its
    position encoding) comes from its cfg (``TRAIN.NUM_FRAMES``), else 240.

    Args:
        model_choice: ``train``, or the model to use (``<dataset>.model`` in conf).
    """
    if model_choice.trains:
        return train_encoder(frame_store, video_index, frame_labels, pretrained_backbone, run_dir, params, feature_cache)
    checkpoint = open_checkpoint(model_choice.root)
    logger.info("using the model %s as it is (%s, run %s): nothing trains", model_choice.root, checkpoint.algorithm,
                checkpoint.run_record.name or "none")
    return checkpoint


def _frame_labels(frame_labels: pd.DataFrame, video_ids: list[str], column: str) -> dict[str, Any]:
    """``{video_id: (num_frames,) int labels}`` from the per-frame table, for the supervised reference."""
    if column not in frame_labels.columns:
        raise ValueError(f"loss.label: no label column {column!r} in the frame labels (columns: "
                         f"{[c for c in frame_labels.columns if c not in ('video_id', 'frame_index')]})")
    rows = frame_labels[frame_labels["video_id"].isin(video_ids)].sort_values(["video_id", "frame_index"])
    labels = {video_id: group[column].to_numpy() for video_id, group in rows.groupby("video_id")}
    missing = sorted(set(video_ids) - set(labels))
    if missing:
        raise ValueError(f"no frame labels for training videos {missing[:5]}")
    return labels
