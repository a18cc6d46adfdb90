"""Losses: CARL's sequence contrastive loss and TCC's cycle-back regression (baseline). No Kedro."""

from carl_pipeline.losses.config import LossConfig
from carl_pipeline.losses.scl import gaussian_targets, sequence_contrastive_loss, timestamp_distance
from carl_pipeline.losses.tcc import cycle_back_regression_loss

LOSSES = {"scl": sequence_contrastive_loss, "tcc": cycle_back_regression_loss}

__all__ = ["LOSSES", "LossConfig", "cycle_back_regression_loss", "gaussian_targets", "sequence_contrastive_loss",
           "timestamp_distance"]
