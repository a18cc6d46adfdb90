"""Write the embedded demo data in each dataset's published raw layout, deterministically.

``python -m carl_pipeline.synthetic data/01_raw`` regenerates everything the repository ships.
The same functions, with small counts, make the fixtures of the tests.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from carl_pipeline.ingest.jobs import SYNTHETIC_MARKER
from carl_pipeline.labels.reading import BACKGROUND, BACKGROUND_LABEL
from carl_pipeline.synthetic.actions import (
    GYM99_CLASSES,
    GYM288_ONLY_VARIANT,
    PENN_ACTIONS,
    PHASELESS_ACTIONS,
    POURING,
    finegym_element_poses,
    gym99_of,
    gym288_of,
    idle_poses,
)
from carl_pipeline.synthetic.render import (
    NEUTRAL,
    broadcast_appearance,
    interpolate_pose,
    phase_timeline,
    random_appearance,
    render_video,
)
from carl_pipeline.video.encode import write_video
from carl_pipeline.video.frame_pack import encode_jpeg

logger = logging.getLogger(__name__)


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, *keys])


def render_action_video(
    rng: np.random.Generator, key_poses, num_frames: int, height: int, width: int,
    figure_scale: tuple[float, float] = (0.75, 0.9), **kwargs
) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``(T, H, W, 3)`` uint8 and phase labels ``(T,)`` of one synthetic action video;
    ``figure_scale``: range of the figure's height over the frame's."""
    phases, progress = phase_timeline(rng, num_frames, len(key_poses) - 1)
    appearance = random_appearance(rng, height, width, figure_scale=figure_scale)
    return render_video(rng, key_poses, phases, progress, height, width, appearance=appearance, **kwargs), phases


def mark_synthetic(out_dir: Path, layout: str) -> None:
    """The marker ingestion reads (``SYNTHETIC_MARKER``): its reports, and the model card of a
    model trained on it, then say the data were made up."""
    (Path(out_dir) / SYNTHETIC_MARKER).write_text(
        f"Synthetic videos in {layout}'s published layout, written by carl_pipeline.synthetic: a jointed figure "
        "drawn by the project's generator, not real footage. Ingestion reports it (ingest_report.json: "
        "synthetic) and the model card of a model trained on it warns.\n")


def generate_pouring(
    out_dir: str | os.PathLike,
    *,
    counts: dict[str, int] | None = None,
    frames: tuple[int, int] = (40, 90),
    size: tuple[int, int] = (96, 96),
    videos_per_file: int = 4,
    extra_context_files: Sequence[str] = ("val",),
    jpeg_quality: int = 85,
    seed: int = 0,
) -> list[Path]:
    """Pouring-style TCC TFRecords ``pouring_{split}-{i}-of-{n}.tfrecord``.

    Args:
        counts: videos per split (default 16 train, 20 val, 4 test: enough validation videos
            that a difference of 0.1 in a score is not noise).
        frames: (min, max) frames per video.
        extra_context_files: splits whose records also carry ``label_string`` and
            ``framelabels_string``, as some TCC releases do.
    """
    from carl_pipeline.video.tfrecord import write_sequence_examples

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = counts or {"train": 16, "val": 20, "test": 4}
    written = []
    for split_number, (split, count) in enumerate(counts.items()):
        videos = []
        for i in range(count):
            rng = _rng(seed, 1, split_number, i)
            length = int(rng.integers(frames[0], frames[1] + 1))
            clip, phases = render_action_video(rng, POURING, length, *size, pouring_props=True)
            videos.append({"name": f"pouring_{split}_{i:03d}", "label": 0,
                           "jpeg_frames": [encode_jpeg(f, jpeg_quality) for f in clip],
                           "frame_labels": phases.tolist()})
        chunks = [videos[i:i + videos_per_file] for i in range(0, len(videos), videos_per_file)]
        for k, chunk in enumerate(chunks):
            path = out_dir / f"pouring_{split}-{k}-of-{len(chunks)}.tfrecord"
            written.append(write_sequence_examples(path, chunk, extra_context=split in extra_context_files))
    mark_synthetic(out_dir, "Pouring")
    return written


#: Motions spliced around an untrimmed performance (key poses of the Penn Action-like actions).
UNRELATED_MOTIONS = ("jumping_jacks", "squat", "tennis_serve")


def _idle(rng: np.random.Generator, pose: dict[str, float], num_frames: int) -> list[dict[str, float]]:
    """Holding ``pose`` for ``num_frames``, swaying a little (the cup arm still)."""
    sway, phase = rng.uniform(0.03, 0.08), rng.uniform(0, 2 * np.pi)
    t = np.arange(num_frames) / 25.0
    return [{**pose, "lean": pose["lean"] + sway * np.sin(2 * np.pi * 0.5 * x + phase),
             "arm_l": pose["arm_l"] + 0.15 * np.sin(2 * np.pi * 0.3 * x + phase)} for x in t]


def _unrelated(rng: np.random.Generator, name: str, num_frames: int, hold: dict[str, float]) -> list[dict[str, float]]:
    """Another action (``UNRELATED_MOTIONS``), the cup and glass as ``hold`` has them."""
    key_poses = PENN_ACTIONS[name]
    phases, progress = phase_timeline(rng, num_frames, len(key_poses) - 1)
    return [{**interpolate_pose(key_poses, int(p), float(q)), "fill": hold["fill"], "tilt": 0.0}
            for p, q in zip(phases, progress)]


def render_untrimmed_pouring(
    rng: np.random.Generator, action_frames: int, height: int, width: int, *,
    lead: tuple[int, int] = (20, 45), gap: tuple[int, int] = (6, 14), tail: tuple[int, int] = (20, 45),
) -> tuple[np.ndarray, np.ndarray]:
    """One Pouring performance inside untrimmed footage, as a camera left running records it:
    an unrelated motion and an idle stretch before the action, an idle stretch at one of its
    phase boundaries, an idle stretch and another unrelated motion after it, all in one scene.

    Args:
        action_frames: frames of the pouring itself.
        lead, gap, tail: (min, max) frames before, inside and after it (each of the lead and tail
            split between the unrelated motion and the idle stretch).

    Returns:
        Frames ``(T, H, W, 3)`` uint8 and labels ``(T,)``: the phase (0-4) or ``BACKGROUND_LABEL`` (-2).
    """
    phases, progress = phase_timeline(rng, action_frames, len(POURING) - 1)
    appearance = random_appearance(rng, height, width)
    action = [interpolate_pose(POURING, int(p), float(q)) for p, q in zip(phases, progress)]
    first, second = rng.choice(len(UNRELATED_MOTIONS), size=2, replace=False)
    lead_n, tail_n = int(rng.integers(*lead, endpoint=True)), int(rng.integers(*tail, endpoint=True))
    lead_motion, tail_motion = int(lead_n * rng.uniform(0.4, 0.7)), int(tail_n * rng.uniform(0.4, 0.7))
    boundaries = np.flatnonzero(np.diff(phases)) + 1
    cut = int(rng.choice(boundaries))  # the idle stretch inside the action, at a phase boundary
    gap_n = int(rng.integers(*gap, endpoint=True))
    parts = [
        (_unrelated(rng, UNRELATED_MOTIONS[first], lead_motion, action[0]), None),
        (_idle(rng, action[0], lead_n - lead_motion), None),
        (action[:cut], phases[:cut]),
        (_idle(rng, action[cut - 1], gap_n), None),
        (action[cut:], phases[cut:]),
        (_idle(rng, action[-1], tail_n - tail_motion), None),
        (_unrelated(rng, UNRELATED_MOTIONS[second], tail_motion, action[-1]), None),
    ]
    poses = [pose for part, _ in parts for pose in part]
    labels = np.concatenate([np.asarray(y) if y is not None else np.full(len(part), BACKGROUND_LABEL)
                             for part, y in parts]).astype(np.int64)
    zeros = np.zeros(len(poses))
    frames = render_video(rng, POURING, zeros.astype(np.int64), zeros, height, width, pouring_props=True,
                          appearance=appearance, poses=poses)
    return frames, labels


def generate_untrimmed_pouring(
    out_dir: str | os.PathLike, count: int = 10, *, frames: tuple[int, int] = (40, 90),
    size: tuple[int, int] = (96, 96), fps: float = 25.0, labelled: int = 2, seed: int = 0,
) -> list[Path]:
    """Untrimmed Pouring footage (``render_untrimmed_pouring``) as mp4 files in ``out_dir``, with
    ``truth.csv`` (``video_id,frame_index,phase``: every frame, ``background`` where no phase)
    beside them and ``labels.csv`` (the truth of the first ``labelled`` videos: a labels file
    for ``videos.labels``, background included). The pouring is drawn as the demo's validation
    videos are (same length range and size), from another seed stream.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written, rows = [], []
    for i in range(count):
        rng = _rng(seed, 5, i)
        clip, labels = render_untrimmed_pouring(rng, int(rng.integers(frames[0], frames[1] + 1)), *size)
        video_id = f"untrimmed_{i:03d}"
        written.append(write_video(out_dir / f"{video_id}.mp4", clip, fps))
        rows += [(video_id, t, BACKGROUND if y == BACKGROUND_LABEL else str(y)) for t, y in enumerate(labels)]
    truth = "video_id,frame_index,phase\n" + "".join(f"{v},{t},{p}\n" for v, t, p in rows)
    (out_dir / "truth.csv").write_text(truth)
    given = {f"untrimmed_{i:03d}" for i in range(labelled)}
    (out_dir / "labels.csv").write_text("video_id,frame_index,phase\n"
                                        + "".join(f"{v},{t},{p}\n" for v, t, p in rows if v in given))
    mark_synthetic(out_dir, "untrimmed Pouring")
    return written


def _write_mat(path: Path, fields: dict) -> None:
    """``scipy.io.savemat`` with a fixed header text (its default carries the creation time)."""
    import io

    from scipy.io import savemat

    buffer = io.BytesIO()
    savemat(buffer, fields)
    data = bytearray(buffer.getvalue())
    header = b"MATLAB 5.0 MAT-file, written by carl_pipeline.synthetic"
    data[:116] = header.ljust(116, b" ")  # the descriptive text field of a MAT 5 header
    path.write_bytes(bytes(data))


def generate_penn_action(
    out_dir: str | os.PathLike,
    *,
    actions: Sequence[str] = ("squat", "jumping_jacks", "tennis_serve", "strum_guitar"),
    counts: dict[str, int] | None = None,
    frames: tuple[int, int] = (35, 70),
    size: tuple[int, int] = (72, 96),
    jpeg_quality: int = 85,
    seed: int = 0,
) -> Path:
    """Penn Action layout: ``frames/<id>/NNNNNN.jpg``, ``labels/<id>.mat`` and, for actions with
    phases, ``<split>/<action>/<id>.npy`` per-frame phase labels.

    ``counts``: videos per split and action (default 16 train, 12 val). The progression score is
    an unregularised linear regression per action (as released): fitted on 6 training videos it
    interpolated their frames and scored noise on the validation videos (experiments/LOG.md).
    A video's content depends on its action, split and number only, so larger counts add videos
    and keep the others' frames (their ids shift)."""
    out_dir = Path(out_dir)
    counts = counts or {"train": 16, "val": 12}
    for sub in ("frames", "labels"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    number = 0
    for a, action in enumerate(actions):
        for split_number, (split, count) in enumerate(counts.items()):
            for i in range(count):
                number += 1
                video_id = f"{number:04d}"
                rng = _rng(seed, 2, a, split_number, i)
                length = int(rng.integers(frames[0], frames[1] + 1))
                # Penn Action's figure leaves room for arms above the head in a 72 px frame.
                clip, phases = render_action_video(rng, PENN_ACTIONS[action], length, *size, figure_scale=(0.65, 0.8))
                frame_dir = out_dir / "frames" / video_id
                frame_dir.mkdir(exist_ok=True)
                for t, frame in enumerate(clip, start=1):
                    (frame_dir / f"{t:06d}.jpg").write_bytes(encode_jpeg(frame, jpeg_quality))
                _write_mat(out_dir / "labels" / f"{video_id}.mat", {
                    "action": action, "nframes": length, "train": 1 if split == "train" else -1,
                    "dimensions": np.array([size[0], size[1], length]),
                })
                if action not in PHASELESS_ACTIONS:
                    label_dir = out_dir / split / action
                    label_dir.mkdir(parents=True, exist_ok=True)
                    np.save(label_dir / f"{video_id}.npy", phases.astype(np.int64))
    mark_synthetic(out_dir, "Penn Action")
    return out_dir


#: The FineGym demo's raw videos: (YouTube-style id, frame rate, container); none at the 25 fps
#: ingestion resamples to, as with the real videos.
FINEGYM_DEMO_VIDEOS = (("gymA00000001", 30.0, ".mp4"), ("gymB00000002", 24.0, ".mkv"),
                       ("gymC00000003", 29.97, ".webm"), ("gymD00000004", 30.0, ".mp4"),
                       ("gymE00000005", 24.0, ".webm"), ("gymF00000006", 30.0, ".mkv"))


#: The FineGym generator's looks. ``studio``: the demo's (``random_appearance``, dark figure on a
#: light wall, every Gym99 class as frequent). ``broadcast``: a held-out style the demo's settings
#: were never chosen on (``broadcast_appearance``: light jointed figure on a dark textured set, a
#: panning and shaking camera, a score box; Gym99 classes with a long tail, 1 : 1/2 : 1/3 : 1/4).
FINEGYM_STYLES = ("studio", "broadcast")


def _finegym_event(rng, fps: float, elements_per_event: tuple[int, int], gym288_only: float,
                   class_weights: np.ndarray | None = None):
    """One event's poses (idle lead-in, elements with idle between, idle tail) and its segments
    ``{segment_key: {"timestamps", "gym288"}}`` in seconds from the event's start; each element's
    Gym99 class drawn with ``class_weights`` (uniform when None)."""
    poses, segments, t = [], {}, 0.0
    for _ in range(int(rng.integers(elements_per_event[0], elements_per_event[1] + 1))):
        lead = int(round(float(rng.uniform(0.4, 0.8)) * fps))
        poses.extend(idle_poses(rng, lead))
        t += lead / fps
        n = int(round(float(rng.uniform(1.2, 2.0)) * fps))
        base = int(rng.integers(0, GYM99_CLASSES)) if class_weights is None else int(rng.choice(GYM99_CLASSES, p=class_weights))
        variant = GYM288_ONLY_VARIANT if rng.uniform() < gym288_only else int(rng.integers(0, GYM288_ONLY_VARIANT))
        gym288 = gym288_of(base, variant)
        poses.extend(finegym_element_poses(gym288, (np.arange(n) + 0.5) / n, direction=float(rng.choice([-1.0, 1.0]))))
        segments[f"A_{int(t):04d}_{int(t + n / fps):04d}"] = {
            "stages": 1, "timestamps": [[round(t, 3), round(t + n / fps, 3)]], "gym288": gym288}
        t += n / fps
    tail = int(round(float(rng.uniform(0.3, 0.6)) * fps))
    poses.extend(idle_poses(rng, tail))
    return poses, segments, t + tail / fps


def generate_finegym(
    out_dir: str | os.PathLike,
    *,
    videos: Sequence[tuple[str, float, str]] = FINEGYM_DEMO_VIDEOS,
    events_per_video: int = 12,
    elements_per_event: tuple[int, int] = (1, 3),
    size: tuple[int, int] = (90, 160),
    val_events: int = 32,
    gym288_only: float = 0.25,
    seed: int = 0,
    style: str = "studio",
) -> Path:
    """FineGym layout: long raw competition videos holding several events, the annotation JSON
    and the Gym99/Gym288 element lists, shaped as the real ones are.

    - Each video has its own look (``random_appearance``: figure, colours, camera) and frame
      rate and container; each event is one of the four event types, idle time between
      ``elements_per_event`` elements (frames labelled -1 in both taxonomies).
    - An element's Gym288 class refines its Gym99 class (``synthetic.actions.gym99_of``); with
      probability ``gym288_only`` it is a variant in Gym288 only, listed in Gym288's element
      lists and not in Gym99's, so the two taxonomies' trainings see different events.
    - ``val_events`` labelled events, spread evenly over the videos, are validation events.
    - One more event per video has no labelled element (as in FineGym, not every event is in
      the element lists).
    - ``style`` (``FINEGYM_STYLES``): ``studio`` is the demo's look; ``broadcast`` is a held-out
      look and class balance (``broadcast_appearance``), for checking that settings chosen on
      the demo hold on data they were not chosen on.
    """
    if style not in FINEGYM_STYLES:
        raise ValueError(f"unknown FineGym style {style!r}: expected one of {FINEGYM_STYLES}")
    broadcast = style == "broadcast"
    weights = 1 / np.arange(1, GYM99_CLASSES + 1)
    class_weights = weights / weights.sum() if broadcast else None
    out_dir = Path(out_dir)
    (out_dir / "videos").mkdir(parents=True, exist_ok=True)
    annotations, all_events = {}, []
    for v, (youtube_id, fps, extension) in enumerate(videos):
        rng = _rng(seed, 3, v)
        # A gymnast seen from the stands: smaller than the other demos' figures, thinner limbs.
        appearance = (broadcast_appearance(rng, *size) if broadcast
                      else random_appearance(rng, *size, figure_scale=(0.5, 0.62), limb_width=0.055))
        poses, annotations[youtube_id], clock = [], {}, 0.0
        for e in range(events_per_video + 1):
            gap = int(round(float(rng.uniform(0.8, 1.5)) * fps))
            poses.extend(idle_poses(rng, gap))
            clock += gap / fps
            event_poses, segments, length = _finegym_event(rng, fps, elements_per_event, gym288_only, class_weights)
            poses.extend(event_poses)
            start, clock = clock, clock + length
            key = f"E_{int(start):06d}_{int(clock):06d}"
            annotations[youtube_id][key] = {
                "event": int(rng.integers(1, 5)),
                "timestamps": [[round(start, 3), round(clock, 3)]],
                "segments": {k: {"stages": s["stages"], "timestamps": s["timestamps"]} for k, s in segments.items()},
            }
            if e < events_per_video:
                all_events.append((youtube_id, key, segments))
        poses.extend(idle_poses(rng, int(fps)))
        frames = render_video(rng, [NEUTRAL, NEUTRAL], np.zeros(len(poses), int), np.zeros(len(poses)),
                              *size, appearance=appearance, poses=poses)
        write_video(out_dir / "videos" / f"{youtube_id}{extension}", frames, fps)
    _write_finegym_lists(out_dir, annotations, all_events, val_events)
    mark_synthetic(out_dir, "FineGym")
    return out_dir


def _write_finegym_lists(out_dir: Path, annotations, all_events, val_events: int) -> None:
    val = set(np.round(np.linspace(0, len(all_events) - 1, val_events)).astype(int).tolist()) if val_events else set()
    lists = {"gym99": {"train": [], "val": []}, "gym288": {"train": [], "val": []}}
    for n, (youtube_id, key, segments) in enumerate(all_events):
        split = "val" if n in val else "train"
        for segment_key, segment in segments.items():
            name = f"{youtube_id}_{key}_{segment_key}"
            lists["gym288"][split].append(f"{name} {segment['gym288']}")
            if gym99_of(segment["gym288"]) is not None:
                lists["gym99"][split].append(f"{name} {gym99_of(segment['gym288'])}")
    (out_dir / "finegym_annotation_info_v1.0.json").write_text(json.dumps(annotations, indent=1, sort_keys=True))
    for taxonomy in ("gym99", "gym288"):
        (out_dir / f"{taxonomy}_train_element_v1.0.txt").write_text("\n".join(lists[taxonomy]["train"]) + "\n")
        (out_dir / f"{taxonomy}_val_element.txt").write_text("\n".join(lists[taxonomy]["val"]) + "\n")


def generate_all(root: str | os.PathLike, seed: int = 0) -> None:
    """Regenerate ``<root>/pouring``, ``<root>/penn_action`` and ``<root>/finegym``."""
    root = Path(root)
    logger.info("writing Pouring TFRecords")
    generate_pouring(root / "pouring", seed=seed)
    logger.info("writing Penn Action frames and labels")
    generate_penn_action(root / "penn_action", seed=seed)
    logger.info("writing FineGym videos and annotations")
    generate_finegym(root / "finegym", seed=seed)
