"""CARL's frame-level video encoder (plain torch).

::

    frames (B, T, 3, H, W)
      -> [input_norm "frame": each frame's channels standardised over its pixels]
      -> ResNet stem..layerK  (frozen, eval mode, no grad)    } per chunk of frames_per_batch
      -> ResNet layerK+1..4   (trained)                       } frames, so long videos fit
      -> max pool -> [dropout, FC 512, BatchNorm, ReLU] x 2 -> linear 256
      -> + sine-cosine position encoding -> pre-LayerNorm transformer encoder (8 heads, FF 1024)
      -> linear 128                                            = frame embeddings (B, T, 128)
      -> [training: MLP projection head 128 -> 128 (BN, ReLU) -> 128]
      -> L2 normalisation

Paper: ResNet-50 frozen through ``layer3`` with ``layer4`` fine-tuned, 2 transformer layers on
Pouring, 3 on Penn Action and FineGym, no input standardisation (the demo, from random weights:
``input_norm="frame"``).
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from carl_pipeline.checks import check_choice, check_ranges
from carl_pipeline.models.backbone import RESNET_STAGES, build_resnet
from carl_pipeline.models.vit import build_vit, is_vit


def build_backbone(name: str, freeze_through: str | None, weights: str | None,
                   weights_dir: str | os.PathLike | None = None,
                   state_dict: dict[str, torch.Tensor] | None = None) -> tuple[nn.Module, nn.Module, int]:
    """``(frozen, trained, out_channels)`` of a torchvision ResNet (``build_resnet``) or a timm
    ViT (``carl_pipeline.models.vit.build_vit``, names ``vit_...``)."""
    if is_vit(name):
        if state_dict:
            raise ValueError(f"backbone {name}: a backbone state (the frame pretraining) is for ResNets only")
        return build_vit(name, freeze_through, weights, weights_dir)
    if freeze_through == "all":  # every stage
        freeze_through = RESNET_STAGES[-1]
    return build_resnet(name, freeze_through, weights, weights_dir, state_dict)


@dataclass(frozen=True)
class EncoderConfig:
    """Architecture of the encoder; stored in every checkpoint and checked on resume."""

    # resnet18/34/50/101, or a timm ViT (vit_small_patch16_224.dino, ...: carl_pipeline.models.vit)
    backbone: str = "resnet50"
    # None (random init), "imagenet_v1", "imagenet_v2", "byol" (named files in backbone_dir), or a path
    backbone_weights: str | None = None
    backbone_dir: str | None = None  # where the named weights files are looked up first
    # last frozen stage; "all": the whole backbone (a ViT: "all" or None); None trains the whole backbone
    freeze_through: str | None = "layer3"
    frames_per_batch: int = 40  # frames through the backbone at once
    fc_channels: int = 512
    fc_layers: int = 2
    dropout: float = 0.1
    hidden_size: int = 256
    num_layers: int = 2
    num_heads: int = 8
    ff_size: int = 1024
    transformer: str = "torch"  # "torch" (nn.TransformerEncoderLayer) or "released" (CARL's own layers)
    embedding_size: int = 128
    projection_hidden: int = 128
    projection_size: int = 128
    train_length: int = 240  # T during training: positions of longer/shorter inputs are rescaled
    # "none" (the paper's) or "frame": each frame's channels standardised over its own pixels before
    # the backbone (see ``standardize_frames``)
    input_norm: str = "none"

    def __post_init__(self):
        check_input_norm(self.input_norm)
        check_choice("freeze_through", self.freeze_through, (*RESNET_STAGES, "all", None))
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} must be divisible by num_heads {self.num_heads}")
        check_choice("transformer", self.transformer, ("torch", "released"))
        check_ranges(self, {"frames_per_batch": ">= 1", "fc_channels": ">= 1", "fc_layers": ">= 0",
                            "dropout": "in [0, 1)", "hidden_size": ">= 1", "num_layers": ">= 0",
                            "num_heads": ">= 1", "ff_size": ">= 1", "embedding_size": ">= 1",
                            "projection_hidden": ">= 1", "projection_size": ">= 1", "train_length": ">= 1"})

    def to_dict(self) -> dict:
        return asdict(self)


INPUT_NORMS = ("none", "frame")

#: Floor of a channel's variance in ``standardize_frames`` (ImageNet-normalised units, where a
#: channel spanning 0..1 has a standard deviation of about 2): a flat or noise-only channel is
#: amplified at most 10x instead of turning sensor noise into texture.
FRAME_VARIANCE_FLOOR = 1e-2


def standardize_frames(frames: torch.Tensor) -> torch.Tensor:
    """Each frame's channels to zero mean and unit variance over its pixels: ``(N, 3, H, W)`` ->
    ``(N, 3, H, W)`` (instance normalisation of the input, no learnt parameters).

    It removes what a global colour and contrast change does to a frame, which an ImageNet or BYOL
    backbone has learnt to ignore and a randomly initialised one has not: CARL's loss contrasts
    frames of one video, whose colours never change, so nothing in it asks the backbone to see a
    green figure on yellow and a black one on white as the same pose.
    """
    var, mean = torch.var_mean(frames, dim=(-2, -1), keepdim=True, correction=0)
    return (frames - mean) * torch.rsqrt(var + FRAME_VARIANCE_FLOOR)


def check_input_norm(input_norm: str) -> None:
    """Refuse an ``input_norm`` that is not one of ``INPUT_NORMS``, naming the choices."""
    check_choice("input_norm", input_norm, INPUT_NORMS)


def normalize_input(frames: torch.Tensor, input_norm: str) -> torch.Tensor:
    """``(N, 3, H, W)`` frames as the backbone receives them under ``input_norm`` (the encoder's
    and the backbone pretraining's one rule): standardised with ``"frame"``, as they are with
    ``"none"``."""
    return standardize_frames(frames) if input_norm == "frame" else frames


def sincos_position_encoding(num_steps: int, dim: int, train_length: int | None = None) -> torch.Tensor:
    """``(num_steps, dim)`` sine-cosine encoding; a sequence whose length differs from
    ``train_length`` gets positions spread over ``[0, train_length - 1]`` (as CARL does at test
    time, when the whole video goes through the transformer)."""
    if train_length is None or num_steps == train_length:
        positions = torch.arange(num_steps, dtype=torch.float64)
    else:
        positions = torch.linspace(0, train_length - 1, num_steps, dtype=torch.float64)
    index = torch.arange(dim, dtype=torch.float64)
    angles = positions[:, None] / torch.pow(10000.0, index / dim)[None, :]
    encoding = torch.where(index % 2 == 0, torch.sin(angles), torch.cos(angles))
    return encoding.float()


class ReleasedEncoderLayer(nn.Module):
    """One transformer layer as the released CARL code builds it (``models/transformer.py``,
    ``EncoderLayer``): pre-LayerNorm residual blocks ``x + dropout(f(LayerNorm(x)))`` around
    multi-head self-attention (separate query, key, value and output projections; no dropout on
    the attention weights) and a ReLU feed-forward (no dropout inside it); every weight matrix
    Xavier-uniform initialised. Unlike ``nn.TransformerEncoderLayer``, dropout is applied only
    on the two residual branches.
    """

    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.num_heads = num_heads
        self.norm_attention, self.norm_feed_forward = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.query, self.key, self.value = (nn.Linear(d_model, d_model) for _ in range(3))
        self.out = nn.Linear(d_model, d_model)
        self.ff_in, self.ff_out = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.dropout_attention, self.dropout_feed_forward = nn.Dropout(dropout), nn.Dropout(dropout)
        for parameter in self.parameters():
            if parameter.dim() > 1:
                nn.init.xavier_uniform_(parameter)

    def forward(self, x: torch.Tensor, padding: torch.Tensor | None = None) -> torch.Tensor:
        """x ``(B, T, D)``, padding ``(B, T)`` bool (True = padded key) -> ``(B, T, D)``."""
        batch, steps, dim = x.shape
        h = self.norm_attention(x)
        heads = [f(h).view(batch, steps, self.num_heads, dim // self.num_heads).transpose(1, 2)
                 for f in (self.query, self.key, self.value)]  # 3 x (B, H, T, d_k)
        scores = heads[0] @ heads[1].transpose(-1, -2) / math.sqrt(dim // self.num_heads)  # (B, H, T, T)
        if padding is not None:
            scores = scores.masked_fill(padding[:, None, None, :], float("-inf"))
        attended = (scores.softmax(-1) @ heads[2]).transpose(1, 2).reshape(batch, steps, dim)
        x = x + self.dropout_attention(self.out(attended))
        h = self.norm_feed_forward(x)
        return x + self.dropout_feed_forward(self.ff_out(torch.relu(self.ff_in(h))))


class ReleasedTransformer(nn.Module):
    """A stack of ``ReleasedEncoderLayer`` s, all starting from the same initial weights (the
    released ``clone`` deep-copies one initialised layer)."""

    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float, num_layers: int):
        super().__init__()
        first = ReleasedEncoderLayer(d_model, num_heads, d_ff, dropout)
        self.layers = nn.ModuleList([first] + [copy.deepcopy(first) for _ in range(num_layers - 1)])

    def forward(self, x: torch.Tensor, src_key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, src_key_padding_mask)
        return x


class FrameEmbedder(nn.Module):
    """Max-pooled backbone features ``(B, T, C)`` -> frame embeddings ``(B, T, embedding_size)``."""

    def __init__(self, in_channels: int, config: EncoderConfig):
        super().__init__()
        layers, channels = [], in_channels
        for _ in range(config.fc_layers):
            layers += [nn.Dropout(config.dropout), nn.Linear(channels, config.fc_channels),
                       nn.BatchNorm1d(config.fc_channels), nn.ReLU(inplace=True)]
            channels = config.fc_channels
        self.fc = nn.Sequential(*layers)
        self.to_hidden = nn.Linear(channels, config.hidden_size)
        self.position_dropout = nn.Dropout(config.dropout)
        if not config.num_layers:
            self.transformer = None
        elif config.transformer == "released":
            self.transformer = ReleasedTransformer(config.hidden_size, config.num_heads, config.ff_size,
                                                   config.dropout, config.num_layers)
        else:
            layer = nn.TransformerEncoderLayer(
                config.hidden_size, config.num_heads, config.ff_size, config.dropout,
                activation="relu", batch_first=True, norm_first=True,
            )
            self.transformer = nn.TransformerEncoder(layer, config.num_layers, enable_nested_tensor=False)
        self.to_embedding = nn.Linear(config.hidden_size, config.embedding_size)
        self.config = config

    def forward(self, features: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """features ``(B, T, C)``, masks ``(B, T)`` (1 = valid) -> ``(B, T, embedding_size)``."""
        batch, steps = features.shape[:2]
        x = self.fc(features.reshape(batch * steps, -1))
        x = self.to_hidden(x).reshape(batch, steps, -1)  # (B, T, hidden)
        position = sincos_position_encoding(steps, x.shape[-1], self.config.train_length).to(x.device, x.dtype)
        x = self.position_dropout(x + position)
        if self.transformer is not None:
            padding = None if masks is None else ~masks.bool()
            x = self.transformer(x, src_key_padding_mask=padding)
        return self.to_embedding(x)


class ProjectionHead(nn.Module):
    """Training-only MLP: ``(B, T, D)`` -> ``(B, T, projection_size)``."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(config.embedding_size, config.projection_hidden), nn.BatchNorm1d(config.projection_hidden),
            nn.ReLU(inplace=True), nn.Linear(config.projection_hidden, config.projection_size),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, steps, dim = x.shape
        return self.net(x.reshape(batch * steps, dim)).reshape(batch, steps, -1)


class CARLEncoder(nn.Module):
    """The frame-level video encoder (see the module docstring for the block diagram).

    Example:
        >>> model = CARLEncoder(EncoderConfig(backbone="resnet18", num_layers=1, train_length=16))
        >>> z = model(torch.randn(2, 16, 3, 64, 64))          # (2, 16, 128), L2-normalised
        >>> p = model(torch.randn(2, 16, 3, 64, 64), project=True)  # through the projection head
    """

    def __init__(self, config: EncoderConfig, backbone_state: dict[str, torch.Tensor] | None = None):
        """``backbone_state``: ResNet weights (torchvision names; not for a ViT) to start from, after
        ``config.backbone_weights`` (e.g. the demo's self-supervised frame pretraining)."""
        super().__init__()
        self.config = config
        self.frozen, self.trained, out_channels = build_backbone(config.backbone, config.freeze_through,
                                                                 config.backbone_weights, config.backbone_dir,
                                                                 backbone_state)
        for parameter in self.frozen.parameters():
            parameter.requires_grad_(False)
        self.embedder = FrameEmbedder(out_channels, config)
        self.projection = ProjectionHead(config)
        self.channels_last = False

    def speed_up(self, channels_last: bool = False, compile_backend: str | None = None) -> CARLEncoder:
        """Run the backbone in ``channels_last`` memory format (faster convolutions on tensor-core
        GPUs) and/or compile its stages with ``torch.compile`` (``compile_backend``, e.g.
        ``inductor``; compiled in place, so the state dict keeps its names). Neither changes what
        the model computes beyond rounding."""
        if channels_last:
            self.frozen.to(memory_format=torch.channels_last)
            self.trained.to(memory_format=torch.channels_last)
            self.channels_last = True
        if compile_backend:
            for part in (self.frozen, self.trained):
                if len(part):
                    part.compile(backend=compile_backend)
        return self

    def train(self, mode: bool = True):
        super().train(mode)
        self.frozen.eval()  # frozen stages keep their BatchNorm statistics
        return self

    def backbone_features(self, frames: torch.Tensor) -> torch.Tensor:
        """``(B, T, 3, H, W)`` -> max-pooled backbone features ``(B, T, C)``, computed
        ``frames_per_batch`` frames at a time (only pooled features are kept, so a long video's
        activations never sit in memory together)."""
        batch, steps = frames.shape[:2]
        chunk = self.config.frames_per_batch
        outputs = []
        for start in range(0, steps, chunk):
            x = frames[:, start:start + chunk].flatten(0, 1)  # (B * t, 3, H, W)
            x = normalize_input(x, self.config.input_norm)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            if len(self.frozen):
                with torch.inference_mode():  # no autograd bookkeeping at all for the frozen stages
                    x = self.frozen(x)
                if torch.is_grad_enabled():
                    x = x.clone()  # an inference tensor cannot be saved for the trained stages' backward
            x = self.trained(x)  # (B * t, C, h, w)
            outputs.append(torch.amax(x.flatten(2), dim=-1).unflatten(0, (batch, -1)))  # max pool
        return torch.cat(outputs, dim=1)

    def embed_features(self, features: torch.Tensor, masks: torch.Tensor | None = None, project: bool = False,
                       normalize: bool = True) -> torch.Tensor:
        """Pooled backbone features ``(B, T, C)`` -> frame embeddings ``(B, T, D)``: the
        transformer sees the whole sequence at once."""
        x = self.embedder(features, masks)
        if project:
            x = self.projection(x)
        return F.normalize(x, dim=-1) if normalize else x

    def forward(self, frames: torch.Tensor, masks: torch.Tensor | None = None, project: bool = False,
                normalize: bool = True) -> torch.Tensor:
        """Embed every frame.

        Args:
            frames: ``(B, T, 3, H, W)`` normalised images.
            masks: ``(B, T)``, 1 for valid frames (padding is hidden from attention).
            project: pass through the projection head (training).
            normalize: L2-normalise the output.

        Returns:
            ``(B, T, projection_size if project else embedding_size)``.
        """
        if frames.dim() != 5:
            raise ValueError(f"frames must be (B, T, 3, H, W), got {tuple(frames.shape)}")
        return self.embed_features(self.backbone_features(frames), masks, project, normalize)


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def describe(model: CARLEncoder) -> str:
    """One line a person reads in the log: architecture and trainable size."""
    c = model.config
    return (f"CARL encoder: {c.backbone} frozen through {c.freeze_through}, {c.num_layers}-layer transformer, "
            f"{c.embedding_size}-d embeddings, {count_parameters(model) / 1e6:.1f}M trainable parameters "
            f"(weights: {c.backbone_weights or 'random init'})")


__all__ = ["INPUT_NORMS", "CARLEncoder", "EncoderConfig", "FrameEmbedder", "ProjectionHead", "ReleasedEncoderLayer",
           "ReleasedTransformer", "check_input_norm", "describe", "normalize_input", "sincos_position_encoding",
           "standardize_frames"]
