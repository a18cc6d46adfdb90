"""Checkpoints released by CARL's authors, converted into this project's encoder.

The released training (minghchen/CARL_code, ``models/__init__.py``: ``save_checkpoint``) writes
``{"epoch", "model_state", "optimizer_state", "cfg"}`` with ``model_state`` the state dict of its
``TransformerModel`` (``models/transformer.py``)::

    backbone.{0,1,4,5,6}.*          ResNet-50 conv1, bn1, layer1-3 (frozen)
    res_finetune.*                  ResNet-50 layer4 (fine-tuned)
    embed.fc_layers.{1,2,5,6}.*     [Dropout, Linear, BatchNorm1d, ReLU] x 2
    embed.video_emb.*               Linear to the transformer width
    embed.video_encoder.enc_layers.<i>.res_layer{0,1}.norm.*           pre-LayerNorms
    embed.video_encoder.enc_layers.<i>.self_att.linear_{Q2d,K2d,V2d,d2Q}.*  attention projections
    embed.video_encoder.enc_layers.<i>.feed_forward.fc{1,2}.*          feed-forward
    embed.embedding_layer.*         Linear to the embedding size
    ssl_projection.net.{0,1,3}.*    projection head (Linear, BatchNorm1d, ReLU, Linear)

They map one to one onto ``CARLEncoder`` with ``transformer="released"``.
"""

from __future__ import annotations

import collections
import re
from pathlib import Path
from typing import Any

import torch

from carl_pipeline.models.encoder import CARLEncoder, EncoderConfig

_BACKBONE_STAGES = {"0": "frozen.0.0", "1": "frozen.0.1", "4": "frozen.1", "5": "frozen.2", "6": "frozen.3"}
_LAYER_PARTS = {
    "res_layer0.norm": "norm_attention", "res_layer1.norm": "norm_feed_forward",
    "self_att.linear_Q2d": "query", "self_att.linear_K2d": "key", "self_att.linear_V2d": "value",
    "self_att.linear_d2Q": "out", "feed_forward.fc1": "ff_in", "feed_forward.fc2": "ff_out",
}


class ReleasedCheckpointError(ValueError):
    """A file that is not a released CARL checkpoint; the message names the file and the problem."""


def _released_key(key: str) -> str | None:
    """The project's name of a released ``TransformerModel`` parameter (None: not one)."""
    if key.startswith("backbone."):
        stage, _, rest = key[len("backbone."):].partition(".")
        return f"{_BACKBONE_STAGES[stage]}.{rest}" if stage in _BACKBONE_STAGES else None
    if key.startswith("res_finetune."):
        return "trained.0." + key[len("res_finetune."):]
    if key.startswith("embed.fc_layers."):
        return "embedder.fc." + key[len("embed.fc_layers."):]
    if key.startswith("embed.video_emb."):
        return "embedder.to_hidden." + key[len("embed.video_emb."):]
    if key.startswith("embed.embedding_layer."):
        return "embedder.to_embedding." + key[len("embed.embedding_layer."):]
    if key.startswith("ssl_projection.net."):
        return "projection.net." + key[len("ssl_projection.net."):]
    match = re.fullmatch(r"embed\.video_encoder\.enc_layers\.(\d+)\.(.+)\.(weight|bias)", key)
    if match and match.group(2) in _LAYER_PARTS:
        return f"embedder.transformer.layers.{match.group(1)}.{_LAYER_PARTS[match.group(2)]}.{match.group(3)}"
    return None


def convert_released_state_dict(state: dict[str, torch.Tensor], *, num_heads: int = 8, train_length: int = 240,
                                source: str = "state dict") -> tuple[EncoderConfig, dict[str, torch.Tensor]]:
    """The released ``TransformerModel`` state dict as this project's encoder config and weights.

    Args:
        state: the released ``model_state`` (a ``module.`` prefix from DistributedDataParallel is removed).
        num_heads: attention heads (not recoverable from the weights; released configs: 8).
        train_length: the clip length T it was trained with (released: 240, 80 on Penn Action);
            scales the position encoding of longer inputs.
        source: the file, for error messages.

    Raises:
        ReleasedCheckpointError: keys or shapes that are not the released layout.
    """
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if "embed.video_emb.weight" not in state or "res_finetune.0.conv1.weight" not in state:
        raise ReleasedCheckpointError(
            f"{source}: not a released CARL TransformerModel state dict (no embed.video_emb / res_finetune "
            f"keys; first keys: {sorted(state)[:5]})")
    fc_linears = sorted(int(k.split(".")[2]) for k in state if re.fullmatch(r"embed\.fc_layers\.\d+\.weight", k)
                        and state[k].dim() == 2)
    layers = {int(k.split(".")[3]) for k in state if k.startswith("embed.video_encoder.enc_layers.")}
    hidden, fc_channels = state["embed.video_emb.weight"].shape
    config = EncoderConfig(
        backbone="resnet50", backbone_weights=None, freeze_through="layer3", frames_per_batch=40,
        fc_channels=int(fc_channels), fc_layers=len(fc_linears), dropout=0.1, hidden_size=int(hidden),
        num_layers=len(layers), num_heads=num_heads,
        ff_size=int(state["embed.video_encoder.enc_layers.0.feed_forward.fc1.weight"].shape[0]) if layers else 1024,
        transformer="released", embedding_size=int(state["embed.embedding_layer.weight"].shape[0]),
        projection_hidden=int(state.get("ssl_projection.net.0.weight", torch.empty(128, 0)).shape[0]),
        projection_size=int(state.get("ssl_projection.net.3.weight", torch.empty(128, 0)).shape[0]),
        train_length=train_length,
    )
    converted, unknown = {}, []
    for key, value in state.items():
        name = _released_key(key)
        if name is None:
            if not key.startswith(("classifier.", "backbone.")):  # a classification head / other ResNet parts
                unknown.append(key)
            continue
        converted[name] = value
    if unknown:
        raise ReleasedCheckpointError(f"{source}: keys not in the released layout: {unknown[:5]}")
    expected = CARLEncoder(config).state_dict()
    missing = [k for k in expected if k not in converted and not k.startswith("projection.")]
    wrong = [f"{k} {tuple(converted[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
             if k in converted and converted[k].shape != v.shape]
    if missing or wrong:
        raise ReleasedCheckpointError(f"{source}: does not fit the released architecture "
                                      f"(missing {missing[:5]}, shapes {wrong[:5]})")
    for key in expected:  # no projection head in the file: keep the fresh one (unused at evaluation)
        converted.setdefault(key, expected[key])
    return config, converted


#: The only types beyond torch's weights-only set that a released checkpoint holds: its ``cfg`` is
#: an ``easydict.EasyDict`` (minghchen/CARL_code ``utils/config.py``), read as the plain mapping
#: it is (``collections.OrderedDict``: the weights-only reader fills no other dict subclass).
#: Nothing else is allowed, so reading a file never runs code from it.
RELEASED_GLOBALS = [(collections.OrderedDict, "easydict.EasyDict")]


def load_released_checkpoint(path: str | Path, *, num_heads: int | None = None,
                             train_length: int | None = None) -> dict[str, Any]:
    """A released CARL checkpoint file as this project's checkpoint (what ``load_encoder`` reads).

    The file is read with ``torch.load(weights_only=True)`` and ``RELEASED_GLOBALS`` only: no
    code in it runs (a file that needs anything else is refused). The file's ``cfg`` gives
    ``num_heads`` and ``train_length``
    (``MODEL.EMBEDDER_MODEL.NUM_HEADS``, ``TRAIN.NUM_FRAMES``); the arguments override it.

    Raises:
        ReleasedCheckpointError: the file is missing, unreadable or not a released checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise ReleasedCheckpointError(f"{path}: released checkpoint file does not exist")
    try:  # weights only, plus the config's EasyDict read as a mapping: no code in the file runs
        with torch.serialization.safe_globals(RELEASED_GLOBALS):
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises several types for what it refuses
        reason = str(error).strip().splitlines()
        detail = next((line for line in reason if "WeightsUnpickler error" in line or "Unsupported" in line
                       or "global" in line.lower()), reason[-1] if reason else type(error).__name__)
        raise ReleasedCheckpointError(
            f"{path}: not a readable torch checkpoint holding only tensors, plain values and the released "
            f"config ({detail.strip()}); files that would need code run to load are refused") from None
    if not isinstance(checkpoint, dict):
        raise ReleasedCheckpointError(f"{path}: holds a {type(checkpoint).__name__}, not a checkpoint dict")
    state = checkpoint.get("model_state", checkpoint)
    cfg = checkpoint.get("cfg") or {}
    embedder = ((cfg.get("MODEL") or {}).get("EMBEDDER_MODEL") or {}) if isinstance(cfg, dict) else {}
    frames = ((cfg.get("TRAIN") or {}).get("NUM_FRAMES")) if isinstance(cfg, dict) else None
    config, weights = convert_released_state_dict(
        state, num_heads=num_heads or embedder.get("NUM_HEADS") or 8,
        train_length=train_length or frames or 240, source=str(path))
    image_size = (cfg.get("IMAGE_SIZE") if isinstance(cfg, dict) else None) or 224
    return {"model": weights, "encoder": config.to_dict(), "augment": {"image_size": int(image_size)},
            "loss": {"algorithm": "scl"}, "epoch": int(checkpoint.get("epoch", 0) or 0), "history": [],
            "released_checkpoint": str(path)}
