"""Can the phases be learnt from these videos at all? A supervised check, with the labels.

Trains the demo's backbone (a randomly initialised torchvision ResNet) with a linear classifier on
the training videos' per-frame phase labels, with the training augmentation, and prints the phase
accuracy on the validation videos every 50 steps. If *this* stays near the most frequent phase's
rate, no self-supervised method will learn transferable phase features from the same videos at the
same budget: the data (or the input size) is the problem, not the loss. This is how issue 9's
cause was found (experiments/LOG.md).

Reads an ingested dataset folder (``frames/``, ``video_index.parquet``, ``frame_labels.parquet``),
by default the demo's Pouring.
Run: ``python experiments/demo_learnability.py --data data/03_primary/pouring --steps 200``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torchvision
from torch import nn

from carl_pipeline.augment import AugmentConfig, augment_each, eval_transform
from carl_pipeline.video import FrameStore

ROOT = Path(__file__).resolve().parents[1]


def _videos(store: FrameStore, index: pd.DataFrame, labels: pd.Series, split: str):
    """Every frame ``(T, 3, H, W)`` uint8 and its labels ``(T,)`` of each video of ``split``."""
    out = []
    for video_id in index.loc[index["split"] == split, "video_id"]:
        pack = store.open(video_id)
        out.append((pack.read(np.arange(len(pack))), torch.as_tensor(labels.loc[video_id].sort_index().to_numpy())))
    return out


def run(data: Path, steps: int, image_size: int, backbone: str, lr: float, frames_per_step: int, seed: int,
        label: str = "phase") -> list[dict]:
    store = FrameStore(data / "frames")
    index = pd.read_parquet(data / "video_index.parquet")
    labels = pd.read_parquet(data / "frame_labels.parquet").set_index(["video_id", "frame_index"])[label]
    train_videos, val_videos = _videos(store, index, labels, "train"), _videos(store, index, labels, "val")
    frames = [(v, t) for v, (clip, _) in enumerate(train_videos) for t in range(len(clip))]
    val_labels = np.concatenate([y.numpy() for _, y in val_videos])
    majority = float(np.bincount(val_labels[val_labels >= 0]).max() / (val_labels >= 0).sum())
    print(f"{data}: {len(train_videos)} training videos ({len(frames)} frames), {len(val_videos)} validation "
          f"videos; the most frequent phase alone scores {majority:.3f}")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = getattr(torchvision.models, backbone)(weights=None)
    model.fc = nn.Linear(model.fc.in_features, int(max(y.max() for _, y in train_videos)) + 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    augment = AugmentConfig(image_size=image_size)
    history, started = [], time.perf_counter()
    for step in range(1, steps + 1):
        picks = torch.randint(len(frames), (frames_per_step,), generator=generator).tolist()
        batch = [train_videos[frames[k][0]][0][frames[k][1]] for k in picks]
        x = augment_each(batch, augment, generator)
        y = torch.stack([train_videos[frames[k][0]][1][frames[k][1]] for k in picks])
        loss = nn.functional.cross_entropy(model(x), y, ignore_index=-1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 50 == 0 or step == steps:
            model.eval()
            with torch.inference_mode():
                predicted = np.concatenate([model(eval_transform(clip, image_size)).argmax(1).numpy()
                                            for clip, _ in val_videos])
            model.train()
            valid = val_labels >= 0
            accuracy = float((predicted[valid] == val_labels[valid]).mean())
            history.append({"step": step, "loss": round(loss.item(), 3), "val_accuracy": round(accuracy, 3),
                            "seconds": round(time.perf_counter() - started)})
            print(f"step {step}: training loss {loss.item():.3f}, validation accuracy {accuracy:.3f} "
                  f"(majority {majority:.3f}), {time.perf_counter() - started:.0f} s", flush=True)
    return history


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT / "data/03_primary/pouring")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--frames-per-step", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    run(args.data, args.steps, args.image_size, args.backbone, args.lr, args.frames_per_step, args.seed)


if __name__ == "__main__":
    main()
