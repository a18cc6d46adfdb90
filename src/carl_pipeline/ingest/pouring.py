"""Pouring (TCC release): TFRecords of SequenceExamples -> conversion jobs, one per video.

Files are named ``pouring_{train,val,test}-*.tfrecord``; the split comes from the file name and
the video id from the record's ``name``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from carl_pipeline.checks import check_choice
from carl_pipeline.ingest.frames import PIXELS, released_pixels, standardise_jpegs
from carl_pipeline.ingest.jobs import ConversionError, ConversionJob, ConvertedVideo
from carl_pipeline.video.released_pixels import decode_jpeg_rgb
from carl_pipeline.video.tfrecord import (
    RecordLocation,
    TFRecordError,
    interleaved_read_order,
    parse_sequence_example,
    read_record,
    scan_records,
)

_FILE = re.compile(r"^(?P<prefix>.+?)_(?P<split>train|val|test)(?:-.*)?\.tfrecords?$")


@dataclass(frozen=True)
class TFRecordVideoJob(ConversionJob):
    """One SequenceExample record, stored as a frame pack with its ``phase`` labels."""

    record_offset: int = 0
    record_length: int = 0
    frame_size: tuple[int, int] | None = None
    fps: float = 30.0  # TFRecords carry no frame rate; Pouring was filmed at 30 fps
    # What the record holds: a digest of its payload, so that a changed record is converted again
    # and one that only moved inside its file (an earlier record changed length) is not.
    record_digest: str = ""
    pixels: str = "project"  # or "released": the x264 round trip of tfrecords_to_videos.py (convert.PIXELS)

    NOT_IN_FINGERPRINT = ("video_id", "raw_root", "record_offset", "record_length")

    def raw_files(self) -> tuple[str, ...]:
        return ()  # the record's own digest stands for its content; the file holds other videos too

    def run(self) -> ConvertedVideo:
        location = RecordLocation(self.source, self.record_offset, self.record_length)
        record = parse_sequence_example(read_record(location), source=f"{self.source}@{self.record_offset}")
        if len(record.frame_labels) != len(record.jpeg_frames):
            raise ConversionError(
                f"{self.source}: video '{record.name}' has {len(record.frame_labels)} frame labels "
                f"for {len(record.jpeg_frames)} frames"
            )
        frames, height, width = standardise_jpegs(
            record.jpeg_frames, self.frame_size, source=f"{self.source} ({record.name})")
        if self.pixels == "released":
            frames = released_pixels([decode_jpeg_rgb(frame) for frame in frames],
                                     source=f"{self.source} ({record.name})")
        return ConvertedVideo(frames, height, width, self.fps, {"phase": record.frame_labels},
                              meta={"label": record.label})


def _name_if_readable(location: RecordLocation) -> str | None:
    """The video name of a record whose payload fails its CRC, when the damage spared it."""
    with open(location.path, "rb") as handle:
        handle.seek(location.offset)
        payload = handle.read(location.length)
    try:
        return parse_sequence_example(payload).name
    except Exception:  # noqa: BLE001 - a damaged payload may fail to parse in any way
        return None


def plan_pouring(
    root: str | os.PathLike,
    *,
    frame_size: tuple[int, int] | None = None,
    fps: float = 30.0,
    splits: tuple[str, ...] = ("train", "val", "test"),
    pixels: str = "project",
) -> tuple[list[TFRecordVideoJob], list[dict[str, str]]]:
    """One job per record of every ``*_{split}-*.tfrecord`` under ``root``.

    ``pixels``: ``project`` or ``released`` (``carl_pipeline.ingest.frames.PIXELS``).

    Returns:
        The jobs, and what could not be listed (``{"video_id", "source", "error"}``): a record
        failing its CRC (by its name where readable, else ``<file>@<byte>``), a broken record
        header (with how many records it loses), an empty file.

    Raises:
        FileNotFoundError: ``root`` holds no TFRecord file at all.
        ValueError: ``pixels`` is neither.
    """
    check_choice("pixels", pixels, PIXELS)
    root = Path(root)
    files = sorted(p for p in root.glob("*.tfrecord*") if _FILE.match(p.name))
    if not files:
        raise FileNotFoundError(f"{root}: no TFRecord files named <name>_{{train,val,test}}-*.tfrecord")
    jobs, failures = [], []
    for path in files:
        split = _FILE.match(path.name)["split"]
        if split not in splits:
            continue
        # Record by record: a damaged record or header loses that record, never the file's others.
        locations, problems = scan_records(path)
        for problem in problems:
            failures.append({"video_id": f"{path.name}@{problem.offset}", "source": str(path),
                             "error": problem.error})
        for location in locations:
            # The video id is the record's name, so listing parses each record once here (the
            # worker parses it again): skipping finished videos needs the id before any work.
            where = f"{path}@{location.offset}"
            try:
                payload = read_record(location)
            except TFRecordError as error:
                failures.append({"video_id": _name_if_readable(location) or f"{path.name}@{location.offset}",
                                 "source": str(path), "error": str(error)})
                continue
            try:
                name = parse_sequence_example(payload, source=where).name
            except TFRecordError as error:
                failures.append({"video_id": f"{path.name}@{location.offset}", "source": str(path),
                                 "error": str(error)})
                continue
            jobs.append(TFRecordVideoJob(
                video_id=name, source=str(path), split=split, action=None, raw_root=str(root),
                record_offset=location.offset, record_length=location.length,
                frame_size=tuple(frame_size) if frame_size else None, fps=float(fps),
                record_digest=hashlib.blake2b(payload, digest_size=16).hexdigest(), pixels=pixels,
            ))
    return jobs, failures


def pouring_dataset_order(jobs: Sequence[TFRecordVideoJob]) -> dict[str, int]:
    """Each video's position in its split as CARL's released code reads Pouring.

    ``tfrecords_to_videos.py`` reads ``sorted(glob('pouring_<split>*'))`` through
    ``tf.data.TFRecordDataset(files, num_parallel_reads=60)`` and writes ``<split>.pkl`` in that
    order; ``evaluation/classification.py`` trains its 10% / 50% classifiers on the first videos
    of that list. So: the split's files sorted by name, records interleaved round robin.

    Returns:
        ``{video_id: position}``, positions counted per split from 0.
    """
    order = {}
    for split in sorted({job.split for job in jobs}):
        per_file: dict[str, list[TFRecordVideoJob]] = {}
        for job in jobs:
            if job.split == split:
                per_file.setdefault(Path(job.source).name, []).append(job)
        files = [sorted(records, key=lambda job: job.record_offset) for _, records in sorted(per_file.items())]
        for position, job in enumerate(interleaved_read_order(files)):
            order[job.video_id] = position
    return order
