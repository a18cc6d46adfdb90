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


def test_a_blank_or_missing_phase_is_a_problem_not_a_phase(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("video_id,frame_index,phase\n"
                    "a,0,reach\na,6,pour\n"
                    "a,5,\n"        # line 4: blank phase cell
                    "a,3,  \n"      # line 5: spaces only
                    "a,2\n"         # line 6: a short row
                    "b,0,reach\n")
    found = read_phase_labels(path, FRAMES)
    problems = {p["line"]: p["problem"] for p in found.problems}
    assert set(problems) == {4, 5, 6}
    assert "phase is empty" in problems[4] and "phase is empty" in problems[5]
    assert "2 of the 3 fields" in problems[6] and "no phase" in problems[6]
    assert found.phases == ["reach", "pour"]  # no phase named "" or "None"
    np.testing.assert_array_equal(found.labels["a"], [0, -1, -1, -1, -1, -1, 1, -1, -1, -1])


def test_phase_order__decided_per_file_from_its_valid_lines_and_stated(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("video_id,frame_index,phase\n"
                    "a,0,2\na,4,10\n"   # numbers: 2 before 10 (not "10" before "2")
                    "b,0,1\nb,3,2\n"
                    "b,5,pour\n"        # line 6: a name in a file of numbers
                    "b,7,10\n")
    found = read_phase_labels(path, FRAMES)
    assert found.phase_order == "numbers" and found.phases == ["1", "2", "10"]
    assert [p["line"] for p in found.problems] == [6]  # only the odd line, not b's correct line 7
    assert "is a name" in found.problems[0]["problem"] and "5 of the file's 6 valid lines give their phase as a number" in \
        found.problems[0]["problem"]
    np.testing.assert_array_equal(found.labels["b"], [0, -1, -1, 1, -1, -1, -1, 2])
    assert found.report()["phase_order"] == "numbers"
    names = tmp_path / "names.csv"
    names.write_text("video_id,frame_index,phase\na,0,reach\na,3,3\na,5,pour\n")
    found = read_phase_labels(names, FRAMES)
    assert found.phase_order == "first mention" and found.phases == ["reach", "pour"]
    assert [p["line"] for p in found.problems] == [3] and "is a number" in found.problems[0]["problem"]
    assert read_phase_labels(names, FRAMES, phases=["reach", "3", "pour"]).phase_order == "given"


@pytest.mark.parametrize("frame, problem", [("1.7", "not a whole number"), ("-0.5", "not a whole number"),
                                            ("inf", "not a finite number"), ("1e400", "not a finite number"),
                                            ("nan", "not a finite number"), ("1e20", "out of range")])
def test_frame_numbers__fractions_and_infinities_are_problems_naming_the_line(tmp_path, frame, problem):
    path = tmp_path / "labels.csv"
    path.write_text(f"video_id,frame_index,phase\na,0,0\na,{frame},1\n")
    found = read_phase_labels(path, FRAMES)
    assert [p["line"] for p in found.problems] == [3] and problem in found.problems[0]["problem"]
    np.testing.assert_array_equal(found.labels["a"], [0] + [-1] * 9)
    segments = tmp_path / "segments.csv"
    segments.write_text(f"video_id,phase,start_frame,end_frame\na,0,0,2\na,1,3,{frame}\n")
    found = read_phase_labels(segments, FRAMES)
    assert [p["line"] for p in found.problems] == [3] and problem in found.problems[0]["problem"]


def test_the_same_frame_given_twice_is_reported_even_with_the_same_phase(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("video_id,frame_index,phase\na,0,reach\na,1,reach\na,1,reach\na,1,pour\n")
    found = read_phase_labels(path, FRAMES)
    problems = {p["line"]: p["problem"] for p in found.problems}
    assert problems == {4: "frame 1 is labelled twice (also on line 3)",
                        5: "frame 1 already has phase 'reach' (line 3)"}
    segments = tmp_path / "segments.csv"
    segments.write_text("video_id,phase,start_frame,end_frame\na,0,0,3\na,0,3,5\n")  # frame 3 in both
    found = read_phase_labels(segments, FRAMES)
    assert [(p["line"], p["problem"]) for p in found.problems] == [(3, "frame 3 is labelled twice (also on line 2)")]


def test_encodings__a_bom_and_utf16_read_latin1_refused_naming_the_file_and_line(tmp_path):
    text = "video_id,frame_index,phase\na,0,reach\na,5,pour\n"
    (tmp_path / "excel.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())  # Excel's CSV UTF-8
    (tmp_path / "utf16.csv").write_bytes(text.encode("utf-16"))
    for name in ("excel.csv", "utf16.csv"):
        found = read_phase_labels(tmp_path / name, FRAMES)
        assert found.problems == [] and found.phases == ["reach", "pour"]
    (tmp_path / "latin1.csv").write_bytes((text + "b,0,versé\n").encode("latin-1"))
    with pytest.raises(LabelsFileError, match=r"latin1.csv: not UTF-8 text \(byte 0xe9 on line 4"):
        read_phase_labels(tmp_path / "latin1.csv", FRAMES)


def test_many_bad_lines__twenty_logged_then_a_count_and_all_in_the_report(tmp_path, caplog):
    import logging

    import pandas as pd

    from carl_pipeline.labels import labels_table

    path = tmp_path / "labels.csv"
    path.write_text("video_id,frame_index,phase\na,0,reach\n" + "zzz,0,reach\n" * 5000)
    index = pd.DataFrame({"video_id": list(FRAMES), "num_frames": list(FRAMES.values())})
    with caplog.at_level(logging.WARNING):
        _, report = labels_table(str(path), index)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(report["problems"]) == 5000 and len(warnings) == 21
    assert "4980 more problems, not shown; all 5000 are listed in the labels report" in warnings[-1]


def test_background__anywhere_along_a_video_outside_the_order_and_never_alone(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("video_id,frame_index,phase\n"
                    "a,0,background\na,1,reach\na,4,Background\n"  # between two phases: no order to break
                    "a,5,pour\na,9,background\n"
                    "a,9,reach\n"                                   # line 7: frame 9 is background already
                    "b,0,background\n")
    found = read_phase_labels(path, FRAMES)
    assert found.phases == ["reach", "pour"] and found.phase_order == "first mention"
    np.testing.assert_array_equal(found.labels["a"], [-2, 0, -1, -1, -2, 1, -1, -1, -1, -2])
    np.testing.assert_array_equal(found.labels["b"], [-2] + [-1] * 7)  # background examples count
    assert [(p["line"], p["problem"]) for p in found.problems] == [(7, "frame 9 already has phase 'background' (line 6)")]
    assert found.report()["background_frames"] == {"a": 3, "b": 1}
    only = tmp_path / "only.csv"
    only.write_text("video_id,frame_index,phase\na,0,background\na,1,background\n")
    with pytest.raises(LabelsFileError, match="only.csv: the only phase labelled is 'background'"):
        read_phase_labels(only, FRAMES)
    numbers = tmp_path / "numbers.csv"  # background does not make a file of numbers one of names
    numbers.write_text("video_id,frame_index,phase\na,0,background\na,1,2\na,3,10\n")
    found = read_phase_labels(numbers, FRAMES)
    assert found.phase_order == "numbers" and found.phases == ["2", "10"] and found.problems == []
    folder = tmp_path / "npy"
    folder.mkdir()
    np.save(folder / "a.npy", np.array([-2, 0, 0, 1, 1, -1, -1, -1, -2, -2]))
    np.testing.assert_array_equal(read_phase_labels(folder, FRAMES).labels["a"], [-2, 0, 0, 1, 1, -1, -1, -1, -2, -2])


def test_propagate__drop_dtw_leaves_background_where_the_labelled_video_has_it():
    rng = np.random.default_rng(3)
    source, source_y = _video([12, 10, 14], rng)
    lead = np.eye(8)[6] + 0.05 * rng.normal(size=(6, 8))
    labelled = np.concatenate([lead, source])
    labelled_y = np.concatenate([[-2] * 6, source_y])
    action, action_y = _video([9, 16, 11], rng)
    tail = np.eye(8)[6] + 0.05 * rng.normal(size=(8, 8))
    target = np.concatenate([action, tail])  # starts at once, ends late: background after
    truth = np.concatenate([action_y, [-2] * 8])
    found = propagate({"t": target}, {"l": (labelled, labelled_y)}, 3, "auto")["t"]
    assert accuracy(found["phase"], truth) == 1.0
    assert (found["confidence"][truth == -2] > 0.5).all()
    whole = propagate({"t": target}, {"l": (labelled, labelled_y)}, 3, "dtw")["t"]["phase"]
    assert (whole >= 0).all() and accuracy(whole, truth) < 0.85  # today's DTW: no background
    baseline = relative_time_labels(len(target), {"l": labelled_y}, 3)
    assert (baseline[:3] == -2).all()  # the baseline knows background too: at the same relative time


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


def test_propagate__drop_dtw_phases_from_the_labelled_videos_template_not_one_videos_slip():
    """A labelled video whose phase boundary is marked late: alone, its vote carries the slip to
    the frames aligned with it and ties with the other video's; the template of the phases (their
    mean looks over the labelled videos) gives each frame the phase it looks like."""
    rng = np.random.default_rng(4)
    good, good_y = _video([12, 12, 12], rng)
    slipped, slipped_y = _video([12, 12, 12], rng)
    slipped_y = slipped_y.copy()
    slipped_y[12:17] = 0  # phase 1's first five frames marked as phase 0
    slipped_y[24:29] = 1
    background = np.eye(8)[6] + 0.05 * rng.normal(size=(6, 8))
    labelled = {"good": (np.concatenate([background, good]), np.concatenate([[-2] * 6, good_y])),
                "slipped": (np.concatenate([background, slipped]), np.concatenate([[-2] * 6, slipped_y]))}
    target, truth = _video([10, 14, 11], rng)
    target, truth = np.concatenate([background[:4], target]), np.concatenate([[-2] * 4, truth])
    votes = propagate({"t": target}, labelled, 3, "drop_dtw", phase_template=False)["t"]
    found = propagate({"t": target}, labelled, 3, "drop_dtw")["t"]
    assert accuracy(votes["phase"], truth) < 0.9  # the slip is carried: the test can fail
    assert accuracy(found["phase"], truth) == 1.0
    assert found["sources"][4] == ["good", "slipped"]  # both voted phase 0 on the first action frame
    assert all(found["sources"][t] for t in range(len(target)))  # every label has its labelled videos


def test_propagate__drop_dtw_template_leaves_a_video_with_fewer_kept_frames_than_phases_to_the_votes():
    rng = np.random.default_rng(5)
    labelled, labelled_y = _video([8, 8, 8], rng)
    background = np.eye(8)[6] + 0.05 * rng.normal(size=(6, 8))
    source = (np.concatenate([background, labelled]), np.concatenate([[-2] * 6, labelled_y]))
    target = np.concatenate([np.eye(8)[6] + 0.05 * rng.normal(size=(10, 8)), np.eye(8)[[0, 0]] + 0.05 * rng.normal(size=(2, 8))])
    with_template = propagate({"t": target}, {"l": source}, 3, "drop_dtw")["t"]["phase"]
    votes = propagate({"t": target}, {"l": source}, 3, "drop_dtw", phase_template=False)["t"]["phase"]
    np.testing.assert_array_equal(with_template, votes)  # 3 phases cannot be laid on fewer kept frames
    assert (votes == -2).sum() >= 10 - 1 and (votes >= 0).sum() < 3
