"""Which videos an encoder trains on, and the frame labels the supervised reference reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


def training_videos(video_index: pd.DataFrame, frame_labels: pd.DataFrame, splits: Sequence[str],
                    labelled_by: str | None = None) -> list[str]:
    """The ids of the videos of ``splits``; with ``labelled_by``, only those with a frame labelled
    in that column (FineGym's taxonomies).

    Raises:
        ValueError: no such label column, or no video left (naming the splits and the column).
    """
    chosen = video_index["split"].isin(splits)
    if labelled_by is not None:
        if labelled_by not in frame_labels.columns:
            raise ValueError(f"labelled_by: no label column {labelled_by!r} in the frame labels "
                             f"(columns: {[c for c in frame_labels.columns if c not in ('video_id', 'frame_index')]})")
        labelled = frame_labels.loc[frame_labels[labelled_by] >= 0, "video_id"].unique()
        chosen &= video_index["video_id"].isin(labelled)
    video_ids = video_index.loc[chosen, "video_id"].tolist()
    if not video_ids:
        raise ValueError(f"no video in splits {list(splits)} of the video index"
                         + (f" with a frame labelled in {labelled_by!r}" if labelled_by else ""))
    return video_ids


def label_arrays(frame_labels: pd.DataFrame, video_ids: Sequence[str], column: str) -> dict[str, np.ndarray]:
    """``{video_id: (num_frames,) int labels}`` from the per-frame table, for the supervised reference.

    Raises:
        ValueError: no such column, or a training video without frame labels.
    """
    if column not in frame_labels.columns:
        raise ValueError(f"loss.label: no label column {column!r} in the frame labels (columns: "
                         f"{[c for c in frame_labels.columns if c not in ('video_id', 'frame_index')]})")
    rows = frame_labels[frame_labels["video_id"].isin(video_ids)].sort_values(["video_id", "frame_index"])
    labels = {video_id: group[column].to_numpy() for video_id, group in rows.groupby("video_id")}
    missing = sorted(set(video_ids) - set(labels))
    if missing:
        raise ValueError(f"no frame labels for training videos {missing[:5]}")
    return labels


def backbone_start(pretrained_backbone: dict[str, Any], backbone: str) -> tuple[dict[str, Any] | None, str | None]:
    """Where the backbone starts: ``(weights or None, what they are)`` from the SimCLR
    pretraining's result (``pretrain_backbone``; no weights when it was skipped).

    Raises:
        ValueError: the pretraining made another backbone than ``backbone``.
    """
    state = pretrained_backbone.get("state_dict") or None
    if state is None:
        return None, None
    if pretrained_backbone.get("backbone") != backbone:
        raise ValueError(f"the pretrained backbone is a {pretrained_backbone.get('backbone')}, the model a "
                         f"{backbone}: rerun pretrain_frame_backbone")
    return state, f"SimCLR on the training frames ({len(pretrained_backbone['history'])} epochs)"
