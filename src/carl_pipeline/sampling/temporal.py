"""Which frames each view of a video shows: CARL's ``time_augment`` and TCC's ``offset_uniform``.

Every sampler returns a ``ViewSteps`` for two views: the frame indices to read (clamped into the
video), the timestamps the loss sees, the validity mask and the video length. Randomness comes
only from the ``torch.Generator`` passed in.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from carl_pipeline.checks import check_choice


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


def _window_subset(offset: int, window: int, num_valid: int, num_steps: int, generator,
                   pad: int | None = None) -> torch.Tensor:
    """A sorted random subset of ``num_valid`` frames of ``[offset, offset + window)``, padded
    to ``num_steps`` entries with ``pad`` (default: the window's end; outside the video either way)."""
    chosen = offset + torch.randperm(window, generator=generator)[:num_valid]
    chosen = torch.sort(chosen).values
    if num_valid < num_steps:
        chosen = torch.cat([chosen, torch.full((num_steps - num_valid,), offset + window if pad is None else pad,
                                                dtype=torch.long)])
    return chosen


WINDOWS = ("video", "clip", "shifted")


def _released_offset(num_frames: int, block: int, shift: int, previous_first: int | None, generator) -> int:
    """The window offset as the released code draws it (``datasets/*.py``, ``sample_frames``):
    ``U{0, .., max(S - block, 1) - 1}`` for the first view; for the second, an offset within
    ``shift`` frames of the first view's first sampled frame, clipped to the video."""
    if previous_first is None:
        low, high = 0, max(num_frames - block, 1)
    else:
        low = max(0, min(num_frames - block, previous_first - shift))
        high = max(1, min(num_frames - block + 1, previous_first + shift + 1))
        high = max(high, low + 1)
    return int(torch.randint(low, high, (), generator=generator))


def time_augment(
    num_frames: int,
    num_steps: int,
    *,
    sampling_region: float = 1.5,
    consistent_offset: float = 0.2,
    window: str = "video",
    generator: torch.Generator | None = None,
) -> ViewSteps:
    """CARL's two-view temporal sampling.

    Each view draws a block of ``ceil(U(1, sampling_region) x base)`` frame positions at an offset,
    and a sorted random subset of ``n = min(num_frames, num_steps)`` of them; positions at or past
    the video's end are padding (masked, read as its last frame), and views with fewer than
    ``num_steps`` frames are padded at the end. ``window`` says what the block is, per dataset:

    - ``"video"``: Pouring and Penn Action as released (``datasets/pouring.py`` and
      ``datasets/penn_action.py``: ``block_size = ceil(expand_ratio * seq_len)``). The block is
      at least the whole video, so the released offset range ``[0, max(S - block, 1))`` is ``{0}``:
      both views start at frame 0 and overhang only the end; the consistent-offset rule is a no-op.
    - ``"clip"``: FineGym as released (``datasets/finegym.py``: ``block_size =
      ceil(expand_ratio * num_valid)``): a dense local clip of ``U(1, 1.5) x n`` frames at a random
      offset; the second view's offset lies within ``int((1 - consistent_offset) x n)`` frames of
      the first view's first sampled frame, clipped to the video.
    - ``"shifted"``: the demo's variant (not in the released code): a whole-video block that may
      overhang either end, at an offset within the consistent-offset range of the first view's.

    Randomness is drawn in the order ratio, offset, subset for view 0, then view 1, from
    ``generator`` only (the released code uses NumPy's and torch's global generators).

    Args:
        num_frames: length of the video S.
        num_steps: frames per view T (paper: 240 Pouring and FineGym, 80 Penn Action).
        sampling_region: largest block, as a multiple of its base (paper: 1.5).
        consistent_offset: how much the views' offsets agree (paper: 0.2).
        window: ``"video"``, ``"clip"`` or ``"shifted"`` (above).
        generator: source of randomness.

    Returns:
        Steps, frame indices, masks and lengths of both views. Unlike the released code, a view
        whose subset fell wholly in the padding (possible only for videos of a few frames) gets
        one random frame of the video, so that every view has a valid frame.
    """
    if num_frames < 1 or num_steps < 1:
        raise ValueError(f"need num_frames >= 1 and num_steps >= 1, got {num_frames}, {num_steps}")
    if sampling_region < 1 or not 0 <= consistent_offset <= 1:
        raise ValueError(f"sampling_region must be >= 1 and consistent_offset in [0, 1], "
                         f"got {sampling_region}, {consistent_offset}")
    check_choice("window", window, WINDOWS)
    num_valid = min(num_frames, num_steps)
    shift = int((1 - consistent_offset) * num_valid)
    views, first_offset, first_step = [], None, None
    for _ in range(2):
        ratio = 1.0 + (sampling_region - 1.0) * torch.rand((), generator=generator).item()
        if window == "shifted":
            block = math.ceil(ratio * num_frames)
            lowest = num_frames - block  # <= 0: the block always covers the whole video
            if first_offset is None:
                low, high = lowest, 0
            else:
                low, high = max(lowest, first_offset - shift), min(0, first_offset + shift)
                if low > high:  # the first offset is out of this block's reach: nearest allowed
                    low = high = min(max(first_offset, lowest), 0)
            offset = int(torch.randint(low, high + 1, (), generator=generator))
        else:
            block = math.ceil(ratio * (num_frames if window == "video" else num_valid))
            offset = _released_offset(num_frames, block, shift, first_step, generator)
        view = _window_subset(offset, block, num_valid, num_steps, generator, pad=num_frames)  # as released
        if first_offset is None:
            first_offset, first_step = offset, int(view[0].clamp(0, num_frames - 1))
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
