"""An action the project has never seen, drawn by code that shares nothing with its renderer.

Issue 9 asks that the demo's CARL settings also beat the untrained encoder on synthetic actions
the project was not tuned on. This writes one: a side view of a figure driving a nail with a
hammer, four phases (lift the hammer, wind back, strike, return to rest; the nail sinks at the
strike and stays down), drawn with PIL (not ``carl_pipeline.synthetic``), in TCC's Pouring
TFRecord layout, then ingests it with the project's own ingestion into a folder that
``demo_learning.py --data`` reads (``frames/``, ``video_index.parquet``, ``frame_labels.parquet``).

Two looks: ``contrast`` (any hues, the figure at least 0.35 apart from the background in
lightness) and ``random`` (every colour uniform in 0..255, as the demo's data was before issue 9).

Run: ``python experiments/unseen_action.py --out /tmp/hammer --style contrast`` then
``python experiments/demo_learning.py --data /tmp/hammer/ingested``.
"""

from __future__ import annotations

import argparse
import colorsys
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

#: Joint angles (radians from straight down) of the hammering arm at the phase boundaries, the
#: hammer's angle relative to the forearm, the trunk's lean, and the nail's height (1: up).
KEYS = [
    {"shoulder": 0.3, "elbow": 0.2, "hammer": 1.4, "lean": 0.0},
    {"shoulder": 2.2, "elbow": 0.6, "hammer": 1.2, "lean": -0.05},
    {"shoulder": 2.9, "elbow": 1.6, "hammer": 1.9, "lean": -0.15},
    {"shoulder": 1.2, "elbow": 0.1, "hammer": 1.5, "lean": 0.2},
    {"shoulder": 0.3, "elbow": 0.2, "hammer": 1.4, "lean": 0.0},
]
NUM_PHASES = len(KEYS) - 1


def _colour(rng: np.random.Generator, lightness: float | None = None) -> tuple[int, int, int]:
    if lightness is None:
        return tuple(int(c) for c in rng.integers(0, 256, 3))
    r, g, b = colorsys.hls_to_rgb(float(rng.random()), lightness, float(rng.uniform(0.2, 0.9)))
    return int(r * 255), int(g * 255), int(b * 255)


def render_video(rng: np.random.Generator, num_frames: int, size: int, style: str) -> tuple[list[bytes], list[int]]:
    """One video: JPEG frames and per-frame phase labels (0..3)."""
    shares = rng.dirichlet(np.full(NUM_PHASES, 3.0))
    lengths = np.maximum(2, np.round(shares * num_frames).astype(int))
    lengths[-1] = max(2, num_frames - lengths[:-1].sum())
    easing = rng.uniform(0.6, 2.2, NUM_PHASES)  # progress ** easing: slow start or slow end
    if style == "contrast":
        light_bg = rng.random() < 0.5
        bg_l = rng.uniform(0.65, 0.9) if light_bg else rng.uniform(0.1, 0.3)
        fig_l = bg_l - rng.uniform(0.35, 0.55) if light_bg else bg_l + rng.uniform(0.35, 0.55)
        background, figure, tool = _colour(rng, bg_l), _colour(rng, fig_l), _colour(rng, fig_l)
    else:
        background, figure, tool = _colour(rng), _colour(rng), _colour(rng)
    scale = rng.uniform(0.6, 0.85) * size
    hip = np.array([rng.uniform(0.3, 0.45) * size, rng.uniform(0.55, 0.65) * size])
    width = max(2, int(0.07 * scale))
    noise = rng.uniform(2, 8)
    frames, labels = [], []
    for phase, n in enumerate(lengths):
        for k in range(n):
            p = ((k + 0.5) / n) ** easing[phase]
            a, b = KEYS[phase], KEYS[phase + 1]
            pose = {key: a[key] + (b[key] - a[key]) * p for key in a}
            nail = 1.0 if phase < 2 or (phase == 2 and p < 0.8) else 0.3
            image = Image.new("RGB", (size, size), background)
            draw = ImageDraw.Draw(image)
            neck = hip + scale * 0.4 * np.array([np.sin(pose["lean"]), -np.cos(pose["lean"])])
            head = neck + scale * 0.1 * np.array([np.sin(pose["lean"]), -np.cos(pose["lean"])])
            elbow = neck + scale * 0.2 * np.array([np.sin(pose["shoulder"]), np.cos(pose["shoulder"])])
            fore = pose["shoulder"] + pose["elbow"]
            hand = elbow + scale * 0.18 * np.array([np.sin(fore), np.cos(fore)])
            head_of_hammer = hand + scale * 0.18 * np.array([np.sin(fore + pose["hammer"]), np.cos(fore + pose["hammer"])])
            for leg in (-0.25, 0.25):
                draw.line([tuple(hip), tuple(hip + scale * 0.45 * np.array([np.sin(leg), np.cos(leg)]))], fill=figure, width=width)
            draw.line([tuple(hip), tuple(neck)], fill=figure, width=int(width * 1.6))
            draw.line([tuple(neck), tuple(elbow), tuple(hand)], fill=figure, width=width, joint="curve")
            r = scale * 0.07
            draw.ellipse([head[0] - r, head[1] - r, head[0] + r, head[1] + r], fill=figure)
            draw.line([tuple(hand), tuple(head_of_hammer)], fill=tool, width=max(1, width // 2))
            draw.rectangle([head_of_hammer[0] - width, head_of_hammer[1] - width,
                            head_of_hammer[0] + width, head_of_hammer[1] + width], fill=tool)
            board_y = hip[1] + scale * 0.12
            nail_x = hip[0] + scale * 0.42
            draw.rectangle([nail_x - scale * 0.15, board_y, nail_x + scale * 0.15, board_y + scale * 0.06], fill=tool)
            draw.line([(nail_x, board_y), (nail_x, board_y - scale * 0.1 * nail)], fill=figure, width=max(1, width // 2))
            pixels = np.asarray(image, dtype=np.float32) + rng.normal(0, noise, (size, size, 3))
            buffer = io.BytesIO()
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=85)
            frames.append(buffer.getvalue())
            labels.append(phase)
    return frames, labels


def write(out: Path, style: str, seed: int, counts: dict[str, int], size: int, frames: tuple[int, int]) -> Path:
    """TFRecords under ``out/raw``, ingested into ``out/ingested``; returns the latter."""
    from carl_pipeline.ingest import ConversionPlan, build_video_index, plan_pouring, run_conversion
    from carl_pipeline.video import FrameStore
    from carl_pipeline.video.tfrecord import write_sequence_examples

    raw = out / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split_number, (split, count) in enumerate(counts.items()):
        videos = []
        for i in range(count):
            rng = np.random.default_rng([seed, split_number, i])
            jpegs, labels = render_video(rng, int(rng.integers(frames[0], frames[1] + 1)), size, style)
            videos.append({"name": f"hammer_{split}_{i:03d}", "label": 0, "jpeg_frames": jpegs, "frame_labels": labels})
        write_sequence_examples(raw / f"hammer_{split}-0-of-1.tfrecord", videos)
    ingested = out / "ingested"
    jobs, failures = plan_pouring(raw)
    store = FrameStore(ingested / "frames")
    run_conversion(ConversionPlan(tuple(jobs), progress=False, failures=tuple(failures)), store)
    index, labels = build_video_index(store)
    index.to_parquet(ingested / "video_index.parquet")
    labels.to_parquet(ingested / "frame_labels.parquet")
    return ingested


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--style", choices=("contrast", "random"), default="contrast")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--size", type=int, default=96)
    args = parser.parse_args(argv)
    folder = write(args.out, args.style, args.seed, {"train": 16, "val": 20}, args.size, (40, 90))
    print(folder)


if __name__ == "__main__":
    main()
