"""Random-access read speed and size of the frame storage, against decoding the source video.

For each sample the training sampler needs a sorted random subset of one video's frames. We
compare, on the same videos and the same index sets:

- frame packs (this project): read only the asked frames' JPEG bytes, decode them in one batch;
- **the released code's way** (the baseline of the speed-up): its preparation scripts write each
  video once, offline (not timed), as an x264 mp4 at 25 fps (Pouring: ``tfrecords_to_videos.py``,
  ``torchvision.io.write_video`` with libx264's defaults; FineGym: ``finegym_process.py`` cuts
  each event with ffmpeg, scales it to 640x360 and resamples it to 25 fps, libx264 defaults),
  and its datasets (``datasets/pouring.py``, ``finegym.py``) decode the whole mp4 for every
  sample with ``torchvision.io.read_video(path, pts_unit='sec')`` and keep the sampled frames.
  Reproduced with ``carl_pipeline.video.released_pixels`` (the PyAV calls those two functions
  made; torchvision 0.29 no longer ships them): the same codec, defaults, pixel format and
  whole-file decode;
- the source, decoded whole for each sample (what a loader without any processed form does):
  Pouring parses the video's TFRecord record and decodes every JPEG; FineGym cuts the event out of
  the long raw video with PyAV at 25 fps;
- for size only: raw uint8 arrays (what ``np.save`` of the frames would take).

Run: ``python benchmarks/bench_frame_storage.py`` (a few minutes on 2 cores). Prints medians over
repeats and the speed ratios against the released way and against the source; see
benchmarks/RESULTS.md for recorded numbers.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from carl_pipeline.ingest import ConversionPlan, plan_finegym, plan_pouring, run_conversion
from carl_pipeline.synthetic import generate_finegym, generate_pouring
from carl_pipeline.video import FrameStore, decode_clip
from carl_pipeline.video.released_pixels import read_released_video, write_released_video
from carl_pipeline.video.tfrecord import RecordLocation, parse_sequence_example, read_record

torch.set_num_threads(1)  # the loader's workers each get one core


def _sample_indices(rng, num_frames, length):
    """A sorted random subset of ``length`` frames (with repeats when the video is shorter)."""
    return np.sort(rng.choice(num_frames, size=length, replace=num_frames < length))


def _time(fn, repeats):
    fn()  # warm-up: imports, file cache
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        frames = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), frames


def _released_sample(path: Path, indices: np.ndarray) -> torch.Tensor:
    """One released sample: the whole mp4 decoded (``read_released_video``, as ``read_video``),
    the sampled frames kept, ``(T, 3, H, W)``."""
    video = torch.from_numpy(read_released_video(path))
    return video[torch.from_numpy(np.minimum(indices, len(video) - 1))].permute(0, 3, 1, 2).contiguous()


def _decode_jpegs(jpegs):
    """(N, 3, H, W) uint8, the layout the pack gives, decoded with PIL (libjpeg-turbo)."""
    frames = np.stack([np.asarray(Image.open(io.BytesIO(b)).convert("RGB")) for b in jpegs])
    return torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous()


def bench_pouring(workdir: Path, size: int, frames: tuple[int, int], length: int, repeats: int):
    raw = workdir / f"pouring_{size}"
    if not raw.exists():
        generate_pouring(raw, counts={"train": 3}, frames=frames, size=(size, size), videos_per_file=1, seed=7)
    jobs, _ = plan_pouring(raw)
    store = FrameStore(workdir / f"store_pouring_{size}")
    run_conversion(ConversionPlan(tuple(jobs), progress=False), store)
    rng = np.random.default_rng(0)
    pack_t, source_t, released_t, n_frames, pack_bytes, raw_bytes = [], [], [], 0, 0, 0
    for job in jobs:
        pack = store.open(job.video_id)
        indices = _sample_indices(rng, len(pack), length)
        location = RecordLocation(job.source, job.record_offset, job.record_length)

        def from_source():
            record = parse_sequence_example(read_record(location))
            return _decode_jpegs(record.jpeg_frames)[indices]

        mp4 = workdir / f"{job.video_id}_{size}.mp4"  # tfrecords_to_videos.py, once, offline (not timed)
        write_released_video(pack.read().permute(0, 2, 3, 1).numpy(), mp4)
        t_pack, a = _time(lambda: pack.read(indices), repeats)
        t_source, b = _time(from_source, repeats)
        t_released, c = _time(lambda: _released_sample(mp4, indices), repeats)
        assert torch.equal(a, b), "both paths must give the same pixels"
        assert c.shape == a.shape, "the released way must give as many frames of the same size"
        pack_t.append(t_pack)
        source_t.append(t_source)
        released_t.append(t_released)
        n_frames += len(indices)
        pack_bytes += pack.path.stat().st_size
        raw_bytes += len(pack) * pack.header.height * pack.header.width * 3
    total_frames = sum(len(store.open(j.video_id)) for j in jobs)
    return {
        "case": f"Pouring-style TFRecord, {size}x{size}, T={length}",
        "pack_fps": n_frames / sum(pack_t), "source_fps": n_frames / sum(source_t),
        "released_fps": n_frames / sum(released_t),
        "pack_bytes_per_frame": pack_bytes / total_frames, "raw_bytes_per_frame": raw_bytes / total_frames,
    }


def bench_finegym(workdir: Path, size: tuple[int, int], length: int, repeats: int):
    raw = workdir / "finegym"
    if not raw.exists():
        generate_finegym(raw, videos=(("benchvid", 30.0, ".mp4"),), events_per_video=2, size=size, val_events=1, seed=7)
    jobs, _ = plan_finegym(raw, frame_size=size)
    store = FrameStore(workdir / "store_finegym")
    run_conversion(ConversionPlan(tuple(jobs), progress=False), store)
    rng = np.random.default_rng(0)
    pack_t, source_t, released_t, n_frames, pack_bytes, raw_bytes, total = [], [], [], 0, 0, 0, 0
    for job in jobs:
        pack = store.open(job.video_id)
        indices = _sample_indices(rng, len(pack), length)

        def cut():
            return decode_clip(job.source, start=job.event_start, end=job.event_end, fps=job.fps,
                               size=job.frame_size, as_jpeg=False)

        def from_source():
            clip = cut()
            return torch.from_numpy(np.stack([clip.frames[i] for i in indices])).permute(0, 3, 1, 2).contiguous()

        # finegym_process.py's offline cut, once per event (not timed): the event at the frame size, 25 fps
        mp4 = workdir / f"{job.video_id}_{size[0]}.mp4"
        write_released_video(np.stack(cut().frames), mp4)
        t_pack, a = _time(lambda: pack.read(indices), repeats)
        t_source, _ = _time(from_source, repeats)
        t_released, c = _time(lambda: _released_sample(mp4, indices), repeats)
        assert c.shape == a.shape, "the released way must give as many frames of the same size"
        pack_t.append(t_pack)
        source_t.append(t_source)
        released_t.append(t_released)
        n_frames += len(indices)
        pack_bytes += pack.path.stat().st_size
        raw_bytes += len(pack) * pack.header.height * pack.header.width * 3
        total += len(pack)
    return {
        "case": f"FineGym-style event, {size[1]}x{size[0]} @25fps, T={length}",
        "pack_fps": n_frames / sum(pack_t), "source_fps": n_frames / sum(source_t),
        "released_fps": n_frames / sum(released_t),
        "pack_bytes_per_frame": pack_bytes / total, "raw_bytes_per_frame": raw_bytes / total,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.quick:
            results = [bench_pouring(work, 64, (40, 50), 32, 2), bench_finegym(work, (36, 64), 32, 2)]
        else:
            # T=240: the paper's dense CARL sample; T=32: a sparse one (TCC-style sampling,
            # retrieval sheets, a few frames to look at).
            results = [
                bench_pouring(work, 224, (250, 300), 240, args.repeats),
                bench_pouring(work, 224, (250, 300), 32, args.repeats),
                bench_finegym(work, (360, 640), 240, max(2, args.repeats // 2)),
                bench_finegym(work, (360, 640), 32, max(2, args.repeats // 2)),
            ]
    print(f"{'case':<50} {'pack fr/s':>10} {'released fr/s':>14} {'vs released':>12} {'source fr/s':>12} "
          f"{'vs source':>10} {'pack B/fr':>10} {'raw B/fr':>10}")
    for r in results:
        print(f"{r['case']:<50} {r['pack_fps']:>10.0f} {r['released_fps']:>14.0f} "
              f"{r['pack_fps'] / r['released_fps']:>11.2f}x {r['source_fps']:>12.0f} {r['pack_fps'] / r['source_fps']:>9.1f}x "
              f"{r['pack_bytes_per_frame']:>10.0f} {r['raw_bytes_per_frame']:>10.0f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
