"""The processed form every dataset ends in: a video index and a per-frame label table."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from carl_pipeline.compat import planned_videos
from carl_pipeline.video.frame_store import FrameStore

logger = logging.getLogger(__name__)

INDEX_COLUMNS = ["video_id", "split", "num_frames", "fps", "height", "width", "action",
                 "frames_file", "bytes", "source", "dataset_order"]


def build_video_index(store: FrameStore, video_ids: Sequence[str] | None = None,
                      dataset_order: Mapping[str, int] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the packs' headers into the video index and the per-frame labels.

    Args:
        store: the frame packs.
        video_ids: the videos to index (the conversion's plan, so that a pack whose raw video was
            deleted or that this run did not ask for stays out); None: every pack in the store.

    Returns:
        ``video_index``: one row per video, columns ``INDEX_COLUMNS`` (``frames_file`` is the pack's
        file name inside the store folder), sorted by split and id;
        ``frame_labels``: one row per frame, ``video_id``, ``frame_index`` and one int64 column
        per label name (``phase`` or ``gym99``/``gym288``), -1 where unlabelled.
    """
    rows, label_tables = [], []
    packs = store.iter_packs() if video_ids is None else (store.open(v) for v in sorted(set(video_ids)))
    for pack in packs:
        header = pack.header
        video_id = header.meta["video_id"]
        rows.append({
            "video_id": video_id,
            "split": header.meta.get("split"),
            "num_frames": header.num_frames,
            "fps": header.fps,
            "height": header.height,
            "width": header.width,
            "action": header.meta.get("action"),
            "frames_file": pack.path.name,
            "bytes": pack.path.stat().st_size,
            "source": header.meta.get("source"),
            "dataset_order": (dataset_order or {}).get(video_id),
        })
        table = {"video_id": np.full(header.num_frames, video_id, dtype=object),
                 "frame_index": np.arange(header.num_frames, dtype=np.int64)}
        table.update({name: np.asarray(values, dtype=np.int64) for name, values in pack.labels.items()})
        label_tables.append(pd.DataFrame(table))
    if not rows:
        raise ValueError(f"{store.root}: no converted video (see the ingest report for failures)")
    index = pd.DataFrame(rows, columns=INDEX_COLUMNS).sort_values(["split", "video_id"], ignore_index=True)
    index["dataset_order"] = index["dataset_order"].astype("Int64")  # null where the dataset has none
    labels = pd.concat(label_tables, ignore_index=True)
    label_columns = [c for c in labels.columns if c not in ("video_id", "frame_index")]
    labels[label_columns] = labels[label_columns].fillna(-1).astype(np.int64)
    return index, labels.sort_values(["video_id", "frame_index"], ignore_index=True)


def index_converted(store: FrameStore, conversion: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Build the video index and per-frame labels from the converted videos.

    Args:
        store: the dataset's frame packs.
        conversion: the conversion's report (``run_conversion``'s, as a dict).

    Returns:
        The video index (one row per video), the per-frame labels (one row per frame, -1 where
        unlabelled) and the ingest report (counts per split, skipped and failed videos).
    """
    planned = planned_videos(conversion)  # None: a report written before it listed them (compat)
    video_index, frame_labels = build_video_index(store, planned, conversion.get("dataset_order"))
    # Only the packs outside the index are opened again (their headers name their videos).
    left_out = sorted(pack.header.meta["video_id"]
                      for pack in store.iter_packs(skip_files=set(video_index["frames_file"]))
                      ) if planned is not None else []
    report = {
        "videos": int(len(video_index)),
        "frames": int(video_index["num_frames"].sum()),
        "videos_per_split": {str(k): int(v) for k, v in video_index["split"].value_counts().sort_index().items()},
        "converted_this_run": len(conversion["converted"]),
        "already_converted": len(conversion["skipped_existing"]),
        "failed": conversion["failed"],
        "warnings": conversion.get("warnings", []),
        # Packs in the store that this run did not plan (raw video deleted, split no longer asked
        # for) or whose video now fails: kept on disk, left out of the index and of training.
        "left_out_of_index": left_out,
        # The raw folder was written by carl_pipeline.synthetic (the demo's data): not real footage.
        "synthetic": bool(conversion.get("synthetic", False)),
    }
    if report["failed"]:
        logger.warning("%d videos were not converted; see the ingest report", len(report["failed"]))
    if left_out:
        logger.warning("%d converted videos are no longer in the raw data or the plan, and left out of the "
                       "index: %s", len(left_out), ", ".join(left_out[:10]))
    return video_index, frame_labels, report
