"""Export node: a trained encoder as a folder anyone can load (``carl_pipeline.export``)."""

import logging
from typing import Any

from carl_pipeline.export import ExportedModel, export_model
from carl_pipeline.params import EvaluateParams
from carl_pipeline.record import Checkpoint

logger = logging.getLogger(__name__)


def export_trained_model(model: Checkpoint, metrics: dict[str, Any], params: EvaluateParams,
                         dataset: str, ingest_report: dict[str, Any] | None = None) -> ExportedModel:
    """The trained encoder, its ``config.json`` and model card (``export.export_model``), framed
    as the dataset's evaluation frames; a demo-data warning when the ingest report says ``synthetic``."""
    exported = export_model(model, metrics, params.framing, dataset, bool((ingest_report or {}).get("synthetic")))
    logger.info("exporting %s (run %s)", dataset, exported.checkpoint.run_record.name)
    return exported
