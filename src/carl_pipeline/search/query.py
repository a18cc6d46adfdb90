"""A search query resolved against a library: which frames (or an image's embedding) to look up,
and the nearest frames of each as one table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from carl_pipeline.embedding.table import embedding_matrix
from carl_pipeline.search.index import FrameIndex

#: The columns of a search's results, one row per (query, neighbour).
RESULT_COLUMNS = ["query", "query_video_id", "query_frame_index", "rank", "video_id", "frame_index", "similarity"]


def query_frames(embeddings: pd.DataFrame, video_id: str | None, frames=None, default_queries: int = 5,
                 other_videos_only: bool = True) -> tuple[np.ndarray, list[str], str, list[int], list[str | None]]:
    """The query frames of one library video (``videos.query``).

    Args:
        embeddings: the library's embeddings table.
        video_id: the query video; None: the table's first.
        frames: its frame indices; None: ``default_queries`` frames spread over it.
        other_videos_only: neighbours from other videos only.

    Returns:
        ``(vectors (Q, D), labels, video_id, frames, exclude)``: ``exclude[i]`` is the video the
        i-th query's neighbours may not come from (None: any).

    Raises:
        ValueError: the video is not in the library, or a frame index is out of its range.
    """
    video_id = video_id or str(embeddings["video_id"].iloc[0])
    rows = embeddings[embeddings["video_id"] == video_id].sort_values("frame_index")
    if rows.empty:
        raise ValueError(f"videos.query.video_id {video_id!r} is not in the library "
                         f"({embeddings['video_id'].nunique()} videos)")
    if frames is not None:
        bad = [f for f in frames if not 0 <= f < len(rows)]
        if bad:
            raise ValueError(f"videos.query.frames {bad} are out of range: {video_id} has {len(rows)} frames")
        frames = list(frames)
    else:
        frames = np.linspace(0, len(rows) - 1, default_queries).round().astype(int).tolist()
    vectors = embedding_matrix(rows.set_index("frame_index").loc[frames])
    labels = [f"{video_id} frame {f}" for f in frames]
    return vectors, labels, video_id, frames, [video_id if other_videos_only else None] * len(frames)


def search_results(index: FrameIndex, vectors: np.ndarray, labels: list[str], video_id: str | None,
                   frames: list[int], neighbours: int, exclude: list[str | None]) -> pd.DataFrame:
    """The ``neighbours`` nearest frames of each query vector, one row per (query, neighbour):
    ``RESULT_COLUMNS`` (``query_frame_index`` -1 for an image)."""
    found = index.nearest_frames(vectors, neighbours, exclude)
    results = pd.concat([table.assign(query=label, query_video_id=video_id, query_frame_index=frame)
                         for table, label, frame in zip(found, labels, frames)], ignore_index=True)
    return results[RESULT_COLUMNS]
