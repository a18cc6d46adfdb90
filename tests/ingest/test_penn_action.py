import shutil

import numpy as np
import pytest

from carl_pipeline.ingest import ConversionPlan, build_video_index, plan_penn_action, run_conversion
from carl_pipeline.ingest.penn_action import resample_labels
from carl_pipeline.video import FrameStore


def _convert(raw, tmp_path, **kwargs):
    jobs, failures = plan_penn_action(raw / "penn_action", **kwargs)
    store = FrameStore(tmp_path / "frames")
    report = run_conversion(ConversionPlan(tuple(jobs), progress=False, failures=tuple(failures)), store)
    return jobs, store, report


def test_penn_action__phase_labelled_videos_converted_phaseless_actions_skipped(tiny_raw, tmp_path):
    jobs, store, report = _convert(tiny_raw, tmp_path)
    assert report.failed == []
    index, labels = build_video_index(store)
    assert set(index["action"]) == {"squat", "tennis_serve"}  # strum_guitar has no phase labels
    assert index.groupby("split").size().to_dict() == {"train": 4, "val": 2}
    first = index.iloc[0]
    frames_on_disk = sorted((tiny_raw / "penn_action" / "frames" / first.video_id).glob("*.jpg"))
    assert first.num_frames == len(frames_on_disk)
    phase_file = next((tiny_raw / "penn_action").glob(f"*/*/{first.video_id}.npy"))
    np.testing.assert_array_equal(store.open(first.video_id).labels["phase"], np.load(phase_file))
    assert store.open(first.video_id).read_jpeg([1])[0] == frames_on_disk[1].read_bytes()


def test_penn_action__skip_actions_parameter_is_honoured(tiny_raw, tmp_path):
    jobs, _, _ = _convert(tiny_raw, tmp_path, skip_actions=("squat",))
    assert {j.action for j in jobs} == {"tennis_serve"}


def test_penn_action__labels_a_little_off_are_resampled(raw_copy, tmp_path):
    phase_file = sorted((raw_copy / "penn_action" / "train" / "squat").glob("*.npy"))[0]
    labels = np.load(phase_file)
    np.save(phase_file, np.append(labels, labels[-1]))  # one label too many
    _, store, report = _convert(raw_copy, tmp_path)
    assert report.failed == []
    stored = store.open(phase_file.stem).labels["phase"]
    assert len(stored) == len(labels) and stored[0] == labels[0] and stored[-1] == labels[-1]


def test_penn_action__label_array_of_wrong_length_is_reported_by_file(raw_copy, tmp_path):
    phase_file = sorted((raw_copy / "penn_action" / "train" / "squat").glob("*.npy"))[0]
    np.save(phase_file, np.zeros(3, dtype=np.int64))
    _, store, report = _convert(raw_copy, tmp_path)
    assert [f["video_id"] for f in report.failed] == [phase_file.stem]
    assert str(phase_file) in report.failed[0]["error"] and "3 phase labels" in report.failed[0]["error"]
    assert len(report.converted) == 5 and not store.path_for(phase_file.stem).exists()


def test_penn_action__corrupt_frame_is_reported_by_file(raw_copy, tmp_path):
    phase_file = sorted((raw_copy / "penn_action" / "val" / "tennis_serve").glob("*.npy"))[0]
    frame = sorted((raw_copy / "penn_action" / "frames" / phase_file.stem).glob("*.jpg"))[2]
    frame.write_bytes(b"not a jpeg")
    _, _, report = _convert(raw_copy, tmp_path)
    assert [f["video_id"] for f in report.failed] == [phase_file.stem]
    assert "frame 2 is not a readable image" in report.failed[0]["error"]


def test_penn_action__missing_label_file_is_reported(raw_copy, tmp_path):
    phase_file = sorted((raw_copy / "penn_action" / "train" / "squat").glob("*.npy"))[0]
    (raw_copy / "penn_action" / "labels" / f"{phase_file.stem}.mat").unlink()
    _, _, report = _convert(raw_copy, tmp_path)
    assert "label file does not exist" in report.failed[0]["error"]


def test_resample_labels__keeps_order_and_ends():
    np.testing.assert_array_equal(resample_labels(np.array([0, 0, 1, 1, 2, 2]), 3), [0, 1, 2])
    assert resample_labels(np.array([0, 1, 2]), 7).tolist() == [0, 0, 1, 1, 1, 2, 2]


def test_penn_action__no_phase_labels_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no phase labels"):
        plan_penn_action(tmp_path)


def test_penn_action__a_video_regenerated_under_its_id_is_converted_again(raw_copy, tmp_path):
    # The demo data's ids shift when its counts change: id, split and action can stay the same
    # while the frames and labels are another video's. The old pack must not be kept.
    jobs, store, first = _convert(raw_copy, tmp_path)
    squat = sorted((raw_copy / "penn_action" / "train" / "squat").glob("*.npy"))
    changed, other = squat[0].stem, squat[1].stem
    frames = raw_copy / "penn_action" / "frames"
    shutil.rmtree(frames / changed)
    shutil.copytree(frames / other, frames / changed)
    labels = raw_copy / "penn_action" / "labels"
    shutil.copy(labels / f"{other}.mat", labels / f"{changed}.mat")
    np.save(squat[0], np.load(squat[1]))
    jobs, _ = plan_penn_action(raw_copy / "penn_action")
    report = run_conversion(ConversionPlan(tuple(jobs), progress=False), store)
    assert report.converted == [changed] and len(report.skipped_existing) == len(first.converted) - 1
    assert (store.open(changed).read() == store.open(other).read()).all()
    assert (store.open(changed).labels["phase"] == store.open(other).labels["phase"]).all()
