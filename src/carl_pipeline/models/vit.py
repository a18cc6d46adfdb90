"""Vision-transformer backbones from timm (DINO, DINOv2, ...), weights from local files only.

The newest CARL fork, MV-Former (CVPRW 2025, facebookresearch/video_rep_learning), replaces
CARL's ResNet with a frozen self-supervised ViT (DINO ViT-B/8) under CARL's temporal transformer.
Here ``model.backbone`` takes any timm ViT name (``vit_small_patch16_224.dino``,
``vit_base_patch8_224.dino``, ``vit_small_patch14_dinov2.lvd142m``, ...), built with
``pretrained=False`` and, with ``backbone_weights: <file>``, loaded from that file through timm's
pretrained-config overlay (``pretrained_cfg_overlay={"file": ...}``): timm's own key conversion
for the model (the official DINO and DINOv2 checkpoints load as published) and never a download.

A frame's feature is its CLS token after the ViT's final norm (our choice: the token DINO's
self-distillation trains; MV-Former's own pooling of the patch tokens is not reproduced:
unconfirmed which it uses for CARL's head). ``dynamic_img_size`` lets the position embedding
follow the input size, so the demo's small frames go through a 224-px model.

``freeze_through``: ``all`` freezes the whole ViT (MV-Former's setting; the features are then a
fixed function of the frame), None trains it.
"""

from __future__ import annotations

import os

import torch
from torch import nn

#: ``freeze_through`` values a ViT takes.
VIT_FREEZE = ("all", None)


def is_vit(name: str) -> bool:
    """A timm vision transformer's name (``vit_...``, with or without a ``.tag``)."""
    return name.startswith("vit_")


class ViTFeatures(nn.Module):
    """``(N, 3, H, W)`` -> ``(N, C, 1, 1)``: a timm ViT's CLS token after its final norm (a
    1 x 1 map, so CARL's max pooling passes it through)."""

    def __init__(self, vit: nn.Module):
        super().__init__()
        self.vit = vit

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        tokens = self.vit.forward_features(frames)  # (N, prefix + patches, C)
        return tokens[:, 0, :, None, None]


def build_vit(name: str, freeze_through: str | None, weights: str | None,
              weights_dir: str | os.PathLike | None = None) -> tuple[nn.Module, nn.Module, int]:
    """A timm ViT as CARL's backbone: ``(frozen, trained, out_channels)``, the ViT in ``frozen``
    with ``freeze_through: all`` and in ``trained`` with None.

    Raises:
        ValueError: not a timm model name, or a ``freeze_through`` a ViT does not take.
        BackboneWeightsError: the weights file is missing or does not fit the model, naming it.
    """
    import timm

    from carl_pipeline.checks import check_choice
    from carl_pipeline.models.backbone import BackboneWeightsError, resolve_weights_file

    check_choice("freeze_through (a ViT backbone)", freeze_through, VIT_FREEZE)
    architecture = name.split(".", maxsplit=1)[0]
    if not timm.is_model(architecture):
        raise ValueError(f"backbone {name!r}: not a timm model (timm.list_models('vit_*') lists them)")
    options = {"num_classes": 0, "dynamic_img_size": True}
    if weights:
        path = resolve_weights_file(name, weights, weights_dir)  # a file path, then under weights_dir
        try:
            vit = timm.create_model(name, pretrained=True, pretrained_cfg_overlay={"file": str(path)}, **options)
        except (RuntimeError, KeyError, ValueError) as error:
            raise BackboneWeightsError(f"{path}: weights do not fit {name} ({error})") from error
    else:
        vit = timm.create_model(name, pretrained=False, **options)
    features = nn.Sequential(ViTFeatures(vit))
    if freeze_through == "all":
        return features, nn.Sequential(), vit.num_features
    return nn.Sequential(), features, vit.num_features
