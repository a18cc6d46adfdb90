"""VAVA: video alignment by optimal transport with temporal priors and a virtual frame.

Liu et al., "Learning to Align Sequential Actions in the Wild", CVPR 2022. Each ordered pair of
different videos ``x`` ``(N, D)`` and ``y`` ``(M, D)`` is aligned by an entropic transport plan
``T`` ``(N+1, M+1)`` over their frames' distances with one virtual frame prepended to each (its
cost to every frame is ``zeta``: frames that match nothing go there). The plan is pushed towards
temporal priors, a diagonal one and, as training goes on, one around the plan's own best
matches, mixed by ``phi = clip(0.999^(step + 1), 0.001, 0.999)``:

    L = cost - lambda1 (N + M) I(T) + lambda2 (N M / 4) KL(T || P) + gamma (C(x) + C(y) + C(x, y))

``I`` the inverse-difference moment of the plan around the priors' diagonals, ``P`` the priors
(Gaussians of width ``delta`` around them), ``C(x)`` LAV's intra-video regulariser
(``carl_pipeline.losses.ops.intra_video_contrast``) and ``C(x, y)`` the cross-video term over the
plan's mutual best and worst matches. As the GTCC repository's ``VAVA_loss`` computes it
(gerardDonahue/GTCC_CVPR2024, ``utils/loss_functions.py`` with ``external_util/ot_pytorch.py``;
its inverse-difference and prior matrices, the ``sqrt(2 pi)`` factor included), summed over the
pairs; the plan from POT's Sinkhorn (``ops.sinkhorn_plan``; the repository's own Sinkhorn is the
same iteration) with ``reg = N`` and at most ``max_iterations`` iterations.

Two places where the repository's code and the paper part, each a setting (docs/FIDELITY.md):

- ``cost``: the repository's first term is ``1e6 sum(T) / ((N+1)(M+1))`` (``sink`` returns the
  plan's mass, not its cost: a constant, since the plan's mass is 1), ``repository``; the
  paper's is the transport cost ``<T, D>``, ``transport``.
- ``compound_weights``: the repository multiplies ``lambda1`` by ``N + M`` and ``lambda2`` by
  ``N M / 4`` in place, once per pair, so the weights grow with every pair of a batch
  (``true``: as the repository); ``false`` (default): each pair's weights as the paper writes them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from carl_pipeline.checks import check_choice, check_ranges
from carl_pipeline.losses.ops import intra_video_contrast, sinkhorn_plan

VAVA_COSTS = ("repository", "transport")


@dataclass(frozen=True)
class VAVASettings:
    """VAVA's own settings (``train.loss.vava``), the GTCC repository's ``VAVA_loss`` defaults.

    Attributes:
        max_iterations: Sinkhorn iterations (``maxIter`` 20).
        lambda1: the inverse-difference moment's weight, times ``N + M`` (1.0).
        lambda2: the KL to the priors' weight, times ``N M / 4`` (0.1).
        gamma: the contrastive terms' weight (0.5).
        zeta: the virtual frame's cost (0.5).
        delta: the priors' width (0.6).
        window: the intra-video regulariser's window (15).
        cost: ``repository`` or ``transport`` (module docstring).
        compound_weights: the repository's weights that grow pair by pair (module docstring).
    """

    max_iterations: int = 20
    lambda1: float = 1.0
    lambda2: float = 0.1
    gamma: float = 0.5
    zeta: float = 0.5
    delta: float = 0.6
    window: int = 15
    cost: str = "repository"
    compound_weights: bool = False

    def __post_init__(self):
        check_ranges(self, {"max_iterations": ">= 1", "lambda1": ">= 0", "lambda2": ">= 0", "gamma": ">= 0",
                            "zeta": ">= 0", "delta": "> 0", "window": ">= 1"})
        check_choice("cost", self.cost, VAVA_COSTS)


def prior_mix(global_step: int) -> float:
    """``phi``: the weight of the diagonal prior against the plan's own, ``0.999^(step + 1)``
    clipped to ``[0.001, 0.999]``."""
    return max(min(0.999 ** (global_step + 1), 0.999), 0.001)


def _index_matrices(plan: torch.Tensor):
    """The repository's matrices over a ``(N, M)`` plan (N, M counting the virtual frame): the
    normalised distance to the diagonal ``lc``, to the plan's best matches ``lo``, and the
    inverse-difference coefficients of both."""
    n, m = plan.shape
    rows = torch.arange(n, dtype=plan.dtype, device=plan.device)
    cols = torch.arange(m, dtype=plan.dtype, device=plan.device)
    scale = math.sqrt(1 / n**2 + 1 / m**2)
    diagonal = (cols[None, :] / m - rows[:, None] / n)  # (N, M)
    lc = diagonal.abs() / scale
    consistency = 1 / (diagonal.square() + 1)
    best_row, best_col = plan.argmax(dim=1), plan.argmax(dim=0)  # each row's and each column's best match
    # As the repository: both offsets divided by N (the rows' count).
    off_row, off_col = (rows - best_row) / n, (cols - best_col) / n  # (N,), (M,)
    lo = (off_col.abs()[None, :] + off_row.abs()[:, None]) / (2 * scale)
    optimality = 1 / (0.5 * (off_col.square()[None, :] + off_row.square()[:, None]) + 1)
    return lc, lo, consistency, optimality


def _mutual(plan: torch.Tensor, extreme: str) -> torch.Tensor:
    """1 where an entry is the max (``extreme`` "max") or min of both its row and its column."""
    reduce = torch.amax if extreme == "max" else torch.amin
    return ((plan == reduce(plan, dim=1, keepdim=True)) & (plan == reduce(plan, dim=0, keepdim=True))).to(plan.dtype)


def vava_loss(sequences: Sequence[torch.Tensor], max_iterations: int = 20, lambda1: float = 1.0, lambda2: float = 0.1,
              gamma: float = 0.5, zeta: float = 0.5, delta: float = 0.6, global_step: int = 0, window: int = 15,
              cost: str = "repository", compound_weights: bool = False) -> torch.Tensor:
    """VAVA's loss over every ordered pair of different sequences.

    Args:
        sequences: ``K >= 2`` tensors ``(T_k, D)``, one per video.
        global_step: the step (the repository passes the epoch) that sets ``phi`` (``prior_mix``).
        the rest: ``VAVASettings``.

    Returns:
        Scalar: the sum over the ``K (K - 1)`` ordered pairs.
    """
    if len(sequences) < 2:
        raise ValueError(f"VAVA aligns pairs of videos and needs at least two sequences, got {len(sequences)}")
    check_choice("cost", cost, VAVA_COSTS)
    phi = prior_mix(global_step)
    contrast = [intra_video_contrast(s, window) for s in sequences]
    total = sequences[0].new_zeros(())
    weight1, weight2 = lambda1, lambda2
    for i, x in enumerate(sequences):
        n = x.shape[0]
        for j, y in enumerate(sequences):
            if i == j:
                continue
            m = y.shape[0]
            if compound_weights:  # the repository's in-place update, carried from pair to pair
                weight1, weight2 = weight1 * (n + m), weight2 * (n * m) / 4.0
                w1, w2 = weight1, weight2
            else:
                w1, w2 = lambda1 * (n + m), lambda2 * (n * m) / 4.0
            distance = torch.cdist(x, y)  # (N, M)
            distance = torch.nn.functional.pad(distance, (1, 0, 1, 0), value=zeta)  # the virtual frame first
            plan = sinkhorn_plan(distance, reg=float(n), iterations=max_iterations)  # (N+1, M+1)
            lc, lo, consistency, optimality = _index_matrices(plan)
            gauss = 1 / delta * math.sqrt(2 * math.pi)  # the repository's factor, as written
            prior = phi * torch.exp(-lc.square() / (2 * delta**2)) * gauss + \
                (1 - phi) * torch.exp(-lo.square() / (2 * delta**2)) * gauss
            moment = phi * (plan * consistency).sum() + (1 - phi) * (plan * optimality).sum()
            p_t, p_p = plan + 1e-5, prior + 1e-5
            kl = (p_t * torch.log(p_t / p_p)).sum()
            if cost == "repository":
                transport = 1e6 * plan.sum() / ((n + 1) * (m + 1))
            else:
                transport = (plan * distance).sum()
            cross = ((_mutual(plan, "max") - _mutual(plan, "min")) * distance).sum()
            total = total + transport - w1 * moment + w2 * kl + gamma * (contrast[i] + contrast[j] + cross)
    return total
