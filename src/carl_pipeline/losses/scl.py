"""Sequence contrastive loss (SCL) of CARL.

Chen et al., "Frame-wise Action Representations for Long Videos via Sequence Contrastive
Learning", CVPR 2022, Sec. 3.3. For frame ``i`` of one view and every frame ``j`` of the other
view of the same video, the prediction is the softmax over ``j`` of ``cos(z_i, z_j) / tau``; the
target is a Gaussian of the timestamp distance, normalised over ``j``; the loss is the KL
divergence from target to prediction, in both directions, averaged over valid frames. Padded
frames are neither predicted nor predicted from.

Which frames the softmax runs over (the negatives) is the released code's ``SCL.NEGATIVE_TYPE``:

- ``single_noself`` (the paper's, released default): only the other view of the same video. Computed
  per video as ``(B, T, T)`` batched matrices: no ``(2BT)^2`` all-pairs matrix, no loop over the batch.
- ``batch_noself`` (released ``scl_transformer_k400_pretrain_config.yml``, Kinetics-400
  pre-training): the other view of the same video and every frame of both views of the batch's
  other videos; never the frame's own view. The target stays on the same video's other view.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from carl_pipeline.checks import check_choice, check_ranges


def timestamp_distance(steps: torch.Tensor, seq_lens: torch.Tensor) -> torch.Tensor:
    """Distance between the timestamps of view 0's and view 1's frames, per video.

    Timestamps of view 0 are rescaled to view 1's length (the same length for two views of one
    video, so this is ``|s_i - s_j|``).

    Args:
        steps: ``(B, 2, T)`` frame indices.
        seq_lens: ``(B, 2)`` video lengths.

    Returns:
        ``(B, T, T)``: entry ``[b, i, j]`` is the distance of view-0 frame i to view-1 frame j.
    """
    steps = steps.float()
    lens = seq_lens.float()
    s0 = steps[:, 0, :, None] / lens[:, 0, None, None] * lens[:, 1, None, None]  # (B, T, 1)
    return (s0 - steps[:, 1, None, :]).abs()


#: How SCL's Gaussian target is computed (``SCLSettings.target``).
SCL_TARGETS = ("exact", "released")


def gaussian_targets(distance: torch.Tensor, valid_j: torch.Tensor, variance: float,
                     released_dtype: torch.dtype | None = None) -> torch.Tensor:
    """Target distribution over ``j``: ``exp(-d^2 / (2 variance))`` over valid ``j``, normalised.

    Exact (``released_dtype`` None): a softmax of ``-d^2 / (2 variance)`` over the valid ``j``, in
    log space, so every row with a valid ``j`` has its target, however far its partners lie.

    As released (``released_dtype`` the dtype of the released code's logits): ``algos/scl.py``
    takes the exponentials in float32, casts them to the logits' dtype (``type_as(logits)``:
    float16 under ``torch.cuda.amp``, which every released config enables) and divides by their
    row sum (float32; ``safe_div`` turns 0/0 into 0). A row whose valid partners all lie so far
    that every exponential underflows (at variance 10: 46 frames or more in float32, 19 or more
    in float16) gets an all-zero target and drops out of the loss, while still counted in the
    loss's denominator.

    Args:
        distance: ``(B, T, T)`` timestamp distances.
        valid_j: ``(B, 1, T)`` bool, the valid frames of the predicted view.
        released_dtype: None for the exact target; else the dtype to reproduce the released one in.

    Returns:
        ``(B, T, T)`` float32, each row sums to 1 (0 for a row with no valid ``j``, and as released
        for a row that underflows).
    """
    if released_dtype is not None:
        weights = torch.exp(-distance.float().square() / (2 * variance)).masked_fill(~valid_j, 0.0)
        weights = weights.to(released_dtype).float()  # the underflow happens here, as in type_as(logits)
        total = weights.sum(-1, keepdim=True)
        # (no clamp of the sum: a row of subnormal weights alone is still a distribution)
        targets = torch.where(total > 0, weights / total, 0.0)
        return targets.to(released_dtype).float()  # the released label matrix has the logits' dtype
    log_weights = (-distance.square() / (2 * variance)).masked_fill(~valid_j, float("-inf"))
    any_valid = valid_j.any(-1, keepdim=True)
    # A row without valid j would be a softmax of -inf only (NaN): give it finite logits, then 0.
    targets = torch.softmax(torch.where(any_valid, log_weights, 0.0), dim=-1)
    return torch.where(any_valid & valid_j, targets, 0.0)


def _masked_log_softmax(logits, allowed):
    """log softmax over the allowed ``j`` of each row (0 elsewhere)."""
    # The most negative finite value, not -inf: a row with no allowed j then stays finite (its
    # terms are zeroed by the caller) and so does its gradient.
    logits = logits.masked_fill(~allowed, torch.finfo(logits.dtype).min)
    return F.log_softmax(logits, dim=-1).masked_fill(~allowed, 0.0)


def _kl(log_prob, targets, valid_i):
    """Sum over valid rows of KL(target_i || prediction_i); ``(B, T, T)`` inputs."""
    kl = torch.xlogy(targets, targets) - targets * log_prob  # 0 where target is 0
    return (kl.sum(-1) * valid_i).sum()


def _direction_kl(logits, targets, valid_i, valid_j):
    """Sum over valid rows of KL(target_i || softmax_j(logits_i)) with invalid j excluded."""
    return _kl(_masked_log_softmax(logits, valid_j), targets, valid_i)


NEGATIVES = ("single_noself", "batch_noself")


@dataclass(frozen=True)
class SCLSettings:
    """SCL's own settings (``train.loss.scl``); the softmax temperature is the shared ``loss.temperature``.

    Attributes:
        variance: variance of the Gaussian target over timestamp distance (paper 10, released
            ``SCL.LABEL_VARIENCE``).
        negatives: released ``SCL.NEGATIVE_TYPE``: ``single_noself`` (the other view of the same
            video; paper) or ``batch_noself`` (and every frame of the batch's other videos).
        target: ``exact`` (the paper's formula, computed in log space: every valid row keeps its
            target) or ``released`` (``algos/scl.py``: the exponentials in the dtype of the released
            logits, so a row whose valid partners all lie beyond ~46 frames, ~19 under fp16,
            underflows to zero and drops out of the loss).
    """

    variance: float = 10.0
    negatives: str = "single_noself"
    target: str = "exact"

    def __post_init__(self):
        check_ranges(self, {"variance": "> 0"})
        check_choice("negatives", self.negatives, NEGATIVES)
        check_choice("target", self.target, SCL_TARGETS)


def sequence_contrastive_loss(
    embeddings: torch.Tensor,
    steps: torch.Tensor,
    seq_lens: torch.Tensor,
    masks: torch.Tensor,
    temperature: float = 0.1,
    variance: float = 10.0,
    negatives: str = "single_noself",
    target: str = "exact",
    released_dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """CARL's sequence contrastive loss.

    Args:
        embeddings: ``(B, 2, T, D)`` frame embeddings of two views of each of B videos.
        steps: ``(B, 2, T)`` index in the video of every sampled frame.
        seq_lens: ``(B, 2)`` number of frames of each video (the same for both views).
        masks: ``(B, 2, T)``, 1 for a valid frame, 0 for padding.
        temperature: softmax temperature tau (paper: 0.1).
        variance: variance of the Gaussian target over timestamp distance (paper: 10).
        negatives: ``single_noself`` (only the other view of the same video) or ``batch_noself``
            (also every frame of the other videos); see the module docstring.
        target: ``exact`` (the paper's Gaussian target, every valid row kept) or ``released``
            (computed as ``algos/scl.py`` does, in float32 or the autocast dtype, so that rows
            whose partners are all far away underflow and drop out); see ``gaussian_targets``.
        released_dtype: with ``released``, the dtype the released code's logits would have: the
            training's autocast dtype (float16 for the released ``USE_AMP``), float32 without.

    Returns:
        Scalar: the summed KL divergence of both directions over valid frames, divided by the
        number of valid frames of both views.

    Example:
        >>> z = torch.nn.functional.normalize(torch.randn(4, 2, 240, 128), dim=-1)
        >>> steps = torch.sort(torch.randint(0, 300, (4, 2, 240)), dim=-1).values
        >>> loss = sequence_contrastive_loss(z, steps, torch.full((4, 2), 300), torch.ones(4, 2, 240))
    """
    if embeddings.dim() != 4 or embeddings.shape[1] != 2:
        raise ValueError(f"embeddings must be (B, 2, T, D), got {tuple(embeddings.shape)}")
    batch, _, num_steps, _ = embeddings.shape
    for name, tensor, shape in (("steps", steps, (batch, 2, num_steps)), ("masks", masks, (batch, 2, num_steps)),
                                ("seq_lens", seq_lens, (batch, 2))):
        if tuple(tensor.shape) != shape:
            raise ValueError(f"{name} must be {shape} for embeddings {tuple(embeddings.shape)}, got {tuple(tensor.shape)}")
    if temperature <= 0 or variance <= 0:
        raise ValueError(f"temperature and variance must be > 0, got {temperature}, {variance}")
    check_choice("negatives", negatives, NEGATIVES)
    check_choice("target", target, SCL_TARGETS)
    released_dtype = released_dtype if target == "released" else None

    z = F.normalize(embeddings.float(), dim=-1)  # cosine similarity, in float32 even under autocast
    valid = masks.bool()
    distance = timestamp_distance(steps, seq_lens)  # (B, T, T)
    valid0, valid1 = valid[:, 0], valid[:, 1]  # (B, T)
    if negatives == "batch_noself":
        return _batch_noself(z, distance, valid, temperature, variance, released_dtype)
    logits = z[:, 0] @ z[:, 1].transpose(1, 2) / temperature  # (B, T, T): view-0 i vs view-1 j
    loss = _direction_kl(logits, gaussian_targets(distance, valid1[:, None, :], variance, released_dtype),
                         valid0, valid1[:, None, :])
    loss = loss + _direction_kl(logits.transpose(1, 2),
                                gaussian_targets(distance.transpose(1, 2), valid0[:, None, :], variance, released_dtype),
                                valid1, valid0[:, None, :])
    return loss / valid.sum().clamp_min(1)


def _batch_noself(z: torch.Tensor, distance: torch.Tensor, valid: torch.Tensor, temperature: float,
                  variance: float, released_dtype: torch.dtype | None = None) -> torch.Tensor:
    """SCL with the batch's other videos as negatives too.

    Args:
        z: ``(B, 2, T, D)`` normalised embeddings; distance: ``(B, T, T)`` view-0 to view-1
            timestamp distances; valid: ``(B, 2, T)`` bool.

    One ``(2BT, 2BT)`` similarity matrix: each row's softmax runs over every valid frame except
    those of its own view of its own video; the target (and so the loss) only reads the block of
    the same video's other view.
    """
    batch, _, num_steps, dim = z.shape
    flat = z.reshape(-1, dim)
    logits = flat @ flat.T / temperature  # (2BT, 2BT)
    block = torch.arange(batch * 2, device=z.device).repeat_interleave(num_steps)  # (video, view) of each row
    allowed = valid.reshape(1, -1) & (block[:, None] != block[None, :])
    log_prob = _masked_log_softmax(logits, allowed).reshape(batch, 2, num_steps, batch, 2, num_steps)
    videos = torch.arange(batch, device=z.device)
    log_prob01 = log_prob[videos, 0, :, videos, 1, :]  # (B, T, T): own video, view 0 -> view 1
    log_prob10 = log_prob[videos, 1, :, videos, 0, :]
    valid0, valid1 = valid[:, 0], valid[:, 1]
    loss = _kl(log_prob01, gaussian_targets(distance, valid1[:, None, :], variance, released_dtype), valid0)
    loss = loss + _kl(log_prob10, gaussian_targets(distance.transpose(1, 2), valid0[:, None, :], variance, released_dtype),
                      valid1)
    return loss / valid.sum().clamp_min(1)
