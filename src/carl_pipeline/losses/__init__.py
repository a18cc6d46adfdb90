"""Losses: CARL's sequence contrastive loss, TCC's cycle-back regression (baseline) and SimCLR's
NT-Xent (frame pretraining). No Kedro."""

from carl_pipeline.losses.config import LossConfig
from carl_pipeline.losses.scl import gaussian_targets, sequence_contrastive_loss, timestamp_distance
from carl_pipeline.losses.simclr import nt_xent_loss
from carl_pipeline.losses.tcc import cycle_back_regression_loss

LOSSES = {"scl": sequence_contrastive_loss, "tcc": cycle_back_regression_loss}

__all__ = ["LOSSES", "LossConfig", "cycle_back_regression_loss", "gaussian_targets", "nt_xent_loss", "sequence_contrastive_loss",
           "timestamp_distance"]
