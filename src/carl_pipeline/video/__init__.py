"""Video I/O: decoding with PyAV, TFRecord reading and the frame-pack storage. No Kedro imports."""

from carl_pipeline.video.decode import DecodedClip, VideoDecodeError, decode_clip
from carl_pipeline.video.encode import write_video
from carl_pipeline.video.frame_pack import FramePack, FramePackError, encode_jpeg, write_frame_pack
from carl_pipeline.video.frame_store import FrameStore

__all__ = [
    "DecodedClip",
    "FramePack",
    "FramePackError",
    "FrameStore",
    "VideoDecodeError",
    "decode_clip",
    "encode_jpeg",
    "write_frame_pack",
    "write_video",
]
