"""The order CARL's released code reads each dataset in (what its 10% / 50% classification
subsets take first), checked against TensorFlow reading the files the way the released
``tfrecords_to_videos.py`` does (in a child process: TensorFlow must not load beside torchvision)."""

import importlib.util
import json
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest

from carl_pipeline.ingest import (
    penn_action_dataset_order,
    plan_pouring,
    pouring_dataset_order,
)
from carl_pipeline.video.tfrecord import (
    interleaved_read_order,
    write_records,
    write_sequence_examples,
)


def _needs_tensorflow():
    # Looked up, not imported: TensorFlow imported here would crash a later torchvision import.
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("tensorflow-cpu (test extra) checks the reading order")


def _tensorflow_reading_order(folder, pattern, parse_names):
    """Names of the records as ``tf.data.TFRecordDataset(sorted(glob(pattern)), num_parallel_reads=60)``
    yields them (released tfrecords_to_videos.py, ``get_tfrecords`` and ``main``)."""
    script = textwrap.dedent(f"""
        import glob, json, os; os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        import tensorflow as tf
        files = sorted(glob.glob(os.path.join({str(folder)!r}, {pattern!r})))
        names = []
        for raw in tf.data.TFRecordDataset(files, num_parallel_reads=60):
            if {parse_names!r}:
                ex = tf.train.SequenceExample.FromString(raw.numpy())
                names.append(ex.context.feature["name"].bytes_list.value[0].decode())
            else:
                names.append(raw.numpy().decode())
        print(json.dumps(names))
    """)
    result = subprocess.run([sys.executable, "-c", script], check=True, timeout=300, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_interleaved_read_order__round_robin_until_each_file_runs_out():
    assert interleaved_read_order([["a0", "a1", "a2"], ["b0"], ["c0", "c1"]]) == ["a0", "b0", "c0", "a1", "c1", "a2"]
    assert interleaved_read_order([]) == []


def _video(name):
    return {"name": name, "label": 0, "jpeg_frames": [b"\xff\xd8", b"\xff\xd8"], "frame_labels": [0, 1]}


def test_pouring_dataset_order__is_the_order_tensorflow_reads_the_released_files_in(tmp_path):
    _needs_tensorflow()
    shards = {"pouring_train-0-of-2.tfrecord": ["p_z", "p_c", "p_x", "p_a", "p_m"],
              "pouring_train-1-of-2.tfrecord": ["p_b", "p_y", "p_d"],
              "pouring_val-0-of-1.tfrecord": ["v_2", "v_1"]}
    for name, videos in shards.items():
        write_sequence_examples(tmp_path / name, [_video(v) for v in videos])
    jobs, failures = plan_pouring(tmp_path)
    assert not failures
    order = pouring_dataset_order(jobs)
    for split in ("train", "val"):
        released = _tensorflow_reading_order(tmp_path, f"pouring_{split}*", parse_names=True)
        ours = sorted((v for v in order if v.startswith("p_" if split == "train" else "v_")), key=order.get)
        assert ours == released, split
        assert [order[v] for v in ours] == list(range(len(ours)))
    assert order["p_b"] == 1 and order["p_a"] == 6  # interleaved, not sorted by id nor file by file


def _released_penn_action_shards(folders, split_of, split, videos_per_shard):
    """Released penn_action_to_tfrecords.py ``create_tfrecords``: the shards it writes for one
    split, ``{file name: [video names]}``."""
    shards, names_to_seqs, shard_id = {}, [], 0
    for i, video_id in enumerate(folders):
        if split_of.get(video_id) != split:
            continue  # no labels, a skipped action or the other split
        names_to_seqs.append(video_id)
        if (i + 1) % videos_per_shard == 0 or i == len(folders) - 1:
            shards[f"penn_action_{split}-{shard_id}.tfrecord"] = names_to_seqs
            shard_id += 1
            names_to_seqs = []
    return shards


def test_penn_action_dataset_order__is_the_order_the_released_shards_are_read_in(tmp_path):
    """Shards of 3 folders (the released 200, scaled down) so that there are more than ten and
    ``-10`` sorts before ``-2``; the last folder is a validation video, so the training split's
    last videos are never written by the released converter and get no position."""
    _needs_tensorflow()
    folders = [f"{i:04d}" for i in range(1, 61)]
    for folder in folders:
        (tmp_path / "raw" / "frames" / folder).mkdir(parents=True)
    split_of = {f: ("val" if i % 4 == 3 else "train") for i, f in enumerate(folders) if i % 7 != 5}  # some unlabelled
    split_of[folders[-1]] = "val"
    jobs = [SimpleNamespace(video_id=v, split=s) for v, s in split_of.items()]
    order = penn_action_dataset_order(tmp_path / "raw", jobs, videos_per_shard=3)
    for split in ("train", "val"):
        shards = _released_penn_action_shards(folders, split_of, split, 3)
        out = tmp_path / split
        out.mkdir()
        for name, videos in shards.items():
            write_records(out / name, [v.encode() for v in videos])
        released = _tensorflow_reading_order(out, f"penn_action_{split}*", parse_names=False)
        ours = sorted((v for v in order if split_of[v] == split), key=order.get)
        assert ours == released, split
        never_written = sorted(v for v, s in split_of.items() if s == split and v not in order)
        assert never_written == sorted(set(v for v, s in split_of.items() if s == split) - set(released))
    assert len(_released_penn_action_shards(folders, split_of, "train", 3)) > 10
    assert any(v not in order for v, s in split_of.items() if s == "train")  # the dropped tail


def test_ingestion__the_index_holds_each_videos_released_position(tiny_raw, tmp_path):
    """Through ingestion (plan, conversion, index): the plan's order reaches the video index (and
    so the embeddings table), a position per split for every Pouring video."""
    from carl_pipeline.ingest import (
        index_converted,
        plan_for,
        plan_pouring,
        pouring_dataset_order,
        run_conversion,
    )
    from carl_pipeline.params import PouringIngestParams
    from carl_pipeline.video import FrameStore

    params = PouringIngestParams(num_workers=0, progress=False)
    jobs, failures = plan_pouring(tiny_raw / "pouring", frame_size=params.frame_size, fps=params.fps,
                                  splits=params.splits, pixels=params.pixels)
    plan = plan_for(tiny_raw / "pouring", jobs, failures, params, dataset_order=pouring_dataset_order(jobs))
    store = FrameStore(tmp_path / "frames")
    index, _, _ = index_converted(store, run_conversion(plan, store).to_dict())
    assert index.set_index("video_id")["dataset_order"].to_dict() == dict(plan.dataset_order)
    for _, rows in index.groupby("split"):
        assert sorted(rows["dataset_order"]) == list(range(len(rows)))
