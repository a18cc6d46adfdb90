"""ResNet backbones split at a stage, with weights from local files only (never a download)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from torch import nn

from carl_pipeline.checks import check_choice

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


NAMED_WEIGHTS = ("imagenet_v1", "imagenet_v2", "byol")
_TORCHVISION_MEMBERS = {"imagenet_v1": "IMAGENET1K_V1", "imagenet_v2": "IMAGENET1K_V2"}


def weights_file_candidates(backbone: str, weights: str, backbone_dir: str | os.PathLike | None = None) -> list[Path]:
    """Where the weights called ``weights`` are looked for, in order (never downloaded).

    - ``imagenet_v1`` / ``imagenet_v2``: torchvision's ImageNet file under its own name (e.g.
      ``resnet50-0676ba61.pth``, V1, what the released CARL code loads with ``pretrained=True``;
      ``resnet50-11ad3fa6.pth``, V2), in ``backbone_dir``, then in the torch hub cache.
    - ``byol``: ``<backbone_dir>/<backbone>_byol.pth`` (a BYOL checkpoint, the paper's text).
    - anything else: a path to a checkpoint (torchvision or BYOL layout; for a ViT, any file timm
      loads), then, when it is relative, the same path under ``backbone_dir``.

    Raises:
        BackboneWeightsError: torchvision has no such ImageNet weights for this backbone.
    """
    if weights in _TORCHVISION_MEMBERS:
        from torchvision.models import get_model_weights

        member = _TORCHVISION_MEMBERS[weights]
        enum = get_model_weights(backbone)
        if not hasattr(enum, member):
            raise BackboneWeightsError(f"torchvision has no {member} weights for {backbone} "
                                       f"(it has {[m.name for m in enum]}); choose another backbone_weights")
        filename = os.path.basename(getattr(enum, member).url)
        candidates = [Path(backbone_dir) / filename] if backbone_dir else []
        return [*candidates, Path(torch.hub.get_dir()) / "checkpoints" / filename]
    if weights == "byol":
        return [Path(backbone_dir or ".") / f"{backbone}_byol.pth"]
    if weights == "imagenet":
        raise BackboneWeightsError("backbone_weights 'imagenet' is ambiguous: say imagenet_v1 (the released CARL "
                                   "code's) or imagenet_v2")
    path = Path(weights).expanduser()
    return [path] if path.is_absolute() or not backbone_dir else [path, Path(backbone_dir) / path]


def resolve_weights_file(backbone: str, weights: str, backbone_dir: str | os.PathLike | None = None) -> Path:
    """The local file holding ``weights`` for ``backbone`` (see ``weights_file_candidates``).

    Raises:
        BackboneWeightsError: no candidate exists; the message names the expected file(s).
    """
    candidates = weights_file_candidates(backbone, weights, backbone_dir)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    where = " or ".join(str(c) for c in candidates)
    raise BackboneWeightsError(
        f"{where}: {weights} weights for {backbone} not found. This project never downloads: put the file "
        f"there (e.g. copy it from a machine with internet), point backbone_weights at a local checkpoint, "
        f"or use null (random init)")


def load_backbone_weights(resnet: nn.Module, source: str | os.PathLike) -> None:
    """Load ResNet weights from a local checkpoint file (torchvision or BYOL-style layout).

    Raises:
        BackboneWeightsError: the file is missing, unreadable or holds no matching ResNet weights.
    """
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
    try:
        result = resnet.load_state_dict(state, strict=False)
    except RuntimeError as error:
        raise BackboneWeightsError(f"{path}: weights do not fit {_name_of(resnet)} ({error})") from error
    missing_now = [k for k in result.missing_keys if not k.startswith("fc.")]
    if missing_now:
        raise BackboneWeightsError(f"{path}: missing {len(missing_now)} backbone tensors, e.g. {missing_now[:5]}")
    logger.info("backbone weights loaded from %s", path)


def _name_of(resnet: nn.Module) -> str:
    return getattr(resnet, "_carl_name", "resnet")


def build_resnet(name: str, freeze_through: str | None, weights: str | None,
                 weights_dir: str | os.PathLike | None = None,
                 state_dict: dict[str, torch.Tensor] | None = None) -> tuple[nn.Module, nn.Module, int]:
    """A torchvision ResNet split into a frozen part (stem through ``freeze_through``) and a
    trained part (the stages after it), without the classifier. ``weights``: None (random init),
    a name of ``NAMED_WEIGHTS`` looked up in ``weights_dir`` (``weights_file_candidates``) or a path;
    ``state_dict`` (torchvision names, e.g. from ``training.pretrain_backbone``) is loaded after them.

    Returns:
        ``(frozen, trained, out_channels)``; ``frozen`` is empty when ``freeze_through`` is None.
    """
    import torchvision

    check_choice("backbone", name, sorted(_OUT_CHANNELS))
    resnet = getattr(torchvision.models, name)(weights=None)
    resnet._carl_name = name
    if weights:
        load_backbone_weights(resnet, resolve_weights_file(name, weights, weights_dir))
    if state_dict:
        result = resnet.load_state_dict(state_dict, strict=False)
        missing = [k for k in result.missing_keys if not k.startswith("fc.")]
        if missing or result.unexpected_keys:
            raise BackboneWeightsError(f"backbone state does not fit {name}: missing {missing[:5]}, "
                                       f"unexpected {result.unexpected_keys[:5]}")
    stages = {
        "stem": nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool),
        "layer1": resnet.layer1, "layer2": resnet.layer2, "layer3": resnet.layer3, "layer4": resnet.layer4,
    }
    split = 0 if freeze_through is None else RESNET_STAGES.index(freeze_through) + 1
    frozen = nn.Sequential(*[stages[s] for s in RESNET_STAGES[:split]])
    trained = nn.Sequential(*[stages[s] for s in RESNET_STAGES[split:]])
    return frozen, trained, _OUT_CHANNELS[name]
