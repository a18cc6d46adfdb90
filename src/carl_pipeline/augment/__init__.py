"""Spatial augmentation of video views as batched tensor operations. No Kedro imports."""

from carl_pipeline.augment.video import (
    FRAMINGS,
    AugmentConfig,
    ViewParams,
    apply_view_params,
    augment_each,
    augment_view,
    eval_transform,
    neutral_view,
    sample_view_params,
)

__all__ = ["FRAMINGS", "AugmentConfig", "ViewParams", "apply_view_params", "augment_each", "augment_view", "eval_transform", "neutral_view", "sample_view_params"]
