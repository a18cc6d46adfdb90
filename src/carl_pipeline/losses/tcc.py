"""Temporal cycle-consistency (TCC) cycle-back regression loss: the baseline algorithm.

Dwibedi et al., "Temporal Cycle-Consistency Learning", CVPR 2019, Sec. 3.2 (cycle-back
regression, ``regression_mse_var``). For frame ``i`` of sequence ``u``, its soft nearest
neighbour in sequence ``v`` is ``v~ = sum_j alpha_j v_j`` with ``alpha = softmax_j(-|u_i - v_j|^2 / (D tau))``
(TCC divides squared distances by the embedding size D); cycling back gives
``beta = softmax_k(-|v~ - u_k|^2 / (D tau))`` over ``u``'s frames, a Gaussian with
mean ``mu = sum_k beta_k t_k`` and variance ``sigma^2 = sum_k beta_k (t_k - mu)^2``. The loss is
``(t_i - mu)^2 / sigma^2 + lambda * log(sigma^2)`` averaged over valid frames and over every
ordered pair of distinct sequences in the batch.

With ``label_smoothing`` s > 0 the regression target of frame i is ``(1 - s) t_i + s x`` the mean
of ``t`` over u's other valid frames: CARL's released ``algos/tcc.py`` smooths the one-hot label
of the cycle's start (``LABEL_SMOOTHING: 0.1`` in every released config) and regresses onto
``sum_k label_k t_k``; without padding that is exactly this target.

The paper writes the variance term ``lambda * log(sigma)``; both TCC's and CARL's released code
(``algos/tcc.py``: ``variance_lambda * pred_time_log_var``) weight ``log(sigma^2)``, and so do we.

Which sequences are cycled is the caller's choice, through the views axis of ``embeddings``:
``(B, 1, T, D)``, one clip per video, is TCC as published (every pair is two different videos;
the released ``tcc_config.yml`` with ``SSL: false``); ``(B, 2, T, D)``, two augmented views per
video, is the released code's self-supervised variant (``SSL: true``: the 2B views are cycled
through each other, the two views of one video included).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from carl_pipeline.checks import check_choice, check_ranges

#: What TCC cycles between: one clip per video, cycled between videos (TCC as published), or two
#: augmented views per video, all cycled (the released code's ``SSL: true`` variant).
TCC_CYCLES = ("videos", "views")


@dataclass(frozen=True)
class TCCSettings:
    """TCC's own settings (``train.loss.tcc``); the softmax temperature is the shared ``loss.temperature``
    (released ``TCC.SOFTMAX_TEMPERATURE`` 0.1).

    Attributes:
        variance_lambda: weight of the log-variance term (released ``TCC.VARIANCE_LAMBDA`` 0.001).
        label_smoothing: the regression target is ``(1 - s) t_i + s x`` the mean of the other
            valid frames' ``t`` (released ``TCC.LABEL_SMOOTHING`` 0.1 in every config; 0: ``t_i``,
            the TCC paper's cycle-back regression).
        cycle: ``videos`` or ``views`` (``TCC_CYCLES``).
    """

    variance_lambda: float = 0.001
    label_smoothing: float = 0.0
    cycle: str = "videos"

    def __post_init__(self):
        check_ranges(self, {"variance_lambda": ">= 0", "label_smoothing": "in [0, 1)"})
        check_choice("cycle", self.cycle, TCC_CYCLES)


def cycle_back_regression_loss(
    embeddings: torch.Tensor,
    steps: torch.Tensor,
    seq_lens: torch.Tensor,
    masks: torch.Tensor,
    temperature: float = 0.1,
    variance_lambda: float = 0.001,
    normalize_indices: bool = True,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """TCC's cycle-back regression loss with the variance term (TCC's defaults).

    Args:
        embeddings: ``(B, V, T, D)``; the B*V sequences are cycled through each other.
        steps: ``(B, V, T)`` frame indices (the regression targets ``t``).
        seq_lens: ``(B, V)`` video lengths (indices are divided by them when ``normalize_indices``).
        masks: ``(B, V, T)``, 1 for valid frames.
        temperature: softmax temperature of both soft nearest neighbours (TCC: 0.1).
        variance_lambda: weight of ``log(sigma^2)`` (TCC: 0.001).
        label_smoothing: weight of the other frames' mean time in the target (released: 0.1;
            TCC paper: 0).

    Returns:
        Scalar loss.
    """
    batch, views, num_steps, dim = embeddings.shape
    if batch * views < 2:
        raise ValueError(f"TCC cycles between sequences and needs at least two; got {batch} video(s) x {views} view(s): "
                         "use a batch_size of 2 or more")
    z = embeddings.float().reshape(batch * views, num_steps, dim)  # (N, T, D)
    valid = masks.bool().reshape(batch * views, num_steps)  # (N, T)
    t = steps.float().reshape(batch * views, num_steps)
    if normalize_indices:
        t = t / seq_lens.float().reshape(batch * views, 1)
    if not 0 <= label_smoothing < 1:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    target = t
    if label_smoothing:
        # The mean over the other valid frames; a sequence with one valid frame has no others.
        others = (torch.where(valid, t, 0.0).sum(-1, keepdim=True) - t) / (valid.sum(-1, keepdim=True) - 1).clamp_min(1)
        target = (1 - label_smoothing) * t + label_smoothing * others
    n = z.shape[0]
    neg = torch.finfo(z.dtype).min
    # u -> v: (N_u, N_v, T_u, T_v) squared distances; alpha over v's valid frames.
    d_uv = torch.cdist(z[:, None], z[None, :]).square()  # broadcasting gives (N, N, T, T)
    scale = dim * temperature
    alpha = torch.softmax((-d_uv / scale).masked_fill(~valid[None, :, None, :], neg), dim=-1)
    v_tilde = alpha @ z[None, :]  # (N_u, N_v, T_u, D)
    # back to u: (N_u, N_v, T_u, T_u)
    d_back = torch.cdist(v_tilde, z[:, None].expand(n, n, num_steps, dim)).square()
    beta = torch.softmax((-d_back / scale).masked_fill(~valid[:, None, None, :], neg), dim=-1)
    mu = (beta * t[:, None, None, :]).sum(-1)  # (N_u, N_v, T_u)
    var = (beta * (t[:, None, None, :] - mu[..., None]).square()).sum(-1).clamp_min(1e-12)
    per_frame = (target[:, None, :] - mu).square() / var + variance_lambda * torch.log(var)
    pair_mask = valid[:, None, :] & ~torch.eye(n, dtype=torch.bool, device=z.device)[..., None]
    return (per_frame * pair_mask).sum() / pair_mask.sum().clamp_min(1)
