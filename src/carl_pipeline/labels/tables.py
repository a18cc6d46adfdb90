"""Phase-label tables: a labels file, propagated labels and discovered phases as the tables the
own-videos pipeline keeps (one row per labelled frame, or per frame of every video).

Each takes an embeddings table (``carl_pipeline.embedding.embeddings_table``: ``video_id``,
``frame_index``, ``embedding``) and the labels settings (``videos.labels``: ``method``,
``temperature``, ``drop_percentile``, ``drop_scale``, ``phase_template``, ``band_radius``, ``max_cells``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from carl_pipeline.embedding.table import embedding_matrix
from carl_pipeline.labels.discover import discover_phases
from carl_pipeline.labels.propagate import propagate
from carl_pipeline.labels.reading import label_name, read_phase_labels

logger = logging.getLogger(__name__)

#: The columns of a propagated or discovered labels table.
COLUMNS = ["video_id", "frame_index", "phase", "phase_name", "confidence", "sources", "given"]


def _empty(columns=COLUMNS) -> pd.DataFrame:
    return pd.DataFrame({c: [] for c in columns})


def _frames_by_video(embeddings: pd.DataFrame, sort: bool) -> dict[str, pd.DataFrame]:
    return {v: rows.sort_values("frame_index") for v, rows in embeddings.groupby("video_id", sort=sort)}


def labels_table(path: str | Path | None, video_index: pd.DataFrame, phases=None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A labels file read and checked against the ingested videos (``read_phase_labels``).

    Args:
        path: the labels file or folder; None: no labels.
        video_index: the ingested videos (``video_id``, ``num_frames``).
        phases: the phase names in order, when the file does not give them.

    Returns:
        The usable labels, one row per labelled frame (``video_id``, ``frame_index``, ``phase``:
        its number, ``phase_name``), and the labels report: the phases, the labelled frames per
        video and each line left out with its problem (logged by line). Both empty without a
        labels file.
    """
    empty = pd.DataFrame({"video_id": pd.Series(dtype=str), "frame_index": pd.Series(dtype="int64"),
                          "phase": pd.Series(dtype="int64"), "phase_name": pd.Series(dtype=str)})
    if path is None:
        return empty, {"source": None, "phases": [], "phase_order": None, "labelled_videos": {}, "problems": []}
    found = read_phase_labels(path, dict(zip(video_index["video_id"], video_index["num_frames"])), phases)
    for message in found.problem_messages():
        logger.warning("%s", message)
    rows = [pd.DataFrame({"video_id": video_id, "frame_index": np.flatnonzero(y != -1),
                          "phase": y[y != -1], "phase_name": [label_name(p, found.phases) for p in y[y != -1]]})
            for video_id, y in found.labels.items()]
    logger.info("labels for %d videos (%d frames) from %s, %d lines left out; phases %s (%s)", len(rows),
                sum(len(r) for r in rows), found.source, len(found.problems), found.phases, found.phase_order)
    return pd.concat(rows, ignore_index=True), found.report()


def propagated_table(embeddings: pd.DataFrame, labels: pd.DataFrame, phases: list[str], settings) -> pd.DataFrame:
    """Every video without labels labelled from the labelled ones (``propagate``).

    Args:
        embeddings: every frame's embedding.
        labels: ``labels_table``'s labels; phases: the report's phase names.
        settings: ``videos.labels``.

    Returns:
        One row per frame of every video: ``video_id``, ``frame_index``, ``phase`` (number;
        ``BACKGROUND_LABEL``, -2, for background), ``phase_name``, ``confidence`` (1 for a given
        label), ``sources`` (the labelled videos that voted for the phase; ``["labels file"]`` for a
        given label) and ``given``. Empty without labels.
    """
    if labels.empty:
        return _empty()
    by_video = _frames_by_video(embeddings, sort=False)
    labelled = {}
    for video_id, rows in labels.groupby("video_id"):
        y = np.full(len(by_video[video_id]), -1, dtype=np.int64)
        y[rows["frame_index"].to_numpy()] = rows["phase"].to_numpy()
        labelled[video_id] = (embedding_matrix(by_video[video_id]), y)
    targets = {v: embedding_matrix(rows) for v, rows in by_video.items() if v not in labelled}
    result = propagate(targets, labelled, len(phases), settings.method, settings.temperature,
                       settings.drop_percentile, settings.band_radius, settings.max_cells, settings.drop_scale,
                       settings.phase_template)
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
    logger.info("labelled %d videos from %d (%s), mean confidence %.3f", len(targets), len(labelled), settings.method,
                float(table.loc[~table["given"], "confidence"].mean()) if targets else 1.0)
    return table[COLUMNS]


def discovered_table(embeddings: pd.DataFrame, k: int | None, settings, states_per_phase: int,
                     max_iterations: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every video cut into ``k`` phases shared across the videos, with no labels
    (``discover_phases``, ``states_per_phase`` sub-states per phase, at most ``max_iterations``
    re-alignments; aligned as ``settings.method`` says: ``drop_dtw`` leaves background).

    Returns:
        One row per frame, as ``propagated_table`` gives (``phase_name``: ``phase 1`` ..
        ``phase k`` or ``background``; ``sources``: the prototypes), and the discovery report
        (``k``, ``method``, the prototypes' ``relative_times``, ``frames_per_phase``,
        ``background_frames``, ``phases``). Both empty when ``k`` is None.
    """
    if k is None:
        return _empty(), {"k": None}
    by_video = _frames_by_video(embeddings, sort=True)
    found, report = discover_phases({v: embedding_matrix(rows) for v, rows in by_video.items()},
                                    k, settings.method, temperature=settings.temperature,
                                    drop_scale=settings.drop_scale, band_radius=settings.band_radius,
                                    max_cells=settings.max_cells, states_per_phase=states_per_phase,
                                    max_iterations=max_iterations)
    names = [f"phase {i + 1}" for i in range(int(k))]
    table = pd.concat([pd.DataFrame({"video_id": v, "frame_index": rows["frame_index"].to_numpy(),
                                     "phase": found[v]["phase"], "confidence": found[v]["confidence"],
                                     "sources": found[v]["sources"], "given": False})
                       for v, rows in by_video.items()], ignore_index=True)
    table["phase_name"] = [label_name(p, names) for p in table["phase"]]
    report["phases"] = names
    logger.info("found %d phases in %d videos (%s): %s frames each, %d background", k, len(by_video),
                report["method"], report["frames_per_phase"], report["background_frames"])
    return table[COLUMNS], report
