"""One file per video holding its frames as JPEG bytes with an offset table: the frame storage.

Why this format (measured in ``benchmarks/bench_frame_storage.py``, see ``benchmarks/RESULTS.md``):
CARL samples a random ordered subset of a video's frames for each view, so storage must give
cheap random access. A frame pack decodes only the frames asked for (no inter-frame dependency as
in H.264), is 10-30x smaller than raw ``uint8`` arrays, and its JPEG payloads can be decoded in one
batched call (``carl_pipeline.video.jpeg``: TorchCodec, else torchvision; on the GPU when there is one).

Layout of a ``.frames`` file::

    b"CARLFRM1"                8 bytes, magic and format version
    header_length              8 bytes, little-endian uint64
    header                     UTF-8 JSON: num_frames, height, width, fps, offsets (num_frames + 1
                               byte positions into the payload), checksums (the CRC-32 of each
                               frame's JPEG bytes), labels ({name: [int]*num_frames}),
                               meta (free-form: source file, conversion fingerprint, action, ...)
    payload                    the JPEG images, back to back

Writes go to a temporary file in the same folder (``carl_pipeline.atomic``: its name ends in
``.tmp``, never ``.frames``) and are renamed into place, so a file that exists is always complete:
an interrupted conversion never leaves a pack that a rerun would trust.

Content integrity: every frame read is checked against its CRC-32 (``verify=False`` skips it; a
CRC-32 costs about a microsecond per 20 kB frame), and ``FramePack.verify()`` checks every frame,
which the conversion does before it trusts a pack as converted. A mismatch is a
``FramePackError`` naming the file and the frame: a damaged pack is never decoded into a silent
wrong picture.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from carl_pipeline.atomic import atomic_path
from carl_pipeline.video.jpeg import decode_jpegs

MAGIC = b"CARLFRM1"
SUFFIX = ".frames"


class FramePackError(ValueError):
    """A frame pack is missing, truncated or not a frame pack; the message names the file."""


@dataclass(frozen=True)
class PackHeader:
    """What a frame pack says about itself (everything but the JPEG bytes)."""

    num_frames: int
    height: int
    width: int
    fps: float
    offsets: tuple[int, ...]
    checksums: tuple[int, ...] | None = None  # CRC-32 per frame; None in packs written before them
    labels: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)


def encode_jpeg(frame: np.ndarray, quality: int = 90) -> bytes:
    """Encode one ``(H, W, 3)`` uint8 RGB frame as JPEG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def write_frame_pack(
    path: str | os.PathLike,
    jpeg_frames: Sequence[bytes],
    *,
    height: int,
    width: int,
    fps: float,
    labels: Mapping[str, Sequence[int]] | None = None,
    meta: Mapping[str, Any] | None = None,
    sweep: bool = True,
) -> Path:
    """Write already-encoded JPEG frames to ``path`` atomically.

    Args:
        path: destination ``.frames`` file; its folder must exist.
        jpeg_frames: one JPEG byte string per frame, in order.
        height, width: size of every frame in pixels.
        fps: frame rate of the stored frames.
        labels: per-frame integer label arrays by name, each ``len(jpeg_frames)`` long.
        meta: JSON-serialisable facts about the video (source file, action, fingerprint, ...).
        sweep: first remove temporaries that killed writers of this pack left (a writer of a
            whole folder sweeps it once instead).

    Returns:
        The path written.
    """
    path = Path(path)
    num_frames = len(jpeg_frames)
    if num_frames == 0:
        raise FramePackError(f"{path}: refusing to write a frame pack with no frames")
    labels = {name: [int(v) for v in values] for name, values in (labels or {}).items()}
    for name, values in labels.items():
        if len(values) != num_frames:
            raise FramePackError(
                f"{path}: label '{name}' has {len(values)} values for {num_frames} frames"
            )
    offsets = np.zeros(num_frames + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(b) for b in jpeg_frames])
    header = {
        "num_frames": num_frames,
        "height": int(height),
        "width": int(width),
        "fps": float(fps),
        "offsets": offsets.tolist(),
        "checksums": [zlib.crc32(b) for b in jpeg_frames],
        "labels": labels,
        "meta": dict(meta or {}),
    }
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    with atomic_path(path, sweep=sweep) as tmp, open(tmp, "wb") as handle:
        handle.write(MAGIC)
        handle.write(struct.pack("<Q", len(header_bytes)))
        handle.write(header_bytes)
        for jpeg in jpeg_frames:
            handle.write(jpeg)
        handle.flush()
        os.fsync(handle.fileno())
    return path


def read_header(path: str | os.PathLike) -> tuple[PackHeader, int]:
    """Read a pack's header; returns it and the byte position where the payload starts."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            magic = handle.read(len(MAGIC))
            if magic != MAGIC:
                raise FramePackError(f"{path}: not a frame pack (bad magic {magic!r})")
            (header_length,) = struct.unpack("<Q", handle.read(8))
            raw = handle.read(header_length)
            if len(raw) != header_length:
                raise FramePackError(f"{path}: header truncated")
            header = json.loads(raw)
    except FileNotFoundError as error:
        raise FramePackError(f"{path}: frame pack does not exist") from error
    except (struct.error, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FramePackError(f"{path}: corrupt frame pack header ({error})") from error
    payload_start = len(MAGIC) + 8 + header_length
    pack = PackHeader(
        num_frames=int(header["num_frames"]),
        height=int(header["height"]),
        width=int(header["width"]),
        fps=float(header["fps"]),
        offsets=tuple(header["offsets"]),
        checksums=tuple(header["checksums"]) if header.get("checksums") is not None else None,
        labels={k: tuple(v) for k, v in header.get("labels", {}).items()},
        meta=header.get("meta", {}),
    )
    if len(pack.offsets) != pack.num_frames + 1 or (
            pack.checksums is not None and len(pack.checksums) != pack.num_frames):
        raise FramePackError(f"{path}: corrupt frame pack header (offsets or checksums do not match "
                             f"{pack.num_frames} frames)")
    expected_size = payload_start + pack.offsets[-1]
    actual_size = path.stat().st_size
    if actual_size != expected_size:
        raise FramePackError(
            f"{path}: size {actual_size} bytes, header promises {expected_size}: truncated pack"
        )
    return pack, payload_start


class FramePack:
    """Random access to the frames of one video stored as a frame pack.

    ``verify`` (default True): check every frame read against its CRC-32 in the header.

    Example:
        >>> pack = FramePack("data/03_primary/pouring/frames/pouring_001.frames")
        >>> frames = pack.read([0, 5, 10])   # uint8 tensor (3, 3, H, W)
    """

    def __init__(self, path: str | os.PathLike, verify: bool = True):
        self.path = Path(path)
        self.header, self._payload_start = read_header(self.path)
        self._offsets = np.asarray(self.header.offsets, dtype=np.int64)
        self.verify_reads = verify and self.header.checksums is not None

    def _check(self, index: int, data: bytes) -> None:
        if zlib.crc32(data) != self.header.checksums[index]:
            raise FramePackError(f"{self.path}: frame {index} fails its checksum (the pack is damaged; "
                                 f"rerun the ingestion to convert it again)")

    def verify(self, chunk_bytes: int = 16 << 20) -> None:
        """Check every frame against its checksum, reading the payload in chunks of about
        ``chunk_bytes``.

        Raises:
            FramePackError: a frame fails its checksum (named), the payload is short, or the pack
            has no checksums (written before they existed: convert it again).
        """
        if self.header.checksums is None:
            raise FramePackError(f"{self.path}: no frame checksums (written by an older version)")
        with open(self.path, "rb") as handle:
            handle.seek(self._payload_start)
            first = 0
            while first < len(self):
                last = first + 1  # frames [first, last) in this chunk, at least one
                while last < len(self) and self._offsets[last + 1] - self._offsets[first] <= chunk_bytes:
                    last += 1
                span = handle.read(int(self._offsets[last] - self._offsets[first]))
                if len(span) != self._offsets[last] - self._offsets[first]:
                    raise FramePackError(f"{self.path}: payload truncated")
                base = int(self._offsets[first])
                for index in range(first, last):
                    self._check(index, span[int(self._offsets[index]) - base:int(self._offsets[index + 1]) - base])
                first = last

    def content_digest(self) -> str:
        """A digest of the pack's frames (from the checksums in its header; nothing else is read)."""
        values = self.header.checksums if self.header.checksums is not None else self.header.offsets
        return hashlib.sha1(np.asarray(values, dtype=np.int64).tobytes()).hexdigest()

    def __len__(self) -> int:
        return self.header.num_frames

    @property
    def labels(self) -> dict[str, np.ndarray]:
        """Per-frame labels by name, each an int64 array of shape ``(num_frames,)``."""
        return {k: np.asarray(v, dtype=np.int64) for k, v in self.header.labels.items()}

    def read_jpeg(self, indices: Sequence[int] | np.ndarray) -> list[bytes]:
        """The JPEG bytes of the given frames, in the order asked for (one read of their span)."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if indices.size == 0:
            return []
        if indices.min() < 0 or indices.max() >= len(self):
            raise IndexError(
                f"{self.path}: frame indices {indices.min()}..{indices.max()} outside "
                f"0..{len(self) - 1}"
            )
        first, last = int(self._offsets[indices.min()]), int(self._offsets[indices.max() + 1])
        with open(self.path, "rb") as handle:
            handle.seek(self._payload_start + first)
            span = handle.read(last - first)
        if len(span) != last - first:
            raise FramePackError(f"{self.path}: payload truncated")
        starts, ends = self._offsets[indices] - first, self._offsets[indices + 1] - first
        frames = [span[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
        if self.verify_reads:
            for index, data in zip(indices.tolist(), frames, strict=True):
                self._check(index, data)
        return frames

    def read(self, indices: Sequence[int] | np.ndarray | None = None, device: str = "cpu"):
        """Decode the given frames (all when ``indices`` is None), in the order asked for.

        Args:
            indices: frame numbers, repeats allowed.
            device: where to decode: ``"cuda"`` decodes the batch on the GPU (nvJPEG).

        Returns:
            uint8 tensor of shape ``(N, 3, H, W)`` on ``device``: the layout augmentation and
            the encoder take.
        """
        import torch

        if indices is None:
            indices = np.arange(len(self))
        encoded = [torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in self.read_jpeg(indices)]
        if not encoded:
            return torch.empty((0, 3, self.header.height, self.header.width), dtype=torch.uint8)
        decoded = decode_jpegs(encoded, device)  # N x (3, H, W); TorchCodec, else torchvision
        return torch.stack(decoded)
