"""The model record, below training: a checkpoint as a typed record (``Checkpoint``, its
``RunRecord``), reading and writing it, the folder a run keeps them in (``RunDir``), and
``open_checkpoint`` for wherever a model lies (a ``carl.pt``, its versioned folder, a run folder,
a released checkpoint, an export). Importing it loads no training loop, no model code and no Kedro."""

from carl_pipeline.record.checkpoint import (
           SCHEMA_VERSION,
           Checkpoint,
           RunRecord,
           load_encoder,
           read_checkpoint,
           weights_digest,
)
from carl_pipeline.record.run_dir import RunDir, newest_intact_checkpoint, run_folder, save_atomic
from carl_pipeline.record.sources import ModelSourceError, open_checkpoint

__all__ = ["SCHEMA_VERSION", "Checkpoint", "ModelSourceError", "RunDir", "RunRecord", "load_encoder",
           "newest_intact_checkpoint", "open_checkpoint", "read_checkpoint", "run_folder", "save_atomic",
           "weights_digest"]
