"""Random-access read speed and size of the frame storage, against decoding the source video.

For each sample the training sampler needs a sorted random subset of one video's frames. We
compare, on the same videos and the same index sets:

- frame packs (this project): read only the asked frames' JPEG bytes, decode them in one batch;
- the source, decoded whole for each sample (what a loader without a processed form does):
  Pouring parses the video's TFRecord record and decodes every JPEG; FineGym cuts the event out of
  the long raw video with PyAV at 25 fps;
- for size only: raw uint8 arrays (what ``np.save`` of the frames would take).

Run: ``python benchmarks/bench_frame_storage.py`` (about a minute on 2 cores). Prints medians over
repeats and the speed ratio; see benchmarks/RESULTS.md for recorded numbers.
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
    pack_t, source_t, n_frames, pack_bytes, raw_bytes = [], [], 0, 0, 0
    for job in jobs:
        pack = store.open(job.video_id)
        indices = _sample_indices(rng, len(pack), length)
        location = RecordLocation(job.source, job.record_offset, job.record_length)

        def from_source():
            record = parse_sequence_example(read_record(location))
            return _decode_jpegs(record.jpeg_frames)[indices]

        t_pack, a = _time(lambda: pack.read(indices), repeats)
        t_source, b = _time(from_source, repeats)
        assert torch.equal(a, b), "both paths must give the same pixels"
        pack_t.append(t_pack)
        source_t.append(t_source)
        n_frames += len(indices)
        pack_bytes += pack.path.stat().st_size
        raw_bytes += len(pack) * pack.header.height * pack.header.width * 3
    total_frames = sum(len(store.open(j.video_id)) for j in jobs)
    return {
        "case": f"Pouring-style TFRecord, {size}x{size}, T={length}",
        "pack_fps": n_frames / sum(pack_t), "source_fps": n_frames / sum(source_t),
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
    pack_t, source_t, n_frames, pack_bytes, raw_bytes, total = [], [], 0, 0, 0, 0
    for job in jobs:
        pack = store.open(job.video_id)
        indices = _sample_indices(rng, len(pack), length)

        def from_source():
            clip = decode_clip(job.source, start=job.event_start, end=job.event_end, fps=job.fps,
                               size=job.frame_size, as_jpeg=False)
            return torch.from_numpy(np.stack([clip.frames[i] for i in indices])).permute(0, 3, 1, 2).contiguous()

        t_pack, _ = _time(lambda: pack.read(indices), repeats)
        t_source, _ = _time(from_source, repeats)
        pack_t.append(t_pack)
        source_t.append(t_source)
        n_frames += len(indices)
        pack_bytes += pack.path.stat().st_size
        raw_bytes += len(pack) * pack.header.height * pack.header.width * 3
        total += len(pack)
    return {
        "case": f"FineGym-style event cut from raw mp4, {size[1]}x{size[0]} @25fps, T={length}",
        "pack_fps": n_frames / sum(pack_t), "source_fps": n_frames / sum(source_t),
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
    print(f"{'case':<62} {'pack fr/s':>10} {'source fr/s':>12} {'speed-up':>9} {'pack B/fr':>10} {'raw B/fr':>10}")
    for r in results:
        print(f"{r['case']:<62} {r['pack_fps']:>10.0f} {r['source_fps']:>12.0f} "
              f"{r['pack_fps'] / r['source_fps']:>8.1f}x {r['pack_bytes_per_frame']:>10.0f} {r['raw_bytes_per_frame']:>10.0f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
