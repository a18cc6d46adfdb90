"""Spatial augmentation of a view: one random draw per view, applied to all its frames at once.

Pure tensor operations over ``(T, C, H, W)``, so a view is augmented in a handful of kernel
launches, on the GPU when the frames are there, with no per-frame PIL round trip. The recipe is
CARL's (SimCLR-style): random resized crop (scale 0.8-1, ratio 3/4-4/3), horizontal flip (p 0.5),
colour jitter in random order (brightness, contrast, saturation 0.8, hue 0.2; p 0.8) with Gaussian
blur inside it (p 0.5; none on FineGym), grayscale (p 0.2), then ImageNet normalisation.

Two implementations of the colour part (``color_mode``):

- ``"fused"`` (default): brightness, contrast, saturation, grayscale and normalisation are affine
  maps of a pixel's colour (contrast's offset is the frame's mean grey), so any sequence of them is
  one ``3 x 3`` matrix and one offset per frame, applied in a single pass; hue is a rotation about
  the grey axis (in YIQ space), the linear counterpart of HSV's hue shift. Values are clamped to
  the valid range once, at the end, instead of after every step. The blur commutes with these
  maps and is two small matrix products (separable Gaussian, reflected borders).
- ``"torchvision"``: torchvision's own ops one after the other (HSV hue, clamping after each step);
  exact, several times slower on a CPU.
- ``"released"``: what the released CARL code applies (``datasets/data_augment.py``,
  ``color_jitter``): torchvision's ops in the drawn order with HSV hue and clamping after each, and
  the blur *inside* the loop over the four ops, so a drawn blur of sigma s is applied after every
  op: four times (about one blur of sigma 2s). The paper environment uses it.

Two colour maps beyond the paper's recipe, off by default and drawn once per view before the
jitter: a random order of the RGB channels (``channel_shuffle_p``) and inversion (``invert_p``,
``x -> 1 - x``). CARL's loss contrasts frames within one video, whose colours never change, so
nothing in it asks a randomly initialised backbone for features that mean the same thing in two
videos of different colours; the paper gets that from an ImageNet backbone. When the two views of
a video differ by these maps, the features that match them across views are the shapes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torchvision.transforms.v2.functional as TF

from carl_pipeline.checks import check_choice

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class AugmentConfig:
    """Strengths and probabilities of the view augmentation (defaults: the paper's)."""

    image_size: int = 224
    crop_scale: tuple[float, float] = (0.8, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter_p: float = 0.8
    brightness: float = 0.8
    contrast: float = 0.8
    saturation: float = 0.8
    hue: float = 0.2
    blur_p: float = 0.5  # inside the jitter; CARL uses 0 on FineGym
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    grayscale_p: float = 0.2
    # Not in the paper (0 there): colour maps that keep the shapes and change which colours draw
    # them, for encoders trained from random weights (see the module docstring).
    channel_shuffle_p: float = 0.0  # the RGB channels in a random order
    invert_p: float = 0.0  # x -> 1 - x (light figure on dark <-> dark on light)
    color_mode: str = "fused"  # or "torchvision" or "released"; see the module docstring

    def __post_init__(self):
        check_choice("color_mode", self.color_mode, ("fused", "torchvision", "released"))
        if self.image_size < 1:
            raise ValueError(f"image_size must be positive, got {self.image_size}")
        for name in ("flip_p", "jitter_p", "blur_p", "grayscale_p", "channel_shuffle_p", "invert_p"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} is a probability in [0, 1], got {getattr(self, name)}")


class ViewParams(NamedTuple):
    """One draw of the random choices, shared by every frame of a view."""

    crop: tuple[int, int, int, int]  # top, left, height, width
    flip: bool
    jitter: bool
    jitter_order: tuple[int, ...]  # order of brightness (0), contrast (1), saturation (2), hue (3)
    factors: tuple[float, float, float, float]  # brightness, contrast, saturation factors; hue shift
    blur_sigma: float | None
    grayscale: bool
    channel_order: tuple[int, int, int] = (0, 1, 2)  # input channel of each output channel
    invert: bool = False


def _uniform(low: float, high: float, generator) -> float:
    return low + (high - low) * torch.rand((), generator=generator).item()


def _crop_box(height: int, width: int, config: AugmentConfig, generator) -> tuple[int, int, int, int]:
    """Inception-style crop: area and aspect ratio at random, centre crop if 10 tries fail."""
    area = height * width
    log_ratio = (math.log(config.crop_ratio[0]), math.log(config.crop_ratio[1]))
    for _ in range(10):
        target = _uniform(*config.crop_scale, generator) * area
        ratio = math.exp(_uniform(*log_ratio, generator))
        w, h = round(math.sqrt(target * ratio)), round(math.sqrt(target / ratio))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (), generator=generator))
            left = int(torch.randint(0, width - w + 1, (), generator=generator))
            return top, left, h, w
    in_ratio = width / height
    if in_ratio < config.crop_ratio[0]:
        w, h = width, round(width / config.crop_ratio[0])
    elif in_ratio > config.crop_ratio[1]:
        h, w = height, round(height * config.crop_ratio[1])
    else:
        h, w = height, width
    return (height - h) // 2, (width - w) // 2, h, w


def sample_view_params(height: int, width: int, config: AugmentConfig, generator: torch.Generator | None = None) -> ViewParams:
    """Draw one view's augmentation for frames of ``height`` x ``width``."""
    crop = _crop_box(height, width, config, generator)
    flip = torch.rand((), generator=generator).item() < config.flip_p
    jitter = torch.rand((), generator=generator).item() < config.jitter_p
    order = tuple(torch.randperm(4, generator=generator).tolist())
    factors = (
        1 + _uniform(-config.brightness, config.brightness, generator),
        1 + _uniform(-config.contrast, config.contrast, generator),
        1 + _uniform(-config.saturation, config.saturation, generator),
        _uniform(-config.hue, config.hue, generator),
    )
    blur = jitter and torch.rand((), generator=generator).item() < config.blur_p
    sigma = _uniform(*config.blur_sigma, generator) if blur else None
    gray = torch.rand((), generator=generator).item() < config.grayscale_p
    # Drawn only when asked for, so the paper's recipe keeps its random stream (and its results).
    channels = (0, 1, 2)
    if config.channel_shuffle_p > 0 and torch.rand((), generator=generator).item() < config.channel_shuffle_p:
        channels = tuple(torch.randperm(3, generator=generator).tolist())
    invert = config.invert_p > 0 and torch.rand((), generator=generator).item() < config.invert_p
    return ViewParams(crop, flip, jitter, order, factors, sigma, gray, channels, invert)


def normalize(frames: torch.Tensor) -> torch.Tensor:
    """ImageNet normalisation of float ``(..., 3, H, W)`` frames in [0, 1]."""
    return TF.normalize(frames, list(IMAGENET_MEAN), list(IMAGENET_STD))


def to_float(frames: torch.Tensor) -> torch.Tensor:
    """uint8 ``(T, C, H, W)`` -> float32 in [0, 1] (float input is returned as is)."""
    return frames.float().div_(255) if frames.dtype == torch.uint8 else frames


_GRAY = torch.tensor([0.299, 0.587, 0.114])
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def hue_rotation(shift: float) -> torch.Tensor:
    """``3 x 3`` colour matrix rotating hue by ``shift`` turns (HSV hue units: 1 = full circle)."""
    angle = -2 * math.pi * shift  # YIQ's I-Q angle runs opposite to HSV hue
    c, s = math.cos(angle), math.sin(angle)
    rotation = torch.tensor([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    return torch.linalg.inv(_RGB_TO_YIQ) @ rotation @ _RGB_TO_YIQ


def color_affine(params: ViewParams, channel_means: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The view's colour jitter and grayscale as one affine map per frame: ``x' = M x + v_t``.

    Args:
        params: the view's draw.
        channel_means: ``(T, 3)`` mean colour of each frame (in [0, 1]), for contrast.

    Returns:
        ``M`` ``(3, 3)`` and ``v`` ``(T, 3)``.
    """
    frames = channel_means.shape[0]
    matrix = torch.eye(3, dtype=torch.float64)[list(params.channel_order)]  # first: shuffle, invert
    offset = torch.zeros(frames, 3, dtype=torch.float64)
    if params.invert:
        matrix, offset = -matrix, offset + 1
    means = channel_means.detach().double().cpu()  # a few numbers: the map is built on the CPU
    gray = _GRAY.double()
    to_gray = torch.ones(3, 1, dtype=torch.float64) @ gray[None]  # every channel := grey
    if params.jitter:
        brightness, contrast, saturation, hue = params.factors
        for op in params.jitter_order:
            if op == 0:
                step, shift = brightness * torch.eye(3, dtype=torch.float64), None
            elif op == 1:  # blend with the frame's mean grey (as the frame is at this point)
                mean_gray = (means @ matrix.T + offset) @ gray  # (T,)
                step, shift = contrast * torch.eye(3, dtype=torch.float64), (1 - contrast) * mean_gray[:, None].expand(frames, 3)
            elif op == 2:
                step, shift = saturation * torch.eye(3, dtype=torch.float64) + (1 - saturation) * to_gray, None
            else:
                step, shift = hue_rotation(hue).double(), None
            matrix, offset = step @ matrix, offset @ step.T
            if shift is not None:
                offset = offset + shift
    if params.grayscale:
        matrix, offset = to_gray @ matrix, offset @ to_gray.T
    return matrix.float(), offset.float()


def _blur_matrix(size: int, sigma: float, device) -> torch.Tensor:
    """``(size, size)`` matrix ``B`` such that ``x @ B`` blurs rows of ``x`` (reflected borders)."""
    radius = math.ceil(3 * sigma)
    taps = torch.arange(-radius, radius + 1, dtype=torch.float64)
    weights = torch.exp(-taps.square() / (2 * sigma * sigma))
    weights /= weights.sum()
    source = torch.arange(size)[None, :] + taps.long()[:, None]  # (taps, size): input index per output
    source = source.abs()
    source = torch.where(source >= size, 2 * (size - 1) - source, source).clamp(0, size - 1)
    matrix = torch.zeros(size, size, dtype=torch.float64)
    matrix.index_put_((source.reshape(-1), torch.arange(size).repeat(len(taps))),
                      weights[:, None].expand(-1, size).reshape(-1), accumulate=True)
    return matrix.float().to(device)


#: Output columns (rows) per block of the banded blur.
_BLUR_BLOCK = 32


def gaussian_blur(frames: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of float ``(..., H, W)`` as matrix products (reflected borders).

    The blur matrix is banded (``2 ceil(3 sigma) + 1`` taps), so each block of output columns
    (then rows) is the product of the input's columns within reach of the block with that slice
    of the matrix: the same sums as the full products, about 1.6x faster at 224 px on a CPU.
    """
    height, width = frames.shape[-2:]
    reach = math.ceil(3 * sigma)
    across = _blur_matrix(width, sigma, frames.device)  # x @ across blurs along W
    down = _blur_matrix(height, sigma, frames.device).T.contiguous()  # down @ x blurs along H
    rows = torch.empty_like(frames)
    for start in range(0, width, _BLUR_BLOCK):
        end = min(start + _BLUR_BLOCK, width)
        low, high = max(0, start - reach), min(width, end + reach)
        rows[..., start:end] = frames[..., low:high] @ across[low:high, start:end]
    out = torch.empty_like(frames)
    for start in range(0, height, _BLUR_BLOCK):
        end = min(start + _BLUR_BLOCK, height)
        low, high = max(0, start - reach), min(height, end + reach)
        out[..., start:end, :] = down[start:end, low:high] @ rows[..., low:high, :]
    return out


def _apply_fused(x: torch.Tensor, params: ViewParams, out: torch.Tensor | None = None) -> torch.Tensor:
    """Colour jitter, blur, grayscale and normalisation of float ``(T, 3, S, S)`` in [0, 255]
    (into ``out`` when given)."""
    frames = x.shape[0]
    means = x.mean(dim=(2, 3)) / 255  # (T, 3)
    matrix, offset = color_affine(params, means)
    std = torch.tensor(IMAGENET_STD)
    mean = torch.tensor(IMAGENET_MEAN)
    matrix = (matrix / std[:, None]) / 255  # fold in the 1/255 scale and the normalisation
    offset = (offset - mean) / std
    if params.blur_sigma is not None:
        x = gaussian_blur(x, params.blur_sigma)
    flat = x.reshape(frames, 3, -1)
    target = None if out is None else out.view(frames, 3, -1)  # written in place: no copy when stacking views
    mapped = torch.baddbmm(offset.to(x.device)[:, :, None].expand_as(flat), matrix.to(x.device).expand(frames, 3, 3),
                           flat, out=target)
    low, high = (-mean / std).to(x.device), ((1 - mean) / std).to(x.device)
    return mapped.view(x.shape).clamp_(low[:, None, None], high[:, None, None])


def _apply_stepwise(x: torch.Tensor, params: ViewParams, blur_after_each_op: bool) -> torch.Tensor:
    """A drawn channel order and inversion, then the colour jitter with torchvision's ops one
    after the other (HSV hue, each op clamps), then grayscale and normalisation (float ``x`` in
    [0, 1]). A drawn blur comes once after the
    jitter (``"torchvision"``), or after every one of the four ops, as the released
    ``color_jitter`` applies it (``"released"``)."""
    if params.channel_order != (0, 1, 2):
        x = x[..., list(params.channel_order), :, :]
    if params.invert:
        x = 1 - x
    if params.jitter:
        brightness, contrast, saturation, hue = params.factors
        for op in params.jitter_order:
            if op == 0:
                x = TF.adjust_brightness(x, brightness)
            elif op == 1:
                x = TF.adjust_contrast(x, contrast)
            elif op == 2:
                x = TF.adjust_saturation(x, saturation)
            else:
                x = TF.adjust_hue(x, hue)
            if blur_after_each_op and params.blur_sigma is not None:
                x = gaussian_blur(x, params.blur_sigma)
        if not blur_after_each_op and params.blur_sigma is not None:
            kernel = 2 * math.ceil(3 * params.blur_sigma) + 1
            x = TF.gaussian_blur(x, [kernel, kernel], [params.blur_sigma, params.blur_sigma])
    if params.grayscale:
        x = TF.rgb_to_grayscale(x, num_output_channels=3)
    return normalize(x.clamp(0, 1))


def apply_view_params(frames: torch.Tensor, params: ViewParams, config: AugmentConfig,
                      out: torch.Tensor | None = None) -> torch.Tensor:
    """Apply one draw to every frame of a view.

    Args:
        frames: ``(T, 3, H, W)`` uint8 (or float in [0, 1]), on any device.
        out: a contiguous float32 ``(T, 3, image_size, image_size)`` to write into (e.g. one
            view of a preallocated batch), or None.

    Returns:
        ``(T, 3, image_size, image_size)`` float32, normalised (``out`` when given).
    """
    top, left, h, w = params.crop
    # Crop and resize first, on uint8 when possible (the fast path): everything after runs at
    # the output size.
    x = TF.resized_crop(frames, top, left, h, w, [config.image_size, config.image_size], antialias=True)
    if params.flip:
        x = TF.horizontal_flip(x)
    if config.color_mode in ("torchvision", "released"):
        result = _apply_stepwise(to_float(x), params, blur_after_each_op=config.color_mode == "released")
        return result if out is None else out.copy_(result)
    x = x.float() if x.dtype == torch.uint8 else x * 255
    return _apply_fused(x, params, out)


def neutral_view(height: int, width: int) -> ViewParams:
    """The draw that changes nothing but the size: the whole ``height`` x ``width`` frame resized
    to the training square, no flip, no colour change (what a frozen backbone's feature cache
    holds: ``carl_pipeline.embedding.features``)."""
    return ViewParams(crop=(0, 0, height, width), flip=False, jitter=False, jitter_order=(0, 1, 2, 3),
                      factors=(1.0, 1.0, 1.0, 0.0), blur_sigma=None, grayscale=False)


def augment_view(frames: torch.Tensor, config: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw one augmentation and apply it to all frames of the view: ``(T, 3, H, W)`` ->
    ``(T, 3, image_size, image_size)`` float32, normalised."""
    params = sample_view_params(frames.shape[-2], frames.shape[-1], config, generator)
    return apply_view_params(frames, params, config)


def augment_each(frames: Sequence[torch.Tensor], config: AugmentConfig,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """An augmentation drawn for each frame on its own (SimCLR's views): ``(3, H, W)`` frames, of
    any sizes -> ``(N, 3, image_size, image_size)`` float32, normalised."""
    return torch.cat([augment_view(frame[None], config, generator) for frame in frames])


FRAMINGS = ("resize_crop", "squash", "native_crop")


def eval_transform(frames: torch.Tensor, image_size: int, framing: str = "resize_crop") -> torch.Tensor:
    """Evaluation preprocessing: how a stored frame becomes the encoder's square input.

    This is the one place that says how frames are framed at evaluation, per dataset:

    - ``"native_crop"``: the released code's (``datasets/data_augment.py``: ``uniform_crop`` of
      ``IMAGE_SIZE`` at the stored resolution, then ``resize``): a centre crop of ``image_size``
      pixels (of the whole side where the frame is smaller), then resized to the square. FineGym
      (events stored at 640x360: a 224 px centre crop); Pouring (stored at 224x224: the frame).
    - ``"squash"``: the whole frame resized to ``image_size`` x ``image_size``, aspect ratio not
      kept: Penn Action as released (``penn_action_to_tfrecords.py`` resizes every frame to 224x224;
      the paper environment also stores it so).
    - ``"resize_crop"``: shorter side to ``image_size``, then a centre crop (the demo's default).

    ``(T, 3, H, W)`` uint8 or float -> ``(T, 3, image_size, image_size)`` float32, normalised.
    """
    x = to_float(frames)
    if framing == "squash":
        x = TF.resize(x, [image_size, image_size], antialias=True)
    elif framing == "native_crop":
        height, width = x.shape[-2:]
        h, w = min(image_size, height), min(image_size, width)
        top, left = math.ceil((height - h) / 2), math.ceil((width - w) / 2)  # as uniform_crop
        x = x[..., top:top + h, left:left + w]
        if (h, w) != (image_size, image_size):
            x = TF.resize(x, [image_size, image_size], antialias=True)
    elif framing == "resize_crop":
        x = TF.center_crop(TF.resize(x, [image_size], antialias=True), [image_size, image_size])
    else:
        raise ValueError(f"framing must be one of {FRAMINGS}, got {framing!r}")
    return normalize(x)
