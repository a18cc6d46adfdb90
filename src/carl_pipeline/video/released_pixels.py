"""Frames as the released CARL pipeline's readers see them (``pixels: released``).

The released code never trains on the frames a dataset is published with:

- ``dataset_preparation/tfrecords_to_videos.py`` decodes each TFRecord's JPEG frames and writes
  them to an mp4 with ``torchvision.io.write_video(file, frames, fps=25)``: PyAV, ``libx264``,
  ``yuv420p``, the encoder's default options (CRF 23), every frame ``pict_type NONE``; the
  datasets read it back with ``torchvision.io.read_video`` (PyAV, ``frame.to_rgb()``). That round
  trip through x264 is lossy (4:2:0 chroma, quantisation).
- TensorFlow decodes the TFRecords' JPEGs (``tf.image.decode_jpeg``, fast integer DCT).
- ``dataset_preparation/penn_action_to_tfrecords.py`` reads Penn Action's frames with
  ``cv2.imread``, squashes them with ``cv2.resize(im, (224, 224))`` (bilinear, no antialiasing)
  and stores them as PIL JPEGs of quality 95 (``optimize=True``), before that round trip.

``torchvision.io.write_video`` and ``read_video`` are gone from torchvision 0.29, so this module
makes the same PyAV calls they made (torchvision 0.5 to 0.20 ``io/video.py``); OpenCV's headless
package does the resize. The x264 bitstream depends on the x264 build, so the pixels equal the
released pipeline's only up to the libraries' versions (docs/FIDELITY.md has the measurements).
"""

from __future__ import annotations

import io
import os
from typing import BinaryIO

import numpy as np
from PIL import Image

#: tfrecords_to_videos.py: ``torchvision.io.write_video(video_file, frames, fps=25)``.
RELEASED_VIDEO_FPS = 25
#: penn_action_to_tfrecords.py via dataset_utils.image_to_jpegstring: PIL, quality 95, optimize.
RELEASED_TFRECORD_JPEG_QUALITY = 95


def write_released_video(frames: np.ndarray, target: str | os.PathLike | BinaryIO,
                         fps: float = RELEASED_VIDEO_FPS) -> None:
    """``(T, H, W, 3)`` uint8 RGB frames written as ``torchvision.io.write_video`` wrote them
    (tfrecords_to_videos.py): an mp4 of ``libx264`` at its default options (CRF 23), ``yuv420p``,
    every frame ``pict_type NONE``. ``target``: a path or a writable binary file object.

    Raises:
        ValueError: not ``(T, H, W, 3)`` uint8, or an odd height or width (yuv420p cannot hold it;
            the released writer fails there too).
    """
    import av

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"frames must be a non-empty (T, H, W, 3) uint8 array, got {frames.shape} {frames.dtype}")
    height, width = frames.shape[1:3]
    if height % 2 or width % 2:
        raise ValueError(f"x264 in yuv420p needs an even frame size, got {height}x{width}")
    with av.open(target if hasattr(target, "write") else str(target), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {}
        for image in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pict_type = av.video.frame.PictureType.NONE
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():  # flush
            container.mux(packet)


def read_released_video(source: str | os.PathLike | BinaryIO) -> np.ndarray:
    """Every frame of a video as ``torchvision.io.read_video(path, pts_unit='sec')[0]`` gave it
    to the released datasets (``datasets/pouring.py``, ``finegym.py``, once per sample): decoded
    with PyAV, ``frame.to_rgb()``, in presentation order, ``(T, H, W, 3)`` uint8. ``source``: a
    path or a readable binary file object."""
    import av

    with av.open(source if hasattr(source, "read") else str(source), mode="r") as container:
        decoded = {frame.pts: frame.to_rgb().to_ndarray() for frame in container.decode(video=0)}
    return np.stack([decoded[pts] for pts in sorted(decoded)])


def x264_round_trip(frames: np.ndarray, fps: float = RELEASED_VIDEO_FPS) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 RGB frames written to an H.264 mp4 and read back as the released
    code does (``write_released_video`` then ``read_released_video``), in memory.

    Not the same from call to call: through PyAV (17.1 and 18.1 alike), 30 calls on one 9-frame
    demo video gave 5 different results, most of them one; single-threaded encoding and decoding
    did not settle it. The released data had the same spread; what is reproducible is the size of
    the loss (about 6.5 of 255 mean absolute error on the demo's Pouring frames), not its pixels.

    Raises:
        ValueError: not ``(T, H, W, 3)`` uint8, or an odd height or width (yuv420p cannot hold it;
            the released writer fails there too).
    """
    frames = np.asarray(frames)
    buffer = io.BytesIO()
    write_released_video(frames, buffer, fps)
    buffer.seek(0)
    out = read_released_video(buffer)
    if out.shape != frames.shape:
        raise ValueError(f"the x264 round trip returned {out.shape[0]} frames of {out.shape[1:]}, "
                         f"for {frames.shape[0]} of {frames.shape[1:]}")
    return out


def decode_jpeg_rgb(data: bytes) -> np.ndarray:
    """One JPEG as an ``(H, W, 3)`` uint8 RGB array, as the released code's
    ``tf.image.decode_jpeg`` decodes it: libjpeg-turbo's fast integer DCT with fancy upsampling
    (TensorFlow's default; equal to TensorFlow 2.21's output on 635 of the demo's JPEGs, while
    PIL's and OpenCV's accurate DCT differ by up to 7 levels).

    Raises:
        ValueError: not a JPEG.
    """
    import simplejpeg

    try:
        return simplejpeg.decode_jpeg(data, colorspace="RGB", fastdct=True, fastupsample=False)
    except Exception as error:  # simplejpeg raises ValueError or its own types for corrupt data
        raise ValueError(f"not a readable JPEG ({error})") from error


def released_penn_action_frame(data: bytes, size: tuple[int, int] | None) -> np.ndarray:
    """A raw Penn Action JPEG as the released TFRecord holds it, decoded: ``cv2.imread`` (BGR),
    to RGB, ``cv2.resize(im, (width, height))`` (bilinear, no antialiasing; ``size`` is
    ``(height, width)``, None: no resize, the converter's ``--noresize``), PIL JPEG quality 95
    (``optimize=True``), decoded again.

    Raises:
        ValueError: the bytes are not an image OpenCV reads.
    """
    import cv2

    bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("not an image OpenCV can decode")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if size is not None and (rgb.shape[0], rgb.shape[1]) != tuple(size):
        rgb = cv2.resize(rgb, (int(size[1]), int(size[0])))
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "jpeg", quality=RELEASED_TFRECORD_JPEG_QUALITY, optimize=True)
    return decode_jpeg_rgb(buffer.getvalue())
