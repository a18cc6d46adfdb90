"""Writing videos with PyAV, byte for byte the same on every machine (the demo data, tests)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from carl_pipeline.atomic import atomic_path


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float) -> Path:
    """Encode ``(T, H, W, 3)`` uint8 frames with PyAV: H.264 for .mp4/.mkv, VP9 for .webm."""
    import av

    path = Path(path)
    codec = "libvpx-vp9" if path.suffix == ".webm" else "libx264"
    # bitexact: Matroska/WebM headers otherwise carry the write time and a random segment id.
    with atomic_path(path) as tmp, av.open(str(tmp), mode="w", format=path.suffix.lstrip(".").replace("mkv", "matroska"),
                                           options={"fflags": "+bitexact"}) as container:
        # NTSC-style rates (29.97) as the exact fraction 30000/1001, as cameras write them
        rate = int(round(fps)) if float(fps).is_integer() else Fraction(fps).limit_denominator(1001)
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            # Constant QP without adaptive quantisation, mb-tree or psy tuning: x264's float
            # rate control otherwise varies with the process's floating-point state.
            stream.options = {"qp": "30", "flags": "+bitexact", "x264-params":
                              "threads=1:lookahead-threads=1:sliced-threads=0:aq-mode=0:mbtree=0:psy=0"}
        else:
            stream.options = {"crf": "40", "b": "0", "flags": "+bitexact", "row-mt": "0"}
        # One encoder thread: multi-threaded x264/VP9 output depends on thread timing, and the
        # demo data must come out byte for byte the same on every machine.
        stream.codec_context.thread_count = 1
        stream.codec_context.thread_type = "NONE"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
