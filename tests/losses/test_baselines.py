"""The baselines' losses and SCL's batch negatives, each against a transcription of its formula
(loop by loop, float64), values and gradients."""

import math

import pytest
import torch
import torch.nn.functional as F

from carl_pipeline.losses import (
    LossConfig,
    cycle_back_regression_loss,
    frame_classification_loss,
    frame_contrastive_loss,
    sequence_contrastive_loss,
    time_contrastive_loss,
)
from tests.losses.test_scl import _inputs, _nt_xent_transcription


def _check(ours_fn, ref_fn, *tensors, rtol=1e-4, atol=1e-6):
    """Both functions on copies of ``tensors`` (ours in float32, the reference in float64):
    equal values and equal gradients with respect to the first tensor."""
    ours_input = tensors[0].clone().float().requires_grad_(True)
    ref_input = tensors[0].clone().double().requires_grad_(True)
    ours = ours_fn(ours_input, *tensors[1:])
    ref = ref_fn(ref_input, *tensors[1:])
    torch.testing.assert_close(ours.double(), ref.double(), rtol=rtol, atol=atol)
    ours.backward()
    ref.backward()
    torch.testing.assert_close(ours_input.grad.double(), ref_input.grad, rtol=rtol * 10, atol=atol)
    assert ours_input.grad.abs().sum() > 0  # the loss reaches the embeddings


def _released_scl(embeddings, steps, seq_lens, masks, negatives, temperature=0.1, variance=10.0):
    """CARL's released ``compute_sequence_loss`` (algos/scl.py), all pairs, without its +1e-6 in
    the log and with padded pairs weighted 0 instead of 1e-6."""
    batch, views, num_steps, dim = embeddings.shape
    z = F.normalize(embeddings, dim=-1).reshape(-1, dim)
    flat_steps = steps.reshape(-1).double()
    flat_lens = seq_lens[..., None].expand(batch, views, num_steps).reshape(-1).double()
    pair_masks = masks.reshape(-1, 1) * masks.reshape(1, -1)
    logits = z @ z.T / temperature
    distance = (flat_steps[:, None] / flat_lens[:, None] * flat_lens[None, :] - flat_steps[None, :]).abs()
    gauss = torch.exp(-distance.square() / (2 * variance)) * pair_masks
    weight, label = torch.ones_like(logits), torch.zeros_like(logits)
    for b in range(batch):
        start, mid, end = b * 2 * num_steps, b * 2 * num_steps + num_steps, (b + 1) * 2 * num_steps
        if negatives == "single_noself":
            weight[start:end, :start] = 0
            weight[start:end, end:] = 0
        weight[start:mid, start:mid] = 0
        weight[mid:end, mid:end] = 0
        # (a padded row has no target: its sums are 0, and so is its label)
        label[start:mid, mid:end] = gauss[start:mid, mid:end] / gauss[start:mid, mid:end].sum(1, keepdim=True).clamp_min(1e-300)
        label[mid:end, start:mid] = gauss[mid:end, start:mid] / gauss[mid:end, start:mid].sum(1, keepdim=True).clamp_min(1e-300)
    weight = weight * pair_masks
    log_prob = logits - torch.log((weight * torch.exp(logits)).sum(1, keepdim=True).clamp_min(1e-300))
    kl = torch.where(label > 0, label * (torch.log(label.clamp_min(1e-300)) - log_prob), 0.0)
    return (kl * pair_masks).sum() / masks.sum()


@pytest.mark.parametrize("batch,num_steps,dim,pad", [(2, 5, 4, False), (3, 6, 8, False), (3, 7, 5, True)])
def test_scl_batch_noself__equals_the_released_all_pairs_computation(batch, num_steps, dim, pad):
    embeddings, steps, seq_lens, masks = _inputs(batch, num_steps, dim, seed=batch + dim, pad=pad)
    _check(lambda e: sequence_contrastive_loss(e, steps, seq_lens, masks, negatives="batch_noself"),
           lambda e: _released_scl(e, steps, seq_lens, masks, "batch_noself"), embeddings)
    # and the same transcription with single_noself gives today's loss, so the two differ only by
    # the other videos in the denominator
    _check(lambda e: sequence_contrastive_loss(e, steps, seq_lens, masks),
           lambda e: _released_scl(e, steps, seq_lens, masks, "single_noself"), embeddings)
    assert sequence_contrastive_loss(embeddings, steps, seq_lens, masks, negatives="batch_noself") > \
        sequence_contrastive_loss(embeddings, steps, seq_lens, masks)  # more negatives: a larger loss


def _tcc_transcription(embeddings, steps, seq_lens, temperature, variance_lambda):
    """Released algos/tcc.py (``regression_mse_var``, l2 similarity, normalised indices) with its
    ``LABEL_SMOOTHING`` at 0 (every released config sets 0.1: test_released_variants.py), frame by
    frame over every ordered pair of distinct sequences."""
    batch, views, num_steps, dim = embeddings.shape
    z = embeddings.reshape(batch * views, num_steps, dim)
    t = steps.reshape(batch * views, num_steps).double() / seq_lens.reshape(-1, 1).double()
    terms = []
    for u in range(len(z)):
        for v in range(len(z)):
            if u == v:
                continue
            for i in range(num_steps):
                alpha = torch.softmax(torch.stack([-(z[u, i] - z[v, j]).square().sum() / dim / temperature
                                                   for j in range(num_steps)]), 0)
                nearest = sum(alpha[j] * z[v, j] for j in range(num_steps))
                beta = torch.softmax(torch.stack([-(nearest - z[u, k]).square().sum() / dim / temperature
                                                  for k in range(num_steps)]), 0)
                mu = sum(beta[k] * t[u, k] for k in range(num_steps))
                var = sum(beta[k] * (t[u, k] - mu) ** 2 for k in range(num_steps))
                terms.append((t[u, i] - mu) ** 2 / var + variance_lambda * torch.log(var))
    return torch.stack(terms).mean()


@pytest.mark.parametrize("views", [1, 2])
def test_tcc__equals_the_released_cycle_back_regression_without_label_smoothing(views):
    generator = torch.Generator().manual_seed(views)
    embeddings = torch.randn(3, views, 5, 4, generator=generator)
    steps = torch.sort(torch.randint(0, 30, (3, views, 5), generator=generator), dim=-1).values
    seq_lens = torch.full((3, views), 30)
    masks = torch.ones(3, views, 5)
    _check(lambda e: cycle_back_regression_loss(e, steps, seq_lens, masks, 0.1, 0.001),
           lambda e: _tcc_transcription(e, steps, seq_lens, 0.1, 0.001), embeddings)


def test_tcc__one_sequence_is_refused_with_what_to_change():
    with pytest.raises(ValueError, match="batch_size of 2"):
        cycle_back_regression_loss(torch.randn(1, 1, 4, 3), torch.arange(4).view(1, 1, 4), torch.full((1, 1), 4),
                                   torch.ones(1, 1, 4))


def _tcn_transcription(embeddings, reg_lambda):
    """Released algos/tcn.py: per clip, n-pairs over anchors embs[0::2] and positives embs[1::2]."""
    losses = []
    for clip in embeddings:
        anchors, positives = clip[0::2], clip[1::2]
        count = len(anchors)
        xent = 0.0
        for k in range(count):
            scores = torch.stack([anchors[k] @ positives[m] for m in range(count)])
            xent = xent - (scores[k] - torch.logsumexp(scores, 0))
        reg = 0.25 * reg_lambda * (sum((a @ a) for a in anchors) / count + sum((p @ p) for p in positives) / count)
        losses.append(xent / count + reg)
    return torch.stack(losses).mean()


@pytest.mark.parametrize("batch,pairs,dim,reg", [(1, 3, 4, 0.002), (3, 5, 8, 0.002), (2, 4, 3, 0.5)])
def test_tcn__equals_the_released_npairs_loss(batch, pairs, dim, reg):
    embeddings = torch.randn(batch, 2 * pairs, dim, generator=torch.Generator().manual_seed(pairs))
    _check(lambda e: time_contrastive_loss(e, None, reg), lambda e: _tcn_transcription(e, reg), embeddings)


def test_tcn__padded_pairs_are_left_out_and_odd_clips_refused():
    embeddings = torch.randn(2, 8, 4, generator=torch.Generator().manual_seed(0))
    masks = torch.ones(2, 8)
    masks[1, 6:] = 0  # the last anchor-positive pair of clip 1 is padding
    expected = torch.stack([_tcn_transcription(embeddings[:1], 0.002),
                            _tcn_transcription(embeddings[1:, :6], 0.002)]).mean()
    torch.testing.assert_close(time_contrastive_loss(embeddings, masks), expected)
    with pytest.raises(ValueError, match="T even"):
        time_contrastive_loss(torch.randn(1, 5, 4))


def test_simclr_frames__equals_nt_xent_over_the_valid_frames_of_the_batch():
    generator = torch.Generator().manual_seed(4)
    embeddings = torch.randn(2, 2, 4, 6, generator=generator)
    masks = torch.ones(2, 2, 4)
    masks[1, :, 3] = 0  # a padded frame (padded in both views: they show the same frames)
    valid = [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1), (1, 2)]

    def reference(e):
        return _nt_xent_transcription(torch.stack([e[b, 0, t] for b, t in valid]),
                                      torch.stack([e[b, 1, t] for b, t in valid]), 0.1)

    _check(lambda e: frame_contrastive_loss(e, masks, 0.1), reference, embeddings)


def test_supervised__equals_the_cross_entropy_of_labelled_valid_frames():
    generator = torch.Generator().manual_seed(5)
    logits = torch.randn(2, 5, 3, generator=generator)
    labels = torch.tensor([[0, 1, 2, -1, 1], [2, 2, 0, 1, 0]])
    masks = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.float32)
    chosen = [(0, 0), (0, 1), (0, 2), (0, 4), (1, 0), (1, 1), (1, 2)]

    def reference(x):
        return torch.stack([-(x[b, t, labels[b, t]] - torch.logsumexp(x[b, t], 0)) for b, t in chosen]).mean()

    _check(lambda x: frame_classification_loss(x, labels, masks), reference, logits)
    with pytest.raises(ValueError, match="only 3 classes"):
        frame_classification_loss(logits, torch.full((2, 5), 3), masks)


def test_loss_config__each_algorithm_says_what_a_training_sample_holds():
    layouts = {a: LossConfig(algorithm=a).clip_layout for a in ("scl", "tcc", "tcn", "simclr", "supervised")}
    assert layouts == {"scl": "two_views", "tcc": "one_view", "tcn": "anchor_positive", "simclr": "same_frames",
                       "supervised": "one_view"}
    assert LossConfig.from_dict({"algorithm": "tcc", "tcc": {"cycle": "views"}}).clip_layout == "two_views"
    for bad, message in (({"algorithm": "moco"}, "algorithm must be one of"),
                         ({"scl": {"negatives": "batch"}}, "loss.scl: negatives must be one of"),
                         ({"tcc": {"cycle": "pairs"}}, "loss.tcc: cycle must be one of"),
                         ({"tcn": {"positive_window": 0}}, "loss.tcn: positive_window must be >= 1"),
                         ({"tcn": {"window": 3}}, "loss.tcn: unknown setting\\(s\\) \\['window'\\]"),
                         ({"moco": {"queue": 3}}, "loss.moco: no algorithm")):
        with pytest.raises(ValueError, match=message):
            LossConfig.from_dict(bad)
    assert math.isclose(LossConfig().temperature, 0.1)
