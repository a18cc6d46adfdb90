"""Training steps/s of CARL's temporal head on a frozen backbone: on the cached per-frame features
(``optim.feature_cache: true``) against running the frozen backbone on every step (``false``,
frames decoded and augmented as usual), same settings, same data, this CPU.

The baseline is the project's own training without the cache (the released CARL code has no
frozen-ViT setting to time; MV-Former's runs its ViT on every step). The cache's one-off cost (one
pass of the backbone over every frame) is printed too, with the number of epochs after which it
has paid for itself.

Run: ``python benchmarks/bench_feature_cache.py [--backbone vit_small_patch16_224] [--image-size 112]``
(random weights: speed does not depend on them). Prints the median step time of each and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from carl_pipeline.augment import AugmentConfig
from carl_pipeline.embedding.features import FeatureCache
from carl_pipeline.ingest import ConversionPlan, plan_pouring, run_conversion
from carl_pipeline.losses import LossConfig
from carl_pipeline.models import EncoderConfig
from carl_pipeline.synthetic import generate_pouring
from carl_pipeline.training import OptimConfig, SamplingConfig, TrainSettings
from carl_pipeline.training.data import collate
from carl_pipeline.training.setup import setup_training
from carl_pipeline.training.step import training_step
from carl_pipeline.video import FrameStore


def steps_per_second(store, ids, encoder, augment, optim, cache, steps):
    trainer = setup_training(str(store.root), ids, TrainSettings(encoder, SamplingConfig(num_steps=32), augment, optim, loss=LossConfig(), device="cpu"), feature_cache=cache)
    times = []
    for step in range(steps + 2):
        start = time.perf_counter()
        batch = collate([trainer.dataset[(i % len(ids), step)] for i in range(optim.batch_size)])
        training_step(trainer, batch, trainer.prepare(batch))
        if step >= 2:  # two warm-up steps
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="vit_small_patch16_224")
    parser.add_argument("--image-size", type=int, default=112)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder) / "raw"
        generate_pouring(raw, counts={"train": 6, "val": 0, "test": 0}, seed=0)
        jobs, _ = plan_pouring(raw)
        store = FrameStore(Path(folder) / "frames")
        run_conversion(ConversionPlan(tuple(jobs), progress=False), store)
        ids = store.video_ids()
        encoder = EncoderConfig(backbone=args.backbone, freeze_through="all", num_layers=2, train_length=32,
                                frames_per_batch=64)
        augment = AugmentConfig(image_size=args.image_size)
        base = dict(epochs=1, batch_size=2, progress=False, seed=0, device="cpu")
        cache = FeatureCache(Path(folder) / "features")
        start = time.perf_counter()
        setup_training(str(store.root), ids, TrainSettings(encoder, SamplingConfig(num_steps=32), augment, OptimConfig(**base, feature_cache=True), loss=LossConfig(), device="cpu"), feature_cache=cache)
        build = time.perf_counter() - start
        frames = sum(len(store.open(v)) for v in ids)
        direct = steps_per_second(store, ids, encoder, augment, OptimConfig(**base), None, args.steps)
        cached = steps_per_second(store, ids, encoder, augment, OptimConfig(**base, feature_cache=True), cache, args.steps)
    steps_per_epoch = len(ids) / 2
    print(f"{args.backbone} frozen, {args.image_size} px, clips of 32 frames, batch 2, CPU ({torch.get_num_threads()} threads)")
    print(f"through the frozen backbone: {direct * 1000:8.1f} ms/step ({1 / direct:.2f} steps/s)")
    print(f"on cached features:          {cached * 1000:8.1f} ms/step ({1 / cached:.2f} steps/s)")
    print(f"speed-up: {direct / cached:.1f}x; the cache took {build:.1f} s for {frames} frames (+ setup), "
          f"repaid after {build / ((direct - cached) * steps_per_epoch):.1f} epochs of these {len(ids)} videos")


if __name__ == "__main__":
    main()
