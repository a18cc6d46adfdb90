"""Decode a video file (or a time range of it) with PyAV, resampled to a target frame rate and size.

Frames are encoded to JPEG as they are decoded, so an event of several minutes at 640x360 never
sits in memory as raw pixels.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from carl_pipeline.video.frame_pack import encode_jpeg


class VideoDecodeError(RuntimeError):
    """A video could not be opened or decoded; the message names the file."""


@dataclass(frozen=True)
class DecodedClip:
    """Frames of a clip (JPEG bytes, or ``(H, W, 3)`` uint8 arrays), sampled at ``fps``; ``times``
    are seconds from the clip start."""

    frames: list  # bytes per frame (as_jpeg) or (H, W, 3) uint8 arrays
    times: np.ndarray  # (N,) float64
    height: int
    width: int
    fps: float
    source_fps: float


def _target_size(src_height: int, src_width: int, size: tuple[int, int] | None) -> tuple[int, int]:
    """(height, width) to write: ``size`` when given, else the source size rounded to even."""
    if size is None:
        return src_height, src_width
    height, width = int(size[0]), int(size[1])
    if height <= 0 or width <= 0:
        raise ValueError(f"frame size must be positive, got {size}")
    return height, width


def _resampled(container, stream, start: float, end: float | None, fps: float | None, source_fps: float,
               encode: Callable) -> tuple[list, list[float]]:
    """The frames of ``[start, end)`` (``encode``d) and their times relative to ``start``: every
    source frame when ``fps`` is None, else the frame a viewer sees at each target time."""
    frames: list = []  # what encode returns: JPEG bytes or arrays
    times: list[float] = []
    step = 1.0 / fps if fps else None
    emitted = 0  # number of target times already filled
    # The last decoded frame, its time and (once needed) its output: it is what a viewer sees at
    # every target time until the next frame arrives. Conversion waits until a frame is emitted,
    # so frames dropped by a lower target rate cost no conversion or JPEG encode.
    held: list | None = None

    def emit_held() -> None:
        nonlocal emitted
        if held[2] is None:
            held[2] = encode(held[0])
        frames.append(held[2])
        times.append(emitted * step)
        emitted += 1

    if start > 0:
        container.seek(int(start / stream.time_base), stream=stream, backward=True)
    for index, frame in enumerate(container.decode(stream)):
        time = frame.time if frame.time is not None else index / source_fps
        if end is not None and time >= end:
            break
        if step is None:
            if time >= start - 1e-6:
                frames.append(encode(frame))
                times.append(time - start)
            continue
        while held is not None and start + emitted * step < time - 1e-6:
            emit_held()
        held = [frame, time, None]
    if step is not None and held is not None:
        # Past the last decoded frame: hold it for its own duration, not beyond (a range past the
        # end of the video must not fill up with copies of its last frame).
        stop = held[1] + 1.0 / source_fps
        if end is not None:
            stop = min(stop, end)
        while start + emitted * step < stop - 1e-6:
            emit_held()
    return frames, times


def decode_clip(
    path: str | os.PathLike,
    *,
    start: float = 0.0,
    end: float | None = None,
    fps: float | None = None,
    size: tuple[int, int] | None = None,
    jpeg_quality: int = 90,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    as_jpeg: bool = True,
) -> DecodedClip:
    """Decode ``[start, end)`` seconds of a video at ``fps`` frames per second and ``size``.

    Resampling holds the last frame shown at each target time (the frame a viewer would see), so
    a 30 fps source read at 25 fps drops frames evenly and a 20 fps source repeats them.

    Args:
        path: any container FFmpeg reads (mp4, mkv, webm, avi, ...).
        start: clip start in seconds from the start of the video.
        end: clip end in seconds (exclusive); None for the end of the video.
        fps: output frame rate; None keeps every source frame in the range.
        size: output ``(height, width)``; None keeps the source size.
        jpeg_quality: quality of the stored JPEG frames.
        transform: optional function applied to each ``(H, W, 3)`` uint8 frame before encoding.
        as_jpeg: return JPEG bytes (for storage); False returns the uint8 arrays.

    Returns:
        The clip's frames and their times relative to ``start``.

    Raises:
        VideoDecodeError: the file is missing, is not a video, or has no frame in the range.
    """
    import av  # PyAV: imported here so that the package imports without FFmpeg loaded

    path = Path(path)
    if not path.is_file():
        raise VideoDecodeError(f"{path}: video file does not exist")
    if end is not None and end <= start:
        raise VideoDecodeError(f"{path}: empty time range [{start}, {end})")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as error:
        raise VideoDecodeError(f"{path}: cannot open as a video ({error})") from error

    with container:
        if not container.streams.video:
            raise VideoDecodeError(f"{path}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        source_fps = float(stream.average_rate or stream.guessed_rate or 25.0)
        height, width = _target_size(stream.codec_context.height, stream.codec_context.width, size)

        def encode(frame):
            array = frame.to_ndarray(format="rgb24", width=width, height=height)
            if transform is not None:
                array = transform(array)
            return encode_jpeg(array, quality=jpeg_quality) if as_jpeg else array

        try:
            frames, times = _resampled(container, stream, start, end, fps, source_fps, encode)
        except av.error.FFmpegError as error:
            raise VideoDecodeError(f"{path}: decoding failed ({error})") from error

    if not frames:
        where = f"in [{start:.2f}, {end if end is None else round(end, 2)}) s"
        raise VideoDecodeError(f"{path}: no frame decoded {where}")
    return DecodedClip(
        frames=frames,
        times=np.asarray(times, dtype=np.float64),
        height=height,
        width=width,
        fps=float(fps) if fps else source_fps,
        source_fps=source_fps,
    )

