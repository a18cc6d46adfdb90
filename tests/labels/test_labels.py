"""Phase labels by example: the labels file checked by line, and propagation along embeddings."""

import numpy as np
import pytest

from carl_pipeline.labels import (
    LabelsFileError,
    accuracy,
    propagate,
    read_phase_labels,
    relative_time_labels,
)

FRAMES = {"a": 10, "b": 8}


def test_frames_csv__bad_lines_reported_by_line_and_the_rest_used(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("video_id,frame_index,phase\n"
                    "a,0,reach\na,1,reach\na,5,pour\n"   # lines 2-4: good
                    "zzz,0,reach\n"                      # 5: unknown video
                    "a,10,pour\n"                        # 6: frame out of range (a has 10)
                    "a,7,reach\n"                        # 7: back to reach after pour: out of order
                    "a,1,pour\n"                         # 8: frame 1 already labelled
                    "b,x,reach\n"                        # 9: not a number
                    "b,3,pour\n")                        # 10: good
    found = read_phase_labels(path, FRAMES)
    problems = {p["line"]: p["problem"] for p in found.problems}
    assert set(problems) == {5, 6, 7, 8, 9}
    assert "unknown video id 'zzz'" in problems[5] and "out of range" in problems[6] and "10 frames" in problems[6]
    assert "out of order" in problems[7] and "already has phase 'reach'" in problems[8]
    assert "not a number" in problems[9]
    assert found.phases == ["reach", "pour"]
    np.testing.assert_array_equal(found.labels["a"], [0, 0, -1, -1, -1, 1, -1, -1, -1, -1])
    np.testing.assert_array_equal(found.labels["b"], [-1, -1, -1, 1, -1, -1, -1, -1])


def test_segments_csv__ends_included_a_bad_segment_left_out_whole(tmp_path):
    path = tmp_path / "segments.csv"
    path.write_text("video_id,phase,start_frame,end_frame\n"
                    "a,0,0,3\na,1,4,9\n"
                    "b,1,0,2\n"   # line 4: applied first
                    "b,0,3,5\n"   # line 5: phase 0 after phase 1: out of order, none of its frames used
                    "b,2,6,4\n")  # line 6: ends before it starts
    found = read_phase_labels(path, FRAMES)
    assert {p["line"] for p in found.problems} == {5, 6}
    np.testing.assert_array_equal(found.labels["a"], [0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    np.testing.assert_array_equal(found.labels["b"], [1, 1, 1, -1, -1, -1, -1, -1])
    assert found.phases == ["0", "1"]  # numbers in numeric order (line 6 left out with its phase)
    assert found.report()["labelled_videos"] == {"a": 10, "b": 3}


def test_npy_folder__penn_action_style_arrays_checked_per_file(tmp_path):
    folder = tmp_path / "labels"
    folder.mkdir()
    np.save(folder / "a.npy", np.array([0, 0, 1, 1, 2, 2, 2, -1, -1, -1]))
    np.save(folder / "b.npy", np.array([0, 1, 1]))  # 3 labels for 8 frames
    np.save(folder / "c.npy", np.array([0]))  # no such video
    found = read_phase_labels(folder, FRAMES)
    assert {p["line"] for p in found.problems} == {"b.npy", "c.npy"}
    np.testing.assert_array_equal(found.labels["a"], [0, 0, 1, 1, 2, 2, 2, -1, -1, -1])


def test_unusable_files_are_errors_naming_the_file(tmp_path):
    with pytest.raises(LabelsFileError, match="does not exist"):
        read_phase_labels(tmp_path / "missing.csv", FRAMES)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("id,frame,label\na,0,1\n")
    with pytest.raises(LabelsFileError, match="wrong.csv: columns"):
        read_phase_labels(wrong, FRAMES)
    nothing = tmp_path / "nothing.csv"
    nothing.write_text("video_id,frame_index,phase\nzzz,0,1\n")
    with pytest.raises(LabelsFileError, match="no usable label.*line 2: unknown video id"):
        read_phase_labels(nothing, FRAMES)


def _video(lengths, rng, noise=0.05):
    """Embeddings of a video made of phases of ``lengths`` frames, each phase near its own direction."""
    centres = np.eye(8)[: len(lengths)]
    phases = np.repeat(np.arange(len(lengths)), lengths)
    return centres[phases] + noise * rng.normal(size=(len(phases), 8)), phases


@pytest.mark.parametrize("method", ["dtw", "nn"])
def test_propagate__phases_follow_the_embeddings_not_the_clock(method):
    rng = np.random.default_rng(0)
    source = _video([10, 10, 10], rng)
    target, truth = _video([3, 20, 7], rng)  # the same phases at very different times
    found = propagate({"t": target}, {"s": source}, 3, method)["t"]
    assert accuracy(found["phase"], truth) == 1.0
    baseline = relative_time_labels(len(truth), {"s": source[1]}, 3)
    assert accuracy(baseline, truth) < 0.8  # the clock is wrong here: the comparison can fail
    assert found["confidence"].min() > 0.5 and found["sources"][0] == ["s"]


def test_propagate__votes_across_labelled_videos_and_confidence_drops_where_they_disagree():
    rng = np.random.default_rng(1)
    a, b = _video([10, 10], rng), _video([10, 10], rng)
    wrong = (b[0], 1 - b[1])  # a labelled video whose phases are swapped
    target, truth = _video([10, 10], rng)
    two = propagate({"t": target}, {"a": a, "b": b, "c": _video([10, 10], rng)}, 2, "nn")["t"]
    split = propagate({"t": target}, {"a": a, "w": wrong}, 2, "nn")["t"]
    assert accuracy(two["phase"], truth) == 1.0
    assert split["confidence"].max() < 0.6 < two["confidence"].min()
    with pytest.raises(ValueError, match="method must be one of"):
        propagate({"t": target}, {"a": a}, 2, "knn")
