"""Soft-DTW forward + backward: this project's anti-diagonal torch recursion
(``carl_pipeline.losses.ops.soft_dtw``) against the library that would replace it, tslearn's
``SoftDTWLossPyTorch`` (numba kernels; not a project dependency: ``pip install tslearn`` to run
the comparison), on the same cost matrices, and the GTCC repository's own numba soft-DTW when its
code lies in ``--gtcc`` (``external_util/softdtw.py``; extracted there, never committed).

What is timed: a fresh process's first value (import and compilation included) and the median
of repeated calls on a batch of pairs the size LAV trains on (B pairs of T x T frames, D=128,
float32, CPU). Values and gradients are checked equal first.

Run: ``python benchmarks/bench_softdtw.py [--gtcc /tmp/gtcc_ref]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

FIRST_CALL = """
import time, torch
start = time.perf_counter()
{setup}
x = torch.randn(2, 32, 128, requires_grad=True); y = torch.randn(2, 32, 128)
value = {call}
value.sum().backward()
print(time.perf_counter() - start)
"""

SETUPS = {
    "project": ("from carl_pipeline.losses.ops import soft_dtw, squared_distances",
                "soft_dtw(squared_distances(x, y), 0.1)"),
    "tslearn": ("from tslearn.metrics import SoftDTWLossPyTorch; f = SoftDTWLossPyTorch(gamma=0.1)", "f(x, y)"),
    "gtcc": ("import sys; sys.path.insert(0, {gtcc!r}); from external_util.softdtw import SoftDTW; f = SoftDTW(gamma=0.1)",
             "torch.stack([f(a, b) for a, b in zip(x, y)])"),
}


def first_call(name: str, gtcc: str | None) -> float | None:
    setup, call = SETUPS[name]
    code = FIRST_CALL.format(setup=setup.format(gtcc=gtcc), call=call)
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    if result.returncode:
        return None
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=12, help="pairs per call (LAV, batch 4: 12 ordered pairs)")
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--gtcc", default=None, help="folder of the GTCC repository's code, for its soft-DTW")
    args = parser.parse_args()
    import torch

    from carl_pipeline.losses.ops import soft_dtw, squared_distances

    candidates = {"project": lambda x, y: soft_dtw(squared_distances(x, y), 0.1)}
    try:
        from tslearn.metrics import SoftDTWLossPyTorch

        tslearn = SoftDTWLossPyTorch(gamma=0.1)
        candidates["tslearn"] = tslearn
    except ImportError:
        print("tslearn not installed: its rows are skipped")
    if args.gtcc:
        sys.path.insert(0, args.gtcc)
        from external_util.softdtw import SoftDTW

        gtcc = SoftDTW(gamma=0.1)
        candidates["gtcc"] = lambda x, y: torch.stack([gtcc(a, b) for a, b in zip(x, y, strict=True)])

    torch.manual_seed(0)
    x = torch.randn(args.pairs, args.frames, 128) * 0.3
    y = torch.randn(args.pairs, args.frames, 128) * 0.3
    grads, values = {}, {}
    for name, fn in candidates.items():
        leaf = x.clone().requires_grad_(True)
        value = fn(leaf, y)
        value.sum().backward()
        values[name], grads[name] = value.detach(), leaf.grad
    for name in candidates:
        if name != "project":
            print(f"{name}: value rel diff {float(((values[name] - values['project']).abs() / values['project'].abs()).max()):.2e}, "
                  f"gradient rel diff {float((grads[name] - grads['project']).norm() / grads['project'].norm()):.2e}")
    rows = {}
    for name, fn in candidates.items():
        times = []
        for _ in range(args.repeats):
            leaf = x.clone().requires_grad_(True)
            start = time.perf_counter()
            fn(leaf, y).sum().backward()
            times.append(time.perf_counter() - start)
        rows[name] = {"median_ms": 1000 * statistics.median(times), "first_call_s": first_call(name, args.gtcc)}
    for name, row in rows.items():
        first = f"{row['first_call_s']:.1f} s" if row["first_call_s"] is not None else "n/a"
        print(f"{name:8s} median {row['median_ms']:8.1f} ms per call ({args.pairs} pairs of {args.frames} x "
              f"{args.frames}), first value in a fresh process {first}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
