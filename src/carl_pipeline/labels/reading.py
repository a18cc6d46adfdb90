"""Phase labels for some of a folder's videos, read from a file a person wrote, and checked.

Three layouts are read (``read_phase_labels``):

* a CSV of ``video_id,frame_index,phase``: one row per labelled frame;
* a CSV of ``video_id,phase,start_frame,end_frame``: one row per phase segment, both ends included;
* a folder of per-video ``<video_id>.npy`` arrays of one phase per frame (as Penn Action's phase
  labels are published), ``-1`` for a frame without a label.

Frame indices count the frames of the ingested video (``video_index.num_frames``): at
``videos.ingest.fps`` when the videos are resampled, so label at that rate or set it to null.

Phases are numbers or names, one kind per file. The order is ``phases`` when given; else it is
decided per file from its valid lines (``PhaseLabels.phase_order`` says which): when most of them
name their phase by a number, the numbers' order (and a line naming its phase otherwise is a
problem), else the order in which the file first names them. A video's phases must not go back
in that order along its frames (a phase is one stretch of an action done in order).

Frames of untrimmed footage that belong to no phase (before, between or after the action) are
labelled with the reserved phase name ``background`` (``BACKGROUND``; in a ``.npy`` array,
``-2``): background may come anywhere along a video, is not a phase of the order, and is held
as ``BACKGROUND_LABEL`` (-2) in the label arrays. A file must label at least one frame with a
phase that is not background.

Every problem is reported by line (a CSV's line number, counting the header as line 1, or the
``.npy`` file) and that line is left out; the rest is used. A line is a problem when it has too
few fields, an empty phase or video id, a frame number that is not a whole number in the video's
range, or a frame an earlier line labelled (with the same phase or another). A CSV is read as
UTF-8, with or without the byte-order mark Excel writes (UTF-16 with its mark too); other
encodings are refused naming the file and the first byte that does not decode.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FRAME_COLUMNS = ("video_id", "frame_index", "phase")
SEGMENT_COLUMNS = ("video_id", "phase", "start_frame", "end_frame")
#: The reserved phase name of frames that belong to no phase, and its number in label arrays.
BACKGROUND = "background"
BACKGROUND_LABEL = -2
#: Problems logged one by one; past these, one line says how many more the report lists.
LOGGED_PROBLEMS = 20
#: How the phases of a file are ordered (``PhaseLabels.phase_order``).
PHASE_ORDERS = ("given", "numbers", "first mention")


class LabelsFileError(ValueError):
    """A labels file that cannot be read at all (missing, no known layout, nothing usable)."""


@dataclass
class PhaseLabels:
    """Checked phase labels.

    ``labels``: ``{video_id: (num_frames,) int64}`` phase numbers (positions in ``phases``), -1
    for a frame without a label, ``BACKGROUND_LABEL`` (-2) for background, for the videos with
    at least one label. ``phases``: the phase
    names in order. ``problems``: ``{"line", "video_id", "problem"}`` for each line left out.
    ``source``: the file or folder read. ``phase_order``: how the phases were ordered, one of
    ``PHASE_ORDERS`` (``given``: the ``phases`` setting; ``numbers``: the file's phases are
    numbers, in numeric order; ``first mention``: names, in the order the file first names them).
    """

    labels: dict[str, np.ndarray]
    phases: list[str]
    problems: list[dict] = field(default_factory=list)
    source: str = ""
    phase_order: str = "first mention"

    def report(self) -> dict:
        """What was used and what was left out, for the labels report (JSON)."""
        return {"source": self.source, "phases": self.phases, "phase_order": self.phase_order,
                "labelled_videos": {v: int((y != -1).sum()) for v, y in sorted(self.labels.items())},
                "background_frames": {v: int((y == BACKGROUND_LABEL).sum()) for v, y in sorted(self.labels.items())
                                      if (y == BACKGROUND_LABEL).any()},
                "problems": self.problems}

    def problem_messages(self, shown: int = LOGGED_PROBLEMS) -> list[str]:
        """One message per problem for the first ``shown``, then one that says how many more the
        report lists (a file of 100,000 bad lines logs ``shown + 1`` lines, not 100,000)."""
        messages = [f"{self.source}, line {p['line']} ({p['video_id']}): {p['problem']}; left out"
                    for p in self.problems[:shown]]
        if len(self.problems) > shown:
            messages.append(f"{self.source}: {len(self.problems) - shown} more problems, not shown; all "
                            f"{len(self.problems)} are listed in the labels report")
        return messages


def label_name(label: int, phases: Sequence[str]) -> str:
    """The name of a label: its phase's, or ``background``."""
    return BACKGROUND if label == BACKGROUND_LABEL else phases[label]


def _is_number(name: str) -> bool:
    try:
        float(name)
    except ValueError:
        return False
    return True


class _PhaseOrder:
    """Phase names to positions: the given order, the numbers' order, or first mention, decided
    from the file's valid lines (``rows``: ``(line, video_id, frame, phase)``). ``misfits``: the
    lines whose phase is not of the file's kind (a name in a file of numbers, or the reverse)."""

    def __init__(self, rows: Sequence[tuple], given: Sequence[str] | None):
        self.misfits: dict = {}
        if given is not None:
            self.kind, self.names = "given", [str(p) for p in given]
        else:
            kinds = {row[0]: _is_number(row[3]) for row in rows if row[3] != BACKGROUND}  # one kind per line
            numbers = sum(kinds.values())
            self.kind = "numbers" if kinds and numbers >= len(kinds) - numbers else "first mention"
            wanted = self.kind == "numbers"
            self.misfits = {"numbers": numbers, "lines": len(kinds),
                            "lines_left_out": {line for line, number in kinds.items() if number != wanted}}
            phases = [row[3] for row in rows if row[3] != BACKGROUND and kinds[row[0]] == wanted]
            self.names = (sorted(set(phases), key=float) if wanted else list(dict.fromkeys(phases)))
        self.position = {name: i for i, name in enumerate(self.names)}

    def misfit(self, line) -> str | None:
        """Why ``line``'s phase does not fit the file's kind of phases, or None."""
        if not self.misfits or line not in self.misfits["lines_left_out"]:
            return None
        numbers, lines = self.misfits["numbers"], self.misfits["lines"]
        if self.kind == "numbers":
            return (f"is a name, but {numbers} of the file's {lines} valid lines give their phase as a number "
                    f"(phases are ordered as numbers)")
        return (f"is a number, but {lines - numbers} of the file's {lines} valid lines name their phase "
                f"(phases are ordered by first mention); give every phase as a number or every phase as a name")


def _normal_phase(value) -> str:
    text = str(value).strip()
    if text.lower() == BACKGROUND:
        return BACKGROUND
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
    if given is not None and BACKGROUND in given:
        raise LabelsFileError(f"{path}: videos.labels.phases lists '{BACKGROUND}', the reserved name of frames in no "
                              f"phase; leave it out of the phases")
    order = _PhaseOrder(rows, given)
    labels: dict[str, np.ndarray] = {}
    labelled_by: dict[str, np.ndarray] = {}  # the line that labelled each frame
    for line, video_id, frames, phase in _by_line(rows):  # a segment's line is used whole or not at all
        misfit = None if phase == BACKGROUND else order.misfit(line)
        if misfit is not None:
            problems.append({"line": line, "video_id": video_id, "problem": f"phase {phase!r} {misfit}"})
            continue
        if phase != BACKGROUND and phase not in order.position:
            problems.append({"line": line, "video_id": video_id,
                             "problem": f"phase {phase!r} is not one of the phases {order.names}"})
            continue
        y = labels.setdefault(video_id, np.full(num_frames[video_id], -1, dtype=np.int64))
        by = labelled_by.setdefault(video_id, np.full(num_frames[video_id], None, dtype=object))
        position = BACKGROUND_LABEL if phase == BACKGROUND else order.position[phase]
        frames = np.asarray(frames)
        clash = frames[y[frames] != -1]
        if len(clash):
            first = clash[0]
            earlier = f"line {by[first]}" if not isinstance(by[first], str) else by[first]
            had = BACKGROUND if y[first] == BACKGROUND_LABEL else order.names[y[first]]
            problem = (f"frame {first} already has phase {had!r} ({earlier})"
                       if y[first] != position else f"frame {first} is labelled twice (also on {earlier})")
            problems.append({"line": line, "video_id": video_id, "problem": problem})
            continue
        if position == BACKGROUND_LABEL:  # anywhere along a video: no order to keep
            y[frames] = position
            by[frames] = line
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
        by[frames] = line
    labels = {v: y for v, y in labels.items() if (y != -1).any()}
    if not labels:
        shown = "; ".join(f"line {p['line']}: {p['problem']}" for p in problems[:3])
        raise LabelsFileError(f"{path}: no usable label" + (f" ({shown})" if shown else " (the file is empty)"))
    if not any((y >= 0).any() for y in labels.values()):
        raise LabelsFileError(f"{path}: the only phase labelled is '{BACKGROUND}'; label the frames of at least one "
                              f"phase of the action (background alone says nothing to carry to other videos)")
    return PhaseLabels(labels, order.names, problems, str(path), order.kind)


def _by_line(rows: list) -> list:
    """The rows of each line together: ``(line, video_id, [frames], phase)``."""
    grouped: dict = {}
    for line, video_id, frame, phase in rows:
        key = (line, video_id, phase)
        grouped.setdefault(key, []).append(frame)
    return [(line, video_id, frames, phase) for (line, video_id, phase), frames in grouped.items()]


def _check_frame(line, video_id: str, frame_text: str, num_frames: Mapping[str, int], problems: list,
                 column: str = "frame_index") -> int | None:
    text = str(frame_text).strip()
    try:
        value = float(text)
    except (TypeError, ValueError):
        problems.append({"line": line, "video_id": video_id, "problem": f"{column} {frame_text!r} is not a number"})
        return None
    if not math.isfinite(value):
        problems.append({"line": line, "video_id": video_id,
                         "problem": f"{column} {frame_text!r} is not a finite number"})
        return None
    if not value.is_integer():
        problems.append({"line": line, "video_id": video_id,
                         "problem": f"{column} {frame_text!r} is not a whole number (frames are counted 0, 1, 2, ...)"})
        return None
    frame = int(text) if text.lstrip("+-").isdigit() else int(value)  # "12345678901234567890" exactly
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


def read_text(path: Path) -> str:
    """A labels CSV's text: UTF-8 with or without a byte-order mark (Excel's "CSV UTF-8" writes
    one), or UTF-16 with its mark.

    Raises:
        LabelsFileError: any other encoding, naming the file, the line and the byte.
    """
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as error:
            raise LabelsFileError(f"{path}: starts with a UTF-16 byte-order mark but is not UTF-16 ({error})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise LabelsFileError(f"{path}: not UTF-8 text (byte 0x{raw[error.start]:02x} on line {line} does not "
                              f"decode; Latin-1 or Windows-1252, say): save it as UTF-8 (Excel: 'CSV UTF-8')") from None


def _csv_rows(path: Path, num_frames: Mapping[str, int]) -> tuple[list, list]:
    """``(line, video_id, frame, phase)`` per labelled frame, and the problems, of either CSV layout."""
    with io.StringIO(read_text(path), newline="") as file:
        reader = csv.DictReader(file)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        reader.fieldnames = columns
        if set(SEGMENT_COLUMNS) <= set(columns):
            layout, needed = "segments", SEGMENT_COLUMNS
        elif set(FRAME_COLUMNS) <= set(columns):
            layout, needed = "frames", FRAME_COLUMNS
        else:
            raise LabelsFileError(f"{path}: columns {columns} are neither {','.join(FRAME_COLUMNS)} nor "
                                  f"{','.join(SEGMENT_COLUMNS)}")
        rows, problems = [], []
        for record in reader:
            line = reader.line_num
            video_id = str(record["video_id"] or "").strip()
            short = [c for c in needed if record.get(c) is None]
            if short:  # csv fills the missing fields of a short line with None
                fields = len(columns) - len([c for c in columns if record.get(c) is None])
                problems.append({"line": line, "video_id": video_id,
                                 "problem": f"the line has {fields} of the {len(columns)} fields "
                                            f"({', '.join(columns)}): no {', '.join(short)}"})
                continue
            if not video_id:
                problems.append({"line": line, "video_id": video_id, "problem": "video_id is empty"})
                continue
            if not _known(line, video_id, num_frames, problems):
                continue
            if not str(record["phase"]).strip():
                problems.append({"line": line, "video_id": video_id,
                                 "problem": "phase is empty (every labelled frame needs its phase)"})
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
        if not np.issubdtype(values.dtype, np.number) or (
                np.issubdtype(values.dtype, np.floating) and not np.all(np.isfinite(values) & (values == np.round(values)))):
            problems.append({"line": file.name, "video_id": video_id,
                             "problem": f"labels of type {values.dtype} that are not all whole numbers "
                                        f"(a phase number per frame, -1 for none)"})
            continue
        rows.extend((file.name, video_id, frame, BACKGROUND if v == BACKGROUND_LABEL else _normal_phase(v))
                    for frame, v in enumerate(values.tolist()) if v != -1 and not (v < 0 and v != BACKGROUND_LABEL))
    return rows, problems
