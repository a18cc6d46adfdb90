"""Pictures and summaries kedro-viz shows for the project's own datasets (``preview()``)."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np


def png_base64(frames: np.ndarray, height: int = 96) -> str:
    """``(N, H, W, 3)`` uint8 frames side by side, scaled to ``height``, as a base64 PNG."""
    from PIL import Image

    strip = np.concatenate(list(frames), axis=1)
    image = Image.fromarray(strip)
    image = image.resize((max(1, round(image.width * height / image.height)), height))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def evenly(count: int, available: int) -> np.ndarray:
    """Up to ``count`` indices spread over ``range(available)``."""
    return np.unique(np.linspace(0, available - 1, min(count, available)).astype(int))


def checkpoint_summary(checkpoint: Any) -> dict[str, Any]:
    """What a person wants to know about a checkpoint: the run, the settings and the loss curve."""
    from carl_pipeline.record import Checkpoint

    if isinstance(checkpoint, Checkpoint):
        checkpoint = checkpoint.summary()
    run = checkpoint.get("run") or {}
    return {
        "run": run.get("name"), "epoch": checkpoint.get("epoch"), "backbone_init": checkpoint.get("backbone_init"),
        "untrained": bool(checkpoint.get("untrained", False)),
        "loss_per_epoch": [round(float(x), 4) for x in checkpoint.get("history", [])],
        **{key: checkpoint[key] for key in ("encoder", "sampling", "augment", "loss", "optim") if key in checkpoint},
    }
