"""One prepared CUDA check: the paper configuration trains on a GPU in mixed precision, and its
throughput and peak memory are measured. Results go to ``$OUT/gpu_results.json`` (or
``benchmarks/out/``) and are copied by hand into ``benchmarks/RESULTS.md``.

Needs only torch, torchvision, numpy, pillow and tqdm (no Kedro, PyAV or pydantic), so it runs
on a bare GPU machine with ``PYTHONPATH=src python benchmarks/gpu_check.py``.
``--smoke`` runs the same steps tiny, on the CPU, to check the script itself.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_loss import all_pairs_loss  # noqa: E402

from carl_pipeline.augment import AugmentConfig, apply_view_params, sample_view_params  # noqa: E402
from carl_pipeline.losses import sequence_contrastive_loss  # noqa: E402
from carl_pipeline.models import EncoderConfig  # noqa: E402
from carl_pipeline.synthetic.actions import POURING  # noqa: E402
from carl_pipeline.synthetic.generate import _rng, render_action_video  # noqa: E402
from carl_pipeline.training import (  # noqa: E402
    OptimConfig,
    RunDir,
    SamplingConfig,
    TrainSettings,
    collate,
    train,
)
from carl_pipeline.training.setup import setup_training
from carl_pipeline.training.step import training_step  # noqa: E402
from carl_pipeline.video import FrameStore, encode_jpeg  # noqa: E402


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _median(fn, repeats, device):
    fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_store(root: Path, videos: int, frames: int, size: int) -> FrameStore:
    store = FrameStore(root)
    for v in range(videos):
        clip, phases = render_action_video(_rng(5, v), POURING, frames + 10 * v, size, size, pouring_props=True)
        store.write(f"video_{v}", [encode_jpeg(f) for f in clip], height=size, width=size, fps=30,
                    labels={"phase": phases.tolist()}, meta={"split": "train"})
    return store


def prepare(argv, description: str):
    """What every GPU check starts from: ``--smoke`` (tiny, on the CPU) or the paper's sizes.

    Returns:
        ``(smoke, device, out_dir, (size, steps, batch, frames), backbone, results)`` with ``results``
        holding the device, torch version and bf16 support.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.smoke else "cpu")
    out_dir = Path(os.environ.get("OUT") or Path(__file__).parent / "out")
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes = (32, 16, 2, 24) if args.smoke else (224, 240, 2, 260)
    backbone = "resnet18" if args.smoke else "resnet50"
    results = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
               "torch": torch.__version__, "bf16": device.type == "cuda" and torch.cuda.is_bf16_supported()}
    return args.smoke, device, out_dir, sizes, backbone, results


def timed_training_step(store: FrameStore, ids, encoder: EncoderConfig, sampling: SamplingConfig,
                        augment: AugmentConfig, batch: int, device: torch.device):
    """The training loop's own step (``carl_pipeline.training.loop.training_step``, after
    ``Trainer.prepare``: the batch decoded and augmented on the device, the forward pass under
    automatic mixed precision, SCL, backward, clipping, the non-finite guard) on the next of three
    batches read beforehand, as a callable for ``_median``."""
    torch.manual_seed(0)
    config = OptimConfig(epochs=1, batch_size=batch, device=str(device), progress=False)
    trainer = setup_training(str(store.root), list(ids), TrainSettings(encoder, sampling, augment, config))
    batches = [collate([trainer.dataset[((n * batch + i) % len(ids), n)] for i in range(batch)]) for n in range(3)]
    state = {"n": 0}

    def step():
        raw = batches[state["n"] % len(batches)]
        state["n"] += 1
        training_step(trainer, raw, trainer.prepare(raw))

    return step


def main(argv=None) -> None:
    smoke, device, out_dir, (size, steps, batch, frames), backbone, results = prepare(argv, __doc__)
    print(json.dumps(results), flush=True)
    encoder = EncoderConfig(backbone=backbone, freeze_through="layer3", frames_per_batch=40, train_length=steps)
    sampling, augment = SamplingConfig(num_steps=steps), AugmentConfig(image_size=size)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        store = make_store(tmp / "frames", 4, frames, size)
        results["data_seconds"] = round(time.perf_counter() - start, 1)
        ids = store.video_ids()

        # 1. The real training loop, paper architecture, automatic mixed precision (bf16 on an
        #    H100), augmentation on the GPU; then fp16 with the gradient scaler.
        for precision in ("auto", "fp16"):
            config = OptimConfig(epochs=2, batch_size=batch, max_steps_per_epoch=2, precision=precision,
                                 checkpoint_every=1, num_workers=4, progress=False)
            start = time.perf_counter()
            checkpoint = train(str(store.root), ids, TrainSettings(encoder, sampling, augment, config, device=str(device)), RunDir(tmp / f"run_{precision}"))
            results[f"train_{precision}"] = {"history": checkpoint.history, "skipped_steps": checkpoint.skipped_steps,
                                             "seconds": round(time.perf_counter() - start, 1)}
            print(json.dumps({f"train_{precision}": results[f"train_{precision}"]}), flush=True)

        # 2. Throughput of the training loop's step (batches read beforehand), bf16, and peak memory.
        step = timed_training_step(store, ids, encoder, sampling, augment, batch, device)

        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        step_s = _median(step, 3 if smoke else 8, device)
        results["train_step"] = {"videos": batch, "views": 2, "frames_per_view": steps, "image_size": size,
                                 "backbone": backbone, "seconds_per_step": round(step_s, 4),
                                 "frames_per_second": round(batch * 2 * steps / step_s, 1),
                                 "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device.type == "cuda" else None}
        print(json.dumps({"train_step": results["train_step"]}), flush=True)

        # 3. Data on the GPU: nvJPEG decode of a sample's frames, and the two views' augmentation.
        pack = store.open(ids[0])
        indices = np.arange(len(pack))
        results["jpeg_decode_frames_per_second"] = round(len(indices) / _median(lambda: pack.read(indices, device=str(device)), 5, device), 1)
        frames_gpu = pack.read(indices[:steps], device=str(device))
        generator = torch.Generator().manual_seed(0)

        def augment_two_views():
            for _ in range(2):
                params = sample_view_params(size, size, augment, generator)
                apply_view_params(frames_gpu, params, augment)

        results["augment_two_views_seconds"] = round(_median(augment_two_views, 10, device), 4)

        # 4. The loss at B=4, T=240, D=128: batched per video against the all-pairs form.
        z = torch.nn.functional.normalize(torch.randn(4, 2, 240, 128, device=device), dim=-1)
        st = torch.sort(torch.randint(0, 360, (4, 2, 240), device=device), dim=-1).values
        lens, masks = torch.full((4, 2), 360, device=device), torch.ones(4, 2, 240, device=device)

        def loss_step(fn):
            e = z.clone().requires_grad_(True)
            fn(e, st, lens, masks).backward()

        results["loss_ms"] = {"batched": round(1000 * _median(lambda: loss_step(sequence_contrastive_loss), 20, device), 3),
                              "all_pairs": round(1000 * _median(lambda: loss_step(all_pairs_loss), 20, device), 3)}
    print(json.dumps(results, indent=1), flush=True)
    (out_dir / "gpu_results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
