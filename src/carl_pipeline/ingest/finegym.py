"""FineGym: long raw videos + ``finegym_annotation_info_v1.0.json`` + Gym99/Gym288 element lists
-> conversion jobs, one per event, each cut from its raw video at a standard size and frame rate.

Annotation layout (FineGym v1.0)::

    {"<youtube_id>": {"E_<start>_<end>": {"event": int, "timestamps": [[start_s, end_s]],
                       "segments": {"A_<a>_<b>": {"stages": int, "timestamps": [[s, e], ...]}}}}}

Segment timestamps are seconds from the event start. Element lists hold lines
``<youtube_id>_E_<...>_A_<...> <class>``. A frame inside a labelled segment gets that segment's
class in ``gym99`` and ``gym288``; every other frame gets -1. An event is ``train`` or ``val`` by the
list its segments appear in; events in neither list carry no labels and are left out.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from carl_pipeline.ingest.jobs import ConversionError, ConversionJob, ConvertedVideo
from carl_pipeline.video.decode import decode_clip

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm")


def read_element_list(path: str | os.PathLike) -> dict[str, int]:
    """``{segment key: class}`` from a FineGym element list; errors name the file and line."""
    path = Path(path)
    labels = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise ValueError(f"{path}:{number}: expected '<segment key> <class>', got {line!r}")
        labels[parts[0]] = int(parts[1])
    return labels


@dataclass(frozen=True)
class FineGymEventJob(ConversionJob):
    """One event of a raw FineGym video, cut, resampled and labelled per frame."""

    event_start: float = 0.0
    event_end: float = 0.0
    # (start_s, end_s, gym99 class, gym288 class) per labelled segment, relative to the event
    segments: tuple[tuple[float, float, int, int], ...] = ()
    fps: float = 25.0
    frame_size: tuple[int, int] = (360, 640)
    jpeg_quality: int = 90

    def run(self) -> ConvertedVideo:
        if not Path(self.source).is_file():
            raise ConversionError(f"{self.source}: raw video not found")
        clip = decode_clip(self.source, start=self.event_start, end=self.event_end, fps=self.fps,
                           size=self.frame_size, jpeg_quality=self.jpeg_quality)
        gym99 = np.full(len(clip.frames), -1, dtype=np.int64)
        gym288 = np.full(len(clip.frames), -1, dtype=np.int64)
        for start, end, class99, class288 in self.segments:
            inside = (clip.times >= start - 1e-6) & (clip.times < end)
            gym99[inside] = class99
            gym288[inside] = class288
        return ConvertedVideo(
            clip.frames, clip.height, clip.width, clip.fps,
            {"gym99": gym99.tolist(), "gym288": gym288.tolist()},
            meta={"source_fps": clip.source_fps, "event_start": self.event_start},
        )


def _find_video(video_dir: Path, youtube_id: str) -> Path | None:
    for extension in VIDEO_EXTENSIONS:
        candidate = video_dir / f"{youtube_id}{extension}"
        if candidate.is_file():
            return candidate
    return None


def _span(timestamps, where: str) -> tuple[float, float]:
    """(start, end) covering a FineGym ``timestamps`` list ``[[s, e], ...]``."""
    if not timestamps:
        raise ValueError(f"{where}: no timestamps")
    try:
        array = np.asarray(timestamps, dtype=np.float64).reshape(-1, 2)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: timestamps {timestamps!r} are not [[start, end], ...]") from error
    if array.size == 0:
        raise ValueError(f"{where}: no timestamps")
    start, end = float(array[:, 0].min()), float(array[:, 1].max())
    if not end > start:
        raise ValueError(f"{where}: end {end} is not after start {start}")
    return start, end


#: The element lists of the FineGym v1.0 release, per taxonomy and split.
DEFAULT_ELEMENT_LISTS = {
    "gym99": {"train": "gym99_train_element_v1.0.txt", "val": "gym99_val_element.txt"},
    "gym288": {"train": "gym288_train_element_v1.0.txt", "val": "gym288_val_element.txt"},
}


def _read_annotations(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: FineGym annotation file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from error


def _read_element_lists(root: Path, element_lists: Mapping[str, Mapping[str, str]]
                        ) -> tuple[dict[str, dict[str, int]], dict[str, str]]:
    """``(taxonomy -> segment key -> class, segment key -> split)``; a segment's split comes from
    the Gym99 lists where it is in them, else from Gym288's."""
    classes: dict[str, dict[str, int]] = {}
    split_of: dict[str, str] = {}
    for taxonomy in ("gym288", "gym99"):
        classes[taxonomy] = {}
        for split, name in element_lists[taxonomy].items():
            path = root / name
            if not path.is_file():
                raise FileNotFoundError(f"{path}: {taxonomy} {split} element list not found")
            listed = read_element_list(path)
            classes[taxonomy].update(listed)
            split_of.update(dict.fromkeys(listed, split))
    return classes, split_of


def plan_finegym(
    root: str | os.PathLike,
    *,
    annotation_file: str = "finegym_annotation_info_v1.0.json",
    element_lists: Mapping[str, Mapping[str, str]] | None = None,
    video_dir: str = "videos",
    fps: float = 25.0,
    frame_size: tuple[int, int] = (360, 640),
    jpeg_quality: int = 90,
    event_types: tuple[int, ...] | None = None,
) -> tuple[list[FineGymEventJob], list[dict[str, str]]]:
    """One job per labelled event; events that cannot be cut are returned as failures.

    Args:
        root: the FineGym raw folder.
        annotation_file: the annotation JSON, relative to ``root``.
        element_lists: ``{"gym99": {"train": file, "val": file}, "gym288": {...}}`` relative to ``root``.
        video_dir: folder of raw videos ``<youtube_id>.{mp4,mkv,webm}``, relative to ``root``.
        fps, frame_size: the standard the events are cut to (paper: 25 fps, 640x360).
        event_types: keep only these event types (1 VT, 2 FX, 3 BB, 4 UB); None keeps all.

    Returns:
        The jobs and the failures (missing raw video, annotation without timestamps).
    """
    root = Path(root)
    annotation_path = root / annotation_file
    annotations = _read_annotations(annotation_path)
    classes, split_of = _read_element_lists(root, element_lists or DEFAULT_ELEMENT_LISTS)
    video_root = root / video_dir
    jobs, failures = [], []
    for youtube_id, events in sorted(annotations.items()):
        video_path = _find_video(video_root, youtube_id)
        for event_key, event in sorted((events or {}).items()):
            if event_types is not None and event.get("event") not in event_types:
                continue
            event_id = f"{youtube_id}_{event_key}"
            labelled = [(f"{event_id}_{k}", segment) for k, segment in sorted((event.get("segments") or {}).items())
                        if f"{event_id}_{k}" in split_of]
            if not labelled:
                continue  # no element label in either list: nothing to learn or score
            splits = {split_of[key] for key, _ in labelled}
            where = f"{annotation_path} [{youtube_id}][{event_key}]"
            if video_path is None:
                failures.append({"video_id": event_id, "source": str(video_root / youtube_id),
                                 "error": f"{video_root}/{youtube_id}.{{mp4,mkv,webm}}: raw video not found"})
                continue
            if len(splits) > 1:
                failures.append({"video_id": event_id, "source": str(annotation_path),
                                 "error": f"{where}: segments in both train and val lists"})
                continue
            try:
                event_start, event_end = _span(event.get("timestamps"), where)
                segments = tuple((*_span(segment.get("timestamps"), f"{where}[{key}]"),
                                  classes["gym99"].get(key, -1), classes["gym288"].get(key, -1))
                                 for key, segment in labelled)
            except ValueError as error:
                failures.append({"video_id": event_id, "source": str(annotation_path), "error": str(error)})
                continue
            jobs.append(FineGymEventJob(
                video_id=event_id, source=str(video_path), split=splits.pop(), action=str(event.get("event")),
                event_start=event_start, event_end=event_end, segments=segments, fps=float(fps),
                frame_size=(int(frame_size[0]), int(frame_size[1])), jpeg_quality=int(jpeg_quality),
                raw_root=str(root),
            ))
    if not jobs and not failures:
        raise ValueError(f"{annotation_path}: no event has a segment in the element lists")
    return jobs, failures
