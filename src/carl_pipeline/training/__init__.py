"""Training: two-view data, the training loop, checkpoints. No Kedro imports."""

from carl_pipeline.training.data import SamplingConfig, TwoViewDataset, collate
from carl_pipeline.training.loop import TrainConfig, load_encoder, lr_schedule, train
from carl_pipeline.training.run_dir import RunDir, save_atomic

__all__ = ["RunDir", "SamplingConfig", "TrainConfig", "TwoViewDataset", "collate", "load_encoder",
           "lr_schedule", "save_atomic", "train"]
