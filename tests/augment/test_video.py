import pytest
import torch

from carl_pipeline.augment import (
    AugmentConfig,
    ViewParams,
    apply_view_params,
    augment_view,
    eval_transform,
    sample_view_params,
)
from carl_pipeline.augment.video import gaussian_blur


def _frames(t=6, h=40, w=48, seed=0):
    return torch.randint(0, 256, (t, 3, h, w), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("color_mode", ["fused", "torchvision"])
def test_augment__shapes_and_dtype(color_mode):
    out = augment_view(_frames(), AugmentConfig(image_size=32, color_mode=color_mode), torch.Generator().manual_seed(0))
    assert out.shape == (6, 3, 32, 32) and out.dtype == torch.float32 and torch.isfinite(out).all()


def test_augment__one_draw_per_view_applies_to_every_frame():
    """The same frame repeated gives the same output in every position of the view."""
    frame = _frames(1)
    view = frame.expand(5, -1, -1, -1).contiguous()
    for seed in range(10):
        out = augment_view(view, AugmentConfig(image_size=24), torch.Generator().manual_seed(seed))
        assert torch.allclose(out, out[:1].expand_as(out), atol=1e-5)


def test_augment__draws_differ_between_views_and_repeat_with_the_seed():
    config = AugmentConfig(image_size=24)
    generator = torch.Generator().manual_seed(0)
    a, b = sample_view_params(40, 48, config, generator), sample_view_params(40, 48, config, generator)
    assert a != b
    assert sample_view_params(40, 48, config, torch.Generator().manual_seed(0)) == a


def test_fused_colour__equals_torchvision_when_nothing_clips():
    frames = (torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 0.4 + 0.3)
    frames = (frames * 255).round().to(torch.uint8)
    for order in [(0, 1, 2, 3), (3, 1, 0, 2), (2, 3, 0, 1)]:
        params = ViewParams((0, 0, 16, 16), False, True, order, (1.15, 0.85, 1.1, 0.0), None, False)
        fused = apply_view_params(frames, params, AugmentConfig(image_size=16))
        exact = apply_view_params(frames, params, AugmentConfig(image_size=16, color_mode="torchvision"))
        torch.testing.assert_close(fused, exact, atol=1e-4, rtol=0)


def test_fused_colour__hue_shift_moves_colours_like_hsv():
    red = torch.zeros(1, 3, 8, 8, dtype=torch.uint8)
    red[:, 0] = 200
    red[:, 1:] = 60
    for shift in (0.1, -0.1):
        params = ViewParams((0, 0, 8, 8), False, True, (3,), (1.0, 1.0, 1.0, shift), None, False)
        fused = apply_view_params(red, params, AugmentConfig(image_size=8))
        exact = apply_view_params(red, params, AugmentConfig(image_size=8, color_mode="torchvision"))
        # the dominant channel change has the same sign in both (green up for +, blue up for -)
        assert torch.sign(fused[0, 1:, 0, 0] - fused[0, 1:, 0, 0].mean()).tolist() == \
            torch.sign(exact[0, 1:, 0, 0] - exact[0, 1:, 0, 0].mean()).tolist()


def test_blur__matches_torchvision_gaussian_blur():
    import torchvision.transforms.v2.functional as TF

    # one block, and sizes spanning several of the banded blur's blocks (with a ragged last one)
    for x in (torch.rand(2, 3, 20, 24), torch.rand(1, 3, 70, 100)):
        for sigma in (0.5, 1.3, 2.0):
            kernel = 2 * int(torch.ceil(torch.tensor(3 * sigma))) + 1
            torch.testing.assert_close(gaussian_blur(x, sigma), TF.gaussian_blur(x, [kernel, kernel], [sigma, sigma]),
                                       atol=1e-5, rtol=0)


def test_eval_transform__centre_crop_and_normalise():
    out = eval_transform(_frames(2, 30, 60), 24)
    assert out.shape == (2, 3, 24, 24) and out.dtype == torch.float32


def test_config__bad_colour_mode_is_refused():
    with pytest.raises(ValueError, match="color_mode"):
        AugmentConfig(color_mode="pil")


def test_released_color_mode__blur_after_every_jitter_op_and_clamping_after_each():
    """The released color_jitter: with neutral factors a drawn blur is applied four times (once
    per op), not once; and each op clamps before the next (brightness x1.8 then contrast x0.3
    differs from the unclamped composition)."""
    from carl_pipeline.augment import AugmentConfig, ViewParams, apply_view_params
    from carl_pipeline.augment.video import gaussian_blur, normalize

    generator = torch.Generator().manual_seed(0)
    frames = (torch.rand(2, 3, 24, 24, generator=generator) * 255).to(torch.uint8)
    config = AugmentConfig(image_size=24, color_mode="released")
    neutral = ViewParams((0, 0, 24, 24), False, True, (0, 1, 2, 3), (1.0, 1.0, 1.0, 0.0), 1.0, False)
    out = apply_view_params(frames, neutral, config)
    x = frames.float() / 255
    for _ in range(4):
        x = gaussian_blur(x, 1.0)
    torch.testing.assert_close(out, normalize(x.clamp(0, 1)), atol=1e-5, rtol=1e-5)
    once = apply_view_params(frames, neutral, AugmentConfig(image_size=24, color_mode="torchvision"))
    assert (out - once).abs().mean() > 0.01  # stronger than one blur

    import torchvision.transforms.v2.functional as TF

    bright_then_flat = ViewParams((0, 0, 24, 24), False, True, (0, 1, 2, 3), (1.8, 0.3, 1.0, 0.0), None, False)
    out = apply_view_params(frames, bright_then_flat, config)
    expected = TF.adjust_contrast(TF.adjust_brightness(frames.float() / 255, 1.8), 0.3)
    torch.testing.assert_close(out, normalize(TF.adjust_hue(TF.adjust_saturation(expected, 1.0), 0.0)), atol=1e-5, rtol=1e-5)
    clamped_once = apply_view_params(frames, bright_then_flat, AugmentConfig(image_size=24, color_mode="fused"))
    assert (out - clamped_once).abs().max() > 0.05  # clamping only at the end gives another image


def test_channel_shuffle_and_inversion__fused_equals_torchvision_and_maps_colours():
    frames = (torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(2)) * 0.4 + 0.3)
    frames = (frames * 255).round().to(torch.uint8)
    plain = ViewParams((0, 0, 16, 16), False, False, (0, 1, 2, 3), (1.0, 1.0, 1.0, 0.0), None, False)
    mapped = plain._replace(channel_order=(2, 0, 1), invert=True)
    config = AugmentConfig(image_size=16)
    expected = apply_view_params(255 - frames[:, [2, 0, 1]], plain, config)  # by hand
    torch.testing.assert_close(apply_view_params(frames, mapped, config), expected, atol=1e-4, rtol=0)
    jittered = mapped._replace(jitter=True, jitter_order=(1, 3, 0, 2), factors=(1.1, 0.9, 1.2, 0.0))
    fused = apply_view_params(frames, jittered, config)
    exact = apply_view_params(frames, jittered, AugmentConfig(image_size=16, color_mode="torchvision"))
    torch.testing.assert_close(fused, exact, atol=1e-4, rtol=0)


def test_channel_shuffle_and_inversion__drawn_only_when_asked_and_at_their_rates():
    paper = AugmentConfig(image_size=24)
    draws = [sample_view_params(40, 48, paper, torch.Generator().manual_seed(s)) for s in range(50)]
    assert all(d.channel_order == (0, 1, 2) and not d.invert for d in draws)
    # off by default, so the paper's recipe draws exactly what it drew before these maps existed
    with_maps = AugmentConfig(image_size=24, channel_shuffle_p=1.0, invert_p=0.5)
    generator = torch.Generator().manual_seed(0)
    drawn = [sample_view_params(40, 48, with_maps, generator) for _ in range(400)]
    assert len({d.channel_order for d in drawn}) == 6
    assert 0.4 < sum(d.invert for d in drawn) / len(drawn) < 0.6
    with pytest.raises(ValueError, match="invert_p"):
        AugmentConfig(invert_p=1.5)
