"""Pictures of a run: embeddings projected and coloured by phase, the frame-similarity matrix of
two videos, the metrics of the trained and untrained encoders, and an alignment video."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from carl_pipeline.embedding.table import embedding_matrix, one_video, per_video
from carl_pipeline.evaluation.alignment import dtw_path
from carl_pipeline.evaluation.progress import oriented
from carl_pipeline.video.frame_store import FrameStore


def _subplots(*args, figsize, **kwargs):
    """``plt.subplots`` without pyplot: a ``Figure`` that belongs to no window or backend, so
    importing this module changes nothing in a notebook (Jupyter shows a returned figure)."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*args, **kwargs)


def _pca_2d(x: np.ndarray) -> np.ndarray:
    centred = x - x.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def projection_figure(tables: Mapping[str, pd.DataFrame], label: str, split: str = "val", max_videos: int = 12):
    """PCA of the frame embeddings of up to ``max_videos`` videos, one panel per encoder,
    coloured by ``label`` (frames labelled -1 in grey)."""
    fig, axes = _subplots(1, len(tables), figsize=(5.5 * len(tables), 4.8), squeeze=False)
    for ax, (name, table) in zip(axes[0], tables.items(), strict=True):
        _, embeddings, labels = per_video(table, label, split)
        x, y = np.concatenate(embeddings[:max_videos]), np.concatenate(labels[:max_videos])
        points = _pca_2d(x)
        ax.scatter(*points[y < 0].T, s=4, c="lightgrey", label="unlabelled")
        scatter = ax.scatter(*points[y >= 0].T, s=6, c=y[y >= 0], cmap="viridis")
        ax.set_title(f"{name}: {split} frames, PCA")
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(scatter, ax=ax, label=label)
    fig.tight_layout()
    return fig


def report_view(table: pd.DataFrame, split: str = "val", max_videos: int = 12) -> pd.DataFrame:
    """The rows ``report_figures`` draws from: the first ``max_videos`` videos of ``split`` (the
    projection's) and the similarity figure's pair (``pick_pair``). A small table where the whole
    one is gigabytes (FineGym at its real size)."""
    ids = list(table.loc[table["split"] == split, "video_id"].unique()[:max_videos]) + list(pick_pair(table, split))
    return table[table["video_id"].isin(ids)].reset_index(drop=True)


def pick_pair(table: pd.DataFrame, split: str = "val") -> tuple[str, str]:
    """Two videos to show: the first two of ``split``, topped up from the others if it has fewer."""
    ids = list(table.loc[table["split"] == split, "video_id"].unique())
    ids += [v for v in table["video_id"].unique() if v not in ids]
    if len(ids) < 2:
        raise ValueError("two videos are needed to compare")
    return ids[0], ids[1]


def similarity_figure(tables: Mapping[str, pd.DataFrame], label: str, split: str = "val"):
    """Cosine similarity between every frame of two videos (``pick_pair``), one panel per
    encoder; the phase boundaries of both videos are drawn as lines."""
    fig, axes = _subplots(1, len(tables), figsize=(5 * len(tables), 4.6), squeeze=False)
    for ax, (name, table) in zip(axes[0], tables.items(), strict=True):
        ids = pick_pair(table, split)
        (a, labels_a), (b, labels_b) = (one_video(table, video_id, label) for video_id in ids)
        labels = [labels_a, labels_b]
        a = a / np.linalg.norm(a, axis=1, keepdims=True)
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
        image = ax.imshow(a @ b.T, cmap="magma", vmin=-1, vmax=1, aspect="auto", origin="upper")
        for boundary in np.flatnonzero(np.diff(labels[0])) + 0.5:
            ax.axhline(boundary, color="cyan", lw=0.8)
        for boundary in np.flatnonzero(np.diff(labels[1])) + 0.5:
            ax.axvline(boundary, color="cyan", lw=0.8)
        ax.set_ylabel(f"{ids[0]} frame")
        ax.set_xlabel(f"{ids[1]} frame")
        ax.set_title(f"{name}: frame similarity")
        fig.colorbar(image, ax=ax)
    fig.tight_layout()
    return fig


def metrics_figure(metrics: Mapping[str, Mapping[str, float]]):
    """Grouped bars: every metric, one bar per encoder."""
    names = list(metrics)
    keys = list(next(iter(metrics.values())).keys())
    fig, ax = _subplots(figsize=(max(6, 1.1 * len(keys) + 2), 4))
    width = 0.8 / len(names)
    for n, name in enumerate(names):
        values = [metrics[name][k] for k in keys]
        bars = ax.bar(np.arange(len(keys)) + n * width, values, width, label=name)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks(np.arange(len(keys)) + width * (len(names) - 1) / 2, keys, rotation=30, ha="right")
    ax.axhline(0, color="black", lw=0.5)
    ax.set_title(" vs ".join(names) + " (validation)")
    ax.legend()
    fig.tight_layout()
    return fig


def report_figures(tables: Mapping[str, pd.DataFrame], scores: Mapping[str, Mapping[str, float]], label: str,
                   split: str = "val"):
    """A report's three figures: the embeddings' projection coloured by ``label``, the frame
    similarity of two ``split`` videos (both per table), and the scores (``metrics_figure``)."""
    return projection_figure(tables, label, split), similarity_figure(tables, label, split), metrics_figure(scores)


def alignment_frames(store: FrameStore, table: pd.DataFrame, label: str, video_a: str, video_b: str,
                     height: int = 160) -> np.ndarray:
    """Two videos played in step: for every step of the DTW path between their embeddings, the
    two frames side by side (each scaled to ``height``) over a bar that shows both phases.

    Returns:
        uint8 ``(L, height + 8, W_a + W_b, 3)``.
    """
    import torch
    import torchvision.transforms.v2.functional as TF

    (a, labels_a), (b, labels_b) = one_video(table, video_a, label), one_video(table, video_b, label)
    path = dtw_path(a, b)
    frames = []
    palette = (matplotlib.colormaps["tab10"](np.arange(10))[:, :3] * 255).astype(np.uint8)
    for video_id, indices, labels in ((video_a, path[:, 0], labels_a), (video_b, path[:, 1], labels_b)):
        pack = store.open(video_id)
        unique, inverse = np.unique(indices, return_inverse=True)
        decoded = pack.read(unique)  # (U, 3, H, W)
        width = round(decoded.shape[-1] * height / decoded.shape[-2])
        decoded = TF.resize(decoded, [height, width], antialias=True)[torch.as_tensor(inverse)]
        strip = torch.as_tensor(palette[np.asarray(labels)[indices] % 10]).permute(1, 0)[:, :, None, None]
        strip = strip.expand(-1, -1, 8, width).permute(1, 0, 2, 3)  # (L, 3, 8, W): the phase bar
        frames.append(torch.cat([decoded, strip], dim=2))
    return torch.cat(frames, dim=3).permute(0, 2, 3, 1).contiguous().numpy()


def retrieval_frames(store: FrameStore, table: pd.DataFrame, label: str, query_video: str, neighbours: int = 5,
                     stride: int = 10, height: int = 160, split: str | None = None,
                     distance: str = "sqeuclidean") -> np.ndarray:
    """The retrieval video, as CARL's released code renders it (``evaluate_finegym.py`` with
    ``visualize_retrieval.py``): every ``stride``-th frame of ``query_video`` beside its
    ``neighbours`` nearest frames (by embedding distance) among every ``stride``-th frame of the
    other videos (of ``split``, when given), played over the query video. Each frame stands on a
    bar in the colour of its ``label`` (phase): a neighbour in the query's colour is a match.

    Returns:
        uint8 ``(L, height + 8, (neighbours + 1) * W, 3)``: ``L`` query frames (every ``stride``-th), ``W`` the width of a frame scaled to ``height``.
    """
    import torch
    import torchvision.transforms.v2.functional as TF
    from scipy.spatial.distance import cdist

    if stride < 1 or neighbours < 1:
        raise ValueError(f"stride and neighbours must be >= 1, got {stride}, {neighbours}")
    pool = table if split is None else table[table["split"] == split]
    query = pool[pool["video_id"] == query_video].sort_values("frame_index").iloc[::stride]
    others = pool[pool["video_id"] != query_video].sort_values(["video_id", "frame_index"])
    others = others[others["frame_index"] % stride == 0]
    if query.empty or others.empty:
        raise ValueError(f"retrieval needs video {query_video!r} and at least one other video"
                         + (f" in split {split!r}" if split else ""))
    dists = cdist(embedding_matrix(query), embedding_matrix(others), distance)
    nearest = np.argsort(dists, axis=1, kind="stable")[:, :neighbours]  # (L, K) rows of `others`
    palette = (matplotlib.colormaps["tab10"](np.arange(10))[:, :3] * 255).astype(np.uint8)
    width = None

    def tiles(video_id: str, frame_indices: np.ndarray, labels: np.ndarray) -> torch.Tensor:
        """(N, 3, height + 8, width): the frames, scaled, over their phase bars."""
        nonlocal width
        unique, inverse = np.unique(frame_indices, return_inverse=True)
        decoded = store.open(video_id).read(unique)
        width = width or round(decoded.shape[-1] * height / decoded.shape[-2])
        decoded = TF.resize(decoded, [height, width], antialias=True)[torch.as_tensor(inverse)]
        bar = torch.as_tensor(palette[np.asarray(labels) % 10])[:, :, None, None].expand(-1, -1, 8, width)
        return torch.cat([decoded, bar], dim=2)

    columns = [tiles(query_video, query["frame_index"].to_numpy(), query[label].to_numpy())]
    chosen = others.iloc[nearest.reshape(-1)]
    picked = torch.empty((len(chosen),) + tuple(columns[0].shape[1:]), dtype=torch.uint8)
    for video_id, rows in chosen.reset_index(drop=True).groupby("video_id"):
        picked[torch.tensor(rows.index.to_numpy())] = tiles(video_id, rows["frame_index"].to_numpy(),
                                                               rows[label].to_numpy())
    picked = picked.unflatten(0, nearest.shape)  # (L, K, 3, H, W)
    columns += [picked[:, k] for k in range(nearest.shape[1])]  # fewer when there are fewer candidates
    return torch.cat(columns, dim=3).permute(0, 2, 3, 1).contiguous().numpy()


def comparison_figure(comparison: Mapping[str, Mapping[str, float]], title: str = ""):
    """Methods x metrics as a table to look at: each cell holds the score, coloured by its rank
    within the metric's column (darkest: best), so the winner of every metric stands out.

    Args:
        comparison: ``{method: {metric: value}}``; rows in the given order (a missing cell: "-");
            a ``LOWER_IS_BETTER`` metric is darkest at its lowest (``evaluation.oriented``).
    """
    methods = list(comparison)
    metrics = list(dict.fromkeys(m for row in comparison.values() for m in row))  # in the table's order
    values = np.array([[comparison[r].get(m, np.nan) for m in metrics] for r in methods], dtype=float)
    ranks = np.full_like(values, np.nan)
    for column in range(values.shape[1]):
        present = ~np.isnan(values[:, column])
        if present.any():
            column_values = oriented(metrics[column], values[present, column])
            order = column_values.argsort().argsort()  # 0: worst
            ranks[present, column] = order / max(present.sum() - 1, 1)
    fig, ax = _subplots(figsize=(1.05 * len(metrics) + 2.2, 0.5 * len(methods) + 1.3))
    ax.imshow(ranks, cmap="Greens", vmin=-0.3, vmax=1.2, aspect="auto")
    for (row, column), value in np.ndenumerate(values):
        ax.text(column, row, "-" if np.isnan(value) else f"{value:.3f}", ha="center", va="center", fontsize=8,
                fontweight="bold" if ranks[row, column] == 1 else "normal")
    ax.set_xticks(range(len(metrics)), metrics, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(methods)), methods, fontsize=9)
    ax.set_title(title or "validation scores (darker: better within the metric)", fontsize=9)
    fig.tight_layout()
    return fig


def retrieval_sheet(store: FrameStore, table: pd.DataFrame, query_video: str, num_queries: int = 6,
                    neighbours: int = 4, distance: str = "sqeuclidean"):
    """Fine-grained retrieval to look at: frames taken evenly from ``query_video`` (first column)
    and, beside each, its nearest frames in the other videos (by embedding distance)."""
    from scipy.spatial.distance import cdist

    query_rows = table[table["video_id"] == query_video].sort_values("frame_index")
    others = table[table["video_id"] != query_video]
    if query_rows.empty or others.empty:
        raise ValueError(f"retrieval needs video {query_video!r} and at least one other video")
    picks = np.linspace(0, len(query_rows) - 1, num_queries).round().astype(int)
    queries = query_rows.iloc[picks]
    dists = cdist(embedding_matrix(queries), embedding_matrix(others), distance)
    nearest = np.argsort(dists, axis=1, kind="stable")[:, :neighbours]
    fig, axes = _subplots(num_queries, neighbours + 1, figsize=(2.1 * (neighbours + 1), 2.0 * num_queries),
                             squeeze=False)

    def show(ax, video_id, frame_index, title, colour):
        image = store.open(video_id).read([int(frame_index)])[0].permute(1, 2, 0).numpy()
        ax.imshow(image)
        ax.set_title(title, fontsize=7, color=colour)
        ax.set_xticks([])
        ax.set_yticks([])

    for row, (_, query) in enumerate(queries.iterrows()):
        show(axes[row, 0], query_video, query["frame_index"], f"query {query_video}\nframe {query['frame_index']}", "black")
        for col, index in enumerate(nearest[row], start=1):
            match = others.iloc[index]
            show(axes[row, col], match["video_id"], match["frame_index"],
                 f"{match['video_id']}\nframe {match['frame_index']}", "tab:blue")
    fig.suptitle("nearest frames in the other videos", fontsize=9)
    fig.tight_layout()
    return fig
