"""The processed form every dataset ends in: a video index and a per-frame label table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from carl_pipeline.video.frame_store import FrameStore

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
