"""Own-videos nodes: embed unlabelled videos, align two of them, show retrieval across them, label
them by example and search them."""

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from carl_pipeline.embedding import embed_image, load_image
from carl_pipeline.labels import label_name, propagate, read_phase_labels
from carl_pipeline.labels.discover import discover_phases
from carl_pipeline.params import (
    DiscoverPhases,
    QueryParams,
    SearchIndexParams,
    VideosLabelsParams,
    VideosReportParams,
)
from carl_pipeline.pipelines.evaluation.nodes import embeddings_of
from carl_pipeline.reporting import (
    alignment_frames,
    phase_timeline_figure,
    pick_pair,
    retrieval_sheet,
    search_sheet,
)
from carl_pipeline.search import FrameIndex
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


def read_labels(video_index: pd.DataFrame, params: VideosLabelsParams) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read and check ``videos.labels.path`` against the ingested videos.

    Returns:
        The usable labels, one row per labelled frame (``video_id``, ``frame_index``, ``phase``:
        its number, ``phase_name``), and the labels report: the phases, the labelled frames per
        video and each line left out with its problem (the first ``LOGGED_PROBLEMS`` also logged,
        by line, then how many more). Both empty without a labels file.
    """
    empty = pd.DataFrame({"video_id": pd.Series(dtype=str), "frame_index": pd.Series(dtype="int64"),
                          "phase": pd.Series(dtype="int64"), "phase_name": pd.Series(dtype=str)})
    if params.path is None:
        return empty, {"source": None, "phases": [], "phase_order": None, "labelled_videos": {}, "problems": []}
    found = read_phase_labels(params.path, dict(zip(video_index["video_id"], video_index["num_frames"])),
                              params.phases)
    for message in found.problem_messages():
        logger.warning("%s", message)
    rows = [pd.DataFrame({"video_id": video_id, "frame_index": np.flatnonzero(y != -1),
                          "phase": y[y != -1], "phase_name": [label_name(p, found.phases) for p in y[y != -1]]})
            for video_id, y in found.labels.items()]
    logger.info("labels for %d videos (%d frames) from %s, %d lines left out; phases %s (%s)", len(rows),
                sum(len(r) for r in rows), found.source, len(found.problems), found.phases, found.phase_order)
    return pd.concat(rows, ignore_index=True), found.report()


def propagate_phase_labels(embeddings: pd.DataFrame, labels: pd.DataFrame, labels_report: dict[str, Any],
                           params: VideosLabelsParams) -> pd.DataFrame:
    """Every video without labels labelled from the labelled ones (``carl_pipeline.labels``).

    Returns:
        One row per frame of every video: ``video_id``, ``frame_index``, ``phase`` (number;
        ``BACKGROUND_LABEL``, -2, for background),
        ``phase_name``, ``confidence`` (1 for a given label), ``sources`` (the labelled videos
        that voted for the phase; ``["labels file"]`` for a given label) and ``given``. Empty
        without labels.
    """
    columns = ["video_id", "frame_index", "phase", "phase_name", "confidence", "sources", "given"]
    if labels.empty:
        return pd.DataFrame({c: [] for c in columns})
    phases = labels_report["phases"]
    by_video = {video_id: rows.sort_values("frame_index") for video_id, rows in embeddings.groupby("video_id", sort=False)}
    labelled = {}
    for video_id, rows in labels.groupby("video_id"):
        y = np.full(len(by_video[video_id]), -1, dtype=np.int64)
        y[rows["frame_index"].to_numpy()] = rows["phase"].to_numpy()
        labelled[video_id] = (np.stack(by_video[video_id]["embedding"].to_numpy()), y)
    targets = {v: np.stack(rows["embedding"].to_numpy()) for v, rows in by_video.items() if v not in labelled}
    result = propagate(targets, labelled, len(phases), params.method, params.temperature, params.drop_percentile,
                       params.band_radius, params.max_cells, params.drop_scale)
    out = []
    for video_id, rows in by_video.items():
        frames = rows["frame_index"].to_numpy()
        if video_id in labelled:
            y = labelled[video_id][1]
            keep = y != -1
            out.append(pd.DataFrame({"video_id": video_id, "frame_index": frames[keep], "phase": y[keep],
                                     "confidence": np.float32(1.0), "sources": [["labels file"]] * int(keep.sum()),
                                     "given": True}))
            continue
        found = result[video_id]
        out.append(pd.DataFrame({"video_id": video_id, "frame_index": frames, "phase": found["phase"],
                                 "confidence": found["confidence"], "sources": found["sources"], "given": False}))
    table = pd.concat(out, ignore_index=True)
    table["phase_name"] = [label_name(p, phases) for p in table["phase"]]
    logger.info("labelled %d videos from %d (%s), mean confidence %.3f", len(targets), len(labelled), params.method,
                float(table.loc[~table["given"], "confidence"].mean()) if targets else 1.0)
    return table[columns]


def discover_video_phases(embeddings: pd.DataFrame, phases: DiscoverPhases, params: VideosLabelsParams
                          ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every video cut into ``phases`` (K) phases shared across the videos, with no labels
    (``carl_pipeline.labels.discover``; aligned as ``videos.labels.method`` says: ``drop_dtw``
    leaves background).

    Returns:
        One row per frame, as ``propagate_phase_labels`` gives (``phase_name``: ``phase 1`` ..
        ``phase k`` or ``background``; ``sources``: the prototypes), and the discovery report
        (``k``, ``method``, the prototypes' ``relative_times``, ``frames_per_phase``,
        ``background_frames``, ``phases``). Both empty when K is null.
    """
    columns = ["video_id", "frame_index", "phase", "phase_name", "confidence", "sources", "given"]
    k = phases.k
    if k is None:
        return pd.DataFrame({c: [] for c in columns}), {"k": None}
    by_video = {v: rows.sort_values("frame_index") for v, rows in embeddings.groupby("video_id", sort=True)}
    found, report = discover_phases({v: np.stack(rows["embedding"].to_numpy()) for v, rows in by_video.items()},
                                    k, params.method, temperature=params.temperature,
                                    drop_scale=params.drop_scale, band_radius=params.band_radius,
                                    max_cells=params.max_cells)
    names = [f"phase {i + 1}" for i in range(int(k))]
    table = pd.concat([pd.DataFrame({"video_id": v, "frame_index": rows["frame_index"].to_numpy(),
                                     "phase": found[v]["phase"], "confidence": found[v]["confidence"],
                                     "sources": found[v]["sources"], "given": False})
                       for v, rows in by_video.items()], ignore_index=True)
    table["phase_name"] = [label_name(p, names) for p in table["phase"]]
    report["phases"] = names
    logger.info("found %d phases in %d videos (%s): %s frames each, %d background", k, len(by_video),
                report["method"], report["frames_per_phase"], report["background_frames"])
    return table[columns], report


def plot_discovered_phases(discovered: pd.DataFrame, report: dict[str, Any]):
    """Each video's discovered phases over its frames, with the confidence drawn over them."""
    return phase_timeline_figure(discovered, report.get("phases") or [],
                                 title="phases discovered without labels", empty="no phase discovery asked "
                                 "(set videos.discover_phases: K)")


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
    """Nearest frames across the library for the query frames (``videos.query``).

    Returns:
        The results, one row per (query, neighbour): ``query``, ``query_video_id``,
        ``query_frame_index`` (-1 for an image), ``rank``, ``video_id``, ``frame_index``,
        ``similarity`` (cosine); and a sheet of the query frames beside their neighbours.

    Raises:
        ValueError: the index was built from other embeddings, the query video is not in the
            library, or a frame index is out of its range.
    """
    index.check_built_from(embeddings)
    images, exclude = [], []
    if query.image is not None:
        vectors, labels = embed_image(model, query.image, report), [Path(query.image).name]
        query_video, query_frames = None, [-1]
        images = [load_image(query.image)]
        exclude = [None]
    else:
        query_video = query.video_id or str(embeddings["video_id"].iloc[0])
        rows = embeddings[embeddings["video_id"] == query_video].sort_values("frame_index")
        if rows.empty:
            raise ValueError(f"videos.query.video_id {query_video!r} is not in the library "
                             f"({embeddings['video_id'].nunique()} videos)")
        if query.frames is not None:
            bad = [f for f in query.frames if not 0 <= f < len(rows)]
            if bad:
                raise ValueError(f"videos.query.frames {bad} are out of range: {query_video} has {len(rows)} frames")
            query_frames = list(query.frames)
        else:
            query_frames = np.linspace(0, len(rows) - 1, query.default_queries).round().astype(int).tolist()
        vectors = np.stack(rows.set_index("frame_index").loc[query_frames, "embedding"].to_numpy())
        labels = [f"{query_video} frame {f}" for f in query_frames]
        exclude = [query_video if query.other_videos_only else None] * len(query_frames)
    found = index.nearest_frames(vectors, query.neighbours, exclude)
    results = pd.concat([table.assign(query=label, query_video_id=query_video, query_frame_index=frame)
                         for table, label, frame in zip(found, labels, query_frames)], ignore_index=True)
    results = results[["query", "query_video_id", "query_frame_index", "rank", "video_id", "frame_index", "similarity"]]
    sheet = search_sheet(frame_store, results, images=images or None)
    return results, sheet
