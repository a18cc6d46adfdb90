"""Temporal sampling of two views per video (pure tensor functions, explicit generators)."""

from carl_pipeline.sampling.config import SamplingConfig
from carl_pipeline.sampling.temporal import (
    SAMPLERS,
    ViewSteps,
    make_sampler,
    offset_uniform,
    time_augment,
)

__all__ = ["SAMPLERS", "SamplingConfig", "ViewSteps", "make_sampler", "offset_uniform", "time_augment"]
