"""Augmented two-view training samples per second, T=240 at 224 px.

- This project: ``TwoViewDataset`` reads the frames both views need from a frame pack (each
  decoded once), then augments each view with one draw as batched tensor ops.
- Baseline (the released CARL loader, written here from its description): decode the whole video
  file with PyAV into a float tensor, then per view crop and resize the float frames, and colour
  jitter frame by frame through PIL (brightness, contrast, saturation, hue in random order, with
  the Gaussian blur applied inside that loop), grayscale and normalise.

Run: ``python benchmarks/bench_augment.py`` (a couple of minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import ImageFilter

from carl_pipeline.augment import AugmentConfig
from carl_pipeline.ingest import ConversionPlan, plan_pouring, run_conversion
from carl_pipeline.sampling import time_augment
from carl_pipeline.synthetic import generate_pouring
from carl_pipeline.training import SamplingConfig, TwoViewDataset
from carl_pipeline.video import FrameStore, decode_clip, write_video


def _baseline_view(video: torch.Tensor, size: int, blur_p: float = 0.5) -> torch.Tensor:
    """CARL's SSL augmentation of one view: float (T, 3, H, W) in [0, 1] -> normalised."""
    import torchvision.transforms.functional as TVF

    height, width = video.shape[-2:]
    area = height * width
    for _ in range(10):  # random resized crop, scale 0.8-1
        target = random.uniform(0.8, 1.0) * area
        ratio = math.exp(random.uniform(math.log(3 / 4), math.log(4 / 3)))
        w, h = round(math.sqrt(target * ratio)), round(math.sqrt(target / ratio))
        if 0 < w <= width and 0 < h <= height:
            i, j = random.randint(0, height - h), random.randint(0, width - w)
            break
    else:
        i, j, h, w = 0, 0, height, width
    images = F.interpolate(video[:, :, i:i + h, j:j + w], size=(size, size), mode="bilinear", align_corners=False)
    if random.random() < 0.5:
        images = images.flip(-1)
    if random.random() < 0.8:
        order = np.random.permutation(4)
        b, c, s = (1 + random.uniform(-0.8, 0.8) for _ in range(3))
        hue = random.uniform(-0.2, 0.2)
        blur = random.random() < blur_p
        sigma = random.uniform(0.1, 2.0)
        for t in range(len(images)):
            img = TVF.to_pil_image(images[t].clamp(0, 1))
            for op in order:
                img = [TVF.adjust_brightness, TVF.adjust_contrast, TVF.adjust_saturation][op](img, (b, c, s)[op]) \
                    if op < 3 else TVF.adjust_hue(img, hue)
                if blur:
                    img = img.filter(ImageFilter.GaussianBlur(radius=sigma))
            images[t] = TVF.to_tensor(img)
    if random.random() < 0.2:
        gray = 0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2]
        images = gray[:, None].expand(-1, 3, -1, -1).clone()
    mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    return (images - mean) / std


def baseline_sample(video_file: Path, num_steps: int, size: int, generator: torch.Generator) -> torch.Tensor:
    clip = decode_clip(video_file, as_jpeg=False)  # the whole video, every time
    video = torch.from_numpy(np.stack(clip.frames)).permute(0, 3, 1, 2).float() / 255
    views = time_augment(len(video), num_steps, generator=generator)
    return torch.stack([_baseline_view(video[views.frame_indices[v]], size) for v in range(2)])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=6)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=240)
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        generate_pouring(tmp / "raw", counts={"train": 3}, frames=(250, 300), size=(args.size, args.size),
                         videos_per_file=1, seed=11)
        jobs, _ = plan_pouring(tmp / "raw")
        store = FrameStore(tmp / "frames")
        run_conversion(ConversionPlan(tuple(jobs), progress=False), store)
        ids = store.video_ids()
        videos = []
        for video_id in ids:  # the same videos as H.264 files, for the baseline
            frames = store.open(video_id).read().permute(0, 2, 3, 1).numpy()
            videos.append(write_video(tmp / f"{video_id}.mp4", frames, 30))

        dataset = TwoViewDataset(str(store.root), ids, SamplingConfig(num_steps=args.steps),
                                 AugmentConfig(image_size=args.size), seed=0)
        dataset[(0, 0)]  # warm-up
        ours = []
        for n in range(args.samples):
            start = time.perf_counter()
            out = dataset[(n % len(ids), n)]["frames"]
            ours.append(time.perf_counter() - start)
        assert out.shape == (2, args.steps, 3, args.size, args.size)
        random.seed(0)
        np.random.seed(0)
        baseline = []
        for n in range(max(2, args.samples // 2)):
            start = time.perf_counter()
            out = baseline_sample(videos[n % len(videos)], args.steps, args.size, torch.Generator().manual_seed(n))
            baseline.append(time.perf_counter() - start)
        assert out.shape == (2, args.steps, 3, args.size, args.size)
    ours_s, base_s = statistics.median(ours), statistics.median(baseline)
    print(f"Two augmented views, T={args.steps}, {args.size}px, CPU threads={torch.get_num_threads()} (median s/sample)")
    print(f"  frame pack + batched tensor augmentation (this project): {ours_s:6.2f} s  ({1 / ours_s:5.2f} samples/s)")
    print(f"  whole-video decode + per-frame PIL augmentation (CARL):  {base_s:6.2f} s  ({1 / base_s:5.2f} samples/s)")
    print(f"  speed-up: {base_s / ours_s:.1f}x")


if __name__ == "__main__":
    main()
