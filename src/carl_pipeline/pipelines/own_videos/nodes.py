"""Own-videos nodes: embed unlabelled videos, align two of them, show retrieval across them."""

import logging
from typing import Any

import pandas as pd

from carl_pipeline.params import VideosReportParams
from carl_pipeline.pipelines.evaluation.nodes import embeddings_of
from carl_pipeline.reporting import alignment_frames, pick_pair, retrieval_sheet
from carl_pipeline.video.frame_store import FrameStore

logger = logging.getLogger(__name__)


def embed_own_videos(model: dict[str, Any], frame_store: FrameStore, video_index: pd.DataFrame,
                     frame_labels: pd.DataFrame, params: VideosReportParams) -> pd.DataFrame:
    """Embed every frame of your videos with the frozen encoder: one row per frame, as
    ``embed_frames`` gives (labels all -1)."""
    return embeddings_of(model, frame_store, video_index, frame_labels, params)


def align_own_videos(embeddings: pd.DataFrame, frame_store: FrameStore, params: VideosReportParams):
    """Two of your videos (``alignment_pair``, else the first two) played in step along the DTW
    path between their embeddings."""
    pair = params.alignment_pair or pick_pair(embeddings, "train")
    return alignment_frames(frame_store, embeddings, "phase", pair[0], pair[1], params.alignment_height)


def retrieve_across_videos(embeddings: pd.DataFrame, frame_store: FrameStore, params: VideosReportParams):
    """A sheet of frames of the first alignment video beside their nearest frames in the others."""
    query = (params.alignment_pair or pick_pair(embeddings, "train"))[0]
    return retrieval_sheet(frame_store, embeddings, query, params.retrieval_queries, params.retrieval_neighbours)
