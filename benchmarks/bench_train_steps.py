"""Training steps per second of the demo configuration (conf/base, Pouring), against the same
model trained the released code's way.

- This project: ``TwoViewDataset`` (frame packs, batched tensor augmentation) and the batched
  per-video SCL loss.
- Baseline: the same model and optimiser, fed by whole-video decoding with per-frame PIL
  augmentation (``bench_augment.baseline_sample``) and trained with the all-pairs loss
  (``bench_loss.all_pairs_loss``).

Needs the ingested demo data: ``kedro run --pipelines=ingest_pouring`` first.
Run: ``python benchmarks/bench_train_steps.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_augment import baseline_sample  # noqa: E402
from bench_loss import all_pairs_loss  # noqa: E402

from carl_pipeline.losses import sequence_contrastive_loss  # noqa: E402
from carl_pipeline.models import CARLEncoder  # noqa: E402
from carl_pipeline.params import TrainParams  # noqa: E402
from carl_pipeline.training import TwoViewDataset, collate  # noqa: E402
from carl_pipeline.video import (
    FrameStore,  # noqa: E402
    write_video,  # noqa: E402
)

ROOT = Path(__file__).resolve().parents[1]


def demo_params() -> TrainParams:
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(ROOT)
    with KedroSession.create(project_path=ROOT) as session:
        return session.load_context().params["pouring"]["train"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args(argv)
    params = demo_params()
    store = FrameStore(ROOT / "data/03_primary/pouring/frames")
    ids = store.video_ids()
    if not ids:
        raise SystemExit(f"{store.root}: no frames; run `kedro run --pipelines=ingest_pouring` first")
    encoder = params.model  # train_length already follows sampling.num_steps
    batch_size, size, num_steps = params.optim.batch_size, params.augment.image_size, params.sampling.num_steps
    dataset = TwoViewDataset(str(store.root), ids, params.sampling, params.augment, seed=0)

    def step(model, optimizer, batch, loss_fn):
        frames = batch["frames"]
        embeddings = model(frames.flatten(0, 1), batch["masks"].flatten(0, 1), project=True)
        loss = loss_fn(embeddings.unflatten(0, frames.shape[:2]), batch["steps"], batch["seq_len"], batch["masks"])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()

    def timed(make_batch, loss_fn):
        torch.manual_seed(0)
        model = CARLEncoder(encoder).train()
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        step(model, optimizer, make_batch(0), loss_fn)  # warm-up
        times = []
        for n in range(1, args.steps + 1):
            start = time.perf_counter()
            step(model, optimizer, make_batch(n), loss_fn)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    def ours_batch(n):
        return collate([dataset[((n * batch_size + i) % len(ids), n)] for i in range(batch_size)])

    with tempfile.TemporaryDirectory() as tmp:
        videos = [write_video(Path(tmp) / f"{i}.mp4", store.open(v).read().permute(0, 2, 3, 1).numpy(), 30)
                  for i, v in enumerate(ids[:8])]

        def baseline_batch(n):
            items = []
            for i in range(batch_size):
                generator = torch.Generator().manual_seed(n * batch_size + i)
                frames = baseline_sample(videos[(n * batch_size + i) % len(videos)], num_steps, size, generator)
                views = dataset.sampler(len(store.open(ids[0])), num_steps, generator=generator)
                items.append({"frames": frames, "steps": views.steps, "masks": views.masks, "seq_len": views.seq_len,
                              "video": torch.tensor(0), "view_params": None})
            return collate(items)

        ours = timed(ours_batch, sequence_contrastive_loss)
        np.random.seed(0)
        baseline = timed(baseline_batch, all_pairs_loss)
    print(f"Demo training step (Pouring, {encoder.backbone}, B={batch_size} videos x 2 views x T={num_steps}, "
          f"{size}px, CPU threads={torch.get_num_threads()}; median s/step)")
    print(f"  this project:                            {ours:6.2f} s  ({1 / ours:5.2f} steps/s)")
    print(f"  whole-video decode + PIL + all-pairs:    {baseline:6.2f} s  ({1 / baseline:5.2f} steps/s)")
    print(f"  speed-up: {baseline / ours:.1f}x")


if __name__ == "__main__":
    main()
