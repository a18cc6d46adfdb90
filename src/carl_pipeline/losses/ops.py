"""What the alignment losses (LAV, VAVA, GTCC) share: a batch as per-video sequences, soft-DTW,
an entropic optimal-transport plan and the intra-video contrastive regulariser.

Soft-DTW is written here, in torch, and not taken from a library: the package lists offer
``tslearn`` (``SoftDTWLossPyTorch``, kept up, numba kernels; it pulls numba, llvmlite and
statsmodels) and ``pysdtw`` (last release 2022). Measured on this machine
(benchmarks/bench_softdtw.py, benchmarks/RESULTS.md): once compiled, tslearn's is 5.7x faster per
call on the CPU (8 ms against 47 ms for 12 pairs of 32 frames), but it compiles for 17 s in every
fresh process before its first value, which is the whole of a demo LAV run's soft-DTW time
(~400 steps), and its kernels run on NumPy, so a CUDA batch makes a round trip per call. This
anti-diagonal recursion is autograd's own (no hand-written backward), runs where its inputs are,
and gives the reference's values (tests/losses/test_alignment_losses.py checks it against a
transcription of the reference's loop; its gradient matches a float64 finite difference to 1e-9).
Swapping in tslearn's is a change to ``soft_dtw`` alone.

The transport plan comes from POT (``ot.sinkhorn``, Flamary et al., JMLR 2021), which
differentiates through its iterations with its torch backend. POT imports TensorFlow and JAX
when they are installed, for their backends; TensorFlow beside torch and torchvision crashes
this process (README, the machine's notes), so those backends are switched off before POT loads.
"""

from __future__ import annotations

import os

import torch


def valid_sequences(outputs: torch.Tensor, masks: torch.Tensor) -> list[torch.Tensor]:
    """The valid frames of each clip of a batch: ``outputs`` ``(B, V, T, D)`` and ``masks``
    ``(B, V, T)`` -> ``B * V`` tensors ``(T_valid, D)`` (an all-padding clip is left out)."""
    flat, valid = outputs.flatten(0, 1), masks.flatten(0, 1).bool()
    return [clip[keep] for clip, keep in zip(flat, valid, strict=True) if keep.any()]


def soft_dtw(cost: torch.Tensor, gamma: float) -> torch.Tensor:
    """Soft-DTW (Cuturi & Blondel, "Soft-DTW: a Differentiable Loss Function for Time-Series",
    ICML 2017) of cost matrices: ``R[i, j] = cost[i, j] + softmin_gamma(R[i-1, j-1], R[i-1, j],
    R[i, j-1])`` with ``R[0, 0] = 0`` and the rest of the borders infinite; the value is ``R[N, M]``.

    Computed one anti-diagonal at a time (every cell of a diagonal depends only on the two before
    it), so a batch of ``N x M`` matrices takes ``N + M - 1`` vector steps; autograd gives the
    gradient.

    Args:
        cost: ``(B, N, M)`` (or ``(N, M)``) pairwise costs.
        gamma: the smoothing (> 0; soft-DTW tends to DTW as it goes to 0).

    Returns:
        ``(B,)`` (or a scalar): the soft-DTW values.
    """
    if gamma <= 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    squeeze = cost.dim() == 2
    cost = cost[None] if squeeze else cost
    batch, n, m = cost.shape
    # A large finite border instead of infinity: its softmin weight is exactly 0 and its
    # gradient stays finite (an all-infinite logsumexp would back-propagate NaN).
    big = torch.finfo(cost.dtype).max / 16
    rows = torch.arange(n + 1, device=cost.device)  # a diagonal is indexed by its row i
    padded = torch.nn.functional.pad(cost, (1, 0, 1, 0), value=0.0)  # (B, N+1, M+1): cost[i-1, j-1] at [i, j]
    before = torch.full((batch, n + 1), big, dtype=cost.dtype, device=cost.device)  # diagonal i + j = 0
    before = torch.where(rows == 0, torch.zeros_like(before), before)
    last = torch.full_like(before, big)  # diagonal 1: R[0, 1], R[1, 0], both border
    for d in range(2, n + m + 1):
        cols = d - rows
        valid = (rows >= 1) & (cols >= 1) & (cols <= m)
        here = padded[:, rows, cols.clamp(0, m)]  # (B, N+1): cost on this diagonal
        up_left = torch.nn.functional.pad(before[:, :-1], (1, 0), value=big)  # R[i-1, j-1]
        up = torch.nn.functional.pad(last[:, :-1], (1, 0), value=big)  # R[i-1, j]
        left = last  # R[i, j-1]
        soft_min = -gamma * torch.logsumexp(torch.stack([up_left, up, left]) / -gamma, dim=0)
        before, last = last, torch.where(valid, here + soft_min, big)
    value = last[:, n]
    return value[0] if squeeze else value


def squared_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(..., N, M)`` squared Euclidean distances of ``x`` ``(..., N, D)`` and ``y`` ``(..., M, D)``,
    as the difference of the points (no ``|x|^2 + |y|^2 - 2xy`` cancellation)."""
    return (x[..., :, None, :] - y[..., None, :, :]).square().sum(-1)


def intra_video_contrast(sequence: torch.Tensor, window: int = 15, margin: float = 2.0) -> torch.Tensor:
    """LAV's intra-video contrastive regulariser (Haresh et al., CVPR 2021, Eq. 5), as the GTCC
    repository's ``IntraContrast_loss`` computes it.

    Frames further apart in time than ``window`` are pushed at least ``margin`` apart in the
    embedding, weighted by their squared time difference plus one; for frames within the window
    the repository adds ``W_ij * margin``, a constant (no distance in it: no gradient), kept so
    the value matches.

    Args:
        sequence: ``(T, D)`` one video's embeddings.
        window: frames with ``|i - j| < window`` are neighbours.
        margin: the least distance of two frames outside the window.

    Returns:
        Scalar: the sum over every ordered pair of frames.
    """
    t = sequence.shape[0]
    index = torch.arange(t, device=sequence.device, dtype=sequence.dtype)
    distance = torch.cdist(sequence, sequence)  # (T, T)
    near = ((index[:, None] - index[None, :]).abs() < window).to(sequence.dtype)
    weight = (index[:, None] - index[None, :]).square() + 1
    outside = (1 - near) * weight * torch.relu(margin - distance)
    inside = near * weight * margin
    return (outside + inside).sum()


def _ot():
    for backend in ("TENSORFLOW", "JAX", "CUPY"):
        os.environ.setdefault(f"POT_BACKEND_DISABLE_{backend}", "1")
    import ot

    return ot


def sinkhorn_plan(cost: torch.Tensor, reg: float, iterations: int, stop: float = 1e-9) -> torch.Tensor:
    """The entropic optimal-transport plan between uniform marginals (Cuturi, NeurIPS 2013), by
    POT's Sinkhorn-Knopp iterations, differentiable through them.

    Args:
        cost: ``(N, M)`` costs.
        reg: the entropic regularisation (the kernel is ``exp(-cost / reg)``).
        iterations: at most this many Sinkhorn iterations.
        stop: POT's stopping threshold on the marginal error, checked every 10 iterations.

    Returns:
        ``(N, M)`` the plan; its rows sum to ``1/N``.
    """
    n, m = cost.shape
    a = torch.full((n,), 1.0 / n, dtype=cost.dtype, device=cost.device)
    b = torch.full((m,), 1.0 / m, dtype=cost.dtype, device=cost.device)
    return _ot().sinkhorn(a, b, cost, reg, method="sinkhorn", numItermax=iterations, stopThr=stop, warn=False)
