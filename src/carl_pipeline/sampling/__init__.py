"""Temporal sampling of two views per video (pure tensor functions, explicit generators)."""

from carl_pipeline.sampling.temporal import (
    SAMPLERS,
    ViewSteps,
    make_sampler,
    offset_uniform,
    time_augment,
)

__all__ = ["SAMPLERS", "ViewSteps", "make_sampler", "offset_uniform", "time_augment"]
