"""Which frames each view of a video shows: CARL's ``time_augment`` and TCC's ``offset_uniform``.

Every sampler returns a ``ViewSteps`` for two views: the frame indices to read (clamped into the
video), the timestamps the loss sees, the validity mask and the video length. Randomness comes
only from the ``torch.Generator`` passed in.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch


class ViewSteps(NamedTuple):
    """Two views of one video, ``T`` frames each.

    Attributes:
        steps: ``(2, T)`` long, sorted timestamps in the video (may fall outside it: padding).
        frame_indices: ``(2, T)`` long, ``steps`` clamped to ``[0, num_frames - 1]``: what to read.
        masks: ``(2, T)`` float, 1 where the step lies inside the video.
        seq_len: ``(2,)`` long, the video length for both views.
    """

    steps: torch.Tensor
    frame_indices: torch.Tensor
    masks: torch.Tensor
    seq_len: torch.Tensor


def _finish(steps: torch.Tensor, num_frames: int) -> ViewSteps:
    masks = ((steps >= 0) & (steps < num_frames)).float()
    return ViewSteps(steps, steps.clamp(0, num_frames - 1), masks, torch.full((2,), num_frames, dtype=torch.long))


def _window_subset(offset: int, window: int, num_valid: int, num_steps: int, generator) -> torch.Tensor:
    """A sorted random subset of ``num_valid`` frames of ``[offset, offset + window)``, padded
    after the window's end to ``num_steps`` entries (padding lies outside the video)."""
    chosen = offset + torch.randperm(window, generator=generator)[:num_valid]
    chosen = torch.sort(chosen).values
    if num_valid < num_steps:
        chosen = torch.cat([chosen, torch.full((num_steps - num_valid,), offset + window, dtype=torch.long)])
    return chosen


def time_augment(
    num_frames: int,
    num_steps: int,
    *,
    sampling_region: float = 1.5,
    consistent_offset: float = 0.2,
    generator: torch.Generator | None = None,
) -> ViewSteps:
    """CARL's two-view temporal sampling.

    Each view takes a window of ``U(1, sampling_region)`` times the video length that covers the
    whole video, at a random offset (the part outside the video is padding), and a random ordered
    subset of ``min(num_frames, num_steps)`` of the window's frames. The second view's offset lies
    within ``(1 - consistent_offset) * min(num_frames, num_steps)`` frames of the first's.

    The released CARL code draws the offset from a range that is empty once the window is at
    least as long as the video, so its offset is always 0 (the window hangs off the end only);
    here the window may hang off either end, as the paper describes.

    Args:
        num_frames: length of the video.
        num_steps: frames per view T (paper: 240 Pouring and FineGym, 80 Penn Action).
        sampling_region: largest window, as a multiple of the video length (paper: 1.5).
        consistent_offset: how much the views' offsets agree (paper: 0.2).
        generator: source of randomness.

    Returns:
        Steps, frame indices, masks and lengths of both views; padding where the subset has fewer
        than ``num_steps`` frames or falls outside the video.
    """
    if num_frames < 1 or num_steps < 1:
        raise ValueError(f"need num_frames >= 1 and num_steps >= 1, got {num_frames}, {num_steps}")
    if sampling_region < 1 or not 0 <= consistent_offset <= 1:
        raise ValueError(f"sampling_region must be >= 1 and consistent_offset in [0, 1], "
                         f"got {sampling_region}, {consistent_offset}")
    num_valid = min(num_frames, num_steps)
    views, first_offset = [], None
    for _ in range(2):
        ratio = 1.0 + (sampling_region - 1.0) * torch.rand((), generator=generator).item()
        window = math.ceil(ratio * num_frames)
        lowest = num_frames - window  # <= 0: the window always covers the whole video
        if first_offset is None:
            low, high = lowest, 0
        else:
            shift = int((1 - consistent_offset) * num_valid)
            low, high = max(lowest, first_offset - shift), min(0, first_offset + shift)
            if low > high:  # the first offset is out of this window's reach: nearest allowed
                low = high = min(max(first_offset, lowest), 0)
        offset = int(torch.randint(low, high + 1, (), generator=generator))
        first_offset = offset if first_offset is None else first_offset
        view = _window_subset(offset, window, num_valid, num_steps, generator)
        inside = (view >= 0) & (view < num_frames)
        if not inside.any():  # a tiny video whose subset fell wholly in the padding: keep one frame
            view[0] = int(torch.randint(0, num_frames, (), generator=generator))
            view = torch.sort(view).values
        views.append(view)
    return _finish(torch.stack(views), num_frames)


def offset_uniform(
    num_frames: int,
    num_steps: int,
    *,
    generator: torch.Generator | None = None,
) -> ViewSteps:
    """TCC's sampling: each view a sorted random subset of ``num_steps`` frames of the video
    (all frames, then padding, when the video is shorter)."""
    if num_frames < 1 or num_steps < 1:
        raise ValueError(f"need num_frames >= 1 and num_steps >= 1, got {num_frames}, {num_steps}")
    num_valid = min(num_frames, num_steps)
    views = [_window_subset(0, num_frames, num_valid, num_steps, generator) for _ in range(2)]
    return _finish(torch.stack(views), num_frames)


SAMPLERS = {"time_augment": time_augment, "offset_uniform": offset_uniform}


def make_sampler(name: str):
    """The sampler called ``name``; raises with the known names otherwise."""
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampling strategy '{name}'; known: {sorted(SAMPLERS)}")
    return SAMPLERS[name]
