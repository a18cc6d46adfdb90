"""Training: two-view data, the training loop, checkpoints. No Kedro imports."""

# The model record lives below training (carl_pipeline.record); importable from here too.
from carl_pipeline.record import (
           SCHEMA_VERSION,
           Checkpoint,
           RunDir,
           RunRecord,
           load_encoder,
           read_checkpoint,
           run_folder,
           save_atomic,
)
from carl_pipeline.sampling import SamplingConfig  # where it lives; importable from here too
from carl_pipeline.training.config import OptimConfig, TrainSettings
from carl_pipeline.training.data import TwoViewDataset, collate
from carl_pipeline.training.loop import train
from carl_pipeline.training.pretrain import PretrainConfig, pretrain_backbone
from carl_pipeline.training.schedule import lr_schedule

__all__ = ["SCHEMA_VERSION", "Checkpoint", "PretrainConfig", "RunDir", "SamplingConfig", "OptimConfig", "TrainSettings", "TwoViewDataset", "collate", "load_encoder", "read_checkpoint", "RunRecord", "run_folder",
           "lr_schedule", "pretrain_backbone", "save_atomic", "train"]
