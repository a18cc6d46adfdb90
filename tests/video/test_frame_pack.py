import numpy as np
import pytest

from carl_pipeline.video.frame_pack import (
    FramePack,
    FramePackError,
    encode_jpeg,
    read_header,
    write_frame_pack,
)


def _frames(n=5, h=16, w=24):
    """Flat frames of distinct grey levels (JPEG keeps them apart)."""
    return [np.full((h, w, 3), 20 + 40 * i, dtype=np.uint8) for i in range(n)]


def test_frame_pack__round_trip_reads_asked_frames_in_order(tmp_path):
    frames = _frames()
    path = write_frame_pack(tmp_path / "v.frames", [encode_jpeg(f) for f in frames], height=16, width=24,
                            fps=25.0, labels={"phase": [0, 0, 1, 1, 2]}, meta={"video_id": "v"})
    pack = FramePack(path)
    assert len(pack) == 5 and pack.header.fps == 25.0 and pack.header.meta["video_id"] == "v"
    np.testing.assert_array_equal(pack.labels["phase"], [0, 0, 1, 1, 2])
    out = pack.read([4, 0, 2]).permute(0, 2, 3, 1).numpy()
    assert out.shape == (3, 16, 24, 3) and out.dtype == np.uint8
    for got, want in zip(out, [frames[4], frames[0], frames[2]], strict=True):
        assert np.abs(got.astype(int) - want.astype(int)).mean() < 3  # JPEG loss only


def test_frame_pack__repeated_and_unsorted_indices(tmp_path):
    frames = _frames()
    pack = FramePack(write_frame_pack(tmp_path / "v.frames", [encode_jpeg(f) for f in frames], height=16,
                                      width=24, fps=25.0))
    means = pack.read([3, 3, 1]).float().mean(dim=(1, 2, 3)).tolist()
    assert means[0] == means[1] and abs(means[0] - frames[3].mean()) < 3 and abs(means[2] - frames[1].mean()) < 3
    assert pack.read([]).shape == (0, 3, 16, 24)


def test_frame_pack__write_leaves_no_temporary_file(tmp_path):
    write_frame_pack(tmp_path / "v.frames", [encode_jpeg(f) for f in _frames(2)], height=16, width=24, fps=1)
    assert [p.name for p in tmp_path.iterdir()] == ["v.frames"]


def test_frame_pack__truncated_file_is_rejected_with_its_name(tmp_path):
    path = write_frame_pack(tmp_path / "v.frames", [encode_jpeg(f) for f in _frames(3)], height=16, width=24, fps=1)
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(FramePackError, match=r"v\.frames.*truncated"):
        read_header(path)


def test_frame_pack__labels_of_wrong_length_are_refused(tmp_path):
    with pytest.raises(FramePackError, match="label 'phase' has 2 values for 3 frames"):
        write_frame_pack(tmp_path / "v.frames", [encode_jpeg(f) for f in _frames(3)], height=16, width=24,
                         fps=1, labels={"phase": [0, 1]})
    assert not (tmp_path / "v.frames").exists()


def test_frame_pack__out_of_range_index_names_the_file(tmp_path):
    path = write_frame_pack(tmp_path / "v.frames", [encode_jpeg(f) for f in _frames(3)], height=16, width=24, fps=1)
    with pytest.raises(IndexError, match="v.frames"):
        FramePack(path).read([3])


def test_frame_pack__not_a_pack(tmp_path):
    path = tmp_path / "x.frames"
    path.write_bytes(b"hello world, not a pack")
    with pytest.raises(FramePackError, match="not a frame pack"):
        FramePack(path)
