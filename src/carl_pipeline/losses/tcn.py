"""Time-contrastive network (TCN) loss: the n-pairs loss on anchor and positive frames close in time.

Sermanet et al., "Time-Contrastive Networks: Self-Supervised Learning from Video", ICRA 2018
(single-view TCN), with the n-pairs loss of Sohn, "Improved Deep Metric Learning with Multi-class
N-pair Loss Objective", NeurIPS 2016, as CARL's released ``algos/tcn.py`` computes it. Each
training clip interleaves ``T/2`` anchor frames with one positive each, drawn at most
``POSITIVE_WINDOW`` (5) frames before its anchor (released ``datasets/pouring.py``:
``pos_steps = steps + randint(-pos_window, 0)``). Per clip, with anchors ``a`` and positives ``p``:

    L = CE(a @ p^T, diag) + 0.25 * lambda * (mean_k |a_k|^2 + mean_k |p_k|^2)

the cross-entropy of finding each anchor's own positive among the clip's positives (the other
anchors' positives are its negatives), plus an L2 penalty (released ``TCN.REG_LAMBDA`` 0.002); the
loss is the mean over clips. The similarity is a plain dot product, with no temperature.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from carl_pipeline.checks import check_ranges


@dataclass(frozen=True)
class TCNSettings:
    """TCN's own settings (``train.loss.tcn``).

    Attributes:
        positive_window: a positive lies 1 to this many frames before its anchor (released
            ``TCN.POSITIVE_WINDOW`` 5).
        reg_lambda: the L2 penalty's weight (released ``TCN.REG_LAMBDA`` 0.002).
    """

    positive_window: int = 5
    reg_lambda: float = 0.002

    def __post_init__(self):
        if isinstance(self.positive_window, bool) or not isinstance(self.positive_window, int):
            raise ValueError(f"positive_window must be a whole number of frames, got {self.positive_window!r}")
        check_ranges(self, {"positive_window": ">= 1", "reg_lambda": ">= 0"})


def time_contrastive_loss(
    embeddings: torch.Tensor,
    masks: torch.Tensor | None = None,
    reg_lambda: float = 0.002,
) -> torch.Tensor:
    """TCN's n-pairs loss on interleaved anchor/positive clips.

    Args:
        embeddings: ``(B, T, D)``; frames ``0, 2, 4, ...`` are anchors, frame ``2k + 1`` is the
            positive of anchor ``2k``. ``T`` must be even.
        masks: ``(B, T)``, 1 for valid frames. A pair whose anchor or positive is padding is
            neither a row nor a negative (the released code has no padding on Pouring: its clips
            are shorter than its videos). ``None``: all valid.
        reg_lambda: weight of the L2 penalty (released ``TCN.REG_LAMBDA``: 0.002).

    Returns:
        Scalar: the mean over clips of the n-pairs loss.
    """
    if embeddings.dim() != 3 or embeddings.shape[1] % 2:
        raise ValueError(f"embeddings must be (B, T, D) with T even (anchor, positive, ...), got {tuple(embeddings.shape)}")
    z = embeddings.float()
    anchors, positives = z[:, 0::2], z[:, 1::2]  # (B, T/2, D) each
    pairs = anchors.shape[1]
    if masks is None:
        pair_valid = torch.ones(z.shape[0], pairs, dtype=torch.bool, device=z.device)
    else:
        pair_valid = masks[:, 0::2].bool() & masks[:, 1::2].bool()  # (B, T/2)
    losses = []
    for a, p, valid in zip(anchors, positives, pair_valid, strict=True):
        a, p = a[valid], p[valid]
        if len(a) == 0:
            continue
        similarity = a @ p.T  # (P, P): anchor k against every positive of the clip
        xent = F.cross_entropy(similarity, torch.arange(len(a), device=z.device))
        l2 = 0.25 * reg_lambda * (a.square().sum(-1).mean() + p.square().sum(-1).mean())
        losses.append(xent + l2)
    if not losses:
        return z.sum() * 0.0  # no valid pair: a zero that keeps the graph
    return torch.stack(losses).mean()
