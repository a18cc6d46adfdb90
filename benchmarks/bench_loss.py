"""SCL forward + backward: this project's batched per-video form against the released form.

The baseline is the released CARL code's ``SCL.compute_sequence_loss`` (``algos/scl.py``),
transcribed step for step: one ``(2BT) x (2BT)`` similarity matrix over every frame of every view
of every video, Python loops over the batch to build the negative weights, the nearest-step
indices it computes (and does not use) and the Gaussian targets. Both compute the same loss. The
released configs train on ``TRAIN.BATCH_SIZE`` 1 video per GPU (``configs/scl_transformer_config.yml``),
so B=1 is the released case; B=4 is printed beside it. T=240, D=128, CPU, float32.

Run: ``python benchmarks/bench_loss.py``. Prints the median of repeated runs and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from carl_pipeline.losses import sequence_contrastive_loss


def all_pairs_loss(embs, steps, seq_lens, masks, temperature=0.1, variance=10.0):
    """The released ``compute_sequence_loss``: a (2BT)^2 matrix and loops over the batch."""
    batch, views, frames, channels = embs.shape
    embs = embs.reshape(-1, channels)
    steps = steps.reshape(-1).float()
    lens = seq_lens[..., None].expand(batch, views, frames).reshape(-1).float()
    pair_mask = masks.reshape(-1, 1) * masks.reshape(1, -1)
    logits = embs @ embs.T / temperature
    distance = (steps[:, None] / lens[:, None] * lens[None, :] - steps[None, :]).abs()
    distance = distance.masked_fill(pair_mask == 0, 1e6)
    weight = torch.ones_like(logits)
    nearest = torch.zeros_like(steps).long()  # computed by the released loop, not used by its loss
    for b in range(batch):
        start, mid, end = b * views * frames, b * views * frames + frames, (b + 1) * views * frames
        nearest[start:mid] = mid + torch.argmin(distance[start:mid, mid:end], dim=1)
        nearest[mid:end] = start + torch.argmin(distance[mid:end, start:mid], dim=1)
        weight[start:end, :start] = 0
        weight[start:end, end:] = 0
        weight[start:mid, start:mid] = 0
        weight[mid:end, mid:end] = 0
    weight = weight.masked_fill(pair_mask == 0, 1e-6)
    gauss = torch.exp(-distance.square() / (2 * variance))
    label = torch.zeros_like(logits)
    for b in range(batch):
        start, mid, end = b * views * frames, b * views * frames + frames, (b + 1) * views * frames
        for rows, cols in ((slice(start, mid), slice(mid, end)), (slice(mid, end), slice(start, mid))):
            block = gauss[rows, cols]
            total = block.sum(1, keepdim=True)
            label[rows, cols] = torch.where(total > 0, block / total, torch.zeros_like(block))
    exp_logits = torch.exp(logits)
    prob = exp_logits / (weight * exp_logits).sum(1, keepdim=True)
    loss = F.kl_div(torch.log(prob + 1e-6), label, reduction="none")
    return (loss * pair_mask).sum() / masks.sum()


def _median_time(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 4], help="videos per batch (released: 1)")
    parser.add_argument("--steps", type=int, default=240)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    print(f"SCL forward+backward, T={args.steps}, D={args.dim}, CPU threads={torch.get_num_threads()}, "
          f"median of {args.repeats}")
    for batch in args.batch:
        generator = torch.Generator().manual_seed(0)
        base = torch.randn(batch, 2, args.steps, args.dim, generator=generator)
        steps = torch.sort(torch.randint(0, 360, (batch, 2, args.steps), generator=generator), dim=-1).values
        seq_lens = torch.full((batch, 2), 360)
        masks = torch.ones(batch, 2, args.steps)

        def run(loss_fn, base=base, steps=steps, seq_lens=seq_lens, masks=masks):
            embeddings = F.normalize(base, dim=-1).requires_grad_(True)
            loss_fn(embeddings, steps, seq_lens, masks).backward()

        embeddings = F.normalize(base, dim=-1)
        same = (sequence_contrastive_loss(embeddings, steps, seq_lens, masks).item(),
                all_pairs_loss(embeddings, steps, seq_lens, masks).item())
        if abs(same[0] - same[1]) > 1e-3 * abs(same[1]):  # up to the released 1e-6 inside the log
            raise SystemExit(f"the two forms disagree at B={batch}: {same}")
        ours = _median_time(lambda: run(sequence_contrastive_loss), args.repeats)
        baseline = _median_time(lambda: run(all_pairs_loss), args.repeats)
        label = " (the released batch)" if batch == 1 else ""
        print(f"  B={batch}{label}: batched per video (this project) {ours * 1000:.1f} ms, released form "
              f"{baseline * 1000:.1f} ms, {baseline / ours:.1f}x")


if __name__ == "__main__":
    main()
