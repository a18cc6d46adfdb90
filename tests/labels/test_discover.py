"""Phases found with no labels: a left-to-right model of K phases learnt from a flat start by
re-alignment, scored after Hungarian matching beside an equal-length split."""

import numpy as np
import pytest

from carl_pipeline.labels.discover import (
    DiscoveryError,
    boundary_f1,
    discover_phases,
    discovery_scores,
    equal_split,
    matched_accuracy,
)


def _videos(rng, count=6, phases=4, noise=0.3):
    """Videos whose phases have random lengths (so an equal split is wrong), each phase near its
    own direction."""
    videos, truth = {}, {}
    for v in range(count):
        lengths = rng.integers(4, 30, size=phases)
        y = np.repeat(np.arange(phases), lengths)
        videos[f"v{v}"] = np.eye(8)[y] + noise * rng.normal(size=(len(y), 8))
        truth[f"v{v}"] = y
    return videos, truth


def test_discover__finds_the_shared_phases_better_than_an_equal_split():
    videos, truth = _videos(np.random.default_rng(0))
    # One state per phase: each of these phases is one look, so sub-states (the default, 4, chosen
    # on the Pouring demo's training videos) have nothing to tell apart and score 0.85 here.
    found, report = discover_phases(videos, 4, states_per_phase=1)
    assert report["relative_times"] == sorted(report["relative_times"]) and len(report["frames_per_phase"]) == 4
    scores = discovery_scores({v: found[v]["phase"] for v in found}, truth, 4)
    assert scores["accuracy"] > 0.9 and scores["accuracy"] >= scores["equal_split_accuracy"] + 0.1
    assert scores["boundary_f1"] > scores["equal_split_boundary_f1"]
    for v, labels in found.items():  # phases in the order they happen in every video
        assert (np.diff(labels["phase"]) >= 0).all() and len(labels["confidence"]) == len(truth[v])


def test_discover__each_video_s_own_look_does_not_split_the_phases():
    """Every video carries its own offset (its scene, its light), larger than the differences
    between phases: clustering the frames finds the videos; the phases, pooled over the videos from
    a flat start, are still found."""
    rng = np.random.default_rng(3)
    videos, truth = _videos(rng, count=8, noise=0.1)
    for v in videos:
        videos[v] = np.concatenate([videos[v], np.repeat(3.0 * rng.normal(size=(1, 8)), len(videos[v]), axis=0)], axis=1)
    # one state per phase, as above
    found, report = discover_phases(videos, 4, states_per_phase=1)
    scores = discovery_scores({v: found[v]["phase"] for v in found}, truth, 4)
    assert scores["accuracy"] > 0.9 and scores["accuracy"] >= scores["equal_split_accuracy"] + 0.1, scores
    assert report["converged"] and report["states_per_phase"] == 1 and report["iterations"] >= 1
    short = {v: e[:12] for v, e in videos.items()}  # 12 frames: 3 sub-states per phase at most
    assert discover_phases(short, 4)[1]["states_per_phase"] == 3


def test_discover__drop_dtw_leaves_frames_unlike_every_phase_as_background():
    rng = np.random.default_rng(1)
    videos, truth = _videos(rng)
    noise = -np.eye(8)[:4].sum(axis=0) + 0.05 * rng.normal(size=(15, 8))  # a stretch unlike every phase
    videos["v1"], truth["v1"] = np.concatenate([noise, videos["v1"]]), np.concatenate([[-2] * 15, truth["v1"]])
    found, report = discover_phases(videos, 4, "drop_dtw")
    assert (found["v1"]["phase"][:15] == -2).mean() > 0.8 and report["background_frames"] >= 12
    assert all((found[v]["phase"] != -2).mean() > 0.9 for v in found if v != "v1")


def test_scores__hungarian_matching_and_boundary_f1():
    truth = [np.array([0, 0, 1, 1, 2, 2])]
    assert matched_accuracy([np.array([2, 2, 0, 0, 1, 1])], truth)[0] == 1.0  # names do not matter
    assert boundary_f1([np.array([0, 0, 0, 1, 1, 2])], truth, tolerance=1) == 1.0
    assert boundary_f1([np.array([0, 0, 0, 0, 0, 1])], truth, tolerance=1) == pytest.approx(2 / 3)
    np.testing.assert_array_equal(equal_split(7, 3), [0, 0, 0, 1, 1, 2, 2])


def test_discover__bad_input_named():
    videos, _ = _videos(np.random.default_rng(2))
    with pytest.raises(DiscoveryError, match="at least 2, got 1"):
        discover_phases(videos, 1)
    shortest = min(videos, key=lambda v: len(videos[v]))
    with pytest.raises(DiscoveryError, match=f"video '{shortest}' has only {len(videos[shortest])} frames"):
        discover_phases(videos, len(videos[shortest]) + 1)
    with pytest.raises(DiscoveryError, match="at least 2 videos"):
        discover_phases({"v0": videos["v0"]}, 2)
    with pytest.raises(DiscoveryError, match="dtw or drop_dtw, got 'nn'"):
        discover_phases(videos, 3, "nn")
    with pytest.raises(DiscoveryError, match="states_per_phase >= 1 and max_iterations >= 0, got 0 and 20"):
        discover_phases(videos, 3, states_per_phase=0)
    with pytest.raises(DiscoveryError, match="got 4 and -1"):  # would never stop
        discover_phases(videos, 3, max_iterations=-1)
