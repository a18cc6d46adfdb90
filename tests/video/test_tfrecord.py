import subprocess
import sys
import textwrap

import pytest

from carl_pipeline.video.tfrecord import (
    TFRecordError,
    iter_record_locations,
    parse_sequence_example,
    read_record,
    write_sequence_examples,
)


def _videos(n):
    return [{"name": f"v{i}", "label": 3, "jpeg_frames": [b"a" * (i + 1), b"b"], "frame_labels": [0, 1]}
            for i in range(n)]


@pytest.mark.parametrize("extra_context", [False, True])
def test_tfrecord__records_round_trip(tmp_path, extra_context):
    path = write_sequence_examples(tmp_path / "x_train-0.tfrecord", _videos(3), extra_context=extra_context)
    locations = list(iter_record_locations(path))
    assert len(locations) == 3
    record = parse_sequence_example(read_record(locations[2]))
    assert record.name == "v2" and record.label == 3 and record.num_frames == 2
    assert record.jpeg_frames == [b"aaa", b"b"] and record.frame_labels == [0, 1]


def test_tfrecord__truncated_file_names_file_and_offset(tmp_path):
    path = write_sequence_examples(tmp_path / "x_train-0.tfrecord", _videos(2))
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(TFRecordError, match=r"x_train-0\.tfrecord: record at byte \d+ claims"):
        list(iter_record_locations(path))


def test_tfrecord__flipped_byte_fails_the_crc(tmp_path):
    path = write_sequence_examples(tmp_path / "x_train-0.tfrecord", _videos(1))
    data = bytearray(path.read_bytes())
    data[20] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(TFRecordError, match="fails its CRC check"):
        read_record(next(iter_record_locations(path)))


def test_tfrecord__garbage_record_is_not_a_sequence_example():
    with pytest.raises(TFRecordError, match="f.tfrecord"):
        parse_sequence_example(b"\xff\xff\xff\xff", source="f.tfrecord")


def test_tfrecord__tensorflow_reads_ours_and_we_read_tensorflows(tmp_path):
    """Both directions against TensorFlow itself, in a child process: TensorFlow must not be
    imported beside torchvision (see carl_pipeline/video/tfrecord.py)."""
    pytest.importorskip("tensorflow", reason="tensorflow-cpu (test extra) checks compatibility")
    ours = write_sequence_examples(tmp_path / "ours.tfrecord", _videos(2), extra_context=True)
    theirs = tmp_path / "theirs.tfrecord"
    script = textwrap.dedent(f"""
        import os; os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        import tensorflow as tf
        names = []
        for raw in tf.data.TFRecordDataset({str(ours)!r}):  # TensorFlow checks the CRCs
            ex = tf.train.SequenceExample.FromString(raw.numpy())
            names.append(ex.context.feature["name"].bytes_list.value[0].decode())
            assert [f.int64_list.value[0] for f in ex.feature_lists.feature_list["frame_labels"].feature] == [0, 1]
        assert names == ["v0", "v1"], names
        ex = tf.train.SequenceExample()
        ex.context.feature["name"].bytes_list.value.append(b"tf_video")
        ex.context.feature["len"].int64_list.value.append(2)
        ex.context.feature["label"].int64_list.value.append(7)
        ex.context.feature["label_string"].bytes_list.value.append(b"pour")
        for jpeg, label in [(b"j1", 4), (b"j2", 5)]:
            ex.feature_lists.feature_list["video"].feature.add().bytes_list.value.append(jpeg)
            ex.feature_lists.feature_list["frame_labels"].feature.add().int64_list.value.append(label)
        with tf.io.TFRecordWriter({str(theirs)!r}) as writer:
            writer.write(ex.SerializeToString())
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300)
    record = parse_sequence_example(read_record(next(iter_record_locations(theirs))))
    assert (record.name, record.label, record.jpeg_frames, record.frame_labels) == ("tf_video", 7, [b"j1", b"j2"], [4, 5])
