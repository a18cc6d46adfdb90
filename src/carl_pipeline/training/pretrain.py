"""Self-supervised pretraining of the frame backbone on the training videos' frames (SimCLR).

CARL starts from a backbone pretrained on ImageNet (the released code) or with BYOL (the paper);
a run that may not download one (the embedded demo) can pretrain its own first: every training
frame, two independent augmentations of it (the same recipe as CARL's views), a projection MLP and
SimCLR's NT-Xent (``carl_pipeline.losses.nt_xent_loss``). No labels are read. The result is the
ResNet's state dict in torchvision's layout, which ``CARLEncoder`` starts from.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from carl_pipeline.augment import AugmentConfig, augment_each
from carl_pipeline.checks import check_ranges
from carl_pipeline.devices import resolve_device
from carl_pipeline.losses import nt_xent_loss
from carl_pipeline.models.encoder import check_input_norm, normalize_input
from carl_pipeline.training.schedule import lr_schedule
from carl_pipeline.video.frame_store import FrameStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PretrainConfig:
    """Settings of the frame pretraining (defaults: off; the demo turns it on).

    Attributes:
        epochs: passes over the training frames; 0 skips pretraining (start from
            ``model.backbone_weights`` as configured).
        frames_per_step: frames per batch, each seen in two augmented views.
        lr, weight_decay: Adam's.
        temperature: NT-Xent's tau.
        projection_size: output of the projection MLP (dropped after pretraining).
        seed: frames' order and augmentation draws.
    """

    epochs: int = 0
    frames_per_step: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-6
    temperature: float = 0.2
    projection_size: int = 128
    seed: int = 0
    progress: bool = True

    def __post_init__(self):
        if self.epochs < 0 or self.frames_per_step < 2:
            raise ValueError(f"need epochs >= 0 and frames_per_step >= 2, got {self.epochs}, {self.frames_per_step}")
        check_ranges(self, {"lr": "> 0", "weight_decay": ">= 0", "temperature": "> 0", "projection_size": ">= 1"})


def _frame_batches(frames: list[tuple[str, int]], frames_per_step: int,
                   generator: torch.Generator) -> list[list[tuple[str, int]]]:
    """One epoch: every training frame once, shuffled, in batches (the last partial one dropped)."""
    order = torch.randperm(len(frames), generator=generator).tolist()
    usable = len(order) // frames_per_step * frames_per_step
    return [[frames[k] for k in order[start:start + frames_per_step]] for start in range(0, usable, frames_per_step)]


def _read(store: FrameStore, batch: list[tuple[str, int]]) -> list[torch.Tensor]:
    """The frames of a batch, ``(3, H, W)`` uint8 each, in batch order (one read per video)."""
    by_video: dict[str, list[int]] = {}
    for video_id, index in batch:
        by_video.setdefault(video_id, []).append(index)
    decoded = {}
    for video_id, indices in by_video.items():
        unique = sorted(set(indices))
        for index, frame in zip(unique, store.open(video_id).read(np.asarray(unique)), strict=True):
            decoded[(video_id, index)] = frame
    return [decoded[key] for key in batch]


def pretrain_backbone(
    store_root: str,
    video_ids: Sequence[str],
    backbone: str,
    augment: AugmentConfig,
    config: PretrainConfig,
    device: str | None = None,
    input_norm: str = "none",
) -> dict[str, Any]:
    """SimCLR on the frames of ``video_ids``.

    Args:
        store_root: the frame store.
        video_ids: the training videos (labels are never read).
        backbone: a torchvision ResNet name (``resnet18``, ...), randomly initialised.
        augment: the view augmentation, drawn independently for each view of each frame.
        config: the pretraining settings.
        input_norm: the encoder's ``model.input_norm``: with ``"frame"`` the backbone learns on
            standardised frames, as CARL will feed it (``normalize_input``).

    Returns:
        ``{"state_dict": ResNet weights (torchvision names, no fc), "history": mean loss per
        epoch, "config": the settings, "backbone": backbone}``; an empty ``state_dict`` when
        ``config.epochs`` is 0.
    """
    check_input_norm(input_norm)
    if config.epochs == 0:
        return {"state_dict": {}, "history": [], "config": asdict(config), "backbone": backbone}
    from carl_pipeline.models.vit import is_vit

    if is_vit(backbone):
        raise ValueError(f"pretrain.epochs {config.epochs}: the frame pretraining trains a ResNet, not {backbone}; "
                         "set pretrain.epochs: 0 for a ViT backbone (start it from a weights file instead)")
    import torchvision

    logger.info("pretraining %s on the frames of %d videos (SimCLR, %d epochs)", backbone, len(video_ids), config.epochs)
    device = resolve_device(device or "auto")
    torch.manual_seed(config.seed)
    resnet = getattr(torchvision.models, backbone)(weights=None)
    width = resnet.fc.in_features
    resnet.fc = nn.Identity()
    projection = nn.Sequential(nn.Linear(width, width), nn.ReLU(inplace=True), nn.Linear(width, config.projection_size))
    model = nn.Sequential(resnet, projection).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    store = FrameStore(store_root)
    generator = torch.Generator().manual_seed(config.seed)
    history = []
    frames = [(video_id, i) for video_id in video_ids for i in range(len(store.open(video_id)))]
    steps = len(frames) // config.frames_per_step
    if steps == 0:
        raise ValueError(f"{store_root}: {len(frames)} training frames, fewer than frames_per_step "
                         f"({config.frames_per_step})")
    schedule = lr_schedule(config.epochs * steps, 0, config.lr)  # cosine to 0, no warm-up
    step = 0
    for epoch in range(config.epochs):
        losses = []
        batches = _frame_batches(frames, config.frames_per_step, generator)
        for batch in tqdm(batches, desc=f"pretraining backbone {epoch + 1}/{config.epochs}", unit="step",
                          disable=not config.progress, leave=False):
            views = [normalize_input(augment_each(_read(store, batch), augment, generator).to(device), input_norm)
                     for _ in range(2)]  # (N, 3, S, S)
            for group in optimizer.param_groups:
                group["lr"] = float(schedule[step])
            loss = nt_xent_loss(model(views[0]), model(views[1]), config.temperature)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            step += 1
        history.append(float(np.mean(losses)))
        logger.info("backbone pretraining epoch %d/%d: loss %.4f", epoch + 1, config.epochs, history[-1])
    state = {k: v.detach().cpu() for k, v in resnet.state_dict().items()}
    return {"state_dict": state, "history": history, "config": asdict(config), "backbone": backbone}
