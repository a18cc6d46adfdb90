import math

import pytest
import torch
import torch.nn.functional as F

from carl_pipeline.losses import cycle_back_regression_loss, sequence_contrastive_loss


def _transcription(embeddings, steps, seq_lens, masks, temperature, variance):
    """The paper's definition, written loop by loop in float64."""
    total, count = 0.0, 0.0
    batch, _, num_steps, _ = embeddings.shape
    z = F.normalize(embeddings.double(), dim=-1)
    for b in range(batch):
        for view in (0, 1):
            other = 1 - view
            valid_j = [j for j in range(num_steps) if masks[b, other, j] > 0]
            for i in range(num_steps):
                if masks[b, view, i] == 0:
                    continue
                count += 1
                s_i = steps[b, view, i].item() / seq_lens[b, view].item() * seq_lens[b, other].item()
                gauss = {j: math.exp(-((s_i - steps[b, other, j].item()) ** 2) / (2 * variance)) for j in valid_j}
                norm = sum(gauss.values())
                logits = {j: (z[b, view, i] @ z[b, other, j]) / temperature for j in valid_j}
                log_denominator = torch.logsumexp(torch.stack(list(logits.values())), 0)
                for j in valid_j:
                    target = gauss[j] / norm
                    if target > 0:
                        total = total + target * (math.log(target) - (logits[j] - log_denominator))
    return total / masks.sum()


def _inputs(batch, num_steps, dim, seed, pad=True):
    generator = torch.Generator().manual_seed(seed)
    embeddings = torch.randn(batch, 2, num_steps, dim, generator=generator, dtype=torch.float64)
    seq_lens = torch.randint(num_steps // 2, 2 * num_steps, (batch, 1), generator=generator).expand(batch, 2).clone()
    steps = torch.sort(torch.randint(0, 10_000, (batch, 2, num_steps), generator=generator) % seq_lens[..., None], dim=-1).values
    masks = torch.ones(batch, 2, num_steps)
    if pad:  # a few padded frames at the end of some views
        for b in range(batch):
            masks[b, b % 2, num_steps - 1 - b:] = 0
    return embeddings, steps, seq_lens, masks


@pytest.mark.parametrize("batch,num_steps,dim,temperature,variance", [
    (1, 6, 4, 0.1, 10.0), (3, 9, 8, 0.1, 10.0), (2, 7, 16, 0.5, 2.0), (4, 5, 3, 1.0, 50.0)])
def test_scl__equals_the_transcribed_formula_with_padding(batch, num_steps, dim, temperature, variance):
    embeddings, steps, seq_lens, masks = _inputs(batch, num_steps, dim, seed=batch * 100 + dim)
    ours_input = embeddings.clone().requires_grad_(True)
    ref_input = embeddings.clone().requires_grad_(True)
    ours = sequence_contrastive_loss(ours_input, steps, seq_lens, masks, temperature, variance)
    ref = _transcription(ref_input, steps, seq_lens, masks, temperature, variance)
    torch.testing.assert_close(ours.double(), ref.double(), rtol=1e-5, atol=1e-6)
    ours.backward()
    ref.backward()
    torch.testing.assert_close(ours_input.grad, ref_input.grad, rtol=1e-4, atol=1e-6)


def test_scl__padded_frames_are_ignored():
    embeddings, steps, seq_lens, masks = _inputs(2, 8, 4, seed=0, pad=True)
    changed = embeddings.clone()
    changed[masks == 0] = torch.randn(int((masks == 0).sum()), 4, dtype=torch.float64) * 100
    steps_changed = steps.clone()
    steps_changed[masks == 0] = 0
    a = sequence_contrastive_loss(embeddings, steps, seq_lens, masks)
    b = sequence_contrastive_loss(changed, steps_changed, seq_lens, masks)
    torch.testing.assert_close(a, b)


def test_scl__close_to_the_released_code_without_padding():
    """CARL's released implementation (all-pairs matrix, weights 0 outside the video's other view,
    +1e-6 inside the log), transcribed: without padding it differs from ours only by that 1e-6."""
    embeddings, steps, seq_lens, masks = _inputs(2, 10, 8, seed=3, pad=False)
    batch, views, num_steps, dim = embeddings.shape
    z = F.normalize(embeddings, dim=-1).reshape(-1, dim)
    flat_steps = steps.reshape(-1).double()
    flat_lens = seq_lens[..., None].expand(batch, views, num_steps).reshape(-1).double()
    logits = z @ z.T / 0.1
    distance = (flat_steps[:, None] / flat_lens[:, None] * flat_lens[None, :] - flat_steps[None, :]).abs()
    weight = torch.zeros_like(logits)
    label = torch.zeros_like(logits)
    gauss = torch.exp(-distance.square() / 20.0)
    for b in range(batch):
        start, mid, end = b * 2 * num_steps, b * 2 * num_steps + num_steps, (b + 1) * 2 * num_steps
        weight[start:mid, mid:end] = 1
        weight[mid:end, start:mid] = 1
        label[start:mid, mid:end] = gauss[start:mid, mid:end] / gauss[start:mid, mid:end].sum(1, keepdim=True)
        label[mid:end, start:mid] = gauss[mid:end, start:mid] / gauss[mid:end, start:mid].sum(1, keepdim=True)
    prob = torch.exp(logits) / (weight * torch.exp(logits)).sum(1, keepdim=True)
    ours = sequence_contrastive_loss(embeddings, steps, seq_lens, masks).double()
    released = F.kl_div(torch.log(prob + 1e-6), label, reduction="sum") / masks.sum()
    torch.testing.assert_close(ours, released, rtol=1e-2, atol=0)
    without_epsilon = F.kl_div(torch.log(prob), label, reduction="sum") / masks.sum()
    torch.testing.assert_close(ours, without_epsilon, rtol=1e-6, atol=1e-6)


def test_scl__lower_for_time_ordered_embeddings_than_shuffled():
    num_steps, dim = 40, 32
    t = torch.linspace(0, 1, num_steps)
    frequencies = torch.arange(1, dim // 2 + 1).float()
    ordered = torch.cat([torch.sin(2 * math.pi * t[:, None] * frequencies / 4),
                         torch.cos(2 * math.pi * t[:, None] * frequencies / 4)], dim=1)  # smooth in time
    steps = torch.arange(num_steps).expand(1, 2, num_steps)
    seq_lens = torch.full((1, 2), num_steps)
    masks = torch.ones(1, 2, num_steps)
    good = sequence_contrastive_loss(ordered.expand(1, 2, num_steps, dim), steps, seq_lens, masks)
    shuffled = ordered[torch.randperm(num_steps, generator=torch.Generator().manual_seed(0))]
    bad = sequence_contrastive_loss(torch.stack([ordered, shuffled])[None], steps, seq_lens, masks)
    assert good < bad


def test_scl__shape_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"masks must be \(2, 2, 5\)"):
        sequence_contrastive_loss(torch.randn(2, 2, 5, 3), torch.zeros(2, 2, 5), torch.ones(2, 2), torch.ones(2, 2, 4))
    with pytest.raises(ValueError, match=r"embeddings must be \(B, 2, T, D\)"):
        sequence_contrastive_loss(torch.randn(2, 3, 5, 3), torch.zeros(2, 3, 5), torch.ones(2, 3), torch.ones(2, 3, 5))


def test_scl__finite_gradient_with_a_fully_padded_view_row():
    embeddings, steps, seq_lens, masks = _inputs(2, 6, 4, seed=1)
    embeddings = embeddings.float().requires_grad_(True)
    masks[0, 1] = 0
    masks[0, 1, 0] = 1  # a view with a single valid frame
    sequence_contrastive_loss(embeddings, steps, seq_lens, masks).backward()
    assert torch.isfinite(embeddings.grad).all()


def test_tcc__aligned_sequences_score_better_than_misaligned():
    num_steps, dim = 20, 8
    t = torch.linspace(0, 1, num_steps)
    base = torch.stack([torch.cos(3 * t), torch.sin(3 * t)] * (dim // 2), dim=1) * 3
    steps = torch.arange(num_steps).expand(2, 2, num_steps)
    seq_lens = torch.full((2, 2), num_steps)
    masks = torch.ones(2, 2, num_steps)
    aligned = base.expand(2, 2, num_steps, dim)
    noisy = aligned + torch.randn(2, 2, num_steps, dim, generator=torch.Generator().manual_seed(0)) * 3
    assert cycle_back_regression_loss(aligned, steps, seq_lens, masks) < cycle_back_regression_loss(noisy, steps, seq_lens, masks)
    loss = cycle_back_regression_loss(noisy.requires_grad_(True), steps, seq_lens, masks)
    loss.backward()
    assert torch.isfinite(noisy.grad).all()


def test_scl__views_whose_valid_frames_lie_far_apart_keep_their_targets():
    """View 0 sees frames 0-5 and view 1 frames 90-95 of a 200-frame video: every valid partner
    is 85+ frames away, where exp(-d^2 / 20) underflows in float32 but not in the float64
    transcription. Each row still has a well-defined target (the nearest partners), so the loss
    must equal the formula, values and gradients."""
    generator = torch.Generator().manual_seed(3)
    num_steps = 8
    embeddings = torch.randn(1, 2, num_steps, 6, generator=generator, dtype=torch.float64)
    steps = torch.stack([torch.arange(0, 8), torch.arange(90, 98)])[None]  # (1, 2, 8)
    masks = torch.ones(1, 2, num_steps)
    masks[0, 0, 6:] = 0  # different valid lengths in the two views
    masks[0, 1, 5:] = 0
    seq_lens = torch.full((1, 2), 200)
    ours_input = embeddings.clone().float().requires_grad_(True)
    ref_input = embeddings.clone().requires_grad_(True)
    ours = sequence_contrastive_loss(ours_input, steps, seq_lens, masks, 0.1, 10.0)
    ref = _transcription(ref_input, steps, seq_lens, masks, 0.1, 10.0)
    assert ref.item() > 0.5  # the far rows contribute: with all-zero targets the loss would be ~0
    torch.testing.assert_close(ours.double(), ref.double(), rtol=1e-4, atol=1e-5)
    ours.backward()
    ref.backward()
    torch.testing.assert_close(ours_input.grad.double(), ref_input.grad, rtol=1e-3, atol=1e-5)


def _nt_xent_transcription(a, b, tau):
    """SimCLR Eq. (1), loop by loop in float64."""
    z = F.normalize(torch.cat([a, b]).double(), dim=-1)
    n, total = a.shape[0], 0.0
    for k in range(2 * n):
        positive = (k + n) % (2 * n)
        denominator = sum(torch.exp(z[k] @ z[m] / tau) for m in range(2 * n) if m != k)
        total = total - torch.log(torch.exp(z[k] @ z[positive] / tau) / denominator)
    return total / (2 * n)


@pytest.mark.parametrize("count,dim,tau", [(2, 3, 0.5), (5, 8, 0.2), (7, 4, 1.0)])
def test_nt_xent__equals_the_transcribed_formula(count, dim, tau):
    from carl_pipeline.losses import nt_xent_loss

    generator = torch.Generator().manual_seed(count)
    a, b = torch.randn(count, dim, generator=generator), torch.randn(count, dim, generator=generator)
    ours_a, ours_b = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
    ref_a, ref_b = a.clone().double().requires_grad_(True), b.clone().double().requires_grad_(True)
    ours = nt_xent_loss(ours_a, ours_b, tau)
    ref = _nt_xent_transcription(ref_a, ref_b, tau)
    torch.testing.assert_close(ours.double(), ref, rtol=1e-5, atol=1e-6)
    ours.backward()
    ref.backward()
    torch.testing.assert_close(ours_a.grad.double(), ref_a.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(ours_b.grad.double(), ref_b.grad, rtol=1e-4, atol=1e-6)
