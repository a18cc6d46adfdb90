"""Pictures of a library of your videos: each video's phases over its frames (labelled by
example) and the frames a search found."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import numpy as np
import pandas as pd
import torch

from carl_pipeline.reporting.plots import _subplots
from carl_pipeline.video.frame_store import FrameStore


def phase_timeline_figure(propagated: pd.DataFrame, phases: Sequence[str], max_videos: int = 40,
                          title: str = "phases labelled by example",
                          empty: str = "no labels given (set videos.labels.path)"):
    """One row per video (at most ``max_videos``): its frames coloured by phase (background
    grey), a black line of the confidence over them, and "given" beside the videos whose labels
    were given."""
    videos = list(dict.fromkeys(propagated["video_id"]))[:max_videos] if len(propagated) else []
    fig, ax = _subplots(figsize=(9, 0.8 + 0.32 * max(len(videos), 1)))
    if not videos:
        ax.text(0.5, 0.5, empty, ha="center", va="center")
        ax.set_axis_off()
        return fig
    colours = matplotlib.colormaps["tab10" if len(phases) <= 10 else "tab20"]
    background = (0.86, 0.86, 0.86)  # frames in no phase (labels.BACKGROUND_LABEL, -2)

    def colour(phase: int):
        return background if phase < 0 else colours(phase % colours.N)

    for row, video_id in enumerate(videos):
        rows = propagated[propagated["video_id"] == video_id].sort_values("frame_index")
        frames = rows["frame_index"].to_numpy()
        length = max(int(frames.max()) + 1, 1)
        ax.bar((frames + 0.5) / length, 0.8, width=1.0 / length, bottom=row - 0.4,
               color=[colour(p) for p in rows["phase"]], linewidth=0)
        ax.plot((frames + 0.5) / length, row + 0.4 - 0.8 * rows["confidence"].to_numpy(), color="black", lw=0.7)  # y grows down
        if bool(rows["given"].iloc[0]):
            ax.text(1.01, row, "given", va="center", fontsize=7)
    ax.set_yticks(range(len(videos)), videos, fontsize=7)
    ax.set_ylim(len(videos) - 0.5, -0.5)
    ax.set_xlim(0, 1)
    ax.set_xlabel("relative time in the video (black line: confidence, 0 at the bar's bottom, 1 at its top)",
                  fontsize=8)
    handles = [matplotlib.patches.Patch(color=colours(i % colours.N), label=name) for i, name in enumerate(phases)]
    if (propagated["phase"] < 0).any():
        handles.append(matplotlib.patches.Patch(color=background, label="background"))
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, 1.0 + 0.6 / (len(videos) + 2)),
              ncol=min(len(handles), 8), frameon=False)
    ax.set_title(title, fontsize=9, pad=18)
    fig.tight_layout()
    return fig


def search_sheet(store: FrameStore, results: pd.DataFrame, images: Sequence[torch.Tensor] | None = None):
    """One row per query: the query frame (or image), then its neighbours in rank order, each
    titled with its video, frame and cosine similarity."""
    queries = list(dict.fromkeys(results["query"]))
    neighbours = int(results.groupby("query").size().max())
    fig, axes = _subplots(len(queries), neighbours + 1, figsize=(2.1 * (neighbours + 1), 2.1 * len(queries)),
                          squeeze=False)

    def show(ax, image, title, colour):
        ax.imshow(np.asarray(image.permute(1, 2, 0)))
        ax.set_title(title, fontsize=7, color=colour)
        ax.set_xticks([])
        ax.set_yticks([])

    for row, query in enumerate(queries):
        found = results[results["query"] == query].sort_values("rank")
        first = found.iloc[0]
        if images is not None:
            show(axes[row, 0], images[row], f"query\n{query}", "black")
        else:
            show(axes[row, 0], store.open(first["query_video_id"]).read([int(first["query_frame_index"])])[0],
                 f"query\n{query}", "black")
        for col in range(1, neighbours + 1):
            ax = axes[row, col]
            if col > len(found):
                ax.set_axis_off()
                continue
            match = found.iloc[col - 1]
            show(ax, store.open(match["video_id"]).read([int(match["frame_index"])])[0],
                 f"{match['video_id']}\nframe {match['frame_index']}  cos {match['similarity']:.2f}", "tab:blue")
    fig.suptitle("nearest frames in the library", fontsize=9)
    fig.tight_layout()
    return fig
