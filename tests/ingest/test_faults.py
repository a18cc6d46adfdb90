"""Ingestion under faults a hostile user injects: half-made packs are never trusted, damaged
frames and records are named, packs follow their raw files, every bad input is named and the rest
is ingested."""

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carl_pipeline.atomic import host_name
from carl_pipeline.ingest import (
    ConversionPlan,
    index_converted,
    plan_penn_action,
    plan_pouring,
    plan_video_folder,
    run_conversion,
)
from carl_pipeline.video import FrameStore
from carl_pipeline.video.frame_pack import FramePack, FramePackError
from tests.conftest import dead_pid


def _ingest(plan_jobs, store: FrameStore, failures=()):
    report = run_conversion(ConversionPlan(tuple(plan_jobs), progress=False, failures=tuple(failures)), store)
    index, labels, ingest_report = index_converted(store, report.to_dict())
    return report, index, labels, ingest_report



def test_stale_temporary_packs__complete_or_partial__are_neither_indexed_nor_fatal_and_are_swept(raw_copy, tmp_path):
    store = FrameStore(tmp_path / "frames")
    jobs, _ = plan_pouring(raw_copy / "pouring")
    _, index, labels, _ = _ingest(jobs, store)
    pack = store.path_for(index.video_id[0])
    complete = store.root / f".{pack.name}.{dead_pid()}@{host_name()}.abc123.tmp"
    shutil.copy(pack, complete)
    partial = store.root / f".{pack.stem}.x1y2z3.tmp.frames"  # what the writer before this naming left
    partial.write_bytes(pack.read_bytes()[:100])
    live = store.root / f".{pack.name}.{os.getpid()}@{host_name()}.live01.tmp"  # a write in progress
    live.write_bytes(b"half")

    report, again, again_labels, _ = _ingest(jobs, store)
    assert report.failed == [] and report.converted == []
    pd.testing.assert_frame_equal(again, index)
    assert len(again_labels) == len(labels) and again.video_id.is_unique
    assert not complete.exists() and not partial.exists()
    assert live.exists()  # its writer (this process) still runs



def test_flipped_payload_bytes__are_named_when_read_and_the_rerun_converts_the_pack_again(raw_copy, tmp_path):
    store = FrameStore(tmp_path / "frames")
    jobs, _ = plan_pouring(raw_copy / "pouring")
    _ingest(jobs, store)
    video_id = jobs[0].video_id
    path = store.path_for(video_id)
    good = path.read_bytes()
    pack = FramePack(path)
    start = pack._payload_start + pack.header.offsets[3] + 20  # inside frame 3's JPEG
    damaged = bytearray(good)
    damaged[start:start + 64] = bytes(b ^ 0xA5 for b in damaged[start:start + 64])  # same length
    path.write_bytes(bytes(damaged))

    with pytest.raises(FramePackError, match=rf"{path.name}: frame 3 fails its checksum"):
        store.open(video_id).read([2, 3])
    assert FrameStore(store.root, verify=False).open(video_id).read_jpeg([3])  # the switch to skip it
    with pytest.raises(FramePackError, match="frame 3"):
        store.open(video_id).verify()

    report, *_ = _ingest(jobs, store)
    assert report.converted == [video_id]
    assert path.read_bytes() == good



def test_packs_follow_raw_files__replaced_reconverted_deleted_left_out_moved_untouched(raw_copy, tmp_path):
    raw = raw_copy / "penn_action"
    store = FrameStore(tmp_path / "project" / "frames")
    jobs, _ = plan_penn_action(raw)
    _, index, labels, _ = _ingest(jobs, store)
    replaced, deleted = jobs[0], jobs[1]

    # A raw frame replaced by another picture (same name): that video, and only it, is converted again.
    frame = sorted(Path(replaced.frames_dir).glob("*.jpg"))[2]
    shutil.copy(sorted(Path(deleted.frames_dir).glob("*.jpg"))[2], frame)
    # A video deleted from the raw data: out of the index and of the labels, the report says so.
    Path(deleted.phase_file).unlink()
    jobs, _ = plan_penn_action(raw)
    report, index2, labels2, ingest_report = _ingest(jobs, store)
    assert report.converted == [replaced.video_id]
    assert deleted.video_id not in set(index2.video_id) and deleted.video_id not in set(labels2.video_id)
    assert ingest_report["left_out_of_index"] == [deleted.video_id]
    assert len(index2) == len(index) - 1

    # The project (raw data and packs) moved to another folder: nothing is converted again.
    moved = tmp_path / "elsewhere"
    shutil.copytree(raw_copy, moved / "raw")
    shutil.copytree(store.root, moved / "frames")
    moved_store = FrameStore(moved / "frames")
    jobs, _ = plan_penn_action(moved / "raw" / "penn_action")
    report, index3, *_ = _ingest(jobs, moved_store)
    assert report.converted == [] and sorted(report.skipped_existing) == sorted(index2.video_id)
    assert index3.drop(columns="bytes").equals(index2.drop(columns="bytes"))
    assert not index3.source.str.startswith("/").any()  # sources are relative to the raw root



def test_ingest_report__a_video_that_now_fails_leaves_the_index(raw_copy, tmp_path):
    raw = raw_copy / "penn_action"
    store = FrameStore(tmp_path / "frames")
    jobs, _ = plan_penn_action(raw)
    _ingest(jobs, store)
    broken = jobs[0]
    Path(broken.mat_file).write_bytes(b"not a mat file")
    jobs, _ = plan_penn_action(raw)
    report, index, _, ingest_report = _ingest(jobs, store)
    assert [f["video_id"] for f in report.failed] == [broken.video_id]
    assert broken.video_id not in set(index.video_id)
    assert ingest_report["left_out_of_index"] == [broken.video_id]



def test_tfrecords__record_by_record_damaged_records_reported_every_other_converted(raw_copy, tmp_path):
    from carl_pipeline.video.frame_pack import encode_jpeg
    from carl_pipeline.video.tfrecord import scan_records, serialize_sequence_example, write_records

    raw = raw_copy / "pouring"
    frame = encode_jpeg(np.full((16, 16, 3), 90, np.uint8))
    videos = [{"name": f"many_{i}", "label": 0, "jpeg_frames": [frame] * 4, "frame_labels": [0, 0, 1, 1]}
              for i in range(5)]
    path = write_records(raw / "pouring_train-7.tfrecord", [serialize_sequence_example(v) for v in videos])
    locations, _ = scan_records(path)
    data = bytearray(path.read_bytes())
    data[locations[1].offset + locations[1].length - 30] ^= 0xFF  # record 1's payload: fails its CRC
    header_of_3 = locations[3].offset - 12
    data[header_of_3 + 2] ^= 0x01  # record 3's length: its header CRC fails
    path.write_bytes(bytes(data))
    (raw / "pouring_val-9.tfrecord").write_bytes(b"")  # an empty file

    jobs, failures = plan_pouring(raw)
    names = {job.video_id for job in jobs}
    assert {"many_0", "many_2", "many_4"} <= names and not {"many_1", "many_3"} & names
    by_error = {f["error"]: f for f in failures}
    crc = next(f for e, f in by_error.items() if "fails its CRC" in e)
    assert crc["video_id"] == "many_1" and f"byte {locations[1].offset}" in crc["error"]
    assert crc["source"] == str(path)
    length = next(e for e in by_error if "corrupt record length" in e)
    assert f"pouring_train-7.tfrecord: corrupt record length at byte {header_of_3}" in length
    assert "1 record lost" in length
    assert any("pouring_val-9.tfrecord: empty file" in e for e in by_error)
    # Every record of the untouched files is converted too.
    store = FrameStore(tmp_path / "frames")
    report, index, *_ = _ingest(jobs, store, failures)
    assert {"many_0", "many_2", "many_4"} <= set(index.video_id)
    assert len(index) == len(jobs) and len(report.failed) == 3



def test_video_folder__symlink_loops_and_id_collisions_named_and_the_rest_ingested(tmp_path):
    root = tmp_path / "videos"
    (root / "a").mkdir(parents=True)
    for name in ("a/x.mp4", "a/x.mov", "caf\u00e9.mp4", "caf\u00e8.mp4", "plain.mkv"):
        (root / name).write_bytes(b"\x00" * 10)  # the planner reads no frame
    (root / "a" / "back").symlink_to(root, target_is_directory=True)  # a loop back to the root
    (root / "self.mp4").symlink_to(root / "self.mp4")  # a link to itself

    jobs, failures, warnings = plan_video_folder(root)
    ids = sorted(job.video_id for job in jobs)
    assert len(ids) == len(set(ids)) == 5
    assert "plain" in ids and sum(i.startswith("a__x-") for i in ids) == 2
    assert sum(i.startswith("caf_-") for i in ids) == 2
    assert jobs == plan_video_folder(root)[0]  # the same ids every run
    named = {Path(w["source"]).name for w in warnings}
    assert named == {"x.mp4", "x.mov", "caf\u00e9.mp4", "caf\u00e8.mp4"}
    problems = {Path(f["source"]).name: f["error"] for f in failures}
    assert "symlink loop" in problems["back"] and "symlink loop" in problems["self.mp4"]



def test_video_folder__a_legal_245_character_name_is_ingested(tmp_path):
    from carl_pipeline.video import write_video

    (tmp_path / "videos").mkdir()
    name = "v" * 245  # 249 bytes with ".mp4": legal; its temporary's name is not, unless shortened
    frames = np.random.default_rng(0).integers(0, 255, (6, 32, 32, 3), dtype=np.uint8)
    write_video(tmp_path / "videos" / f"{name}.mp4", frames, 25)
    jobs, failures, _ = plan_video_folder(tmp_path / "videos")
    store = FrameStore(tmp_path / "frames")
    report, index, labels, ingest_report = _ingest(jobs, store, failures)
    assert report.to_dict()["failed"] == [] and index["video_id"].tolist() == [name]
    assert store.open(name).read().shape[0] == 6
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
