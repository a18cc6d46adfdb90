"""Online progress (GTCC's estimate) against transcriptions of the GTCC repository's
``get_trueprogress`` and ``get_cum_matrix`` (gerardDonahue/GTCC_CVPR2024, utils/tensorops.py), and
its trivial baselines."""

import numpy as np
import pandas as pd
import pytest
import torch

from carl_pipeline.evaluation import (
    EvalConfig,
    evaluate_table,
    online_progress_error,
    path_length,
    progress_baselines,
    progress_reference,
    true_progress,
)


def _trueprogress_transcription(steps, starts, ends):
    n = ends[-1] + 1
    progress = torch.zeros(n)
    prev = 0
    share = 1 / sum(1 if step != "SIL" else 0 for step in steps)
    for step, start, end in zip(steps, starts, ends, strict=True):
        if step != "SIL":
            progress[start:end + 1] = torch.linspace(prev, prev + share, round(end - start + 1))
            prev = prev + share
        else:
            progress[start:end + 1] = progress[start - 1]
    return progress.numpy()


def _cum_transcription(video):
    p = torch.zeros(video.shape[0])
    for t in range(1, video.shape[0]):
        p[t] = p[t - 1] + torch.linalg.norm(video[t] - video[t - 1])
    return p.numpy()


@pytest.mark.parametrize("runs", [[(0, 10), (1, 5), (2, 7)], [(-1, 4), (0, 6), (-1, 3), (1, 8), (-1, 2)], [(3, 1), (0, 9)]])
def test_true_progress__is_the_repositorys(runs):
    labels = np.concatenate([np.full(n, label) for label, n in runs])
    steps = ["SIL" if label < 0 else str(label) for label, _ in runs]
    ends = list(np.cumsum([n for _, n in runs]) - 1)
    starts = [0, *[e + 1 for e in ends[:-1]]]
    np.testing.assert_allclose(true_progress(labels), _trueprogress_transcription(steps, starts, ends), atol=1e-6)
    assert true_progress(labels)[-1] <= 1 + 1e-9


def test_path_length__is_the_repositorys_cumulative_distance():
    video = np.random.default_rng(0).normal(size=(20, 6)).astype(np.float32)
    np.testing.assert_allclose(path_length(video), _cum_transcription(torch.from_numpy(video)), rtol=1e-5)


def test_online_progress_error__a_steady_walk_scores_zero_and_the_baselines_do_not():
    """Embeddings that move the same distance every frame, on videos of one length with one
    step: the path is exactly the progress. The constant 0.5 is a quarter off on average."""
    labels = [np.zeros(21, dtype=int)] * 3
    walk = np.arange(21, dtype=float)[:, None] * np.array([[0.6, 0.8]])
    assert online_progress_error([walk, walk], [walk], labels[:1]) == pytest.approx(0.0, abs=1e-12)
    baselines = progress_baselines([21, 21], labels)
    assert baselines["relative time"] == pytest.approx(0.0, abs=1e-12)
    assert baselines["constant 0.5"] == pytest.approx(np.mean(np.abs(np.linspace(0, 1, 21) - 0.5)))
    # a still video has no path: left out, as the repository does; no training path: NaN
    assert online_progress_error([walk], [walk, np.zeros((21, 2))], labels[:2]) == pytest.approx(0.0, abs=1e-12)
    assert np.isnan(online_progress_error([np.zeros((5, 2))], [walk], labels[:1]))


def test_progress_reference__the_baselines_on_the_frames_the_metric_scores():
    rows = []
    for v, split in enumerate(["train"] * 3 + ["val"] * 2):
        n = 20 + 4 * v
        labels = np.repeat([0, 1], [n // 2, n - n // 2])
        for t in range(n):
            rows.append({"video_id": f"v{v}", "split": split, "action": "a", "frame_index": t, "phase": labels[t],
                         "embedding": np.array([t / n, 0.0], dtype=np.float32)})
    table = pd.DataFrame(rows)
    reference = progress_reference(table, EvalConfig(stride=1))
    assert set(reference) == {"constant 0.5", "relative time"} and 0 < reference["relative time"] < reference["constant 0.5"]
    assert evaluate_table(table, EvalConfig(stride=1))["online_progress_error"] < reference["constant 0.5"]
