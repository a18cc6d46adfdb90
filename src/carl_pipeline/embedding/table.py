"""The embeddings table (one row per frame) and its per-video views: pandas and NumPy only, so
that the evaluation protocol and notebooks read it without loading any model code."""

from __future__ import annotations

import numpy as np
import pandas as pd


def embeddings_table(embeddings: dict[str, np.ndarray], video_index: pd.DataFrame,
                     frame_labels: pd.DataFrame) -> pd.DataFrame:
    """One row per frame: ``video_id``, ``split``, ``action``, ``dataset_order`` (where the index
    has it), ``frame_index``, the label columns and ``embedding`` (a float32 array), in video-index
    order."""
    rows = []
    index = video_index.set_index("video_id")
    labels = frame_labels.set_index(["video_id", "frame_index"]).sort_index()
    for video_id in video_index["video_id"]:
        if video_id not in embeddings:
            continue
        values = embeddings[video_id]
        table = labels.loc[video_id].reset_index()
        if len(table) != len(values):
            raise ValueError(f"video {video_id}: {len(values)} embeddings for {len(table)} labelled frames")
        table.insert(0, "video_id", video_id)
        table.insert(1, "split", index.loc[video_id, "split"])
        table.insert(2, "action", index.loc[video_id, "action"])
        if "dataset_order" in index.columns:  # what subset_order 'dataset' sorts by
            table.insert(3, "dataset_order", index.loc[video_id, "dataset_order"])
        table["embedding"] = list(values.astype(np.float32))
        rows.append(table)
    out = pd.concat(rows, ignore_index=True)
    if "dataset_order" in out.columns:
        out["dataset_order"] = out["dataset_order"].astype("Int64")
    return out


def per_video(table: pd.DataFrame, label: str, split: str | None = None, action: str | None = None
              ) -> tuple[list[str], list[np.ndarray], list[np.ndarray]]:
    """Split an embeddings table into per-video arrays: ids, ``(num_frames, D)`` embeddings and
    ``(num_frames,)`` labels, in table order."""
    chosen = table
    if split is not None:
        chosen = chosen[chosen["split"] == split]
    if action is not None:
        chosen = chosen[chosen["action"] == action]
    ids, embeddings, labels = [], [], []
    for video_id, rows in chosen.groupby("video_id", sort=False):
        rows = rows.sort_values("frame_index")
        ids.append(video_id)
        embeddings.append(np.stack(rows["embedding"].to_numpy()).astype(np.float32))
        labels.append(rows[label].to_numpy(dtype=np.int64))
    return ids, embeddings, labels


def one_video(table: pd.DataFrame, video_id: str, label: str) -> tuple[np.ndarray, np.ndarray]:
    """One video's ``(num_frames, D)`` embeddings and ``(num_frames,)`` labels from the table."""
    _, embeddings, labels = per_video(table[table["video_id"] == video_id], label)
    if not embeddings:
        raise ValueError(f"video {video_id!r} is not in the embeddings table")
    return embeddings[0], labels[0]
