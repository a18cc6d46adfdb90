"""Your own videos: any folder of video files (no labels) -> conversion jobs, one per file."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from carl_pipeline.ingest.convert import ConversionJob, ConvertedVideo
from carl_pipeline.video.decode import decode_clip

VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v")


@dataclass(frozen=True)
class VideoFileJob(ConversionJob):
    """A whole video file at a standard frame rate and size; every frame labelled -1."""

    fps: float | None = 25.0
    frame_size: tuple[int, int] | None = None
    jpeg_quality: int = 90

    def run(self) -> ConvertedVideo:
        clip = decode_clip(self.source, fps=self.fps, size=self.frame_size, jpeg_quality=self.jpeg_quality)
        return ConvertedVideo(clip.frames, clip.height, clip.width, clip.fps, {"phase": [-1] * len(clip.frames)},
                              meta={"source_fps": clip.source_fps})


def plan_video_folder(
    root: str | os.PathLike,
    *,
    fps: float | None = 25.0,
    frame_size: tuple[int, int] | None = None,
    suffixes: tuple[str, ...] = VIDEO_SUFFIXES,
    jpeg_quality: int = 90,
) -> tuple[list[VideoFileJob], list[dict[str, str]]]:
    """One job per video file under ``root`` (searched recursively); the id is the file's path
    relative to ``root`` without its suffix, with ``/`` as ``__``.

    Raises:
        FileNotFoundError: no video file under ``root``.
    """
    root = Path(root)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
    if not files:
        raise FileNotFoundError(f"{root}: no video files ({', '.join(suffixes)})")
    jobs = []
    for path in files:
        video_id = re.sub(r"[^A-Za-z0-9._-]", "_", "__".join(path.relative_to(root).with_suffix("").parts))
        jobs.append(VideoFileJob(video_id=video_id, source=str(path), split="train", action=None, fps=fps,
                                 frame_size=tuple(frame_size) if frame_size else None, jpeg_quality=jpeg_quality))
    return jobs, []
