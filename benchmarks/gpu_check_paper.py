"""One prepared CUDA check of the paper environment's released variants (issue 8): the released
transformer layers and colour jitter train in mixed precision, what they cost against the faster
variants, and a released checkpoint embeds the same on the GPU in bf16 as on the CPU in fp32.

Needs only torch, torchvision, numpy, pillow and tqdm: ``PYTHONPATH=src python
benchmarks/gpu_check_paper.py`` on a bare GPU machine; ``--smoke`` runs it tiny on the CPU.
Results: ``$OUT/gpu_paper_results.json`` (or ``benchmarks/out/``), copied by hand into RESULTS.md.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))
from gpu_check import _median, make_store, prepare, timed_training_step  # noqa: E402

from carl_pipeline.augment import AugmentConfig, apply_view_params, sample_view_params  # noqa: E402
from carl_pipeline.models import EncoderConfig  # noqa: E402
from carl_pipeline.models.released import load_released_checkpoint  # noqa: E402
from carl_pipeline.training import (  # noqa: E402
    OptimConfig,
    RunDir,
    SamplingConfig,
    TrainSettings,
    load_encoder,
    train,
)


def main(argv=None) -> None:
    smoke, device, out_dir, (size, steps, batch, frames), backbone, results = prepare(argv, __doc__)
    amp = torch.bfloat16 if results["bf16"] else torch.float16  # the released checkpoint check (4.)
    released = EncoderConfig(backbone=backbone, freeze_through="layer3", frames_per_batch=40, train_length=steps,
                             transformer="released", num_layers=2)
    fast = dataclasses.replace(released, transformer="torch")
    sampling = SamplingConfig(num_steps=steps, window="video")
    augment_released = AugmentConfig(image_size=size, color_mode="released")
    augment_fused = AugmentConfig(image_size=size, color_mode="fused")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        store = make_store(tmp / "frames", 4, frames, size)
        ids = store.video_ids()

        # 1. The training loop with the released variants, bf16 (auto) and fp16 with the scaler.
        for precision in ("auto", "fp16"):
            config = OptimConfig(epochs=2, batch_size=batch, max_steps_per_epoch=2, precision=precision,
                                 checkpoint_every=1, num_workers=4, progress=False, warmup_epochs=0.0)
            start = time.perf_counter()
            checkpoint = train(str(store.root), ids, TrainSettings(released, sampling, augment_released, config, device=str(device)), RunDir(tmp / f"run_{precision}"))
            results[f"train_released_{precision}"] = {"history": checkpoint.history,
                                                      "skipped_steps": checkpoint.skipped_steps,
                                                      "seconds": round(time.perf_counter() - start, 1)}
            print(json.dumps({f"train_released_{precision}": results[f"train_released_{precision}"]}), flush=True)

        # 2. The training loop's step, batches read beforehand: released variants against the faster ones.
        for name, encoder, augment in (("released", released, augment_released), ("fast", fast, augment_fused)):
            step = timed_training_step(store, ids, encoder, sampling, augment, batch, device)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            seconds = _median(step, 3 if smoke else 8, device)
            results[f"step_{name}"] = {"seconds_per_step": round(seconds, 4),
                                       "frames_per_second": round(batch * 2 * steps / seconds, 1),
                                       "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)
                                       if device.type == "cuda" else None}
            print(json.dumps({f"step_{name}": results[f"step_{name}"]}), flush=True)

        # 3. Two views' augmentation alone, blur drawn: released (blur after every op) against fused.
        frames_gpu = store.open(ids[0]).read(list(range(steps)), device=str(device))
        generator = torch.Generator().manual_seed(0)
        for name, augment in (("released", augment_released), ("fused", augment_fused)):
            def two_views(augment=augment):
                for _ in range(2):
                    params = sample_view_params(size, size, augment, generator)._replace(jitter=True, blur_sigma=1.0)
                    apply_view_params(frames_gpu, params, augment)
            results[f"augment_two_views_{name}_seconds"] = round(_median(two_views, 10, device), 4)

        # 4. A released-layout checkpoint (the test's, small widths): GPU bf16 against CPU fp32.
        from tests.models.test_released import HEADS, TRAIN_LEN, _released_state_dict

        path = tmp / "released.pth"
        torch.save({"epoch": 1, "model_state": _released_state_dict()}, path)
        converted = load_encoder(load_released_checkpoint(path, num_heads=HEADS, train_length=TRAIN_LEN))
        clip = torch.randn(1, 2 * TRAIN_LEN, 3, 64, 64, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            reference = converted(clip)
            converted = converted.to(device)
            with torch.autocast(device.type, dtype=amp, enabled=device.type == "cuda"):
                on_device = converted(clip.to(device)).float().cpu()
        cosine = torch.nn.functional.cosine_similarity(reference, on_device, dim=-1)
        results["released_checkpoint_bf16_vs_fp32_min_cosine"] = round(float(cosine.min()), 5)
    print(json.dumps(results, indent=1), flush=True)
    (out_dir / "gpu_paper_results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
