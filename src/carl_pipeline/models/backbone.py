"""ResNet backbones split at a stage, with weights from local files only (never a download)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from torch import nn

logger = logging.getLogger(__name__)

RESNET_STAGES = ("stem", "layer1", "layer2", "layer3", "layer4")
_OUT_CHANNELS = {"resnet18": 512, "resnet34": 512, "resnet50": 2048, "resnet101": 2048}


class BackboneWeightsError(ValueError):
    """Backbone weights are missing or do not fit; the message names the file and what is wrong."""


def _strip_to_resnet(state: dict, expected: set[str]) -> dict:
    """Find the ResNet inside a checkpoint: unwrap ``state_dict``-like containers, then remove the
    prefix (``module.``, ``online_network.encoder.``, ...) that self-supervised trainers put
    before the ResNet's own parameter names: the prefix most keys share before a ResNet name."""
    for key in ("state_dict", "model", "online_network_state_dict", "network"):
        if isinstance(state.get(key), dict):
            state = state[key]
    prefixes: dict[str, int] = {}
    for name in state:
        for resnet_name in expected:
            if name.endswith(resnet_name) and (len(name) == len(resnet_name) or name[-len(resnet_name) - 1] == "."):
                prefix = name[: len(name) - len(resnet_name)]
                prefixes[prefix] = prefixes.get(prefix, 0) + 1
    if not prefixes:
        return state
    prefix = max(prefixes, key=lambda p: (prefixes[p], -len(p)))
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def load_backbone_weights(resnet: nn.Module, source: str) -> None:
    """Load ResNet weights from a local file (torchvision or BYOL-style format) or ``"imagenet"``
    (torchvision's ImageNet weights, only if already in the local torch hub cache).

    Raises:
        BackboneWeightsError: the file is missing, unreadable or holds no matching ResNet weights.
    """
    if source == "imagenet":
        from torchvision.models import get_model_weights

        weights = get_model_weights(_name_of(resnet)).DEFAULT
        cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
        if not cached.is_file():
            raise BackboneWeightsError(
                f"{cached}: torchvision ImageNet weights not found locally; this project never downloads. "
                f"Put the file there, or point backbone_weights at a local checkpoint, or use null (random init)."
            )
        source = str(cached)
    path = Path(source)
    if not path.is_file():
        raise BackboneWeightsError(f"{path}: backbone weights file does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise BackboneWeightsError(f"{path}: not a readable torch checkpoint ({error})") from error
    expected = {k for k in resnet.state_dict() if not k.startswith("fc.")}
    state = _strip_to_resnet(state, expected)
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    missing = expected - set(state)
    if len(missing) > len(expected) // 2:
        raise BackboneWeightsError(
            f"{path}: holds no {_name_of(resnet)} weights (first keys: {sorted(state)[:5]})")
    result = resnet.load_state_dict(state, strict=False)
    missing_now = [k for k in result.missing_keys if not k.startswith("fc.")]
    if missing_now:
        raise BackboneWeightsError(f"{path}: missing {len(missing_now)} backbone tensors, e.g. {missing_now[:5]}")
    logger.info("backbone weights loaded from %s", path)


def _name_of(resnet: nn.Module) -> str:
    return getattr(resnet, "_carl_name", "resnet")


def build_resnet(name: str, freeze_through: str | None, weights: str | None) -> tuple[nn.Module, nn.Module, int]:
    """A torchvision ResNet split into a frozen part (stem through ``freeze_through``) and a
    trained part (the stages after it), without the classifier.

    Returns:
        ``(frozen, trained, out_channels)``; ``frozen`` is empty when ``freeze_through`` is None.
    """
    import torchvision

    if name not in _OUT_CHANNELS:
        raise ValueError(f"backbone must be one of {sorted(_OUT_CHANNELS)}, got {name!r}")
    resnet = getattr(torchvision.models, name)(weights=None)
    resnet._carl_name = name
    if weights:
        load_backbone_weights(resnet, weights)
    stages = {
        "stem": nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool),
        "layer1": resnet.layer1, "layer2": resnet.layer2, "layer3": resnet.layer3, "layer4": resnet.layer4,
    }
    split = 0 if freeze_through is None else RESNET_STAGES.index(freeze_through) + 1
    frozen = nn.Sequential(*[stages[s] for s in RESNET_STAGES[:split]])
    trained = nn.Sequential(*[stages[s] for s in RESNET_STAGES[split:]])
    return frozen, trained, _OUT_CHANNELS[name]
