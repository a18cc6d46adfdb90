import math

import pytest
import torch

from carl_pipeline.sampling import make_sampler, offset_uniform, time_augment


@pytest.mark.parametrize("window", ["video", "clip", "shifted"])
@pytest.mark.parametrize("num_frames,num_steps", [(100, 32), (32, 32), (20, 32), (1, 8), (300, 240)])
@pytest.mark.parametrize("seed", range(5))
def test_time_augment__invariants(num_frames, num_steps, seed, window):
    views = time_augment(num_frames, num_steps, window=window, generator=torch.Generator().manual_seed(seed))
    assert views.steps.shape == views.frame_indices.shape == views.masks.shape == (2, num_steps)
    inside = (views.steps >= 0) & (views.steps < num_frames)
    assert torch.equal(views.masks.bool(), inside)
    assert torch.all(views.frame_indices == views.steps.clamp(0, num_frames - 1))
    assert views.seq_len.tolist() == [num_frames, num_frames]
    valid_steps = [views.steps[v][views.masks[v].bool()] for v in range(2)]
    assert all(torch.all(s[1:] > s[:-1]) for s in valid_steps)  # valid frames in order, none twice
    assert all(len(torch.unique(s)) == len(s) for s in valid_steps)  # no frame twice in a view
    assert torch.all(views.masks.sum(1) >= 1)


def test_time_augment__offsets_agree_within_consistent_offset():
    num_frames, num_steps, consistent = 200, 64, 0.2
    for seed in range(50):
        views = time_augment(num_frames, num_steps, consistent_offset=consistent, window="shifted",
                             generator=torch.Generator().manual_seed(seed))
        first, second = views.steps[0, 0].item(), views.steps[1, 0].item()
        # each view's first step is at or after its window offset; offsets differ by <= (1 - c) T
        assert abs(first - second) <= (1 - consistent) * num_steps + num_frames * 0.5


def test_time_augment__window_covers_the_video_and_at_most_sampling_region_of_it():
    num_frames = 100
    for seed in range(30):
        views = time_augment(num_frames, 100, sampling_region=1.5, window="shifted", generator=torch.Generator().manual_seed(seed))
        span = views.steps.max(1).values - views.steps.min(1).values
        assert torch.all(span < 150)
        assert torch.all(views.steps.min(1).values >= -50)


def test_time_augment__same_generator_same_views_different_seeds_differ():
    a = time_augment(90, 16, generator=torch.Generator().manual_seed(3))
    b = time_augment(90, 16, generator=torch.Generator().manual_seed(3))
    c = time_augment(90, 16, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a.steps, b.steps) and not torch.equal(a.steps, c.steps)


def test_offset_uniform__pads_short_videos():
    views = offset_uniform(5, 8, generator=torch.Generator().manual_seed(0))
    assert views.steps[0, :5].tolist() == [0, 1, 2, 3, 4] and views.masks[0].tolist() == [1] * 5 + [0] * 3


def test_make_sampler__unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="known: \\['offset_uniform', 'time_augment'\\]"):
        make_sampler("stride")


def _released_sample_frames(seq_len, num_frames, generator, block_of_video, pre_steps=None):
    """``sample_frames`` of the released ``datasets/finegym.py`` (``block_of_video=False``) and
    ``datasets/pouring.py`` (True), transcribed line by line with the global generators replaced
    by ``generator`` (numpy's ``uniform`` -> ``torch.rand``, ``randint`` -> ``torch.randint``)."""
    import math

    pre_offset = min(pre_steps) if pre_steps is not None else None
    num_valid = min(seq_len, num_frames)
    expand_ratio = 1.0 + 0.5 * torch.rand((), generator=generator).item()
    block_size = math.ceil(expand_ratio * (seq_len if block_of_video else num_valid))
    if pre_steps is not None:
        shift = int((1 - 0.2) * num_valid)
        offset = int(torch.randint(max(0, min(seq_len - block_size, pre_offset - shift)),
                                   max(1, min(seq_len - block_size + 1, pre_offset + shift + 1)), (), generator=generator))
    else:
        offset = int(torch.randint(0, max(seq_len - block_size, 1), (), generator=generator))
    steps = offset + torch.randperm(block_size, generator=generator)[:num_valid]
    steps = torch.sort(steps)[0]
    if num_valid < num_frames:
        steps = torch.nn.functional.pad(steps, (0, num_frames - num_valid), "constant", seq_len)
    return torch.clamp(steps, 0, seq_len - 1), steps


@pytest.mark.parametrize("window", ["clip", "video"])
@pytest.mark.parametrize("num_frames,num_steps", [(1000, 240), (400, 240), (240, 240), (150, 240), (90, 32)])
def test_time_augment__released_windows_give_the_released_indices(window, num_frames, num_steps):
    for seed in range(10):
        ours = time_augment(num_frames, num_steps, window=window, generator=torch.Generator().manual_seed(seed))
        generator = torch.Generator().manual_seed(seed)
        chosen0, steps0 = _released_sample_frames(num_frames, num_steps, generator, window == "video")
        _, steps1 = _released_sample_frames(num_frames, num_steps, generator, window == "video", pre_steps=chosen0)
        if ours.masks.sum(1).min() == 1 and (steps0 >= num_frames).all() | (steps1 >= num_frames).all():
            continue  # the all-padding guard (not in the released code) drew a frame: skip
        assert torch.equal(ours.steps, torch.stack([steps0, steps1]))


def test_time_augment__finegym_clips_are_dense_local_windows():
    """A 1000-frame event, T = 240: each view spans less than 1.5 x 240 frames of the event (a dense
    local clip, not a sparse view of the whole event), holds 240 distinct frames, and the views
    start within 0.8 x 240 frames of each other."""
    for seed in range(40):
        views = time_augment(1000, 240, window="clip", generator=torch.Generator().manual_seed(seed))
        assert torch.all(views.masks.sum(1) == 240)
        span = views.steps.max(1).values - views.steps.min(1).values
        assert torch.all(span < 360) and torch.all(span >= 239)
        assert abs(int(views.steps[0, 0]) - int(views.steps[1, 0])) <= int(0.8 * 240) + 360


def test_time_augment__pouring_windows_start_at_the_first_frame():
    """Pouring / Penn Action as released: the block starts at frame 0 and only overhangs the end."""
    for seed in range(20):
        views = time_augment(300, 240, window="video", generator=torch.Generator().manual_seed(seed))
        assert torch.all(views.steps >= 0)
        assert torch.all(views.steps.max(1).values < 450)


def test_time_augment__unknown_window_names_the_choices():
    with pytest.raises(ValueError, match="window must be one of"):
        time_augment(10, 4, window="sparse")


def _shifted_rule(num_frames, num_steps, generator, sampling_region=1.5, consistent_offset=0.2):
    """The demo's ``shifted`` window as its docstring states it, drawn in the same order (ratio,
    offset, subset; view 0 then view 1): a block of ``ceil(U(1, region) x S)`` positions at an
    offset in ``[S - block, 0]`` (the block covers the whole video and may overhang either end);
    view 1's offset within ``int((1 - c) x min(S, T))`` of view 0's, or the nearest allowed one;
    ``min(S, T)`` sorted positions of the block, padded with S."""
    valid = min(num_frames, num_steps)
    shift = int((1 - consistent_offset) * valid)
    views, first = [], None
    for _ in range(2):
        ratio = 1.0 + (sampling_region - 1.0) * torch.rand((), generator=generator).item()
        block = math.ceil(ratio * num_frames)
        allowed = range(num_frames - block, 1) if first is None else \
            [o for o in range(num_frames - block, 1) if abs(o - first) <= shift]
        if not allowed:
            allowed = [min(max(first, num_frames - block), 0)]
        offset = allowed[0] + int(torch.randint(0, len(allowed), (), generator=generator))
        chosen = sorted((offset + torch.randperm(block, generator=generator)[:valid]).tolist())
        views.append(chosen + [num_frames] * (num_steps - valid))
        first = offset if first is None else first
    return views


@pytest.mark.parametrize("num_frames,num_steps", [(200, 64), (120, 32), (40, 32), (30, 48)])
def test_time_augment_shifted__gives_exactly_the_rules_frames(num_frames, num_steps):
    """Frame by frame, not within a tolerance: the second view's window starts within
    int(0.8 x min(S, T)) frames of the first's (51 frames for 64 steps, never the 151 a loose
    bound allows)."""
    for seed in range(40):
        views = time_augment(num_frames, num_steps, window="shifted", generator=torch.Generator().manual_seed(seed))
        expected = _shifted_rule(num_frames, num_steps, torch.Generator().manual_seed(seed))
        if any(all(s < 0 or s >= num_frames for s in view) for view in expected):
            continue  # a view wholly in the padding gets one random frame instead (tiny videos only)
        assert views.steps.tolist() == expected, seed
