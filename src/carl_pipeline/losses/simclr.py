"""SimCLR's normalised temperature-scaled cross-entropy (NT-Xent) on frames.

Chen et al., "A Simple Framework for Contrastive Learning of Visual Representations", ICML 2020,
Sec. 2.1, Eq. (1). For ``N`` frames with two augmented views each (``2N`` embeddings), the
positive of view ``k`` is the other view of the same frame; the other ``2N - 2`` embeddings are
its negatives:

    l(k) = -log( exp(sim(z_k, z_pos(k)) / tau) / sum_{m != k} exp(sim(z_k, z_m) / tau) )

with ``sim`` the cosine similarity; the loss is the mean of ``l`` over all ``2N`` views.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def nt_xent_loss(view_a: torch.Tensor, view_b: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """NT-Xent of two views of ``N`` frames.

    Args:
        view_a, view_b: ``(N, D)`` projections of the two views (row ``i`` of both: frame ``i``).
        temperature: tau (SimCLR: 0.1-0.5).

    Returns:
        Scalar: the mean over the ``2N`` views of the cross-entropy of finding the other view.
    """
    if view_a.shape != view_b.shape or view_a.dim() != 2:
        raise ValueError(f"views must both be (N, D), got {tuple(view_a.shape)} and {tuple(view_b.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    count = view_a.shape[0]
    z = F.normalize(torch.cat([view_a, view_b]).float(), dim=-1)  # (2N, D)
    logits = z @ z.T / temperature  # (2N, 2N)
    logits = logits.masked_fill(torch.eye(2 * count, dtype=torch.bool, device=z.device), float("-inf"))
    positives = torch.cat([torch.arange(count, 2 * count), torch.arange(count)]).to(z.device)
    return F.cross_entropy(logits, positives)


def frame_contrastive_loss(embeddings: torch.Tensor, masks: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """SimCLR on the frames of a batch of clips: NT-Xent with the same frame in the other
    augmented view as the positive and every other frame of the batch (other times of the same
    video, other videos, both views) as negatives.

    Args:
        embeddings: ``(B, 2, T, D)``: two augmented views of the *same* frames (``[:, 0, t]`` and
            ``[:, 1, t]`` show one frame).
        masks: ``(B, 2, T)``, 1 for valid frames; a frame is used when both views are valid.
        temperature: tau.

    Returns:
        Scalar NT-Xent over the ``2N`` views of the ``N`` valid frames.
    """
    if embeddings.dim() != 4 or embeddings.shape[1] != 2:
        raise ValueError(f"embeddings must be (B, 2, T, D), got {tuple(embeddings.shape)}")
    valid = masks[:, 0].bool() & masks[:, 1].bool()  # (B, T)
    return nt_xent_loss(embeddings[:, 0][valid], embeddings[:, 1][valid], temperature)
