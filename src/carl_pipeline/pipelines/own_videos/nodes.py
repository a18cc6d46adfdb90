"""Own-videos nodes: embed unlabelled videos, align two of them, show retrieval across them, label
them by example and search them (``carl_pipeline.labels``, ``carl_pipeline.search``)."""

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from carl_pipeline.embedding import embed_image, embed_videos, load_image
from carl_pipeline.labels import discovered_table, labels_table, propagated_table
from carl_pipeline.params import (
    DiscoverPhases,
    QueryParams,
    SearchIndexParams,
    VideosLabelsParams,
    VideosReportParams,
)
from carl_pipeline.reporting import (
    alignment_frames,
    phase_timeline_figure,
    pick_pair,
    retrieval_sheet,
    search_sheet,
)
from carl_pipeline.search import FrameIndex, query_frames, search_results
from carl_pipeline.video.frame_store import FrameStore

logger = logging.getLogger(__name__)


def embed_own_videos(model: dict[str, Any], frame_store: FrameStore, video_index: pd.DataFrame,
                     frame_labels: pd.DataFrame, params: VideosReportParams) -> pd.DataFrame:
    """Every frame of your videos embedded with the frozen encoder (labels all -1)."""
    return embed_videos(model, frame_store, video_index, frame_labels, params)


def align_own_videos(embeddings: pd.DataFrame, frame_store: FrameStore, params: VideosReportParams):
    """Two of your videos (``alignment_pair``, else the first two) played in step along the DTW
    path between their embeddings."""
    pair = params.alignment_pair or pick_pair(embeddings, "train")
    return alignment_frames(frame_store, embeddings, "phase", pair[0], pair[1], params.alignment_height)


def retrieve_across_videos(embeddings: pd.DataFrame, frame_store: FrameStore, params: VideosReportParams):
    """A sheet of frames of the first alignment video beside their nearest frames in the others."""
    query = (params.alignment_pair or pick_pair(embeddings, "train"))[0]
    return retrieval_sheet(frame_store, embeddings, query, params.retrieval_queries, params.retrieval_neighbours)


def read_labels(video_index: pd.DataFrame, params: VideosLabelsParams) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``videos.labels.path`` read and checked against the ingested videos (``labels.labels_table``)."""
    return labels_table(params.path, video_index, params.phases)


def propagate_phase_labels(embeddings: pd.DataFrame, labels: pd.DataFrame, labels_report: dict[str, Any],
                           params: VideosLabelsParams) -> pd.DataFrame:
    """Every video without labels labelled from the labelled ones (``labels.propagated_table``)."""
    return propagated_table(embeddings, labels, labels_report["phases"], params)


def discover_video_phases(embeddings: pd.DataFrame, phases: DiscoverPhases, params: VideosLabelsParams
                          ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every video cut into K phases shared across the videos, no labels (``labels.discovered_table``)."""
    return discovered_table(embeddings, phases.k, params, phases.states_per_phase, phases.max_iterations)


def plot_discovered_phases(discovered: pd.DataFrame, report: dict[str, Any]):
    """Each video's discovered phases over its frames, with the confidence drawn over them."""
    return phase_timeline_figure(discovered, report.get("phases") or [], title="phases discovered without labels",
                                 empty="no phase discovery asked (set videos.discover_phases: K)")


def plot_propagated_labels(propagated: pd.DataFrame, labels_report: dict[str, Any]):
    """Each video's phases over its frames (given labels marked), with the confidence drawn over them."""
    return phase_timeline_figure(propagated, labels_report.get("phases") or [])


def build_search_index(embeddings: pd.DataFrame, params: SearchIndexParams) -> FrameIndex:
    """The library's search index over every embedded frame (built once per embeddings table)."""
    index = FrameIndex.from_table(embeddings, exact_below=params.exact_below, nlist=params.nlist, nprobe=params.nprobe)
    logger.info("search index over %d frames of %d videos (%s)", len(index), embeddings["video_id"].nunique(),
                index.kind)
    return index


def search_frames(index: FrameIndex, embeddings: pd.DataFrame, model, frame_store: FrameStore, query: QueryParams,
                  report: VideosReportParams):
    """Nearest frames across the library for the query frames or image (``videos.query``): the
    results (``search.RESULT_COLUMNS``) and a sheet of the queries beside their neighbours."""
    index.check_built_from(embeddings)
    if query.image is not None:
        vectors, labels, video, frames = embed_image(model, query.image, report), [Path(query.image).name], None, [-1]
        results = search_results(index, vectors, labels, video, frames, query.neighbours, [None])
        return results, search_sheet(frame_store, results, images=[load_image(query.image)])
    vectors, labels, video, frames, exclude = query_frames(embeddings, query.video_id, query.frames,
                                                           query.default_queries, query.other_videos_only)
    results = search_results(index, vectors, labels, video, frames, query.neighbours, exclude)
    return results, search_sheet(frame_store, results)
