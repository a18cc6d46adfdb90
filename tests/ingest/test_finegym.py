import json

import numpy as np
import pytest

from carl_pipeline.ingest import ConversionPlan, build_video_index, plan_finegym, run_conversion
from carl_pipeline.ingest.finegym import read_element_list
from carl_pipeline.video import FrameStore


def _convert(raw, tmp_path, **kwargs):
    jobs, failures = plan_finegym(raw / "finegym", frame_size=(18, 32), **kwargs)
    store = FrameStore(tmp_path / "frames")
    report = run_conversion(ConversionPlan(tuple(jobs), progress=False, failures=tuple(failures)), store)
    return jobs, store, report


def test_finegym__events_cut_at_25fps_from_mp4_and_webm_with_element_labels(tiny_raw, tmp_path):
    jobs, store, report = _convert(tiny_raw, tmp_path)
    assert report.failed == []
    assert {j.source.rsplit(".", 1)[1] for j in jobs} == {"mp4", "webm"}  # the webm video is 24 fps
    index, labels = build_video_index(store)
    assert (index["fps"] == 25.0).all() and (index["height"] == 18).all() and (index["width"] == 32).all()
    assert index.groupby("split").size().to_dict() == {"train": 3, "val": 1}
    annotations = json.loads((tiny_raw / "finegym" / "finegym_annotation_info_v1.0.json").read_text())
    gym99 = read_element_list(tiny_raw / "finegym" / "gym99_train_element_v1.0.txt")
    gym99 |= read_element_list(tiny_raw / "finegym" / "gym99_val_element.txt")
    gym288 = read_element_list(tiny_raw / "finegym" / "gym288_train_element_v1.0.txt")
    gym288 |= read_element_list(tiny_raw / "finegym" / "gym288_val_element.txt")
    for job in jobs:
        youtube_id, event_key = job.video_id.split("_", 1)
        event = annotations[youtube_id][event_key]
        start, end = event["timestamps"][0]
        pack = store.open(job.video_id)
        assert abs(len(pack) - (end - start) * 25) <= 1
        stored99, stored288 = pack.labels["gym99"], pack.labels["gym288"]
        for segment_key, segment in event["segments"].items():
            s, e = segment["timestamps"][0]
            middle = int((s + e) / 2 * 25)  # a frame well inside the segment
            key = f"{job.video_id}_{segment_key}"
            assert stored99[middle] == gym99.get(key, -1) and stored288[middle] == gym288[key]  # -1: Gym288 only
        assert stored99[0] == -1  # events start with idle time
        assert ((stored99 == -1) >= (stored288 == -1)).all()  # Gym99 labels a subset of Gym288's frames
    assert set(labels.columns) == {"video_id", "frame_index", "gym99", "gym288"}


def test_finegym__missing_raw_video_is_reported_and_other_videos_converted(raw_copy, tmp_path):
    next((raw_copy / "finegym" / "videos").glob("vidB.*")).unlink()
    jobs, store, report = _convert(raw_copy, tmp_path)
    assert report.failed and all("vidB" in f["error"] and "raw video not found" in f["error"] for f in report.failed)
    assert report.converted and all(v.startswith("vidA") for v in report.converted)


def test_finegym__undecodable_video_is_reported_by_file(raw_copy, tmp_path):
    video = next((raw_copy / "finegym" / "videos").glob("vidA.*"))
    video.write_bytes(b"\x00" * 2000)
    _, _, report = _convert(raw_copy, tmp_path)
    assert report.failed and all(video.name in f["error"] for f in report.failed)
    assert report.converted and all(v.startswith("vidB") for v in report.converted)


def test_finegym__annotation_without_timestamps_is_reported(raw_copy, tmp_path):
    path = raw_copy / "finegym" / "finegym_annotation_info_v1.0.json"
    annotations = json.loads(path.read_text())
    event_key = sorted(annotations["vidA"])[0]
    del annotations["vidA"][event_key]["timestamps"]
    path.write_text(json.dumps(annotations))
    jobs, _, report = _convert(raw_copy, tmp_path)
    assert [f["video_id"] for f in report.failed] == [f"vidA_{event_key}"]
    assert "no timestamps" in report.failed[0]["error"] and path.name in report.failed[0]["error"]
    assert len(report.converted) == len(jobs) == 3


def test_finegym__bad_element_list_line_names_file_and_line(raw_copy):
    path = raw_copy / "finegym" / "gym99_val_element.txt"
    path.write_text(path.read_text() + "oops\n")
    with pytest.raises(ValueError, match=r"gym99_val_element\.txt:\d+: expected"):
        plan_finegym(raw_copy / "finegym")


def test_finegym__events_outside_the_element_lists_are_left_out(tiny_raw):
    annotations = json.loads((tiny_raw / "finegym" / "finegym_annotation_info_v1.0.json").read_text())
    jobs, _ = plan_finegym(tiny_raw / "finegym")
    assert sum(len(v) for v in annotations.values()) == len(jobs) + 2  # one unlabelled event per video
    assert np.all([len(j.segments) >= 1 for j in jobs])


def test_finegym__rerun_with_same_settings_skips_every_event(tiny_raw, tmp_path):
    _, _, first = _convert(tiny_raw, tmp_path)
    _, _, second = _convert(tiny_raw, tmp_path)
    assert second.converted == [] and sorted(second.skipped_existing) == sorted(first.converted)
