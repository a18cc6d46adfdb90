import numpy as np
import pytest

from carl_pipeline.ingest import ConversionPlan, build_video_index, plan_pouring, run_conversion
from carl_pipeline.video import FrameStore
from carl_pipeline.video.tfrecord import iter_record_locations, parse_sequence_example, read_record


def test_pouring__every_record_becomes_a_video_with_its_labels(tiny_raw, tmp_path):
    jobs, failures = plan_pouring(tiny_raw / "pouring")
    assert failures == []
    assert sorted(j.video_id for j in jobs) == [
        "pouring_train_000", "pouring_train_001", "pouring_train_002", "pouring_val_000", "pouring_val_001"]
    store = FrameStore(tmp_path / "frames")
    report = run_conversion(ConversionPlan(tuple(jobs), progress=False), store)
    assert report.failed == [] and len(report.converted) == 5
    index, labels = build_video_index(store)
    assert index.set_index("video_id").loc["pouring_val_001", "split"] == "val"
    # The val file carries TCC's extra context keys: still read, labels intact.
    val_file = sorted((tiny_raw / "pouring").glob("pouring_val-*.tfrecord"))[0]
    record = parse_sequence_example(read_record(next(iter_record_locations(val_file))))
    pack = store.open(record.name)
    assert len(pack) == len(record.jpeg_frames) == record.num_frames
    np.testing.assert_array_equal(pack.labels["phase"], record.frame_labels)
    assert pack.read_jpeg([0])[0] == record.jpeg_frames[0]  # stored byte for byte, no re-encoding
    assert int(index.set_index("video_id").loc[record.name, "num_frames"]) == len(record.jpeg_frames)
    assert (labels.groupby("video_id").size() == index.set_index("video_id")["num_frames"]).all()


def test_pouring__resize_changes_the_stored_size(tiny_raw, tmp_path):
    jobs, _ = plan_pouring(tiny_raw / "pouring", frame_size=(16, 20), splits=("val",))
    store = FrameStore(tmp_path / "frames")
    run_conversion(ConversionPlan(tuple(jobs), progress=False), store)
    assert store.open("pouring_val_000").read([0]).shape == (1, 3, 16, 20)


def test_pouring__truncated_tfrecord_is_reported_and_others_converted(raw_copy, tmp_path):
    broken = sorted((raw_copy / "pouring").glob("pouring_train-*.tfrecord"))[0]
    broken.write_bytes(broken.read_bytes()[:-100])
    jobs, failures = plan_pouring(raw_copy / "pouring")
    assert len(failures) == 1 and broken.name in failures[0]["error"]
    report = run_conversion(ConversionPlan(tuple(jobs), progress=False, failures=tuple(failures)),
                            FrameStore(tmp_path / "frames"))
    assert len(report.failed) == 1 and len(report.converted) == len(jobs) > 0


def test_pouring__no_tfrecords_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no TFRecord files"):
        plan_pouring(tmp_path)
