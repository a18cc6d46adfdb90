"""Models in and out of the project: export a trained encoder (safetensors, config, model card)
and open any model (project checkpoint, run folder, released checkpoint, export). No Kedro."""

from carl_pipeline.export.card import model_card
from carl_pipeline.export.hub import (
    ExportedCARL,
    ExportedModel,
    ExportMismatchError,
    check_scores_are_of,
    export_config,
    export_model,
    is_exported,
    load_exported,
    save_exported,
)
from carl_pipeline.export.sources import ModelSourceError, open_model

__all__ = ["ExportMismatchError", "ExportedCARL", "ExportedModel", "ModelSourceError", "check_scores_are_of",
           "export_config", "export_model", "is_exported", "load_exported", "model_card", "open_model", "save_exported"]
