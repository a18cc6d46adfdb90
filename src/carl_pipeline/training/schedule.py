"""The learning-rate schedule of training and of SimCLR pretraining."""

from __future__ import annotations

import numpy as np

from carl_pipeline.checks import check_choice


def lr_schedule(total_steps: int, warmup_steps: int, base_lr: float, decay: str = "cosine") -> np.ndarray:
    """Learning rate at every step ``(total_steps,)``: linear warm-up from 0, then cosine decay to
    0 (``decay="cosine"``) or ``base_lr`` held (``"fixed"``, the released TCC and TCN configs)."""
    check_choice("decay", decay, ("cosine", "fixed"))
    steps = np.arange(total_steps, dtype=np.float64)
    warm = base_lr * (steps + 1) / max(warmup_steps, 1)
    progress = (steps - warmup_steps) / max(total_steps - warmup_steps, 1)
    after = (0.5 * base_lr * (1 + np.cos(np.pi * np.clip(progress, 0, 1))) if decay == "cosine"
             else np.full_like(steps, base_lr))
    return np.where(steps < warmup_steps, warm, after)
