import numpy as np
import pytest

from carl_pipeline.video import write_video
from carl_pipeline.video.decode import VideoDecodeError, decode_clip


def _ramp_video(path, fps, seconds, h=32, w=48):
    """A video whose brightness encodes the time: frame k has value 8 * k (mod 256)."""
    n = int(round(fps * seconds))
    frames = np.stack([np.full((h, w, 3), (8 * k) % 256, dtype=np.uint8) for k in range(n)])
    return write_video(path, frames, fps)


@pytest.mark.parametrize("source_fps,extension", [(30.0, ".mp4"), (24.0, ".webm"), (20.0, ".mkv")])
def test_decode_clip__resamples_to_target_fps(tmp_path, source_fps, extension):
    path = _ramp_video(tmp_path / f"v{extension}", source_fps, 2.0)
    clip = decode_clip(path, fps=25.0, size=(16, 24))
    assert len(clip.frames) == 50  # 2 s at 25 fps, whatever the source rate
    assert (clip.height, clip.width) == (16, 24) and clip.source_fps == pytest.approx(source_fps)
    np.testing.assert_allclose(np.diff(clip.times), 0.04, atol=1e-9)


def test_decode_clip__cuts_the_requested_range(tmp_path):
    path = _ramp_video(tmp_path / "v.mp4", 25.0, 3.0)
    clip = decode_clip(path, start=1.0, end=2.0, fps=25.0)
    assert len(clip.frames) == 25
    import io

    from PIL import Image
    first = np.asarray(Image.open(io.BytesIO(clip.frames[0]))).mean()
    assert abs(first - 8 * 25) < 6  # frame 25 (t = 1 s) has value 200


def test_decode_clip__missing_file_is_named(tmp_path):
    with pytest.raises(VideoDecodeError, match=r"nope\.mp4: video file does not exist"):
        decode_clip(tmp_path / "nope.mp4")


def test_decode_clip__corrupt_file_is_named(tmp_path):
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(VideoDecodeError, match=r"broken\.mp4"):
        decode_clip(path, fps=25)


def test_decode_clip__range_past_the_end_has_no_frames(tmp_path):
    path = _ramp_video(tmp_path / "v.mp4", 25.0, 1.0)
    with pytest.raises(VideoDecodeError, match="no frame decoded"):
        decode_clip(path, start=5.0, end=6.0, fps=25)
