"""Your own videos: any folder of video files (no labels) -> conversion jobs, one per file."""

from __future__ import annotations

import errno
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from carl_pipeline.ingest.jobs import ConversionJob, ConvertedVideo
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


def _walk(root: Path, suffixes: tuple[str, ...]) -> tuple[list[Path], list[dict[str, str]]]:
    """Video files under ``root`` (symlinks followed, each real folder once) and the entries
    that cannot be read: broken links, symlink loops, folders or files without read permission."""
    files, problems, seen = [], [], set()

    def problem(path: Path, error: str) -> None:
        problems.append({"video_id": _video_id(root, path), "source": str(path), "error": f"{path}: {error}"})

    def visit(folder: Path) -> None:
        try:
            real = folder.resolve(strict=True)
        except (OSError, RuntimeError) as error:  # RuntimeError: a loop, on older Pythons
            problem(folder, f"cannot be followed ({error})")
            return
        if real in seen:  # a link back to a folder already walked: a loop
            problem(folder, f"symlink loop (leads back to {real})")
            return
        seen.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as error:
            problem(folder, f"folder cannot be read ({error.strerror})")
            return
        for entry in entries:
            path = Path(entry.path)
            try:
                is_dir, is_file = entry.is_dir(), entry.is_file()
            except OSError as error:
                problem(path, "symlink loop" if error.errno == errno.ELOOP else f"cannot be read ({error.strerror})")
                continue
            if entry.is_symlink() and not (is_dir or is_file):
                try:
                    path.stat()
                    reason = "not a file or folder"
                except OSError as error:
                    reason = "symlink loop" if error.errno == errno.ELOOP else f"broken symlink ({error.strerror})"
                if path.suffix.lower() in suffixes or not path.suffix:
                    problem(path, reason)
                continue
            if is_dir:
                visit(path)
            elif is_file and path.suffix.lower() in suffixes:
                if not os.access(path, os.R_OK):
                    problem(path, "no permission to read it")
                    continue
                files.append(path)

    visit(root)
    return files, problems


def _video_id(root: Path, path: Path) -> str:
    try:
        parts = path.relative_to(root).with_suffix("").parts
    except ValueError:
        parts = (path.stem,)
    return re.sub(r"[^A-Za-z0-9._-]", "_", "__".join(parts)) or "_"


def plan_video_folder(
    root: str | os.PathLike,
    *,
    fps: float | None = 25.0,
    frame_size: tuple[int, int] | None = None,
    suffixes: tuple[str, ...] = VIDEO_SUFFIXES,
    jpeg_quality: int = 90,
) -> tuple[list[VideoFileJob], list[dict[str, str]], list[dict[str, str]]]:
    """One job per video file under ``root`` (searched recursively, links followed); the id is
    the file's path relative to ``root`` without its suffix, with ``/`` as ``__`` and characters
    unsafe in file names as ``_``. Files that would share an id (``x.mp4`` beside ``x.mov``, names
    differing in one accent) each get ``-<6 hex digits of their path's hash>`` appended, so all
    are ingested under ids that stay the same from run to run; a warning names them.

    Returns:
        The jobs; entries that cannot be read (symlink loops, broken links, no permission), as
        failures; and the warnings (renamed ids).

    Raises:
        FileNotFoundError: no video file under ``root`` (and nothing unreadable either).
    """
    root = Path(root)
    files, problems = _walk(root, tuple(s.lower() for s in suffixes))
    if not files and not problems:
        raise FileNotFoundError(f"{root}: no video files ({', '.join(suffixes)})")
    by_id: dict[str, list[Path]] = {}
    for path in files:
        by_id.setdefault(_video_id(root, path), []).append(path)
    jobs, warnings = [], []
    for video_id, paths in sorted(by_id.items()):
        for path in paths:
            final = video_id
            if len(paths) > 1:
                relative = path.relative_to(root).as_posix()
                final = f"{video_id}-{hashlib.sha1(relative.encode('utf-8')).hexdigest()[:6]}"
                warnings.append({"video_id": final, "source": str(path),
                                 "warning": f"{path}: shares the id {video_id!r} with "
                                            f"{', '.join(p.name for p in paths if p != path)}; ingested as {final!r}"})
            jobs.append(VideoFileJob(video_id=final, source=str(path), split="train", action=None, fps=fps,
                                     frame_size=tuple(frame_size) if frame_size else None, jpeg_quality=jpeg_quality,
                                     raw_root=str(root)))
    return jobs, problems, warnings
