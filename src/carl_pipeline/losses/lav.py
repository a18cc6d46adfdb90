"""LAV: learning by aligning videos in time.

Haresh et al., "Learning by Aligning Videos in Time", CVPR 2021. Every ordered pair of different
videos ``(x, y)`` of a batch is aligned by soft-DTW of their frames' squared Euclidean distances,
and each video's frames are kept apart in time by the intra-video contrastive regulariser:

    L = sum over ordered pairs (x, y), x != y, of  sdtw_gamma(x, y) + c * (I(x) + I(y))

with ``I`` the regulariser (``carl_pipeline.losses.ops.intra_video_contrast``: window 15, margin 2)
and ``c`` its weight; as the GTCC repository's ``LAV_loss`` computes it (gerardDonahue/
GTCC_CVPR2024, ``utils/loss_functions.py``; the baseline of GTCC's paper): a sum, not a mean,
over the pairs; soft-DTW not normalised (no divergence terms). Checked against that function,
values and gradients: docs/FIDELITY.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from carl_pipeline.checks import check_ranges
from carl_pipeline.losses.ops import intra_video_contrast, soft_dtw, squared_distances


@dataclass(frozen=True)
class LAVSettings:
    """LAV's own settings (``train.loss.lav``), the GTCC repository's defaults.

    Attributes:
        gamma: soft-DTW's smoothing (repository ``LAV_PARAMS.min_temp`` 0.1).
        contrast_weight: the regulariser's weight (repository ``cr_coefficient`` 0.01).
        window: the regulariser's window in frames (repository: 15, fixed in ``LAV_loss``).
        margin: the regulariser's margin (repository: 2).
    """

    gamma: float = 0.1
    contrast_weight: float = 0.01
    window: int = 15
    margin: float = 2.0

    def __post_init__(self):
        check_ranges(self, {"gamma": "> 0", "contrast_weight": ">= 0", "window": ">= 1", "margin": ">= 0"})


def lav_loss(sequences: Sequence[torch.Tensor], gamma: float = 0.1, contrast_weight: float = 0.01,
             window: int = 15, margin: float = 2.0) -> torch.Tensor:
    """LAV's loss over every ordered pair of different sequences.

    Args:
        sequences: ``K >= 2`` tensors ``(T_k, D)``, one per video (lengths may differ).
        gamma, contrast_weight, window, margin: ``LAVSettings``.

    Returns:
        Scalar: the sum over the ``K (K - 1)`` ordered pairs.
    """
    if len(sequences) < 2:
        raise ValueError(f"LAV aligns pairs of videos and needs at least two sequences, got {len(sequences)}")
    contrast = [intra_video_contrast(s, window, margin) for s in sequences]
    total = sequences[0].new_zeros(())
    for i, x in enumerate(sequences):
        for j, y in enumerate(sequences):
            if i != j:
                total = total + soft_dtw(squared_distances(x, y), gamma) + contrast_weight * (contrast[i] + contrast[j])
    return total

