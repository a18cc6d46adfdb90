"""The sampling settings of a training run (``<dataset>.train.sampling``)."""

from __future__ import annotations

from dataclasses import dataclass

from carl_pipeline.checks import check_choice
from carl_pipeline.sampling.temporal import WINDOWS


@dataclass(frozen=True)
class SamplingConfig:
    """How frames are chosen per view (defaults: the paper's, Pouring).

    ``num_steps`` is the clip length T, the one setting of it: the encoder's ``train_length`` (the
    span its position encoding is scaled to) is taken from it. ``window`` is the block
    ``time_augment`` draws from: ``video`` (Pouring, Penn Action), ``clip`` (FineGym) or
    ``shifted`` (the demo's variant); see ``carl_pipeline.sampling.time_augment``.
    """

    strategy: str = "time_augment"
    num_steps: int = 240  # T: 240 Pouring and FineGym, 80 Penn Action
    sampling_region: float = 1.5
    consistent_offset: float = 0.2
    window: str = "video"

    def __post_init__(self):
        check_choice("window", self.window, WINDOWS)
        if self.num_steps < 1:
            raise ValueError(f"num_steps must be >= 1, got {self.num_steps}")
