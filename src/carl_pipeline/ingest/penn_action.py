"""Penn Action: ``frames/<id>/NNNNNN.jpg``, ``labels/<id>.mat`` and per-frame phase labels
``<split>/<action>/<id>.npy`` (the TCC phase annotations) -> conversion jobs, one per video.

Only videos with a phase-label file are converted: the 13 actions with phases. Actions listed in
``skip_actions`` (strum_guitar and jump_rope have no phases) are ignored even if present.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from carl_pipeline.checks import check_choice
from carl_pipeline.ingest.frames import PIXELS, released_pixels, standardise_jpegs
from carl_pipeline.ingest.jobs import ConversionError, ConversionJob, ConvertedVideo
from carl_pipeline.video.tfrecord import interleaved_read_order


def resample_labels(labels: np.ndarray, num_frames: int) -> np.ndarray:
    """Nearest-neighbour resampling of a per-frame label array to ``num_frames`` entries."""
    positions = np.round(np.linspace(0, len(labels) - 1, num_frames)).astype(np.int64)
    return labels[positions]


def _mat_scalar(mat: dict, key: str, source: Path):
    if key not in mat:
        raise ConversionError(f"{source}: no '{key}' field")
    value = np.asarray(mat[key]).reshape(-1)
    if value.size == 0:
        raise ConversionError(f"{source}: field '{key}' is empty")
    return value[0]


@dataclass(frozen=True)
class PennActionVideoJob(ConversionJob):
    """One Penn Action video: its frame folder, ``.mat`` metadata and phase-label array."""

    frames_dir: str = ""
    mat_file: str = ""
    phase_file: str = ""
    frame_size: tuple[int, int] | None = None
    fps: float = 30.0  # Penn Action gives no frame rate; its clips are 30 fps
    label_length_tolerance: float = 0.1
    # or "released": penn_action_to_tfrecords.py's cv2 squash and JPEG, then the x264 round trip
    # of tfrecords_to_videos.py (convert.PIXELS)
    pixels: str = "project"

    def raw_files(self) -> tuple[str, ...]:
        """The phase labels, the ``.mat`` file and every frame: their contents are digested, so a
        pack made from other files under the same id (a regenerated or re-split dataset, one
        replaced frame) is converted again, not kept."""
        frames_dir = Path(self.frames_dir)
        frames = sorted(str(p) for p in frames_dir.glob("*.jpg")) if frames_dir.is_dir() else []
        return (self.phase_file, self.mat_file, *frames)

    def run(self) -> ConvertedVideo:
        from scipy.io import loadmat

        mat_file, phase_file, frames_dir = Path(self.mat_file), Path(self.phase_file), Path(self.frames_dir)
        if not mat_file.is_file():
            raise ConversionError(f"{mat_file}: label file does not exist")
        try:
            mat = loadmat(mat_file)
        except Exception as error:
            raise ConversionError(f"{mat_file}: not a readable .mat file ({error})") from error
        action = str(_mat_scalar(mat, "action", mat_file))
        if action != self.action:
            raise ConversionError(
                f"{mat_file}: action '{action}' but its phase labels lie under '{self.action}'")
        num_frames = int(_mat_scalar(mat, "nframes", mat_file))
        frame_files = sorted(frames_dir.glob("*.jpg")) if frames_dir.is_dir() else []
        if not frame_files:
            raise ConversionError(f"{frames_dir}: no frames (expected {num_frames} .jpg files)")
        if len(frame_files) != num_frames:
            raise ConversionError(
                f"{frames_dir}: {len(frame_files)} frames on disk, {mat_file.name} says nframes={num_frames}")
        try:
            phases = np.load(phase_file).astype(np.int64)
        except Exception as error:
            raise ConversionError(f"{phase_file}: not a readable .npy array ({error})") from error
        if phases.ndim != 1 or phases.size == 0:
            raise ConversionError(f"{phase_file}: phase labels must be a non-empty 1-D array, got shape {phases.shape}")
        if phases.size != num_frames:
            # The released phase labels are sometimes a few frames off the frame count: resample
            # those; a gross mismatch means the wrong file and is an error.
            mismatch = abs(phases.size - num_frames) / num_frames
            if mismatch > self.label_length_tolerance:
                raise ConversionError(
                    f"{phase_file}: {phases.size} phase labels for {num_frames} frames "
                    f"(more than {self.label_length_tolerance:.0%} off)")
            phases = resample_labels(phases, num_frames)
        jpegs = [f.read_bytes() for f in frame_files]
        if self.pixels == "released":
            frames, height, width = _released_frames(jpegs, frame_files, self.frame_size, str(frames_dir))
        else:
            frames, height, width = standardise_jpegs(jpegs, self.frame_size, source=str(frames_dir))
        return ConvertedVideo(frames, height, width, self.fps, {"phase": phases.tolist()},
                              meta={"train_flag": int(_mat_scalar(mat, "train", mat_file))})


def _released_frames(jpegs: list[bytes], files: list[Path], size: tuple[int, int] | None,
                     source: str) -> tuple[list[bytes], int, int]:
    from carl_pipeline.video.released_pixels import released_penn_action_frame

    frames = []
    for data, path in zip(jpegs, files, strict=True):
        try:
            frames.append(released_penn_action_frame(data, size))
        except Exception as error:  # OpenCV and PIL raise several types for corrupt data
            raise ConversionError(f"{path}: not a readable image ({error})") from error
    if len({f.shape for f in frames}) > 1:
        raise ConversionError(f"{source}: frames differ in size {sorted({f.shape[:2] for f in frames})}; set frame_size")
    return released_pixels(frames, source=source), frames[0].shape[0], frames[0].shape[1]


def plan_penn_action(
    root: str | os.PathLike,
    *,
    splits: tuple[str, ...] = ("train", "val"),
    phase_label_dir: str = "",
    skip_actions: tuple[str, ...] = ("strum_guitar", "jump_rope"),
    frame_size: tuple[int, int] | None = None,
    fps: float = 30.0,
    label_length_tolerance: float = 0.1,
    pixels: str = "project",
) -> tuple[list[PennActionVideoJob], list[dict[str, str]]]:
    """One job per phase-label file ``<root>/<phase_label_dir>/<split>/<action>/<id>.npy``;
    ``pixels``: ``project`` or ``released`` (``carl_pipeline.ingest.frames.PIXELS``).

    Returns:
        The jobs and planning failures (none for this layout: every problem shows when a job runs).

    Raises:
        FileNotFoundError: no phase-label file under any split folder.
        ValueError: ``pixels`` is neither.
    """
    check_choice("pixels", pixels, PIXELS)
    root = Path(root)
    label_root = root / phase_label_dir
    jobs = []
    for split in splits:
        for phase_file in sorted((label_root / split).glob("*/*.npy")):
            action = phase_file.parent.name
            if action in skip_actions:
                continue
            video_id = phase_file.stem
            frames_dir, mat_file = root / "frames" / video_id, root / "labels" / f"{video_id}.mat"
            jobs.append(PennActionVideoJob(
                video_id=video_id, source=str(frames_dir), split=split, action=action,
                frames_dir=str(frames_dir), mat_file=str(mat_file),
                phase_file=str(phase_file), frame_size=tuple(frame_size) if frame_size else None,
                fps=float(fps), label_length_tolerance=float(label_length_tolerance), raw_root=str(root),
                pixels=pixels,
            ))
    if not jobs:
        raise FileNotFoundError(
            f"{label_root}: no phase labels <split>/<action>/<id>.npy for splits {list(splits)}")
    return jobs, []


def penn_action_dataset_order(root: str | os.PathLike, jobs: Sequence[PennActionVideoJob],
                              videos_per_shard: int = 200) -> dict[str, int]:
    """Each video's position in its split as CARL's released code reads Penn Action.

    ``penn_action_to_tfrecords.py`` walks ``sorted(os.listdir(<root>/frames))`` with an index i
    over every folder, keeps the videos of the split it converts (labelled, not strum_guitar or
    jump_rope), and after a kept video whose ``(i + 1) % 200 == 0`` (or the last folder) writes
    the videos kept so far to shard ``penn_action_<split>-<n>.tfrecord``. ``tfrecords_to_videos.py``
    reads ``sorted(glob('penn_action_<split>*'))`` (so ``-10`` sorts before ``-2``) with
    ``num_parallel_reads=60``: the shards' records round robin. Its ``action_to_indices`` keeps that
    order within each action, and ``evaluation/classification.py`` trains on the first 10% / 50%.

    Videos the released converter never writes get no position: those kept after the last shard
    was written, when the last folder is not a video of the split (it drops them; so for one of
    the two splits the last folders' videos are not in its ``.pkl``).

    Returns:
        ``{video_id: position}``, positions counted per split from 0.
    """
    frames_root = Path(root) / "frames"
    folders = sorted(os.listdir(frames_root)) if frames_root.is_dir() else []
    order = {}
    for split in sorted({job.split for job in jobs}):
        kept_ids = {job.video_id for job in jobs if job.split == split}
        shards, current = [], []
        for i, folder in enumerate(folders):
            if folder not in kept_ids:
                continue  # the released loop `continue`s before its shard check
            current.append(folder)
            if (i + 1) % videos_per_shard == 0 or i == len(folders) - 1:
                shards.append(current)
                current = []
        names = sorted(range(len(shards)), key=lambda n: f"penn_action_{split}-{n}.tfrecord")
        for position, video_id in enumerate(interleaved_read_order([shards[n] for n in names])):
            order[video_id] = position
    return order
