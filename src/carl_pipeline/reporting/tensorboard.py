"""What an evaluation adds to a training run's TensorBoard logs: its scores as scalars, the run's
settings beside its scores (HParams tab), and the validation frames' embeddings with thumbnails
and labels (Projector tab)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from carl_pipeline.embedding.table import embedding_matrix
from carl_pipeline.evaluation import trained_scores
from carl_pipeline.nested import flatten
from carl_pipeline.video import FrameStore


def hparams_of(checkpoint) -> dict[str, float | int | str | bool]:
    """The run's identity flattened to the scalar values TensorBoard's HParams tab takes
    (``train.lr``, ``loss.algorithm``, ``augment.image_size``, ...)."""
    from carl_pipeline.record import read_checkpoint

    identity = read_checkpoint(checkpoint).run_record.identity or {}
    return {key: value if isinstance(value, bool | int | float | str) else str(value)
            for key, value in flatten(identity).items() if value is not None}


def projector_inputs(table: pd.DataFrame, store: FrameStore, label: str, split: str = "val",
                     max_frames: int = 500, thumbnail: int = 32) -> tuple[torch.Tensor, list[str], torch.Tensor]:
    """Evenly spaced validation frames: embeddings ``(N, D)``, their labels (``"<video> <label>"``
    rows for the projector's metadata) and thumbnails ``(N, 3, s, s)`` in [0, 1]."""
    rows = table[table["split"] == split]
    if rows.empty:
        rows = table
    rows = rows.iloc[np.linspace(0, len(rows) - 1, min(max_frames, len(rows))).astype(int)]
    embeddings = torch.from_numpy(embedding_matrix(rows))
    images = []
    for video_id, group in rows.groupby("video_id", sort=False):
        frames = store.open(video_id).read(group["frame_index"].to_numpy()).float() / 255  # (n, 3, H, W)
        images.append((group.index, F.interpolate(frames, size=(thumbnail, thumbnail), mode="bilinear",
                                                  antialias=True, align_corners=False)))
    order = {index: position for position, index in enumerate(rows.index)}
    thumbnails = torch.empty((len(rows), 3, thumbnail, thumbnail))
    for indices, batch in images:
        thumbnails[[order[i] for i in indices]] = batch
    metadata = [f"{v} {lab}" for v, lab in zip(rows["video_id"], rows[label], strict=True)]
    return embeddings, metadata, thumbnails.clamp(0, 1)


def log_evaluation(writer, metrics: Mapping[str, Any], checkpoint, table: pd.DataFrame | None,
                   store: FrameStore | None, label: str, split: str = "val") -> None:
    """Scores as ``eval_trained/<metric>`` and ``eval_untrained/<metric>`` scalars at the model's
    epoch, the run's settings with the trained scores (``add_hparams``), and the validation
    embeddings for the projector (``add_embedding``)."""
    step = metrics["model"]["epochs"]
    for name in ("trained", "untrained"):
        for key, value in (trained_scores(metrics) if name == "trained" else metrics[name]).items():
            writer.add_scalar(f"eval_{name}/{key}", value, step)
    hparams = hparams_of(checkpoint)
    if hparams:
        writer.add_hparams(hparams, {f"hparam/{k}": float(v) for k, v in trained_scores(metrics).items()},
                           run_name="hparams")
    if table is not None and store is not None and label in table.columns and len(table):
        embeddings, metadata, thumbnails = projector_inputs(table, store, label, split)
        writer.add_embedding(embeddings, metadata=metadata, label_img=thumbnails, global_step=step,
                             tag=f"{split}_frames")
