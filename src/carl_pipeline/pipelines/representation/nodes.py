"""Representation nodes: train the CARL encoder on a dataset's frame store."""

import dataclasses
import logging
from typing import Any

import pandas as pd

from carl_pipeline.params import TrainParams
from carl_pipeline.training import RunDir, train
from carl_pipeline.video.frame_store import FrameStore

logger = logging.getLogger(__name__)


def train_encoder(frame_store: FrameStore, video_index: pd.DataFrame, run_dir: RunDir,
                  params: TrainParams) -> dict[str, Any]:
    """Train a CARL (or TCC) encoder self-supervised on the training videos.

    Args:
        frame_store: the dataset's frame packs.
        video_index: one row per video; ``params.splits`` selects the training videos.
        run_dir: where epoch checkpoints and TensorBoard logs go; a rerun resumes from the last
            checkpoint there.
        params: architecture, sampling, augmentation and optimisation.

    Returns:
        The trained model's checkpoint (weights, configs, loss history).
    """
    video_ids = video_index.loc[video_index["split"].isin(params.splits), "video_id"].tolist()
    if not video_ids:
        raise ValueError(f"no video in splits {list(params.splits)} of the video index")
    encoder = dataclasses.replace(params.model, train_length=params.sampling.num_steps)
    logger.info("training on %d videos of %s", len(video_ids), frame_store.root)
    return train(str(frame_store.root), video_ids, encoder, params.sampling, params.augment, params.optim, run_dir)
