"""LAV's and VAVA's losses and soft-DTW against transcriptions of the GTCC repository's code
(gerardDonahue/GTCC_CVPR2024: ``utils/loss_functions.py`` ``LAV_loss``, ``VAVA_loss``,
``IntraContrast_loss``; ``external_util/softdtw.py``; ``external_util/ot_pytorch.py`` ``sink``),
loop for loop. The repository's functions themselves were run beside ours (docs/FIDELITY.md)."""

import math

import numpy as np
import pytest
import torch

from carl_pipeline.losses import LossConfig
from carl_pipeline.losses.gtcc import cycle_window, gtcc_loss
from carl_pipeline.losses.lav import lav_loss
from carl_pipeline.losses.ops import (
    intra_video_contrast,
    soft_dtw,
    squared_distances,
    valid_sequences,
)
from carl_pipeline.losses.vava import vava_loss


def _softdtw_transcription(cost, gamma):
    """external_util/softdtw.py compute_softdtw, as a Python loop (differentiable here)."""
    n, m = cost.shape
    r = [[torch.tensor(math.inf, dtype=cost.dtype)] * (m + 1) for _ in range(n + 1)]
    r[0][0] = torch.tensor(0.0, dtype=cost.dtype)
    for j in range(1, m + 1):
        for i in range(1, n + 1):
            options = torch.stack([-r[i - 1][j - 1] / gamma, -r[i - 1][j] / gamma, -r[i][j - 1] / gamma])
            rmax = options.max()
            softmin = -gamma * (torch.log(torch.exp(options - rmax).sum()) + rmax)
            r[i][j] = cost[i - 1, j - 1] + softmin
    return r[n][m]


def _intra_transcription(sequence, window=15, margin=2):
    """IntraContrast_loss with create_margin_identity_matrix."""
    n = sequence.shape[0]
    dx = torch.cdist(sequence, sequence, p=2)
    identity = torch.eye(n, dtype=sequence.dtype)
    mask = torch.triu(torch.ones(n, n, dtype=sequence.dtype), diagonal=0)
    mask2 = 1 - torch.triu(torch.ones(n, n, dtype=sequence.dtype), diagonal=window)
    band = mask2 * mask
    band = band + (band.T - identity)
    idx = torch.arange(n, dtype=sequence.dtype)
    dup = torch.ones(n, n, dtype=sequence.dtype) * idx
    w = (dup - dup.T).square() + 1
    return ((1 - band) * w * torch.relu(margin - dx) + band * w * margin).sum()


def _lav_transcription(sequences, min_temp=0.1, cr_coefficient=0.01):
    total = None
    for i, v1 in enumerate(sequences):
        for j, v2 in enumerate(sequences):
            if i == j:
                continue
            cost = (v1[:, None, :] - v2[None, :, :]).pow(2).sum(2)
            term = _softdtw_transcription(cost, min_temp) + cr_coefficient * (_intra_transcription(v1) + _intra_transcription(v2))
            total = term if total is None else total + term
    return total


def _sink_transcription(cost, reg, iterations=20):
    """ot_pytorch.sink (its error check never stops it early: it compares a scalar with a vector)."""
    a = torch.ones(cost.shape[0], dtype=cost.dtype) / cost.shape[0]
    b = torch.ones(cost.shape[1], dtype=cost.dtype) / cost.shape[1]
    u, v = torch.ones_like(a) / len(a), torch.ones_like(b) / len(b)
    k = torch.exp(-cost / reg)
    kp = (1 / a).view(-1, 1) * k
    for _ in range(iterations):
        v = b / (k.t() @ u)
        u = 1.0 / (kp @ v)
    plan = u.view(-1, 1) * (k * v)
    return 1e6 * torch.sum(u.view(-1, 1) * k * v.view(1, -1)) / (len(a) * len(b)), plan


def _vava_transcription(sequences, global_step, lambda1=1.0, lambda2=0.1, gamma=0.5, zeta=0.5, delta=0.6, compound=True):
    """VAVA_loss, its helper matrices inlined; ``compound``: its in-place weight updates."""
    total = None
    phi = max(min(0.999 ** (global_step + 1), 0.999), 0.001)
    l1, l2 = lambda1, lambda2
    for i, v1 in enumerate(sequences):
        n = v1.shape[0]
        rows_idx = torch.arange(0, n + 1, dtype=v1.dtype)
        for j, v2 in enumerate(sequences):
            if i == j:
                continue
            m = v2.shape[0]
            cols_idx = torch.arange(0, m + 1, dtype=v1.dtype)
            if compound:
                l1, l2 = l1 * (n + m), l2 * (n * m) / 4.0
                w1, w2 = l1, l2
            else:
                w1, w2 = lambda1 * (n + m), lambda2 * (n * m) / 4.0
            d = torch.cdist(v1, v2, p=2)
            d = torch.cat((torch.ones(m, dtype=v1.dtype)[None, :] * zeta, d), dim=0)
            d = torch.cat((torch.ones(n + 1, dtype=v1.dtype)[:, None] * zeta, d), dim=1)
            dist, t = _sink_transcription(d, n)
            nn_, mm = n + 1, m + 1
            ones = torch.ones(nn_, mm, dtype=v1.dtype)
            scale = np.sqrt(1 / nn_**2 + 1 / mm**2)
            lc = torch.abs(ones * (cols_idx / mm) - (ones.T * (rows_idx / nn_)).T) / scale
            ib, jb = t.argmax(dim=1), t.argmax(dim=0)
            right, left = torch.abs(rows_idx - ib) / nn_, torch.abs(cols_idx - jb) / nn_
            lo = (torch.abs(ones * left) + torch.abs((ones.T * right).T)) / (2 * scale)
            pc = torch.exp(-(lc.square()) / (2 * delta**2)) / delta * np.sqrt(2 * np.pi)
            po = torch.exp(-(lo.square()) / (2 * delta**2)) / delta * np.sqrt(2 * np.pi)
            p = phi * pc + (1 - phi) * po
            consistency = 1 / ((ones * (cols_idx / mm) - (ones.T * (rows_idx / nn_)).T).square() + 1)
            optimality = 1 / (0.5 * ((ones * ((cols_idx - jb) / nn_).square()) + (ones.T * ((rows_idx - ib) / nn_).square()).T) + 1)
            i_t = phi * torch.sum(t * consistency) + (1 - phi) * torch.sum(t * optimality)
            kt, kp_ = t + 1e-5, p + 1e-5
            kl = torch.sum(kt * torch.log(kt / kp_))
            a_max = ((t == t.max(dim=1, keepdim=True).values) & (t == t.max(dim=0, keepdim=True).values)).int()
            a_min = ((t == t.min(dim=1, keepdim=True).values) & (t == t.min(dim=0, keepdim=True).values)).int()
            c_xy = torch.sum(a_max * d - a_min * d)
            term = dist - w1 * i_t + w2 * kl + gamma * (_intra_transcription(v1) + _intra_transcription(v2) + c_xy)
            total = term if total is None else total + term
    return total


def _sequences(seed, lengths, dim, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(t, dim, generator=g, dtype=torch.float64) * scale for t in lengths]


def _value_and_grads(fn, sequences):
    leaves = [s.clone().requires_grad_(True) for s in sequences]
    value = fn(leaves)
    value.backward()
    return value.detach(), [leaf.grad for leaf in leaves]


def _check(ours, theirs, sequences, rtol=1e-7):
    v1, g1 = _value_and_grads(ours, sequences)
    v2, g2 = _value_and_grads(theirs, sequences)
    torch.testing.assert_close(v1, v2, rtol=rtol, atol=0)
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b, rtol=rtol, atol=1e-9)


@pytest.mark.parametrize("n,m,gamma", [(1, 1, 0.1), (5, 7, 0.1), (8, 3, 1.0), (6, 6, 0.01)])
def test_soft_dtw__is_the_recursion(n, m, gamma):
    g = torch.Generator().manual_seed(n * 10 + m)
    x, y = torch.randn(n, 4, generator=g, dtype=torch.float64), torch.randn(m, 4, generator=g, dtype=torch.float64)
    _check(lambda s: soft_dtw(squared_distances(s[0], s[1]), gamma),
           lambda s: _softdtw_transcription((s[0][:, None] - s[1][None]).pow(2).sum(2), gamma), [x, y])
    batched = soft_dtw(torch.stack([squared_distances(x, y), squared_distances(x, y) * 2]), gamma)
    assert batched.shape == (2,) and torch.isclose(batched[0], soft_dtw(squared_distances(x, y), gamma))


def test_soft_dtw__tends_to_dtw_and_refuses_a_zero_gamma():
    cost = torch.tensor([[0.0, 5.0, 5.0], [5.0, 0.0, 5.0], [5.0, 5.0, 0.0]], dtype=torch.float64)
    assert abs(float(soft_dtw(cost, 1e-3))) < 1e-2  # the diagonal path costs nothing
    with pytest.raises(ValueError, match="gamma must be > 0"):
        soft_dtw(cost, 0.0)


def test_intra_video_contrast__is_the_repositorys_regulariser():
    for t, window in ((20, 15), (9, 3), (1, 15)):
        seq = _sequences(t, (t,), 5, 0.3)
        _check(lambda s: intra_video_contrast(s[0], window), lambda s: _intra_transcription(s[0], window), seq)


@pytest.mark.parametrize("lengths", [(6, 6), (5, 8, 4), (7, 7, 7, 7)])
def test_lav_loss__equals_the_repositorys(lengths):
    seqs = _sequences(len(lengths), lengths, 6, 0.5)
    _check(lav_loss, _lav_transcription, seqs)
    _check(lambda s: lav_loss(s, gamma=1.0, contrast_weight=0.1),
           lambda s: _lav_transcription(s, min_temp=1.0, cr_coefficient=0.1), seqs)


@pytest.mark.parametrize("lengths,step", [((6, 6), 0), ((5, 8, 4), 3), ((7, 9), 5000)])
def test_vava_loss__equals_the_repositorys(lengths, step):
    """With the repository's weights that compound pair by pair, and with per-pair weights (the
    default). POT's Sinkhorn may stop early once converged (the repository's never does): equal
    to float64 rounding at these sizes."""
    seqs = _sequences(sum(lengths), lengths, 6, 0.5)
    _check(lambda s: vava_loss(s, global_step=step, compound_weights=True),
           lambda s: _vava_transcription(s, step), seqs, rtol=1e-6)
    _check(lambda s: vava_loss(s, global_step=step), lambda s: _vava_transcription(s, step, compound=False), seqs,
           rtol=1e-6)


def test_vava_loss__the_transport_cost_variant_moves_aligned_frames_together():
    x, y = _sequences(0, (6, 6), 4)
    repository = vava_loss([x, y], cost="repository")
    transport = vava_loss([x, y], cost="transport")
    assert not torch.isclose(repository, transport)
    with pytest.raises(ValueError, match="cost must be one of"):
        vava_loss([x, y], cost="plan")


def test_alignment_rows__one_clip_per_video_two_videos_a_batch_and_valid_frames_only():
    for name in ("lav", "vava", "gtcc"):
        config = LossConfig(algorithm=name)
        assert config.clip_layout == "one_view" and config.spec.sequences_per_batch(config) == 2
    outputs = torch.randn(3, 1, 5, 4)
    masks = torch.tensor([[[1, 1, 1, 0, 0]], [[1, 1, 1, 1, 1]], [[0, 0, 0, 0, 0]]])
    sequences = valid_sequences(outputs, masks)
    assert [len(s) for s in sequences] == [3, 5]
    with pytest.raises(ValueError, match="at least two sequences"):
        lav_loss(sequences[:1])
    with pytest.raises(ValueError, match="loss.vava: delta must be > 0"):
        LossConfig.from_dict({"algorithm": "vava", "vava": {"delta": 0}})


def _gmm_transcription(probability, n_components, max_iters):
    """utils/tensorops.py get_gmm_lfbgf (loss_fn KL; its unused intensity term left out)."""
    with torch.enable_grad():
        probability = probability.detach()
        n = probability.shape[0]
        arange = torch.arange(n, dtype=torch.float32).detach()
        softmax = torch.nn.Softmax(dim=0)
        means = torch.nn.Parameter(torch.tensor([1 + i * (n - 2) / n_components for i in range(n_components)],
                                                requires_grad=True, dtype=torch.float32))
        stds = torch.nn.Parameter(torch.tensor([n for i in range(n_components)], requires_grad=True, dtype=torch.float32))
        spreads = torch.nn.Parameter(torch.tensor([1 for i in range(n_components)], requires_grad=True, dtype=torch.float32))

        def get_gaussians(mus, vars):
            stds_ = torch.sqrt(torch.clamp(vars.view(-1, 1), .5))
            mus = torch.clamp(mus.view(-1, 1), 0, n - 1)
            g = torch.exp(-0.5 * (torch.subtract(arange, mus) / stds_) ** 2) / (stds_ * (2 * torch.pi) ** 0.5)
            return torch.divide(g.T, g.sum(dim=1)).T

        def kl(mus, sigmas, psis):
            gmm = softmax(psis) @ get_gaussians(mus, sigmas)
            gmm_log = torch.log(gmm + 1e-30)
            p_log = torch.log(probability + 1e-30)
            return torch.sum(torch.sum(probability * (p_log - gmm_log))) + torch.sum(torch.sum(gmm * (gmm_log - p_log)))

        lbfgs = torch.optim.LBFGS([{"params": [means, stds, spreads]}], history_size=10, max_iter=4,
                                  line_search_fn="strong_wolfe", lr=.5)

        def closure():
            lbfgs.zero_grad()
            objective = kl(means, stds, spreads)
            objective.backward()
            return objective

        for _ in range(max_iters):
            lbfgs.step(closure)
        return get_gaussians(means, stds), softmax(spreads)


def _margin_transcription(size, width, m):
    """create_stochastic_margin_identity_matrix with its coin ``m`` given."""
    m = int(m * width)
    mm = 1 - torch.triu(torch.ones(size, size), diagonal=m + 1).T
    wm = torch.triu(torch.ones(size, size), diagonal=width - m)
    insurance = torch.zeros((size, size))
    insurance[:width, :width] = 1
    insurance[-width:, -width:] = 1
    return torch.logical_or(torch.logical_xor(wm, mm), insurance.bool()).float()


def _gtcc_transcription(sequences, draws, n_components, delta, softmax_temp=0.1, max_gmm_iters=8):
    """GTCC_loss with gamma 1 (no drop network), alignment_variance 0, its random draws given."""
    total = None
    for i, primary in enumerate(sequences):
        n = primary.shape[0]
        margin = round(n * delta)
        rows, coin = draws[i]
        ind_bool = torch.zeros(n, dtype=torch.bool)
        ind_bool[rows] = True
        idx_range = torch.arange(0, n, dtype=torch.float)
        margin_identity = _margin_transcription(n, margin, coin)[ind_bool]
        for j, secondary in enumerate(sequences):
            if i == j:
                continue
            m = secondary.shape[0]
            cdist = torch.cdist(primary, secondary, p=2)[ind_bool]
            alpha_exp = torch.exp(-cdist / softmax_temp)
            alpha = (alpha_exp.T / (alpha_exp.sum(dim=1))).T
            gmm = torch.zeros((alpha.shape[0], n_components, m))
            spread = torch.zeros((alpha.shape[0], n_components))
            for u in range(alpha.shape[0]):
                gmm[u], spread[u] = _gmm_transcription(alpha[u], n_components, max_gmm_iters)
            snns = gmm @ secondary
            snn_cdist = torch.cdist(snns, primary.unsqueeze(0), p=2)
            betas = (margin_identity * torch.exp(-snn_cdist / softmax_temp).permute(1, 0, 2)).permute(1, 0, 2)
            betas = (betas.permute(2, 0, 1) / (betas.sum(dim=2) + 1e-6)).permute(1, 2, 0)
            mus = (betas @ idx_range).unsqueeze(-1)
            for t in range(len(rows)):
                align = torch.inner(torch.square(idx_range[ind_bool][t] - mus[t]).squeeze(), spread[t])
                total = align if total is None else total + align
    return total


def test_gtcc_loss__equals_the_repositorys_and_the_batched_fit_stays_close():
    """Per-row mixtures (the repository's fit): equal, values and gradients. Fitted together
    (``mixture_fit: batched``, the demo's): a different optimum, so within a few percent; the
    repository's own code measured both (docs/FIDELITY.md)."""
    g = torch.Generator().manual_seed(0)
    seqs = [torch.randn(t, 4, generator=g) * 0.3 for t in (20, 22)]
    draws = [(torch.randperm(20, generator=g)[:12].sort().values, False), (torch.arange(22)[::2], True)]
    settings = {"n_components": 2, "delta": 0.5, "mixture_steps": 2, "rows_per_video": 12}
    _check(lambda s: gtcc_loss(s, draws=draws, **settings),
           lambda s: _gtcc_transcription(s, draws, 2, 0.5, max_gmm_iters=2), seqs, rtol=1e-6)
    exact = gtcc_loss(seqs, draws=draws, **settings)
    batched = gtcc_loss(seqs, draws=draws, mixture_fit="batched", **settings)
    assert abs(float(batched / exact) - 1) < 0.1
    with pytest.raises(ValueError, match="drop network"):
        gtcc_loss(seqs, gamma=0.95)
    with pytest.raises(ValueError, match="delta must be in"):
        LossConfig.from_dict({"algorithm": "gtcc", "gtcc": {"delta": 0.01}})


def test_gtcc_cycle_window__is_the_repositorys_margin_matrix():
    for size, width in ((10, 5), (7, 2), (12, 12)):
        for backwards in (False, True):
            torch.testing.assert_close(cycle_window(size, width, backwards), _margin_transcription(size, width, backwards))
