"""Losses: CARL's sequence contrastive loss and the methods it is compared with (TCC's
cycle-back regression, TCN's n-pairs, SimCLR's NT-Xent on frames, LAV's soft-DTW alignment,
VAVA's optimal-transport alignment, GTCC's generalised cycle-consistency, a supervised frame classifier). No Kedro."""

from carl_pipeline.losses.algorithms import (
    LAYOUTS,
    Algorithm,
    algorithm_names,
    get_algorithm,
    register,
)
from carl_pipeline.losses.config import LossConfig
from carl_pipeline.losses.gtcc import GTCCSettings, gtcc_loss
from carl_pipeline.losses.lav import LAVSettings, lav_loss
from carl_pipeline.losses.scl import (
    NEGATIVES,
    SCL_TARGETS,
    gaussian_targets,
    sequence_contrastive_loss,
    timestamp_distance,
)
from carl_pipeline.losses.simclr import frame_contrastive_loss, nt_xent_loss
from carl_pipeline.losses.supervised import frame_classification_loss
from carl_pipeline.losses.tcc import cycle_back_regression_loss
from carl_pipeline.losses.tcn import time_contrastive_loss
from carl_pipeline.losses.vava import VAVASettings, vava_loss

__all__ = ["LAYOUTS", "Algorithm", "algorithm_names", "get_algorithm", "register", "NEGATIVES", "SCL_TARGETS", "LossConfig", "GTCCSettings", "LAVSettings", "VAVASettings", "gtcc_loss", "cycle_back_regression_loss", "lav_loss", "vava_loss",
           "frame_classification_loss", "frame_contrastive_loss", "gaussian_targets", "nt_xent_loss",
           "sequence_contrastive_loss", "time_contrastive_loss", "timestamp_distance"]
