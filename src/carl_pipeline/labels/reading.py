"""Phase labels for some of a folder's videos, read from a file a person wrote, and checked.

Three layouts are read (``read_phase_labels``):

* a CSV of ``video_id,frame_index,phase``: one row per labelled frame;
* a CSV of ``video_id,phase,start_frame,end_frame``: one row per phase segment, both ends included;
* a folder of per-video ``<video_id>.npy`` arrays of one phase per frame (as Penn Action's phase
  labels are published), ``-1`` for a frame without a label.

Frame indices count the frames of the ingested video (``video_index.num_frames``): at
``videos.ingest.fps`` when the videos are resampled, so label at that rate or set it to null.

Phases are numbers or names. Their order is the numbers' order, or, for names, ``phases`` when
given, else the order in which the file first names them. A video's phases must not go back in
that order along its frames (a phase is one stretch of an action done in order).

Every problem is reported by line (a CSV's line number, counting the header as line 1, or the
``.npy`` file) and that line is left out; the rest is used.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FRAME_COLUMNS = ("video_id", "frame_index", "phase")
SEGMENT_COLUMNS = ("video_id", "phase", "start_frame", "end_frame")


class LabelsFileError(ValueError):
    """A labels file that cannot be read at all (missing, no known layout, nothing usable)."""


@dataclass
class PhaseLabels:
    """Checked phase labels.

    ``labels``: ``{video_id: (num_frames,) int64}`` phase numbers (positions in ``phases``), -1
    for a frame without a label, for the videos with at least one label. ``phases``: the phase
    names in order. ``problems``: ``{"line", "video_id", "problem"}`` for each line left out.
    ``source``: the file or folder read.
    """

    labels: dict[str, np.ndarray]
    phases: list[str]
    problems: list[dict] = field(default_factory=list)
    source: str = ""

    def report(self) -> dict:
        """What was used and what was left out, for the labels report (JSON)."""
        return {"source": self.source, "phases": self.phases,
                "labelled_videos": {v: int((y >= 0).sum()) for v, y in sorted(self.labels.items())},
                "problems": self.problems}


def _is_number(name: str) -> bool:
    try:
        float(name)
    except ValueError:
        return False
    return True


class _PhaseOrder:
    """Phase names to positions: the given order, the numbers' order, or first appearance."""

    def __init__(self, names: Sequence[str], given: Sequence[str] | None):
        if given is not None:
            self.names = [str(p) for p in given]
        elif names and all(_is_number(n) for n in names):
            self.names = sorted(set(names), key=float)
        else:
            self.names = list(dict.fromkeys(names))
        self.position = {name: i for i, name in enumerate(self.names)}


def _normal_phase(value) -> str:
    text = str(value).strip()
    try:  # "2", "2.0" and 2 are one phase
        number = float(text)
        return str(int(number)) if number.is_integer() else text
    except ValueError:
        return text


def read_phase_labels(path: str | Path, num_frames: Mapping[str, int], phases: Sequence[str] | None = None
                      ) -> PhaseLabels:
    """Read and check a labels file against the videos there are.

    Args:
        path: a CSV in either layout, or a folder of ``<video_id>.npy``.
        num_frames: ``{video_id: number of frames}`` of the ingested videos.
        phases: the phase names in order (names only; numbers are ordered as numbers).

    Raises:
        LabelsFileError: the path is missing, the CSV has neither layout's columns, or no line
            is usable (naming the file and, for the last, its first problems).
    """
    path = Path(path)
    if not path.exists():
        raise LabelsFileError(f"{path}: labels file does not exist")
    if path.is_dir():
        rows, problems = _npy_rows(path, num_frames)
    else:
        rows, problems = _csv_rows(path, num_frames)
    given = [_normal_phase(p) for p in phases] if phases is not None else None
    order = _PhaseOrder([r[3] for r in rows], given)
    labels: dict[str, np.ndarray] = {}
    for line, video_id, frames, phase in _by_line(rows):  # a segment's line is used whole or not at all
        if phase not in order.position:
            problems.append({"line": line, "video_id": video_id,
                             "problem": f"phase {phase!r} is not one of the phases {order.names}"})
            continue
        y = labels.setdefault(video_id, np.full(num_frames[video_id], -1, dtype=np.int64))
        position = order.position[phase]
        frames = np.asarray(frames)
        clash = frames[(y[frames] >= 0) & (y[frames] != position)]
        if len(clash):
            problems.append({"line": line, "video_id": video_id,
                             "problem": f"frame {clash[0]} already has phase {order.names[y[clash[0]]]!r}"})
            continue
        labelled = np.flatnonzero(y >= 0)
        earlier, later = labelled[labelled < frames.min()], labelled[labelled > frames.max()]
        inside = labelled[(labelled > frames.min()) & (labelled < frames.max())]
        if ((len(earlier) and y[earlier].max() > position) or (len(later) and y[later].min() < position)
                or (len(inside) and (y[inside] != position).any())):
            problems.append({"line": line, "video_id": video_id,
                             "problem": f"phase {phase!r} at frame {frames.min()} is out of order (phases go "
                                        f"{' -> '.join(order.names)} along a video)"})
            continue
        y[frames] = position
    labels = {v: y for v, y in labels.items() if (y >= 0).any()}
    if not labels:
        shown = "; ".join(f"line {p['line']}: {p['problem']}" for p in problems[:3])
        raise LabelsFileError(f"{path}: no usable label" + (f" ({shown})" if shown else " (the file is empty)"))
    return PhaseLabels(labels, order.names, problems, str(path))


def _by_line(rows: list) -> list:
    """The rows of each line together: ``(line, video_id, [frames], phase)``."""
    grouped: dict = {}
    for line, video_id, frame, phase in rows:
        key = (line, video_id, phase)
        grouped.setdefault(key, []).append(frame)
    return [(line, video_id, frames, phase) for (line, video_id, phase), frames in grouped.items()]


def _check_frame(line, video_id: str, frame_text: str, num_frames: Mapping[str, int], problems: list,
                 column: str = "frame_index") -> int | None:
    try:
        frame = int(float(frame_text))
    except (TypeError, ValueError):
        problems.append({"line": line, "video_id": video_id, "problem": f"{column} {frame_text!r} is not a number"})
        return None
    if not 0 <= frame < num_frames[video_id]:
        problems.append({"line": line, "video_id": video_id,
                         "problem": f"{column} {frame} is out of range: the video has {num_frames[video_id]} "
                                    f"frames (0 to {num_frames[video_id] - 1})"})
        return None
    return frame


def _known(line, video_id: str, num_frames: Mapping[str, int], problems: list) -> bool:
    if video_id in num_frames:
        return True
    problems.append({"line": line, "video_id": video_id,
                     "problem": f"unknown video id {video_id!r} (not among the {len(num_frames)} ingested videos)"})
    return False


def _csv_rows(path: Path, num_frames: Mapping[str, int]) -> tuple[list, list]:
    """``(line, video_id, frame, phase)`` per labelled frame, and the problems, of either CSV layout."""
    with path.open(newline="") as file:
        reader = csv.DictReader(file)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        reader.fieldnames = columns
        if set(SEGMENT_COLUMNS) <= set(columns):
            layout = "segments"
        elif set(FRAME_COLUMNS) <= set(columns):
            layout = "frames"
        else:
            raise LabelsFileError(f"{path}: columns {columns} are neither {','.join(FRAME_COLUMNS)} nor "
                                  f"{','.join(SEGMENT_COLUMNS)}")
        rows, problems = [], []
        for record in reader:
            line = reader.line_num
            video_id = str(record["video_id"]).strip()
            if not _known(line, video_id, num_frames, problems):
                continue
            phase = _normal_phase(record["phase"])
            if layout == "frames":
                frame = _check_frame(line, video_id, record["frame_index"], num_frames, problems)
                if frame is not None:
                    rows.append((line, video_id, frame, phase))
                continue
            start = _check_frame(line, video_id, record["start_frame"], num_frames, problems, "start_frame")
            end = _check_frame(line, video_id, record["end_frame"], num_frames, problems, "end_frame")
            if start is None or end is None:
                continue
            if end < start:
                problems.append({"line": line, "video_id": video_id,
                                 "problem": f"end_frame {end} is before start_frame {start}"})
                continue
            rows.extend((line, video_id, frame, phase) for frame in range(start, end + 1))
    return rows, problems


def _npy_rows(folder: Path, num_frames: Mapping[str, int]) -> tuple[list, list]:
    """``(file, video_id, frame, phase)`` per labelled frame of a folder of per-video arrays."""
    rows, problems = [], []
    files = sorted(folder.glob("*.npy"))
    if not files:
        raise LabelsFileError(f"{folder}: no .npy label arrays in the folder")
    for file in files:
        video_id = file.stem
        if not _known(file.name, video_id, num_frames, problems):
            continue
        try:
            values = np.load(file, allow_pickle=False).reshape(-1)
        except Exception as error:  # unreadable or not an array
            problems.append({"line": file.name, "video_id": video_id, "problem": f"unreadable array ({error})"})
            continue
        if len(values) != num_frames[video_id]:
            problems.append({"line": file.name, "video_id": video_id,
                             "problem": f"{len(values)} labels for a video of {num_frames[video_id]} frames"})
            continue
        rows.extend((file.name, video_id, frame, _normal_phase(v)) for frame, v in enumerate(values.tolist())
                    if not (isinstance(v, (int, float)) and v < 0))
    return rows, problems
