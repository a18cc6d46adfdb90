"""Frames as the released pipeline's readers see them (``pixels: released``): TensorFlow's JPEG
decode, Penn Action's cv2 squash, the x264 mp4 round trip; and the ingestion that stores them."""

import io
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from carl_pipeline.ingest import plan_penn_action, plan_pouring
from carl_pipeline.video.released_pixels import (
    decode_jpeg_rgb,
    released_penn_action_frame,
    x264_round_trip,
)


def _moving_square(frames=12, size=(48, 64)):
    video = np.full((frames, *size, 3), 30, dtype=np.uint8)
    for t in range(frames):
        video[t, 10:30, 2 * t:2 * t + 20] = (220, 60, 40)
    return video


def _jpeg(frame, quality=90):
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, "jpeg", quality=quality)
    return buffer.getvalue()


def test_x264_round_trip__every_frame_back_in_order_lossy_and_deterministic():
    video = _moving_square()
    out = x264_round_trip(video)
    assert out.shape == video.shape and out.dtype == np.uint8
    error = np.abs(out.astype(int) - video).mean(axis=(1, 2, 3))
    assert 0 < error.mean() < 8  # x264 CRF 23 in 4:2:0: close, not equal
    # frame t is frame t, not a neighbour: the square's position is where it was drawn
    columns = [int(np.argmax(np.abs(f.astype(int) - 30).sum(axis=(0, 2)) > 500)) for f in out]
    assert np.all(np.abs(np.array(columns) - 2 * np.arange(12)) <= 2), columns
    assert np.array_equal(x264_round_trip(video), out)


def test_x264_round_trip__an_odd_frame_size_is_refused_naming_it():
    with pytest.raises(ValueError, match="even frame size, got 47x64"):
        x264_round_trip(_moving_square(size=(47, 64)))


def test_decode_jpeg_rgb__equals_tensorflows_decode_jpeg(tmp_path):
    """The released code decodes the TFRecords' JPEGs with TensorFlow, whose default (the fast
    integer DCT) differs from PIL's by up to 7 levels; checked in a child process (TensorFlow is
    never imported beside torch)."""
    pytest.importorskip("tensorflow", reason="tensorflow-cpu (test extra) checks compatibility")
    rng = np.random.default_rng(0)
    frames = [np.clip(_moving_square(1)[0].astype(int) + rng.integers(-40, 40, (48, 64, 3)), 0, 255).astype(np.uint8)
              for _ in range(4)]
    for i, frame in enumerate(frames):
        (tmp_path / f"{i}.jpg").write_bytes(_jpeg(frame, quality=85 + i))
    script = textwrap.dedent(f"""
        import os; os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        import numpy as np, tensorflow as tf
        np.save({str(tmp_path / "tf.npy")!r}, np.stack([tf.io.decode_jpeg(open(os.path.join({str(tmp_path)!r}, f"{{i}}.jpg"), "rb").read()).numpy()
                                                       for i in range(4)]))
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300)
    theirs = np.load(tmp_path / "tf.npy")
    ours = np.stack([decode_jpeg_rgb((tmp_path / f"{i}.jpg").read_bytes()) for i in range(4)])
    assert np.array_equal(ours, theirs)
    pil = np.stack([np.asarray(Image.open(tmp_path / f"{i}.jpg").convert("RGB")) for i in range(4)])
    assert not np.array_equal(pil, theirs)  # the reason not to decode with PIL here


def test_released_penn_action_frame__cv2_squash_without_antialiasing_then_a_quality_95_jpeg():
    import cv2

    frame = np.zeros((60, 40, 3), dtype=np.uint8)
    frame[:, ::2] = 255  # one-pixel stripes: antialiasing would grey them out, bilinear keeps contrast
    out = released_penn_action_frame(_jpeg(frame, 100), (20, 30))
    assert out.shape == (20, 30, 3)
    expected = cv2.resize(cv2.cvtColor(cv2.imdecode(np.frombuffer(_jpeg(frame, 100), np.uint8), cv2.IMREAD_COLOR),
                                       cv2.COLOR_BGR2RGB), (30, 20))
    assert np.abs(out.astype(int) - expected).mean() < 6  # only the quality-95 JPEG between them
    with pytest.raises(ValueError, match="not an image OpenCV can decode"):
        released_penn_action_frame(b"not a jpeg", (20, 30))


def test_ingest__released_pixels_are_the_x264_round_trip_and_project_packs_keep_their_fingerprint(tiny_raw):
    from carl_pipeline.video.tfrecord import RecordLocation, parse_sequence_example, read_record

    (project_job, *_), _ = plan_pouring(tiny_raw / "pouring", splits=("val",))
    (released_job, *_), _ = plan_pouring(tiny_raw / "pouring", splits=("val",), pixels="released")
    # packs converted before the option existed are still found converted; released ones differ
    assert "pixels" not in project_job.fingerprint() and released_job.fingerprint()["pixels"] == "released"
    record = parse_sequence_example(read_record(RecordLocation(
        released_job.source, released_job.record_offset, released_job.record_length)))
    source = np.stack([decode_jpeg_rgb(j) for j in record.jpeg_frames])
    stored = np.stack([decode_jpeg_rgb(j) for j in released_job.run().jpeg_frames]).astype(int)
    assert project_job.run().jpeg_frames == record.jpeg_frames  # project packs keep the published bytes
    # x264 through PyAV is not the same pixels from call to call (x264_round_trip's docstring), so
    # the released packs are checked by the size of the loss they carry: an x264 round trip's
    # (whichever of its outcomes), plus the storage JPEG's, far from the published frames' none
    x264_loss = np.mean([np.abs(x264_round_trip(source).astype(int) - source).mean() for _ in range(3)])
    stored_loss = np.abs(stored - source).mean()
    assert x264_loss > 2.0 and 0.7 * x264_loss < stored_loss < 1.5 * x264_loss, (stored_loss, x264_loss)

    (penn_job, *_), _ = plan_penn_action(tiny_raw / "penn_action", frame_size=(24, 32), pixels="released")
    converted = penn_job.run()
    assert (converted.height, converted.width) == (24, 32) and len(converted.jpeg_frames) == len(converted.labels["phase"])


def test_pixels__a_name_other_than_project_or_released_is_refused_where_it_is_given(tiny_raw):
    from pydantic import ValidationError

    from carl_pipeline.params import PouringIngestParams

    with pytest.raises(ValidationError, match=r"pixels must be one of \['project', 'released'\], got 'relased'"):
        PouringIngestParams(pixels="relased")
    for plan in (plan_pouring, plan_penn_action):
        with pytest.raises(ValueError, match="pixels must be one of"):
            plan(tiny_raw / ("pouring" if plan is plan_pouring else "penn_action"), pixels="relased")


def test_released_penn_action_frame__without_a_size_the_frame_keeps_its_size_and_still_goes_through_the_jpeg():
    frame = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    out = released_penn_action_frame(_jpeg(frame, 100), None)
    assert out.shape == (20, 30, 3)
    buffer = io.BytesIO()  # cv2's decode of the raw JPEG, then the converter's quality-95 JPEG
    import cv2

    rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(_jpeg(frame, 100), np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    Image.fromarray(rgb).save(buffer, "jpeg", quality=95, optimize=True)
    assert np.array_equal(out, decode_jpeg_rgb(buffer.getvalue()))
