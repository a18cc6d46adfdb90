"""Pouring (TCC release): TFRecords of SequenceExamples -> conversion jobs, one per video.

Files are named ``pouring_{train,val,test}-*.tfrecord``; the split comes from the file name and
the video id from the record's ``name``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from carl_pipeline.ingest.convert import (
    ConversionError,
    ConversionJob,
    ConvertedVideo,
    standardise_jpegs,
)
from carl_pipeline.video.tfrecord import (
    RecordLocation,
    TFRecordError,
    iter_record_locations,
    parse_sequence_example,
    read_record,
)

_FILE = re.compile(r"^(?P<prefix>.+?)_(?P<split>train|val|test)(?:-.*)?\.tfrecords?$")


@dataclass(frozen=True)
class TFRecordVideoJob(ConversionJob):
    """One SequenceExample record, stored as a frame pack with its ``phase`` labels."""

    record_offset: int = 0
    record_length: int = 0
    frame_size: tuple[int, int] | None = None
    fps: float = 30.0  # TFRecords carry no frame rate; Pouring was filmed at 30 fps

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
        return ConvertedVideo(frames, height, width, self.fps, {"phase": record.frame_labels},
                              meta={"label": record.label})


def plan_pouring(
    root: str | os.PathLike,
    *,
    frame_size: tuple[int, int] | None = None,
    fps: float = 30.0,
    splits: tuple[str, ...] = ("train", "val", "test"),
) -> tuple[list[TFRecordVideoJob], list[dict[str, str]]]:
    """One job per record of every ``*_{split}-*.tfrecord`` under ``root``.

    Returns:
        The jobs, and the files that could not be listed (``{"video_id", "source", "error"}``).

    Raises:
        FileNotFoundError: ``root`` holds no TFRecord file at all.
    """
    root = Path(root)
    files = sorted(p for p in root.glob("*.tfrecord*") if _FILE.match(p.name))
    if not files:
        raise FileNotFoundError(f"{root}: no TFRecord files named <name>_{{train,val,test}}-*.tfrecord")
    jobs, failures = [], []
    for path in files:
        split = _FILE.match(path.name)["split"]
        if split not in splits:
            continue
        try:
            locations = list(iter_record_locations(path))
        except TFRecordError as error:
            failures.append({"video_id": path.name, "source": str(path), "error": str(error)})
            continue
        for location in locations:
            # The video id is the record's name, so listing parses each record once here (the
            # worker parses it again): skipping finished videos needs the id before any work.
            payload = read_record(location)
            try:
                name = parse_sequence_example(payload, source=f"{path}@{location.offset}").name
            except TFRecordError as error:
                failures.append({"video_id": f"{path.name}@{location.offset}", "source": str(path),
                                 "error": str(error)})
                continue
            jobs.append(TFRecordVideoJob(
                video_id=name, source=str(path), split=split, action=None,
                record_offset=location.offset, record_length=location.length,
                frame_size=tuple(frame_size) if frame_size else None, fps=float(fps),
            ))
    return jobs, failures
