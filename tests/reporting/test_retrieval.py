"""The retrieval video: each query frame beside its nearest frames in the other videos."""

import matplotlib
import numpy as np
import pandas as pd
import pytest

from carl_pipeline.reporting import retrieval_frames


@pytest.fixture(scope="module")
def store(pouring_store):
    return pouring_store


def _table(store):
    """Three phases per video, embedded as their phase (plus a little of the frame's place), so
    a frame's nearest frames in other videos are of its phase."""
    rows = []
    for video_id in store.video_ids():
        count = len(store.open(video_id))
        for frame in range(count):
            phase = frame * 3 // count
            embedding = np.eye(3, dtype=np.float32)[phase] * 10 + frame / count
            rows.append({"video_id": video_id, "split": "val", "frame_index": frame, "phase": phase,
                         "embedding": embedding})
    return pd.DataFrame(rows)


def test_retrieval_frames__each_query_beside_neighbours_of_its_phase(store):
    table = _table(store)
    query = store.video_ids()[0]
    height, stride, neighbours = 24, 2, 3
    frames = retrieval_frames(store, table, "phase", query, neighbours, stride, height)
    query_rows = table[table["video_id"] == query]
    frame = store.open(query).read([0])[0]
    width = round(frame.shape[-1] * height / frame.shape[-2])
    assert frames.dtype == np.uint8
    assert frames.shape == (len(query_rows[::stride]), height + 8, (neighbours + 1) * width, 3)
    palette = (matplotlib.colormaps["tab10"](np.arange(10))[:, :3] * 255).astype(np.uint8)
    for step, phase in enumerate(query_rows["phase"].to_numpy()[::stride]):
        bars = frames[step, height + 4, width // 2::width]  # the middle of every tile's bar
        assert (bars == palette[phase]).all(), (step, phase, bars)  # query and neighbours: one phase


def test_retrieval_frames__needs_another_video(store):
    table = _table(store)
    query = store.video_ids()[0]
    with pytest.raises(ValueError, match="at least one other video"):
        retrieval_frames(store, table[table["video_id"] == query], "phase", query)
