"""The alignment behind label propagation: DTW as the whole-matrix DTW has it, Drop-DTW that
leaves background unmatched, and a multiscale band whose memory grows with the videos' lengths,
not their product."""

import tracemalloc

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from carl_pipeline.evaluation.alignment import dtw_path
from carl_pipeline.labels.align import DROPPED, align


def _smooth(rng, n, dim=16):
    return np.cumsum(rng.normal(size=(n, dim)), axis=0)


@pytest.mark.parametrize("shape", [(5, 7), (30, 20), (60, 90)])
def test_dtw__the_whole_matrix_dtws_path_and_cost(shape):
    rng = np.random.default_rng(sum(shape))
    a, b = rng.normal(size=(shape[0], 6)), rng.normal(size=(shape[1], 6))
    path = dtw_path(a, b, "cosine")
    first = path[np.searchsorted(path[:, 0], np.arange(len(a))), 1]
    found = align(a, b)
    np.testing.assert_array_equal(found.matches, first)
    assert found.cost == pytest.approx(cdist(a, b, "cosine")[path[:, 0], path[:, 1]].sum(), rel=1e-9)
    assert found.exact


def test_drop_dtw__background_before_between_and_after_is_dropped_the_action_aligned_by_phase():
    rng = np.random.default_rng(0)
    centres = np.eye(8)

    def phases(lengths, noise=0.1):
        y = np.repeat(np.arange(len(lengths)), lengths)
        return centres[y] + noise * rng.normal(size=(len(y), 8)), y

    source, source_y = phases([10, 15, 12])
    action, action_y = phases([8, 20, 9])
    lead, tail = centres[6] + 0.1 * rng.normal(size=(7, 8)), centres[7] + 0.1 * rng.normal(size=(5, 8))
    target = np.concatenate([lead, action, tail])
    truth = np.concatenate([[-2] * 7, action_y, [-2] * 5])
    found = align(target, source, np.full(len(target), 0.5))
    predicted = np.where(found.matches == DROPPED, -2, source_y[np.maximum(found.matches, 0)])
    assert (predicted == truth).mean() == 1.0
    whole = source_y[align(target, source).matches]  # DTW stretches the action over the background
    assert (whole == truth).mean() < 0.8
    # a drop cost above every match cost drops nothing: Drop-DTW is DTW with open ends then
    assert (align(action, source, np.full(len(action), 10.0)).matches >= 0).all()


def test_multiscale_band__the_exact_path_on_smooth_long_videos_with_and_without_drops():
    rng = np.random.default_rng(1)
    base = _smooth(rng, 3000)
    warp = np.sort(rng.choice(3000, size=2700, replace=False))
    a, b = base + 0.5 * rng.normal(size=base.shape), base[warp] + 0.5 * rng.normal(size=(2700, 16))
    for drops in (None, np.full(3000, 0.3)):
        exact = align(a, b, drops, max_cells=10**9)
        banded = align(a, b, drops, max_cells=100_000, band_radius=16)
        assert exact.exact and not banded.exact and banded.cells < exact.cells / 10
        assert banded.cost == pytest.approx(exact.cost, rel=1e-9)
        np.testing.assert_array_equal(banded.matches, exact.matches)


def _peak_bytes(n: int) -> int:
    rng = np.random.default_rng(n)
    a, b = _smooth(rng, n), _smooth(rng, n)
    tracemalloc.start()
    align(a, b, np.full(n, 0.5), max_cells=200_000, band_radius=16)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_multiscale_band__memory_grows_with_the_length_not_its_square():
    small, large = _peak_bytes(2000), _peak_bytes(8000)
    assert large < 6 * small  # 4x the frames: 16x the cells of a whole matrix, about 4x the band
    assert large < 8000 * 8000 / 8  # far below even one byte a cell of the whole matrix


def test_align__bad_input_named():
    with pytest.raises(ValueError, match="empty video"):
        align(np.zeros((0, 4)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="4 and 5 dimensions"):
        align(np.ones((3, 4)), np.ones((3, 5)))
