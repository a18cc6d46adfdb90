"""Training: two-view data, the training loop, checkpoints. No Kedro imports."""

from carl_pipeline.training.checkpoint import SCHEMA_VERSION, Checkpoint, read_checkpoint
from carl_pipeline.training.data import SamplingConfig, TwoViewDataset, collate
from carl_pipeline.training.loop import TrainConfig, load_encoder, lr_schedule, train
from carl_pipeline.training.pretrain import PretrainConfig, pretrain_backbone
from carl_pipeline.training.run_dir import RunDir, save_atomic

__all__ = ["SCHEMA_VERSION", "Checkpoint", "PretrainConfig", "RunDir", "SamplingConfig", "TrainConfig", "TwoViewDataset", "collate", "load_encoder", "read_checkpoint",
           "lr_schedule", "pretrain_backbone", "save_atomic", "train"]
