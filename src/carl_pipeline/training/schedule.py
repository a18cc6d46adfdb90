"""The learning-rate schedule of training and of SimCLR pretraining."""

from __future__ import annotations

import numpy as np


def lr_schedule(total_steps: int, warmup_steps: int, base_lr: float) -> np.ndarray:
    """Learning rate at every step: linear warm-up from 0, then cosine decay to 0."""
    steps = np.arange(total_steps, dtype=np.float64)
    warm = base_lr * (steps + 1) / max(warmup_steps, 1)
    progress = (steps - warmup_steps) / max(total_steps - warmup_steps, 1)
    cosine = 0.5 * base_lr * (1 + np.cos(np.pi * np.clip(progress, 0, 1)))
    return np.where(steps < warmup_steps, warm, cosine)
