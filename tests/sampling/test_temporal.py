import pytest
import torch

from carl_pipeline.sampling import make_sampler, offset_uniform, time_augment


@pytest.mark.parametrize("num_frames,num_steps", [(100, 32), (32, 32), (20, 32), (1, 8), (300, 240)])
@pytest.mark.parametrize("seed", range(5))
def test_time_augment__invariants(num_frames, num_steps, seed):
    views = time_augment(num_frames, num_steps, generator=torch.Generator().manual_seed(seed))
    assert views.steps.shape == views.frame_indices.shape == views.masks.shape == (2, num_steps)
    assert torch.all(views.steps[:, 1:] >= views.steps[:, :-1])  # sorted
    inside = (views.steps >= 0) & (views.steps < num_frames)
    assert torch.equal(views.masks.bool(), inside)
    assert torch.all(views.frame_indices == views.steps.clamp(0, num_frames - 1))
    assert views.seq_len.tolist() == [num_frames, num_frames]
    valid_steps = [views.steps[v][views.masks[v].bool()] for v in range(2)]
    assert all(len(torch.unique(s)) == len(s) for s in valid_steps)  # no frame twice in a view
    assert torch.all(views.masks.sum(1) >= 1)


def test_time_augment__offsets_agree_within_consistent_offset():
    num_frames, num_steps, consistent = 200, 64, 0.2
    for seed in range(50):
        views = time_augment(num_frames, num_steps, consistent_offset=consistent,
                             generator=torch.Generator().manual_seed(seed))
        first, second = views.steps[0, 0].item(), views.steps[1, 0].item()
        # each view's first step is at or after its window offset; offsets differ by <= (1 - c) T
        assert abs(first - second) <= (1 - consistent) * num_steps + num_frames * 0.5


def test_time_augment__window_covers_the_video_and_at_most_sampling_region_of_it():
    num_frames = 100
    for seed in range(30):
        views = time_augment(num_frames, 100, sampling_region=1.5, generator=torch.Generator().manual_seed(seed))
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
