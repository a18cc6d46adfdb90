"""Where the time of one real training step goes: data (JPEG decoding, augmentation), forward,
loss, backward, optimiser, with the training loop's own parts (``TwoViewDataset`` handing over
JPEG bytes as it does for a GPU, ``decode_and_augment_on_device``, ``Learner``, ``compute_loss``).

On a CPU every part runs on the CPU; with CUDA (``--device cuda``) decoding and augmentation run
on the GPU as the training loop runs them there, and each part is timed between CUDA
synchronisations. Side by side: the demo's step as it was before issue 36 (96 px, contiguous
memory, float32) and as ``conf/base`` sets it now (64 px, the backbone in ``channels_last``, the
precision ``auto`` resolves to on this device), and with ``--bf16`` the same step under bf16
autocast (``optim.precision: bf16``; the default of ``auto`` on a CPU with native bf16). Where
``auto`` chooses autocast (a CPU with native bf16, a GPU), the demo's step in float32 is timed
beside it, so that what the precision alone gains is read off one run. Needs the ingested demo data
(``kedro run --pipelines=ingest_pouring``), or ``--data <frame store folder>``. Run:
``python benchmarks/bench_step_breakdown.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_train_steps import ROOT, demo_params  # noqa: E402

from carl_pipeline.models import CARLEncoder  # noqa: E402
from carl_pipeline.training import TwoViewDataset, collate  # noqa: E402
from carl_pipeline.training.config import autocast_dtype  # noqa: E402
from carl_pipeline.training.data import decode_and_augment_on_device  # noqa: E402
from carl_pipeline.training.step import Learner, compute_loss  # noqa: E402
from carl_pipeline.video import FrameStore  # noqa: E402
from carl_pipeline.video.jpeg import decode_jpegs  # noqa: E402

PARTS = ("read JPEG bytes", "decode", "augment", "forward", "loss", "backward", "optimiser")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", type=Path, default=ROOT / "data/03_primary/pouring/frames")
    parser.add_argument("--bf16", action="store_true", help="also the demo's step now under bf16 autocast")
    args = parser.parse_args(argv)
    now = demo_params()
    before = now.model_copy(update={"augment": replace(now.augment, image_size=96),
                                    "optim": replace(now.optim, channels_last=False, precision="fp32")})
    variants = {"before issue 36 (96 px, contiguous, float32)": before,
                f"the demo now ({now.augment.image_size} px, channels_last {now.optim.channels_last}, "
                f"precision {now.optim.precision})": now}
    if autocast_dtype(now.optim.precision, torch.device(args.device)) is not None:  # auto chose autocast here
        variants["the demo now in float32 (optim.precision: fp32)"] = now.model_copy(
            update={"optim": replace(now.optim, precision="fp32")})
    if args.bf16:
        variants["the demo now under bf16 autocast"] = now.model_copy(
            update={"optim": replace(now.optim, precision="bf16")})
    totals = {name: sum(_breakdown(args, params, name).values()) for name, params in variants.items()}
    baseline = totals[next(iter(totals))]
    print("Whole step:")
    for name, total in totals.items():
        print(f"  {name:60s} {total * 1000:8.0f} ms  {baseline / total:5.2f}x")


def _breakdown(args, params, name: str) -> dict[str, float]:
    """Median seconds of each part of a step with the training settings ``params``; printed."""
    from carl_pipeline.devices import cpu_has_native_bf16

    device = torch.device(args.device)
    precision = params.optim.precision
    amp_dtype = autocast_dtype(precision, device)
    store = FrameStore(args.data)
    ids = store.video_ids()
    if not ids:
        raise SystemExit(f"{store.root}: no frames; run `kedro run --pipelines=ingest_pouring` first")
    dataset = TwoViewDataset(str(store.root), ids, params.sampling, params.augment, seed=0, augment_in_loader=False,
                             jpeg_on_device=True, layout=params.loss.clip_layout)
    torch.manual_seed(0)
    model = CARLEncoder(params.model).speed_up(channels_last=params.optim.channels_last)
    learner = Learner(model, params.loss, None).to(device).train()
    optimizer = torch.optim.Adam([p for p in learner.parameters() if p.requires_grad], lr=params.optim.lr)
    batch_size = params.optim.batch_size

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    times = {part: [] for part in PARTS}
    for step in range(args.steps + 1):  # the first step warms up and is not counted
        clock = {}
        start = time.perf_counter()
        batch = collate([dataset[((step * batch_size + i) % len(ids), step)] for i in range(batch_size)])
        clock["read JPEG bytes"] = time.perf_counter() - start
        start = time.perf_counter()
        decode_jpegs([j for jpegs in batch["jpegs"] for j in jpegs], device)
        sync()
        clock["decode"] = time.perf_counter() - start
        start = time.perf_counter()
        frames = decode_and_augment_on_device(batch, params.augment, device)  # decodes again: subtracted below
        sync()
        clock["augment"] = max(time.perf_counter() - start - clock["decode"], 0.0)
        meta = {k: batch[k].to(device) for k in ("steps", "masks", "seq_len")}
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            outputs = learner(frames.flatten(0, 1), meta["masks"].flatten(0, 1))
        sync()
        clock["forward"] = time.perf_counter() - start
        start = time.perf_counter()
        loss = compute_loss(outputs.float().unflatten(0, frames.shape[:2]), meta, params.loss)
        sync()
        clock["loss"] = time.perf_counter() - start
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        sync()
        clock["backward"] = time.perf_counter() - start
        start = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(learner.parameters(), params.optim.grad_clip)
        optimizer.step()
        sync()
        clock["optimiser"] = time.perf_counter() - start
        if step:
            for part in PARTS:
                times[part].append(clock[part])
    medians = {part: statistics.median(values) for part, values in times.items()}
    total = sum(medians.values())
    frames_per_step = batch_size * frames.shape[1] * frames.shape[2]
    print(f"One training step, {name}: {params.model.backbone}, {params.augment.image_size}px, "
          f"{batch_size} videos x {frames.shape[1]} views x {frames.shape[2]} frames, {device}, {precision}"
          f"{' (native bf16: ' + str(cpu_has_native_bf16()) + ')' if precision == 'bf16' else ''}, "
          f"threads={torch.get_num_threads()}, median of {args.steps} steps")
    for part in PARTS:
        print(f"  {part:16s} {medians[part] * 1000:8.1f} ms  {100 * medians[part] / total:5.1f}%")
    print(f"  {'total':16s} {total * 1000:8.1f} ms  ({frames_per_step / total:.0f} frames/s)")
    return medians


if __name__ == "__main__":
    main()
