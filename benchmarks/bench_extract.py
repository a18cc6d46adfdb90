"""Embedding extraction throughput of the demo encoder on the CPU: frames through the backbone
in chunks of ``frames_per_batch`` (this project) against the released code's own way.

The released way (``evaluate.py``, ``get_embeddings_dataset``, with ``configs/scl_transformer_config.yml``):
each video's frames go through the model in calls of at most ``EVAL.FRAMES_PER_BATCH`` = 1,000
frames (every demo video whole), and inside the model the backbone takes them
``MODEL.BASE_MODEL.FRAMES_PER_BATCH`` = 40 at a time; reproduced here by the same model with
``frames_per_batch`` 40. One frame at a time (what this benchmark compared with before) is
printed too, as the floor. All give the same embeddings (checked). The project's way under bf16
autocast (``evaluate.precision: bf16``, which a CPU runs only when asked) is printed beside them,
with how far its embeddings are from float32's. Needs the ingested demo data
(``kedro run --pipelines=ingest_pouring``). Run: ``python benchmarks/bench_extract.py``.

``--processes`` also measures extraction under ``torchrun`` (the videos split across the
processes, gathered on every rank): one process with every CPU thread against two processes with
half the threads each, side by side.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_train_steps import ROOT, demo_params  # noqa: E402

from carl_pipeline.devices import cpu_has_native_bf16  # noqa: E402
from carl_pipeline.embedding import extract_embeddings  # noqa: E402
from carl_pipeline.models import CARLEncoder, EncoderConfig  # noqa: E402
from carl_pipeline.video import FrameStore  # noqa: E402

#: MODEL.BASE_MODEL.FRAMES_PER_BATCH of the released scl_transformer configs: frames per backbone call.
RELEASED_FRAMES_PER_BATCH = 40


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--processes", action="store_true", help="also 1 vs 2 processes under torchrun")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args)
    params = demo_params()
    store = FrameStore(ROOT / "data/03_primary/pouring/frames")
    ids = store.video_ids()[: args.videos]
    if not ids:
        raise SystemExit(f"{store.root}: no frames; run `kedro run --pipelines=ingest_pouring` first")
    config = params.model  # train_length already follows sampling.num_steps
    frames = sum(len(store.open(v)) for v in ids)
    torch.manual_seed(0)
    chunked = CARLEncoder(config).eval()
    single = CARLEncoder(EncoderConfig(**{**config.__dict__, "frames_per_batch": 1})).eval()
    single.load_state_dict(chunked.state_dict())
    released = CARLEncoder(EncoderConfig(**{**config.__dict__, "frames_per_batch": RELEASED_FRAMES_PER_BATCH})).eval()
    released.load_state_dict(chunked.state_dict())
    results = {}
    for name, model in (("chunked", chunked), ("released", released), ("frame by frame", single)):
        extract_embeddings(model, store, ids[:1], params.augment.image_size, device="cpu", progress=False)  # warm-up
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            out = extract_embeddings(model, store, ids, params.augment.image_size, device="cpu", progress=False)
            times.append(time.perf_counter() - start)
        results[name] = (frames / statistics.median(times), out)
    for video_id in ids:
        for other in ("released", "frame by frame"):
            np.testing.assert_allclose(results["chunked"][1][video_id], results[other][1][video_id], atol=1e-4)
    times = []
    for _ in range(args.repeats):  # the project's way under bf16 autocast (evaluate.precision: bf16)
        start = time.perf_counter()
        bf16 = extract_embeddings(chunked, store, ids, params.augment.image_size, device="cpu", progress=False,
                                  precision="bf16")
        times.append(time.perf_counter() - start)
    agreement = min(float((results["chunked"][1][v] * bf16[v]).sum(axis=1).min()) for v in ids)
    print(f"Embedding extraction, demo encoder ({config.backbone}, {params.augment.image_size}px), {len(ids)} videos, "
          f"{frames} frames, CPU threads={torch.get_num_threads()} (median of {args.repeats})")
    print(f"  chunks of {config.frames_per_batch} frames (this project): {results['chunked'][0]:8.0f} frames/s")
    print(f"  released way, backbone calls of {RELEASED_FRAMES_PER_BATCH}:  {results['released'][0]:8.0f} frames/s")
    print(f"  one frame at a time (floor):         {results['frame by frame'][0]:8.0f} frames/s")
    print(f"  against the released way: {results['chunked'][0] / results['released'][0]:.2f}x")
    print(f"  this project under bf16 autocast (evaluate.precision: bf16; native bf16: {cpu_has_native_bf16()}): "
          f"{frames / statistics.median(times):8.0f} frames/s, {frames / statistics.median(times) / results['released'][0]:.2f}x "
          f"the released way; least cosine to the float32 embedding {agreement:.4f}")
    if args.processes:
        _processes(args, frames)


def _worker(args) -> None:
    """Under torchrun: time ``extract_embeddings`` over the videos (split across the ranks);
    rank 0 prints the median seconds."""
    import json
    import os

    params = demo_params()
    store = FrameStore(ROOT / "data/03_primary/pouring/frames")
    ids = store.video_ids()[: args.videos]
    torch.manual_seed(0)
    model = CARLEncoder(params.model).eval()
    extract_embeddings(model, store, ids, params.augment.image_size, device="cpu", progress=False)  # warm-up
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        extract_embeddings(model, store, ids, params.augment.image_size, device="cpu", progress=False)
        times.append(time.perf_counter() - start)
    if os.environ.get("RANK", "0") == "0":
        print("RESULT " + json.dumps({"seconds": statistics.median(times)}))


def _processes(args, frames: int) -> None:
    import json
    import os
    import subprocess

    cores = os.cpu_count() or 2
    rates = {}
    for count in (1, 2):
        env = {**os.environ, "OMP_NUM_THREADS": str(max(cores // count, 1)), "DO_NOT_TRACK": "1"}
        result = subprocess.run(
            [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={count}", __file__,
             "--worker", "--videos", str(args.videos), "--repeats", str(args.repeats)],
            env=env, capture_output=True, text=True, check=True)
        line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT "))
        rates[count] = frames / json.loads(line[len("RESULT "):])["seconds"]
    print(f"Extraction under torchrun, {cores} CPU cores shared out (median of {args.repeats}):")
    print(f"  1 process  x {cores} threads: {rates[1]:8.0f} frames/s")
    print(f"  2 processes x {max(cores // 2, 1)} threads: {rates[2]:8.0f} frames/s")
    print(f"  ratio: {rates[2] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()
