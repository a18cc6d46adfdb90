"""What identifies a training run: everything that changes its result, and nothing else.

A run folder is keyed by a short hash of its identity, so a rerun with other settings starts a
new run beside the old one (never resuming into it, never overwriting it), and a rerun with the
same settings resumes where it stopped.

Equal run ids mean equal weights: everything that changes the weights is in the identity.

In the identity (a change starts a new run): the encoder architecture and its initial weights
(``backbone_weights`` and a hash of any pretrained backbone state), the sampling, the
augmentation, the loss, the optimiser settings (learning rate and its decay, weight decay, warm-up, clipping,
batch size, precision, steps per epoch cap), the number of epochs (the cosine schedule spans
them: four epochs of a five-epoch run are not a four-epoch run, so asking for more epochs trains a
new run, beside the old one), the seed, the number of processes (the batch is per process), and
the data: the training videos and their frame packs' contents (every frame's checksum; and, for
the supervised reference, a hash of their labels). A run trained under bf16 autocast on a CPU
has ``autocast: bf16 on cpu`` too: earlier versions trained ``precision: bf16`` in float32 on a
CPU, and a rerun must not take those float32 weights for bf16 ones.

Not in it (a change continues the same run): ``progress``, ``num_workers``,
``checkpoint_every``, ``device``, ``channels_last``, ``compile_backend``, ``verify_frames``
(speed and checks, not results) and the encoder's ``backbone_dir`` (where weights files are
looked up, not which weights).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from carl_pipeline.augment import AugmentConfig
from carl_pipeline.compat import (
    ADDED_LATER_ENCODER,
    ADDED_LATER_LOSS,
    ADDED_LATER_OPTIM,
    HASHED_AS,
    identity_optim,
)
from carl_pipeline.losses import LossConfig
from carl_pipeline.models import EncoderConfig
from carl_pipeline.video import FrameStore

#: OptimConfig fields (the optimiser block) that do not change the weights a run ends with.
NOT_IN_IDENTITY_OPTIM = ("progress", "num_workers", "checkpoint_every", "device", "channels_last",
                         "compile_backend", "verify_frames")
#: EncoderConfig fields that do not change the weights a run ends with.
NOT_IN_IDENTITY_ENCODER = ("backbone_dir",)
# Fields added after runs were first identified are left out at the value every earlier run had,
# and the optimiser block is hashed under its old name, so that earlier runs keep their ids
# (carl_pipeline.compat: ADDED_LATER_*, HASHED_AS, and when they go).


def _without_added_later(fields: Mapping[str, Any], added_later: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if not (k in added_later and added_later[k] == v)}


def _digest(value: Any) -> str:
    return hashlib.sha1(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def data_fingerprint(store: FrameStore, video_ids: Sequence[str]) -> str:
    """A hash of the training videos' contents: their ids, frame counts, sizes, JPEG byte offsets
    and every frame's checksum, read from the pack headers only (each frame read in training is
    checked against that checksum, so the frames trained on are the ones fingerprinted)."""
    rows = []
    for video_id in sorted(video_ids):
        pack = store.open(video_id)
        header = pack.header
        offsets = np.asarray(header.offsets, dtype=np.int64)
        rows.append([video_id, int(header.num_frames), int(header.height), int(header.width),
                     hashlib.sha1(offsets.tobytes()).hexdigest(), pack.content_digest()])
    return _digest(rows)


def labels_fingerprint(labels: Mapping[str, np.ndarray] | None, video_ids: Sequence[str]) -> str | None:
    """A hash of the training videos' frame labels, for a run that learns from them (None otherwise)."""
    if labels is None:
        return None
    sha = hashlib.sha1()
    for video_id in sorted(video_ids):
        sha.update(video_id.encode())
        sha.update(np.ascontiguousarray(labels[video_id], dtype=np.int64).tobytes())
    return sha.hexdigest()


def state_fingerprint(state: Mapping[str, torch.Tensor] | None) -> str | None:
    """A hash of a state dict's tensors (e.g. a pretrained backbone), or None."""
    if not state:
        return None
    sha = hashlib.sha1()
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous().reshape(-1)  # 0-dim (BatchNorm's counter) too
        sha.update(key.encode())
        sha.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return sha.hexdigest()


def run_identity(encoder: EncoderConfig, sampling, augment: AugmentConfig, loss: LossConfig, optim,
                 data: str, backbone_state: str | None = None, world_size: int = 1,
                 labels: str | None = None, autocast: str | None = None) -> dict[str, Any]:
    """The settings that define a run (see the module docstring for what is left out)."""
    extra = {"labels": labels} if labels is not None else {}  # only runs that read labels have it
    if autocast is not None:  # only runs in bf16 on a CPU have it (module docstring)
        extra["autocast"] = autocast
    encoder_fields = _without_added_later(
        {k: v for k, v in encoder.to_dict().items() if k not in NOT_IN_IDENTITY_ENCODER}, ADDED_LATER_ENCODER)
    return {**extra,
        "encoder": encoder_fields,
        "sampling": asdict(sampling),
        "augment": asdict(augment),
        "loss": _without_added_later(loss.identity(), ADDED_LATER_LOSS),
        "optim": _without_added_later({k: v for k, v in asdict(optim).items() if k not in NOT_IN_IDENTITY_OPTIM},
                                      ADDED_LATER_OPTIM),
        "data": data,
        "backbone_state": backbone_state,
        "world_size": world_size,
    }




def run_id(identity: Mapping[str, Any]) -> str:
    """Eight hex digits of the identity's hash."""
    return _digest({HASHED_AS.get(k, k): v for k, v in identity.items()})[:8]


def run_name(identity: Mapping[str, Any]) -> str:
    """A readable folder name: ``<algorithm>-lr<lr>-seed<seed>-<run id>``."""
    optim = identity_optim(identity)
    name = f"{identity['loss']['algorithm']}-lr{optim['lr']:g}-seed{optim['seed']}-{run_id(identity)}"
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name)
