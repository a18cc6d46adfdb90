"""The supervised reference: a per-frame phase classifier trained with the labels.

Not self-supervised: it is the upper reference the self-supervised methods are read against
(CARL's released ``algos/classification.py``, ``TRAINING_ALGO: classification``). A linear layer
on the encoder's frame embeddings predicts each sampled frame's label; the loss is the
cross-entropy over frames that are valid and labelled (label >= 0), averaged over them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def frame_classification_loss(logits: torch.Tensor, labels: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of per-frame class logits.

    Args:
        logits: ``(B, T, C)`` class scores of every sampled frame.
        labels: ``(B, T)`` long, the frame's class, ``-1`` where the frame has no label.
        masks: ``(B, T)``, 1 for valid (not padded) frames.

    Returns:
        Scalar: the mean cross-entropy over valid, labelled frames (0 with a graph when none).
    """
    if logits.dim() != 3 or labels.shape != logits.shape[:2] or masks.shape != logits.shape[:2]:
        raise ValueError(f"logits must be (B, T, C) with labels and masks (B, T); got {tuple(logits.shape)}, "
                         f"{tuple(labels.shape)}, {tuple(masks.shape)}")
    chosen = (labels >= 0) & masks.bool()
    if not chosen.any():
        return logits.sum() * 0.0
    if int(labels[chosen].max()) >= logits.shape[-1]:
        raise ValueError(f"label {int(labels[chosen].max())} but only {logits.shape[-1]} classes")
    return F.cross_entropy(logits[chosen].float(), labels[chosen].long())
