"""The frames a job stores: JPEGs checked and brought to one size, or made what the released
code's readers see (``pixels: released``)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image

from carl_pipeline.ingest.jobs import ConversionError
from carl_pipeline.video.frame_pack import encode_jpeg

#: ``pixels``: ``project`` keeps the published frames (JPEG bytes as they are, resized with
#: antialiasing where a size is set); ``released`` makes them what the released code's readers see
#: (carl_pipeline.video.released_pixels), stored at ``RELEASED_STORE_QUALITY``.
PIXELS = ("project", "released")
#: JPEG quality of released-pixel packs: the x264 frames are already decoded pixels, re-encoded
#: once more to be stored (quality 100 adds 1.0 of 255 mean absolute error on the demo's Pouring
#: frames, 95 adds 1.7: docs/FIDELITY.md).
RELEASED_STORE_QUALITY = 100


def released_pixels(frames: Sequence[np.ndarray], *, source: str) -> list[bytes]:
    """``(H, W, 3)`` uint8 frames of one video through the released x264 round trip
    (``x264_round_trip``), as stored JPEGs.

    Raises:
        ConversionError: the round trip fails (an odd frame size, naming ``source``).
    """
    from carl_pipeline.video.released_pixels import x264_round_trip

    try:
        video = x264_round_trip(np.stack(frames))
    except ValueError as error:
        raise ConversionError(f"{source}: pixels 'released': {error}") from error
    return [encode_jpeg(frame, RELEASED_STORE_QUALITY) for frame in video]


def standardise_jpegs(
    jpeg_frames: Sequence[bytes],
    size: tuple[int, int] | None,
    *,
    source: str,
    jpeg_quality: int = 90,
) -> tuple[list[bytes], int, int]:
    """Check that JPEG frames decode and share one size; resize them to ``size`` if given.

    Frames already at the wanted size are kept byte for byte (no re-encoding loss).

    Returns:
        The frames, their height and width.

    Raises:
        ConversionError: a frame is not a readable JPEG, or sizes differ and no size is set.
    """
    if not jpeg_frames:
        raise ConversionError(f"{source}: no frames")
    images = []
    for index, data in enumerate(jpeg_frames):
        try:
            image = Image.open(io.BytesIO(data))
            image.load()
        except Exception as error:  # PIL raises several types for corrupt data
            raise ConversionError(f"{source}: frame {index} is not a readable image ({error})") from error
        images.append(image)
    sizes = {image.size for image in images}  # PIL sizes are (width, height)
    if size is None and len(sizes) > 1:
        raise ConversionError(f"{source}: frames differ in size {sorted(sizes)}; set frame_size")
    height, width = (int(size[0]), int(size[1])) if size is not None else images[0].size[::-1]
    out = []
    for image, data in zip(images, jpeg_frames, strict=True):
        if image.size == (width, height) and image.format == "JPEG" and image.mode == "RGB":
            out.append(data)
        else:
            image = image.convert("RGB")
            if image.size != (width, height):
                image = image.resize((width, height), Image.BILINEAR)
            out.append(encode_jpeg(np.asarray(image), jpeg_quality))
    return out, height, width
