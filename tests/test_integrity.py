"""Faults injected as a hostile user would, and what a user needs of each: nothing half-made is
trusted, nothing damaged is decoded silently, outputs follow their inputs, every bad input named."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carl_pipeline.atomic import atomic_path, host_name, pid_alive
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


def _ingest(plan_jobs, store: FrameStore, failures=()):
    report = run_conversion(ConversionPlan(tuple(plan_jobs), progress=False, failures=tuple(failures)), store)
    index, labels, ingest_report = index_converted(store, report.to_dict())
    return report, index, labels, ingest_report


def _dead_pid() -> int:
    """The pid of a process that has finished."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# ----------------------------------------------------------------------------- temporaries


def test_stale_temporary_packs__complete_or_partial__are_neither_indexed_nor_fatal_and_are_swept(raw_copy, tmp_path):
    store = FrameStore(tmp_path / "frames")
    jobs, _ = plan_pouring(raw_copy / "pouring")
    _, index, labels, _ = _ingest(jobs, store)
    pack = store.path_for(index.video_id[0])
    complete = store.root / f".{pack.name}.{_dead_pid()}@{host_name()}.abc123.tmp"
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


def test_atomic_path__temporary_file_ends_in_tmp_and_names_its_writer(tmp_path):
    with atomic_path(tmp_path / "v.frames") as tmp:
        assert tmp.name.startswith(f".v.frames.{os.getpid()}@") and tmp.suffix == ".tmp"
        tmp.write_bytes(b"x")
    assert [p.name for p in tmp_path.iterdir()] == ["v.frames"]


def test_killed_checkpoint_and_model_saves__their_temporaries_are_removed_by_the_next_save(tmp_path):
    import torch
    from kedro.io import Version

    from carl_pipeline.datasets import TorchCheckpointDataset
    from carl_pipeline.training import RunDir

    dead = f"{_dead_pid()}@{host_name()}"
    run = RunDir(tmp_path / "run")
    (run.root / "checkpoints").mkdir(parents=True)
    stale_epoch = run.root / "checkpoints" / f".epoch_0003.pt.{dead}.k1ll3d.tmp"
    stale_epoch.write_bytes(b"x" * 1000)
    run.save({"w": torch.zeros(2)}, 4)
    assert [p.name for p in (run.root / "checkpoints").iterdir()] == ["epoch_0004.pt"]

    model_root = tmp_path / "carl.pt"
    killed_version = model_root / "2026-12-01T10.00.00.000Z"
    killed_version.mkdir(parents=True)
    (killed_version / f".carl.pt.{dead}.k1ll3d.tmp").write_bytes(b"x" * 1000)
    dataset = TorchCheckpointDataset(filepath=str(model_root), version=Version(None, "2026-12-01T11.00.00.000Z"))
    dataset.save({"w": torch.ones(2)})
    assert sorted(p.relative_to(model_root).as_posix() for p in model_root.rglob("*")) == [
        "2026-12-01T11.00.00.000Z", "2026-12-01T11.00.00.000Z/carl.pt"]


def test_catalog_tables__written_atomically_and_a_flipped_bit_is_an_error_naming_the_file(tmp_path):
    from kedro.io import DatasetError

    from carl_pipeline.datasets import AtomicJSONDataset, AtomicParquetDataset

    table = pd.DataFrame({"video_id": [f"v{i}" for i in range(50)], "num_frames": np.arange(50)})
    dataset = AtomicParquetDataset(filepath=str(tmp_path / "video_index.parquet"))
    dataset.save(table)
    pd.testing.assert_frame_equal(dataset.load(), table)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["video_index.parquet"]
    good = (tmp_path / "video_index.parquet").read_bytes()
    damaged = 0
    for position in range(4, 600, 13):  # the data pages: each flipped bit fails a page checksum
        data = bytearray(good)
        data[position] ^= 0x10
        (tmp_path / "video_index.parquet").write_bytes(bytes(data))
        try:
            loaded = AtomicParquetDataset(filepath=str(tmp_path / "video_index.parquet")).load()
        except DatasetError as error:
            assert "video_index.parquet" in str(error)
            damaged += 1
        else:
            pd.testing.assert_frame_equal(loaded, table)  # never a silently different table
    assert damaged > 30
    (tmp_path / "video_index.parquet").write_bytes(good)

    metrics = AtomicJSONDataset(filepath=str(tmp_path / "metrics.json"), save_args={"indent": 2})
    metrics.save({"trained": {"ap@5": 0.5}})
    assert metrics.load() == {"trained": {"ap@5": 0.5}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "video_index.parquet"]


# ----------------------------------------------------------------------------- content integrity


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


def test_training_data_fingerprint__covers_frame_content(pouring_store, tmp_path):
    from carl_pipeline.training.identity import data_fingerprint

    ids = pouring_store.video_ids()
    copy = FrameStore(tmp_path / "frames")
    shutil.copytree(pouring_store.root, copy.root)
    assert data_fingerprint(copy, ids) == data_fingerprint(pouring_store, ids)
    pack = copy.open(ids[0])
    frames = pack.read_jpeg(range(len(pack)))
    frames[1] = frames[1][:-2] + bytes([frames[1][-2] ^ 1]) + frames[1][-1:]  # same length, same offsets
    copy.write(ids[0], frames, height=pack.header.height, width=pack.header.width, fps=pack.header.fps,
               labels={k: list(v) for k, v in pack.header.labels.items()}, meta=dict(pack.header.meta))
    assert data_fingerprint(copy, ids) != data_fingerprint(pouring_store, ids)


# ----------------------------------------------------------------------------- packs follow raw files


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


# ----------------------------------------------------------------------------- TFRecords


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


# ----------------------------------------------------------------------------- bad input named


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


def test_settings__a_negative_learning_rate_is_refused_naming_the_field():
    from pydantic import ValidationError

    from carl_pipeline.params import TrainParams

    block = {"model": {"backbone": "resnet18"}, "sampling": {}, "augment": {}, "loss": {},
             "optim": {"lr": -0.001}}
    with pytest.raises(ValidationError, match=r"optim[\s\S]*lr must be > 0, got -0.001"):
        TrainParams(**block)
    for field, value in (("weight_decay", -1.0), ("grad_clip", 0.0), ("warmup_epochs", -1)):
        with pytest.raises(ValidationError, match=f"{field} must be"):
            TrainParams(**{**block, "optim": {field: value}})


def test_tracking__a_corrupt_store_stops_the_run_before_any_node_naming_it_and_the_switch(tmp_path):
    from carl_pipeline.hooks import TrackingStoreError, check_tracking_store

    store = tmp_path / "mlruns" / "mlflow.db"
    store.parent.mkdir()
    store.write_bytes(b"this is not a database" * 100)
    with pytest.raises(TrackingStoreError, match=rf"{store}.*tracking.enabled: false"):
        check_tracking_store(f"sqlite:///{store}")
    check_tracking_store(f"sqlite:///{tmp_path / 'new.db'}")  # a store not yet made: MLflow makes it

    # The hook checks it in before_pipeline_run, that is before Kedro runs any node.
    from types import SimpleNamespace

    from carl_pipeline.hooks import MlflowTrackingHook

    hook = MlflowTrackingHook()
    hook._settings = {"enabled": True, "tracking_uri": f"sqlite:///{store}", "env": None}
    training = SimpleNamespace(outputs=["pouring.model"])  # a node that writes a model: a tracked run
    with pytest.raises(TrackingStoreError, match="tracking.enabled: false"):
        hook.before_pipeline_run({}, SimpleNamespace(nodes=[training]), None)


def test_training__settings_that_are_legal_but_almost_surely_a_mistake_are_warned(pouring_store, tmp_path, caplog):
    from carl_pipeline.augment import AugmentConfig
    from carl_pipeline.models import EncoderConfig
    from carl_pipeline.training import OptimConfig, RunDir, SamplingConfig, train

    encoder = EncoderConfig(backbone="resnet18", freeze_through="layer1", num_layers=1, hidden_size=32, num_heads=4,
                            ff_size=64, fc_channels=32, embedding_size=16, projection_hidden=16, projection_size=16,
                            train_length=8, dropout=0.0)
    ids = pouring_store.video_ids()
    with caplog.at_level("WARNING"):
        train(str(pouring_store.root), ids, encoder, SamplingConfig(num_steps=8), AugmentConfig(image_size=16),
              OptimConfig(epochs=1, batch_size=len(ids) + 3, progress=False), RunDir(tmp_path / "runs"), device="cpu")
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert f"batch_size {len(ids) + 3}" in messages and f"larger than the {len(ids)} training videos" in messages
    assert "augment.image_size 16: inputs under 32 px" in messages


# ----------------------------------------------------------------------------- one writer per run

_TRAIN_ONE = textwrap.dedent("""
    import logging, sys, torch
    from carl_pipeline.augment import AugmentConfig
    from carl_pipeline.models import EncoderConfig
    from carl_pipeline.training import RunDir, SamplingConfig, OptimConfig, train
    from carl_pipeline.video import FrameStore

    messages = []
    class Keep(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())
    logging.getLogger("carl_pipeline").addHandler(Keep())
    logging.getLogger("carl_pipeline").setLevel(logging.INFO)
    store, runs, out = sys.argv[1:4]
    encoder = EncoderConfig(backbone="resnet18", freeze_through="layer1", num_layers=1, hidden_size=32,
                            num_heads=4, ff_size=64, fc_channels=32, embedding_size=16, projection_hidden=16,
                            projection_size=16, train_length=8, dropout=0.0)
    checkpoint = train(store, FrameStore(store).video_ids(), encoder, SamplingConfig(num_steps=8),
                       AugmentConfig(image_size=32), OptimConfig(epochs=2, batch_size=2, progress=False),
                       RunDir(runs), device="cpu")
    torch.save({"model": checkpoint.model, "messages": messages}, out)
""")


def test_two_identical_training_runs_started_together_train_once(pouring_store, tmp_path):
    import torch

    script = tmp_path / "train_one.py"
    script.write_text(_TRAIN_ONE)
    runs = tmp_path / "runs"
    processes = [subprocess.Popen([sys.executable, str(script), str(pouring_store.root), str(runs),
                                   str(tmp_path / f"out{i}.pt")]) for i in range(2)]
    assert [p.wait(timeout=600) for p in processes] == [0, 0]
    outs = [torch.load(tmp_path / f"out{i}.pt", weights_only=True) for i in range(2)]
    messages = [m for out in outs for m in out["messages"]]
    assert sum("a new run" in m for m in messages) == 1
    assert sum("resuming from" in m and "(epoch 2 of 2)" in m for m in messages) == 1
    assert any("is being written by pid" in m for m in messages)  # the second said whom it waited for
    assert all(torch.equal(outs[0]["model"][k], outs[1]["model"][k]) for k in outs[0]["model"])
    assert [p.name for p in runs.iterdir()] and not any(runs.rglob(".lock"))


def test_lock__a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    from carl_pipeline.locking import LockTimeout, exclusive_lock

    (tmp_path / ".lock").write_text(json.dumps({"pid": _dead_pid(), "host": host_name(), "what": "training"}))
    with exclusive_lock(tmp_path, "test", timeout_s=5):
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
        # held by a live process (this one): another writer waits, then says who holds it
        with pytest.raises(LockTimeout, match=rf"pid {os.getpid()} on {host_name()}"):
            with exclusive_lock(tmp_path, "second", timeout_s=0.2, poll_s=0.05):
                pass
    assert not (tmp_path / ".lock").exists()


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


def test_atomic_path__temporaries_of_a_long_name_are_shortened_and_still_swept(tmp_path):
    from carl_pipeline.atomic import NAME_MAX, sweep_stale_temporaries, temporary_prefix

    name = "x" * 250
    prefix = temporary_prefix(name)
    assert len(prefix.encode()) + 8 + len(".tmp") <= NAME_MAX and "~" in prefix
    assert temporary_prefix("y" * 250) != prefix  # a digest of the whole name keeps two long names apart
    stem = prefix[1:].split(f".{os.getpid()}@")[0]
    # What killed writers left, one with a short pid and one with the widest pid Linux gives (CI's
    # pids are longer than a laptop's): the stem must not depend on the writer's pid.
    dead = [_dead_pid(), 4194303]
    assert not pid_alive(dead[1]) or pytest.skip("pid 4194303 is alive here")
    left = [tmp_path / f".{stem}.{pid}@{host_name()}.abcd1234.tmp" for pid in dead]
    for path in left:
        path.write_bytes(b"half")
    assert sorted(sweep_stale_temporaries(tmp_path, name)) == sorted(left)


_SAVE_PAST_A_SIZE_LIMIT = textwrap.dedent("""
    import resource, signal, sys
    import torch
    from carl_pipeline.training import RunDir

    runs = RunDir(sys.argv[1])
    runs.save({"w": torch.zeros(10)}, 1)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing us
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
    try:
        runs.save({"w": torch.zeros(100_000)}, 2)  # 400 kB: the disk is "full" halfway through
    except OSError as error:
        print("ERROR", error)
""")


def test_checkpoint_save__an_os_error_names_the_file_and_the_cause_and_keeps_the_last_epoch(tmp_path):
    import torch

    from carl_pipeline.training import RunDir

    script = tmp_path / "save.py"
    script.write_text(_SAVE_PAST_A_SIZE_LIMIT)
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "run")], check=False, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    epoch_2 = tmp_path / "run" / "checkpoints" / "epoch_0002.pt"
    assert f"ERROR [Errno 27] File too large while writing: '{epoch_2}'" in out.stdout
    assert [e for e, _ in RunDir(tmp_path / "run").checkpoints()] == [1]  # nothing half-written, epoch 1 intact
    assert torch.load(tmp_path / "run/checkpoints/epoch_0001.pt", weights_only=True)["w"].shape == (10,)
    assert sorted(p.name for p in (tmp_path / "run/checkpoints").iterdir()) == ["epoch_0001.pt"]


def test_atomic_path__no_space_left_is_raised_naming_the_target(tmp_path, monkeypatch):
    import errno

    from carl_pipeline.atomic import save_torch

    class FullDisk:  # a file on a disk with no space left
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def flush(self):
            pass

    real_open = open
    monkeypatch.setattr("builtins.open", lambda file, mode="r", *a, **k: FullDisk() if str(file).endswith(".tmp")
                        and "w" in mode else real_open(file, mode, *a, **k))
    with pytest.raises(OSError, match=r"No space left on device while writing: '.*epoch_0003.pt'"):
        save_torch({"w": 1}, tmp_path / "epoch_0003.pt")
    assert list(tmp_path.iterdir()) == []


def test_lock__two_waiters_that_judged_one_dead_lock_stale_never_remove_each_others_fresh_lock(tmp_path):
    """Waiters A and B both read the dead holder's lock and judge it stale; A takes it over first
    and holds a fresh lock; B's takeover, acting on its earlier judgement, must leave A's lock."""
    from carl_pipeline.locking import _observe, _take_over, exclusive_lock

    lock = tmp_path / ".lock"
    lock.write_text(json.dumps({"pid": _dead_pid(), "host": host_name(), "what": "training"}))
    judged_by_b = _observe(lock)
    with exclusive_lock(tmp_path, "A", timeout_s=5):  # A takes the stale lock over
        held_by_a = lock.read_text()
        assert json.loads(held_by_a)["what"] == "A"
        assert _take_over(lock, judged_by_b) is False  # B, late
        assert lock.read_text() == held_by_a  # A still holds it, and no one else could take it
    assert not lock.exists() and sorted(p.name for p in tmp_path.iterdir()) == []
