"""Training nodes: pretrain the backbone (optional) and train the encoder (``carl_pipeline.training``)."""

import logging
from typing import Any

import pandas as pd

from carl_pipeline.embedding.features import FeatureCache
from carl_pipeline.params import ModelSource, TrainParams
from carl_pipeline.record import Checkpoint, RunDir, open_checkpoint
from carl_pipeline.training import pretrain_backbone, train
from carl_pipeline.training.videos import backbone_start, label_arrays, training_videos
from carl_pipeline.video.frame_store import FrameStore

logger = logging.getLogger(__name__)


def pretrain_frame_backbone(frame_store: FrameStore, video_index: pd.DataFrame, frame_labels: pd.DataFrame,
                            params: TrainParams) -> dict[str, Any]:
    """The backbone pretrained self-supervised (SimCLR) on the training videos' frames, on the
    encoder's training device (``params.pretrain.epochs`` 0: skipped, ``{"state_dict": {}, ...}``)."""
    video_ids = training_videos(video_index, frame_labels, params.splits, params.labelled_by)
    return pretrain_backbone(str(frame_store.root), video_ids, params.model.backbone, params.augment, params.pretrain,
                             device=params.optim.device, input_norm=params.model.input_norm)


def train_encoder(frame_store: FrameStore, video_index: pd.DataFrame, frame_labels: pd.DataFrame,
                  pretrained_backbone: dict[str, Any], run_dir: RunDir, params: TrainParams,
                  feature_cache: FeatureCache | None = None) -> Checkpoint:
    """A CARL encoder (or a baseline's: ``params.loss.algorithm``) trained on the videos of
    ``params.splits`` (``carl_pipeline.training.train``); a rerun resumes in ``run_dir``; the
    supervised reference reads ``frame_labels``' column ``params.loss.label``."""
    video_ids = training_videos(video_index, frame_labels, params.splits, params.labelled_by)
    state, init = backbone_start(pretrained_backbone, params.model.backbone)
    logger.info("training %s on %d videos of %s%s", params.loss.algorithm.upper(), len(video_ids), frame_store.root,
                f" (labelled in {params.labelled_by})" if params.labelled_by else "")
    labels = label_arrays(frame_labels, video_ids, params.loss.label) if params.loss.uses_labels else None
    return train(str(frame_store.root), video_ids, params.settings(), run_dir, backbone_state=state,
                 backbone_init=init, labels=labels, feature_cache=feature_cache)


def pretrain_unless_given(frame_store: FrameStore, video_index: pd.DataFrame, frame_labels: pd.DataFrame,
                          params: TrainParams, model_choice: ModelSource) -> dict[str, Any]:
    """``pretrain_frame_backbone`` when ``model_choice`` is ``train``; else no weights."""
    if model_choice.trains:
        return pretrain_frame_backbone(frame_store, video_index, frame_labels, params)
    return {"state_dict": {}, "history": [], "config": {}, "backbone": None}


def train_unless_given(frame_store: FrameStore, video_index: pd.DataFrame, frame_labels: pd.DataFrame,
                       pretrained_backbone: dict[str, Any], run_dir: RunDir, params: TrainParams,
                       model_choice: ModelSource, feature_cache: FeatureCache | None = None) -> Checkpoint:
    """``train_encoder`` when ``model_choice`` is ``train``; else the model it names, used as it
    is (``carl_pipeline.record.open_checkpoint``) and nothing trains."""
    if model_choice.trains:
        return train_encoder(frame_store, video_index, frame_labels, pretrained_backbone, run_dir, params, feature_cache)
    checkpoint = open_checkpoint(model_choice.root)
    logger.info("using the model %s as it is (%s, run %s): nothing trains", model_choice.root, checkpoint.algorithm,
                checkpoint.run_record.name or "none")
    return checkpoint
