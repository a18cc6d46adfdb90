"""Training: two-view data, the training loop, checkpoints. No Kedro imports."""

from carl_pipeline.sampling import SamplingConfig  # where it lives; importable from here too
from carl_pipeline.training.checkpoint import (
           SCHEMA_VERSION,
           Checkpoint,
           RunRecord,
           load_encoder,
           read_checkpoint,
           run_folder,
)
from carl_pipeline.training.data import TwoViewDataset, collate
from carl_pipeline.training.loop import OptimConfig, train
from carl_pipeline.training.pretrain import PretrainConfig, pretrain_backbone
from carl_pipeline.training.run_dir import RunDir, save_atomic
from carl_pipeline.training.schedule import lr_schedule

__all__ = ["SCHEMA_VERSION", "Checkpoint", "PretrainConfig", "RunDir", "SamplingConfig", "OptimConfig", "TwoViewDataset", "collate", "load_encoder", "read_checkpoint", "RunRecord", "run_folder",
           "lr_schedule", "pretrain_backbone", "save_atomic", "train"]
