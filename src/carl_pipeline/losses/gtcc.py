"""GTCC: generalised temporal cycle-consistency.

Donahue & Elhamifar, "Learning to Predict Activity Progress by Self-Supervised Video Alignment",
CVPR 2024. TCC's cycle (frame ``i`` of ``x`` -> a soft nearest neighbour in ``y`` -> back to
``x``, regressing ``i``) with two changes for videos whose steps repeat or come in another
order: the soft neighbour distribution over ``y`` is fitted with a mixture of ``K`` Gaussians and
each component cycles back on its own (a frame may match several places), weighted by the
component's weight; and the cycle back may land only in a window of ``round(delta T)`` frames
before or after ``i`` (drawn at random per video), plus both ends of the video.

For each ordered pair of different videos ``(x, y)`` and ``R`` rows of ``x`` drawn at random
(``rows_per_video``, 20): ``alpha = softmax_j(-|x_i - y_j| / tau)``; a mixture fitted to
``alpha`` (``fit_mixture``; fitted on a detached copy, so no gradient flows through it) gives
``K`` distributions ``g_k`` over ``y`` and weights ``w_k``; ``s_k = g_k y``; ``beta_k`` the
softmax of ``-|s_k - x_l| / tau`` over the window's frames ``l``; ``mu_k = sum_l beta_kl l``; the
loss adds ``sum_k w_k (i - mu_k)^2`` (and ``lambda log(sigma_k)`` when ``alignment_variance`` > 0).
The loss is the sum over pairs and rows, as the GTCC repository's ``GTCC_loss`` computes it
(gerardDonahue/GTCC_CVPR2024, ``utils/loss_functions.py`` with ``utils/tensorops.py``
``get_gmm_lfbgf``): checked against it, values and gradients (docs/FIDELITY.md).

Not built: the repository's drop network (``gamma`` < 1, its in-the-wild setting: a learned
per-frame weight that lets background frames opt out of the cycle); ``gamma`` must be 1, its
value for trimmed datasets (``configs/entry_config.py``: ``default_gamma_for_dset``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from carl_pipeline.checks import check_choice, check_ranges

MIXTURE_FITS = ("per_row", "batched")


@dataclass(frozen=True)
class GTCCSettings:
    """GTCC's own settings (``train.loss.gtcc``), the GTCC repository's values for trimmed
    datasets (``configs/generic_config.py`` ``GTCC_PARAMS``, ``configs/entry_config.py``).

    Attributes:
        temperature: the soft neighbours' temperature (``softmax_temp`` 0.1), on distances (not
            squared, not divided by D: unlike TCC's).
        n_components: the mixture's components ``K`` (5; in-the-wild datasets 15).
        delta: the cycle-back window, a fraction of the video (0.5; in the wild 0.2; 0.05 to 1).
        rows_per_video: frames of each video cycled per pair (the repository's 20).
        mixture_steps: L-BFGS steps of each mixture fit (``max_gmm_iters`` 8).
        alignment_variance: weight of ``log(sigma)`` (0: none).
        gamma: the drop network's floor; only 1 (no drop network) is built.
        mixture_fit: ``per_row`` (the repository: one L-BFGS per row, ``R x pairs`` of them a
            batch) or ``batched`` (one L-BFGS over every row of a pair together: each row's fit
            minimises its own divergence, but the line search and the curvature memory are
            shared, so the fits differ; docs/FIDELITY.md gives the measured effect and speed).
    """

    temperature: float = 0.1
    n_components: int = 5
    delta: float = 0.5
    rows_per_video: int = 20
    mixture_steps: int = 8
    alignment_variance: float = 0.0
    gamma: float = 1.0
    mixture_fit: str = "per_row"

    def __post_init__(self):
        check_choice("mixture_fit", self.mixture_fit, MIXTURE_FITS)
        check_ranges(self, {"temperature": "> 0", "n_components": ">= 1", "rows_per_video": ">= 1",
                            "mixture_steps": ">= 1", "alignment_variance": ">= 0"})
        if not 0.05 <= self.delta <= 1:
            raise ValueError(f"delta must be in [0.05, 1] (the repository's assertion), got {self.delta}")
        if self.gamma != 1:
            raise ValueError(f"gamma must be 1, got {self.gamma}: GTCC's drop network (gamma < 1, the repository's "
                             "in-the-wild setting) is not built")


def _fit_one(probability: torch.Tensor, n_components: int, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``fit_mixture`` of one row, operation for operation as ``get_gmm_lfbgf`` (the fit turns
    the last bit of a changed rounding into a different optimum: a batched transcription of the
    same formulas moves the loss by about 1%)."""
    with torch.enable_grad():
        probability = probability.detach().float()
        m = probability.shape[0]
        arange = torch.arange(m, dtype=torch.float32, device=probability.device)
        means = torch.nn.Parameter(torch.tensor([1 + i * (m - 2) / n_components for i in range(n_components)],
                                                dtype=torch.float32, device=probability.device))
        variances = torch.nn.Parameter(torch.tensor([m] * n_components, dtype=torch.float32, device=probability.device))
        spreads = torch.nn.Parameter(torch.tensor([1] * n_components, dtype=torch.float32, device=probability.device))

        def gaussians(mu, var):
            std = torch.sqrt(torch.clamp(var.view(-1, 1), 0.5))
            mu = torch.clamp(mu.view(-1, 1), 0, m - 1)
            g = torch.exp(-0.5 * (torch.subtract(arange, mu) / std) ** 2) / (std * (2 * torch.pi) ** 0.5)
            return torch.divide(g.T, g.sum(dim=1)).T

        def closure():
            optimizer.zero_grad()
            mixture = torch.softmax(spreads, dim=0) @ gaussians(means, variances)
            g_log = torch.log(mixture + 1e-30)
            p_log = torch.log(probability + 1e-30)
            value = torch.sum(torch.sum(probability * (p_log - g_log))) + torch.sum(torch.sum(mixture * (g_log - p_log)))
            value.backward()
            return value

        optimizer = torch.optim.LBFGS([{"params": [means, variances, spreads]}], history_size=10, max_iter=4,
                                      line_search_fn="strong_wolfe", lr=0.5)
        for _ in range(steps):
            optimizer.step(closure)
        return gaussians(means, variances).detach(), torch.softmax(spreads, dim=0).detach()


def fit_mixture(probability: torch.Tensor, n_components: int, steps: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """A mixture of ``n_components`` discretised Gaussians fitted to each row of ``probability``
    by the repository's ``get_gmm_lfbgf``: the symmetric KL divergence minimised by L-BFGS
    (``steps`` steps of at most 4 iterations, strong Wolfe line search, history 10, lr 0.5),
    means initialised evenly over the frames, variances at ``M``, weights equal.

    Args:
        probability: ``(M,)`` one distribution over ``M`` frames, or ``(R, M)`` several: then
            fitted together, one L-BFGS over all rows' parameters and the sum of their
            divergences (``GTCCSettings.mixture_fit``: ``batched``); fitted detached, in float32
            (as the repository).

    Returns:
        ``([R,] K, M)`` each component normalised over the frames, and ``([R,] K)`` the weights.
    """
    if probability.dim() == 1:
        return _fit_one(probability, n_components, steps)
    with torch.enable_grad():
        probability = probability.detach().float()
        rows, m = probability.shape
        device = probability.device
        arange = torch.arange(m, dtype=torch.float32, device=device)
        start = torch.tensor([1 + i * (m - 2) / n_components for i in range(n_components)], dtype=torch.float32,
                             device=device)
        means = torch.nn.Parameter(start.repeat(rows, 1))  # (R, K)
        variances = torch.nn.Parameter(torch.full((rows, n_components), float(m), device=device))
        spreads = torch.nn.Parameter(torch.ones(rows, n_components, device=device))
        p_log = torch.log(probability + 1e-30)

        def gaussians(mu, var):  # (R, K) each -> (R, K, M)
            std = torch.sqrt(torch.clamp(var[..., None], 0.5))
            mu = torch.clamp(mu[..., None], 0, m - 1)
            g = torch.exp(-0.5 * ((arange - mu) / std) ** 2) / (std * (2 * torch.pi) ** 0.5)
            return g / g.sum(dim=-1, keepdim=True)

        def objective():
            mixture = (torch.softmax(spreads, dim=-1)[:, None, :] @ gaussians(means, variances))[:, 0]  # (R, M)
            g_log = torch.log(mixture + 1e-30)
            return torch.sum(probability * (p_log - g_log)) + torch.sum(mixture * (g_log - p_log))

        optimizer = torch.optim.LBFGS([means, variances, spreads], history_size=10, max_iter=4,
                                      line_search_fn="strong_wolfe", lr=0.5)

        def closure():
            optimizer.zero_grad()
            value = objective()
            value.backward()
            return value

        for _ in range(steps):
            optimizer.step(closure)
        return gaussians(means, variances).detach(), torch.softmax(spreads, dim=-1).detach()


def cycle_window(size: int, width: int, backwards: bool) -> torch.Tensor:
    """The repository's ``create_stochastic_margin_identity_matrix``: ``(T, T)``, row ``i`` 1 on
    the ``width`` frames from ``i`` on (``backwards``: the ``width`` frames before ``i``), and on
    the first and the last ``width`` x ``width`` blocks."""
    shift = width if backwards else 0
    ones = torch.ones(size, size)
    before = 1 - torch.triu(ones, diagonal=shift + 1).T
    after = torch.triu(ones, diagonal=width - shift)
    ends = torch.zeros(size, size, dtype=torch.bool)
    ends[:width, :width] = True
    ends[-width:, -width:] = True
    return torch.logical_or(torch.logical_xor(after, before), ends).float()


def draw_rows(lengths: Sequence[int], rows_per_video: int = 20) -> list[tuple[torch.Tensor, bool]]:
    """Per video, the rows GTCC cycles (``rows_per_video`` frames at random, in order) and the
    side of its window, drawn as the repository draws them (torch's and NumPy's global
    generators, in that order, per video)."""
    draws = []
    for n in lengths:
        rows = torch.randperm(n)[:rows_per_video].sort().values
        draws.append((rows, bool(np.random.choice([0, 1]))))
    return draws


def gtcc_loss(sequences: Sequence[torch.Tensor], temperature: float = 0.1, n_components: int = 5, delta: float = 0.5,
              rows_per_video: int = 20, mixture_steps: int = 8, alignment_variance: float = 0.0, gamma: float = 1.0,
              mixture_fit: str = "per_row", draws: Sequence[tuple[torch.Tensor, bool]] | None = None) -> torch.Tensor:
    """GTCC's loss over every ordered pair of different sequences.

    Args:
        sequences: ``K >= 2`` tensors ``(T_k, D)``, one per video.
        draws: per video, its rows and window side (``draw_rows``; None: drawn here).
        the rest: ``GTCCSettings``.

    Returns:
        Scalar: the sum over pairs and rows.
    """
    GTCCSettings(temperature, n_components, delta, rows_per_video, mixture_steps, alignment_variance, gamma, mixture_fit)
    if len(sequences) < 2:
        raise ValueError(f"GTCC cycles between videos and needs at least two sequences, got {len(sequences)}")
    draws = draws if draws is not None else draw_rows([len(s) for s in sequences], rows_per_video)
    total = sequences[0].new_zeros(())
    for i, x in enumerate(sequences):
        n = x.shape[0]
        rows, backwards = draws[i]
        rows = rows.to(x.device)
        index = torch.arange(n, dtype=x.dtype, device=x.device)
        window = cycle_window(n, round(n * delta), backwards).to(x.device, x.dtype)[rows]  # (R, T_x)
        for j, y in enumerate(sequences):
            if i == j:
                continue
            with torch.no_grad():  # the mixture is fitted to a detached copy: no gradient through alpha
                logits = -torch.cdist(x, y)[rows] / temperature  # (R, T_y)
                # exp / sum as the repository (the L-BFGS fit is sensitive to the last bit of its
                # input: softmax's rounding moves the loss by up to 1% and its gradient by 8%,
                # docs/FIDELITY.md); a row whose exponentials all underflow, where the repository
                # gets 0/0, takes the softmax instead.
                alpha_exp = torch.exp(logits)
                total_exp = alpha_exp.sum(dim=1, keepdim=True)
                alpha = torch.where(total_exp > 0, alpha_exp / total_exp, torch.softmax(logits, dim=1))
            if mixture_fit == "batched":
                mixtures, weights = fit_mixture(alpha, n_components, mixture_steps)
            else:
                fits = [fit_mixture(a, n_components, mixture_steps) for a in alpha]
                mixtures, weights = torch.stack([f[0] for f in fits]), torch.stack([f[1] for f in fits])
            mixtures, weights = mixtures.to(x.dtype), weights.to(x.dtype)  # (R, K, T_y), (R, K)
            neighbours = mixtures @ y  # (R, K, D)
            back = window[:, None, :] * torch.exp(-torch.cdist(neighbours, x[None]) / temperature)  # (R, K, T_x)
            beta = back / (back.sum(dim=2, keepdim=True) + 1e-6)
            mu = beta @ index  # (R, K)
            error = (index[rows][:, None] - mu).square()
            if alignment_variance > 0:
                variance = (beta * (index - mu[..., None]).square()).sum(2)
                error = error + alignment_variance * torch.log(torch.sqrt(variance) + 1e-20)
            total = total + (error * weights).sum()
    return total
