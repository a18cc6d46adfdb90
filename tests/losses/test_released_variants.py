"""The losses' released variants (``loss.tcc_label_smoothing``, ``loss.scl_target: released``)
against transcriptions of CARL's released ``algos/tcc.py`` and ``algos/scl.py`` (commit c574312):
values, gradients, and exactly which rows of SCL's target underflow."""

import pytest
import torch
import torch.nn.functional as F

from carl_pipeline.losses import (
    LossConfig,
    cycle_back_regression_loss,
    gaussian_targets,
    sequence_contrastive_loss,
    timestamp_distance,
)
from carl_pipeline.training.identity import run_identity
from tests.losses.test_baselines import _check


def _released_tcc(embeddings, steps, seq_lens, temperature, variance_lambda, label_smoothing):
    """Released ``TCC.compute_deterministic_alignment_loss`` (``regression_mse_var``, l2
    similarity, normalised indices): per ordered pair of sequences, the cycle-back logits and the
    smoothed one-hot labels ``(1 - T s / (T - 1)) I + s / (T - 1)``, ``true_time = sum(steps *
    labels)``, ``mean(exp(-log var) * (true - pred)^2 + lambda * log var)``."""
    batch, views, num_steps, dim = embeddings.shape
    embs = embeddings.reshape(batch * views, num_steps, dim)
    steps = steps.reshape(batch * views, num_steps)
    seq_lens = seq_lens.reshape(-1)

    def similarity(a, b):
        norm_a = a.square().sum(1).view(-1, 1)
        norm_b = b.square().sum(1).view(1, -1)
        return -(norm_a + norm_b - 2 * a @ b.T) / dim / temperature

    logits, labels, all_steps, lens = [], [], [], []
    for i in range(len(embs)):
        for j in range(len(embs)):
            if i == j:
                continue
            nn_embs = torch.softmax(similarity(embs[i], embs[j]), dim=-1) @ embs[j]
            logits.append(similarity(nn_embs, embs[i]))
            label = torch.eye(num_steps, dtype=embs.dtype)
            label = (1 - num_steps * label_smoothing / (num_steps - 1)) * label + \
                label_smoothing / (num_steps - 1) * torch.ones_like(label)
            labels.append(label)
            all_steps.append(steps[i].unsqueeze(0).expand(num_steps, num_steps))
            lens.append(seq_lens[i].view(1).expand(num_steps))
    logits, labels = torch.cat(logits), torch.cat(labels)
    steps = torch.cat(all_steps).to(logits.dtype) / torch.cat(lens).to(logits.dtype).unsqueeze(1)
    beta = torch.softmax(logits, dim=-1)
    true_time = (steps * labels).sum(-1)
    pred_time = (steps * beta).sum(-1)
    log_var = torch.log((torch.square(steps - pred_time.unsqueeze(-1)) * beta).sum(-1))
    return torch.mean(torch.exp(-log_var) * torch.square(true_time - pred_time) + variance_lambda * log_var)


def _tcc_inputs(views, seed, batch=3, num_steps=6, dim=4):
    generator = torch.Generator().manual_seed(seed)
    embeddings = torch.randn(batch, views, num_steps, dim, generator=generator)
    steps = torch.sort(torch.randint(0, 40, (batch, views, num_steps), generator=generator), dim=-1).values
    return embeddings, steps, torch.full((batch, views), 40), torch.ones(batch, views, num_steps)


@pytest.mark.parametrize("views", [1, 2])
def test_tcc_label_smoothing__equals_the_released_smoothed_regression(views):
    """As every released TCC config sets it (LABEL_SMOOTHING 0.1): values and gradients, for one
    clip per video and for the released SSL variant's two views."""
    embeddings, steps, seq_lens, masks = _tcc_inputs(views, seed=views)
    _check(lambda e: cycle_back_regression_loss(e, steps, seq_lens, masks, 0.1, 0.001, label_smoothing=0.1),
           lambda e: _released_tcc(e, steps, seq_lens, 0.1, 0.001, 0.1), embeddings)
    # without smoothing it is the other released computation, and the two targets differ
    _check(lambda e: cycle_back_regression_loss(e, steps, seq_lens, masks, 0.1, 0.001),
           lambda e: _released_tcc(e, steps, seq_lens, 0.1, 0.001, 0.0), embeddings)
    smoothed = cycle_back_regression_loss(embeddings, steps, seq_lens, masks, 0.1, 0.001, label_smoothing=0.1)
    plain = cycle_back_regression_loss(embeddings, steps, seq_lens, masks, 0.1, 0.001)
    assert abs(smoothed - plain) > 1e-3 * abs(plain)


def test_tcc_label_smoothing__the_mean_runs_over_valid_frames_only():
    """Padding is not a frame: sequences padded by two frames score as the same sequences cut to
    their valid frames (where the released code, which has no masks, has nothing to say)."""
    embeddings, steps, seq_lens, _ = _tcc_inputs(1, seed=5, num_steps=8)
    masks = torch.ones(3, 1, 8)
    masks[..., 6:] = 0
    padded = cycle_back_regression_loss(embeddings, steps, seq_lens, masks, label_smoothing=0.1)
    cut = cycle_back_regression_loss(embeddings[..., :6, :], steps[..., :6], seq_lens, masks[..., :6], label_smoothing=0.1)
    torch.testing.assert_close(padded, cut, rtol=1e-4, atol=0)  # float32 sums of different lengths


def test_tcc_label_smoothing__out_of_range_is_refused_by_name():
    with pytest.raises(ValueError, match="loss.tcc: label_smoothing must be in"):
        LossConfig.from_dict({"algorithm": "tcc", "tcc": {"label_smoothing": 1.0}})
    with pytest.raises(ValueError, match="loss.scl: target must be one of"):
        LossConfig.from_dict({"scl": {"target": "float32"}})


def _released_scl_target(steps, seq_lens, masks, variance=10.0, logits_dtype=torch.float32):
    """The label matrix of released ``SCL.compute_sequence_loss`` (gauss positives), as a
    ``(B, T, T)`` view-0 -> view-1 block per video: padded pairs at distance 1e6, ``exp`` of the
    float32 distances, ``type_as(logits)``, ``safe_div`` by the row sum (under ``torch.cuda.amp``,
    ``sum`` runs in float32: autocast's float32 list), stored in the logits' dtype
    (``label = zeros_like(logits)``)."""
    batch, views, num_frames = steps.shape
    flat_steps = steps.reshape(-1)
    flat_lens = seq_lens.unsqueeze(-1).expand(batch, views, num_frames).reshape(-1).float()
    input_masks = masks.reshape(-1, 1) * masks.reshape(1, -1)
    distance = torch.abs(flat_steps.view(-1, 1) / flat_lens.view(-1, 1) * flat_lens.view(1, -1) - flat_steps.view(1, -1))
    distance.masked_fill_(input_masks == 0, 1e6)
    pos_weight = torch.exp(-torch.square(distance) / (2 * variance)).to(logits_dtype)
    blocks = []
    for b in range(batch):
        start, mid, end = b * views * num_frames, b * views * num_frames + num_frames, (b + 1) * views * num_frames
        weight = pos_weight[start:mid, mid:end]
        out = weight / weight.sum(dim=1, keepdim=True, dtype=torch.float32)
        out[torch.isnan(out)] = 0
        blocks.append(out.to(logits_dtype))
    return torch.stack(blocks).float()


def _finegym_like(seed, batch=4, num_steps=40, length=1500):
    """Two views per video far apart in a FineGym-length event (1,500 frames): the nearest
    partners of some frames lie dozens of frames away."""
    generator = torch.Generator().manual_seed(seed)
    view0 = torch.sort(torch.randint(0, length // 2, (batch, num_steps), generator=generator)).values
    view1 = torch.sort(torch.randint(0, length, (batch, num_steps), generator=generator)).values
    steps = torch.stack([view0, view1], dim=1)
    masks = torch.ones(batch, 2, num_steps)
    masks[0, 1, -5:] = 0  # and some padding
    return steps, torch.full((batch, 2), length), masks


@pytest.mark.parametrize("dtype,first_dropped", [(torch.float32, 46), (torch.float16, 19)])
def test_scl_released_target__drops_exactly_the_rows_the_released_code_drops(dtype, first_dropped):
    """On a FineGym-length case, the released target in float32 (no AMP) and float16 (the
    released USE_AMP): the same matrix as the released computation and so the same dropped rows,
    those whose nearest valid partner is ``first_dropped`` frames away or more; the exact target
    drops none."""
    steps, seq_lens, masks = _finegym_like(seed=0)
    valid = masks.bool()
    distance = timestamp_distance(steps, seq_lens)
    ours = gaussian_targets(distance, valid[:, 1, None, :], 10.0, released_dtype=dtype)
    released = _released_scl_target(steps, seq_lens, masks, logits_dtype=dtype)
    torch.testing.assert_close(ours, released, rtol=0, atol=0)
    nearest = distance.masked_fill(~valid[:, 1, None, :], float("inf")).min(-1).values  # (B, T)
    dropped = ours.sum(-1) == 0
    assert torch.equal(dropped & valid[:, 0], (nearest >= first_dropped) & valid[:, 0])
    assert 0 < int((dropped & valid[:, 0]).sum()) < int(valid[:, 0].sum())  # the case has both kinds
    exact = gaussian_targets(distance, valid[:, 1, None, :], 10.0)
    assert not ((exact.sum(-1) == 0) & valid[:, 0]).any()


def test_scl_released_target__under_autocast_it_is_the_released_code_run_under_autocast():
    """Under fp16 autocast the released logits come out of the matmul in float16, so its
    ``type_as(logits)`` makes the target float16: ``released_dtype=float16`` (what the training
    loop passes under fp16 autocast) gives that label matrix."""
    steps, seq_lens, masks = _finegym_like(seed=1)
    generator = torch.Generator().manual_seed(1)
    embeddings = F.normalize(torch.randn(4, 2, 40, 8, generator=generator), dim=-1)
    with torch.autocast("cpu", dtype=torch.float16):
        logits = embeddings.reshape(-1, 8) @ embeddings.reshape(-1, 8).T / 0.1
        released = _released_scl_target(steps, seq_lens, masks, logits_dtype=logits.dtype)
    assert logits.dtype == torch.float16
    ours = gaussian_targets(timestamp_distance(steps, seq_lens), masks.bool()[:, 1, None, :], 10.0,
                            released_dtype=torch.float16)
    assert torch.equal(ours.sum(-1) == 0, released.sum(-1) == 0)
    torch.testing.assert_close(ours, released, rtol=0, atol=0)


def test_scl_released_target__the_loss_leaves_dropped_rows_out_and_keeps_counting_them():
    """The loss with the released target equals the KL against the released label matrix
    (float64 prediction, no epsilon: SCL's documented departures), the dropped rows adding 0 to
    the sum while the denominator still counts every valid frame; it is lower than the exact
    target's loss, which keeps the far rows."""
    steps, seq_lens, masks = _finegym_like(seed=2)
    generator = torch.Generator().manual_seed(2)
    embeddings = torch.randn(4, 2, 40, 8, generator=generator)

    def reference(e):
        z = F.normalize(e, dim=-1)
        valid = masks.bool()
        total = 0
        for a, b in ((0, 1), (1, 0)):
            logits = (z[:, a] @ z[:, b].transpose(1, 2) / 0.1).masked_fill(~valid[:, b, None, :], float("-inf"))
            log_prob = torch.log_softmax(logits, -1).masked_fill(~valid[:, b, None, :], 0.0)
            s = steps if a == 0 else steps.flip(1)
            target = _released_scl_target(s, seq_lens, masks if a == 0 else masks.flip(1)).double()
            kl = torch.where(target > 0, target * (torch.log(target.clamp_min(1e-300)) - log_prob), 0.0)
            total = total + (kl.sum(-1) * valid[:, a]).sum()
        return total / masks.sum()

    _check(lambda e: sequence_contrastive_loss(e, steps, seq_lens, masks, target="released"), reference, embeddings)
    assert sequence_contrastive_loss(embeddings, steps, seq_lens, masks, target="released") < \
        sequence_contrastive_loss(embeddings, steps, seq_lens, masks)


def test_released_variants__runs_trained_before_them_keep_their_ids():
    """The two fields are new: at their old behaviour (exact, no smoothing) a run's id is what it
    was; the released variants are other runs."""
    from carl_pipeline.augment import AugmentConfig
    from carl_pipeline.models import EncoderConfig
    from carl_pipeline.training import OptimConfig, SamplingConfig

    def identity(loss):
        return run_identity(EncoderConfig(), SamplingConfig(), AugmentConfig(), loss, OptimConfig(), data="d")

    assert "scl_target" not in identity(LossConfig())["loss"] and "tcc_label_smoothing" not in identity(LossConfig())["loss"]
    assert identity(LossConfig.from_dict({"scl": {"target": "released"}}))["loss"]["scl_target"] == "released"
    assert identity(LossConfig.from_dict({"algorithm": "tcc", "tcc": {"label_smoothing": 0.1}}))["loss"]["tcc_label_smoothing"] == 0.1
