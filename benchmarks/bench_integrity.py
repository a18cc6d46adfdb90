"""What the integrity checks cost, beside the same work without them.

1. A rerun's planning and up-to-date check of the embedded Pouring and Penn Action demos (every
   pack and raw file): the fingerprints with the raw content's digests (cached; and cold, the
   first time) and every pack's frames checked against their checksums, against the same rerun
   trusting the pack headers.
2. Frame verification in the training loader: a demo training sample read with and without the
   per-frame CRC-32 check, beside one demo training step (loader + forward + backward, CPU).
3. A large FineGym-like pack (640x360, ``--frames`` frames): a full ``verify()`` and a read of
   240 random frames (one view of the paper's T) with and without the check.

Self-contained: converts the demo's raw Pouring and Penn Action data into a temporary folder.
Run: ``python benchmarks/bench_integrity.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
import torch

from carl_pipeline.ingest import ConversionPlan, plan_penn_action, plan_pouring, run_conversion
from carl_pipeline.ingest.digests import DIGESTS_NAME
from carl_pipeline.losses import sequence_contrastive_loss
from carl_pipeline.models import CARLEncoder
from carl_pipeline.training import TwoViewDataset, collate
from carl_pipeline.video import FrameStore
from carl_pipeline.video.frame_pack import FramePack, encode_jpeg

ROOT = Path(__file__).resolve().parents[1]


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def demo_params():
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(ROOT)
    with KedroSession.create(project_path=ROOT) as session:
        return session.load_context().params["pouring"]["train"]


def rerun_check(store: FrameStore, plan, repeats: int) -> dict[str, float]:
    """A rerun's planning and up-to-date check (``plan()`` lists the jobs; Pouring's digests each
    record there, the others' raw files are digested by the conversion, through the cache)."""

    def rerun(verify: bool):
        report = run_conversion(ConversionPlan(tuple(plan()), progress=False, verify_existing=verify), store)
        assert not report.converted, "the rerun converted videos: the up-to-date check is broken"

    def cold():
        (store.root / DIGESTS_NAME).unlink(missing_ok=True)
        rerun(True)

    return {"headers_only_s": median_seconds(lambda: rerun(False), repeats),
            "with_frame_checksums_s": median_seconds(lambda: rerun(True), repeats),
            "cold_raw_digests_and_checksums_s": median_seconds(cold, repeats)}


def loader_and_step(store: FrameStore, repeats: int) -> dict[str, float]:
    params = demo_params()
    ids = store.video_ids()
    batch_size = params.optim.batch_size
    datasets = {verify: TwoViewDataset(str(store.root), ids, params.sampling, params.augment, seed=0, verify=verify)
                for verify in (True, False)}

    def batch(verify: bool):
        return collate([datasets[verify][(i, 0)] for i in range(batch_size)])

    # Interleaved, so that both see the same machine load.
    on, off = [], []
    for _ in range(repeats):
        for verify, times in ((True, on), (False, off)):
            started = time.perf_counter()
            batch(verify)
            times.append(time.perf_counter() - started)
    model = CARLEncoder(params.model)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=params.optim.lr)

    def step():
        data = batch(True)
        frames = data["frames"]
        out = model(frames.flatten(0, 1), data["masks"].flatten(0, 1)).unflatten(0, frames.shape[:2])
        loss = sequence_contrastive_loss(out, data["steps"], data["seq_len"], data["masks"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step()  # warm-up
    step_s = median_seconds(step, repeats)
    # The check alone: CRC-32 of the frames a batch reads (each needed frame once per sample).
    jpegs = [pack.read_jpeg(range(len(pack))) for pack in (store.open(v) for v in ids[:batch_size])]
    per_video = params.sampling.num_steps * 2
    crc_s = median_seconds(lambda: [zlib.crc32(f) for frames in jpegs for f in frames[:per_video]], repeats)
    return {"batch_with_check_s": statistics.median(on), "batch_without_check_s": statistics.median(off),
            "step_s": step_s, "crc_per_batch_s": crc_s}


def large_pack(folder: Path, num_frames: int, repeats: int) -> dict[str, float]:
    generator = np.random.default_rng(0)
    base = (generator.random((360, 640, 3)) * 255).astype(np.uint8)
    frames = [encode_jpeg(np.roll(base, 7 * i, axis=1), 90) for i in range(num_frames)]
    store = FrameStore(folder)
    store.write("finegym_like", frames, height=360, width=640, fps=25.0)
    pack = FramePack(store.path_for("finegym_like"))
    unchecked = FramePack(pack.path, verify=False)
    picks = np.sort(generator.choice(num_frames, size=min(240, num_frames), replace=False))
    return {"frames": num_frames, "megabytes": pack.path.stat().st_size / 1e6,
            "verify_all_s": median_seconds(pack.verify, repeats),
            "read_240_with_check_s": median_seconds(lambda: pack.read_jpeg(picks), repeats),
            "read_240_without_check_s": median_seconds(lambda: unchecked.read_jpeg(picks), repeats)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--frames", type=int, default=1500, help="frames of the FineGym-like pack")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print(f"medians of {args.repeats}")
        print("\n1. rerun's planning and up-to-date check (every pack and raw file of the demo)")
        for name, planner in (("pouring", plan_pouring), ("penn_action", plan_penn_action)):
            def plan(planner=planner, name=name):
                return planner(ROOT / "data/01_raw" / name)[0]

            dataset_store = FrameStore(tmp / name)
            run_conversion(ConversionPlan(tuple(plan()), num_workers=2, progress=False), dataset_store)
            packs = dataset_store.pack_paths()
            megabytes = sum(p.stat().st_size for p in packs) / 1e6
            rerun = rerun_check(dataset_store, plan, args.repeats)
            print(f"   {name}: {len(packs)} packs, {megabytes:.1f} MB")
            print(f"     headers only (the check before integrity):     {rerun['headers_only_s'] * 1e3:8.1f} ms")
            print(f"     + every frame's checksum (cached raw digests): {rerun['with_frame_checksums_s'] * 1e3:8.1f} ms"
                  f"  ({rerun['with_frame_checksums_s'] / rerun['headers_only_s']:.2f}x)")
            print(f"     + raw files hashed cold (first rerun):         "
                  f"{rerun['cold_raw_digests_and_checksums_s'] * 1e3:8.1f} ms")
        store = FrameStore(tmp / "pouring")

        step = loader_and_step(store, args.repeats)
        share = step["crc_per_batch_s"] / step["step_s"]
        print("\n2. frame verification in the training loader (demo batch, CPU)")
        print(f"   batch read without the check:   {step['batch_without_check_s'] * 1e3:8.1f} ms")
        print(f"   batch read with the check:      {step['batch_with_check_s'] * 1e3:8.1f} ms")
        print(f"   CRC-32 of the batch's frames:   {step['crc_per_batch_s'] * 1e3:8.2f} ms")
        print(f"   one training step:              {step['step_s'] * 1e3:8.1f} ms  -> the check is "
              f"{share:.2%} of a step")

        big = large_pack(tmp / "finegym", args.frames, args.repeats)
        print(f"\n3. FineGym-like pack: {big['frames']} frames of 640x360, {big['megabytes']:.0f} MB")
        print(f"   verify every frame:             {big['verify_all_s'] * 1e3:8.1f} ms  "
              f"({big['megabytes'] / big['verify_all_s']:.0f} MB/s)")
        print(f"   read 240 frames, checked:       {big['read_240_with_check_s'] * 1e3:8.2f} ms")
        print(f"   read 240 frames, unchecked:     {big['read_240_without_check_s'] * 1e3:8.2f} ms")


if __name__ == "__main__":
    main()
