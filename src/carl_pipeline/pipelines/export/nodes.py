"""Export node: a trained encoder as a folder anyone can load (``carl_pipeline.export``)."""

import logging
from typing import Any

from carl_pipeline.export import ExportedModel, check_scores_are_of, export_config, model_card
from carl_pipeline.params import EvaluateParams
from carl_pipeline.record import Checkpoint, read_checkpoint

logger = logging.getLogger(__name__)


def export_trained_model(model: Checkpoint, metrics: dict[str, Any], params: EvaluateParams,
                         dataset: str, ingest_report: dict[str, Any] | None = None) -> ExportedModel:
    """The trained encoder with a ``config.json`` (architecture, input framing and size, run
    identity, data fingerprint, scores) and a model card of its scores against the untrained
    encoder.

    Args:
        model: the trained checkpoint.
        metrics: the dataset's evaluation (``trained`` and ``untrained`` scores) of this model.
        params: the dataset's evaluation, whose framing the model's users should frame with.
        dataset: the namespace, named in the card.
        ingest_report: the training data's ingest report: ``synthetic`` (the demo's generated
            videos) puts a warning on the card.

    Raises:
        ExportMismatchError: ``metrics`` scored other weights than ``model`` (a newer model that
            was not evaluated yet): the scores would be another model's.
    """
    checkpoint = read_checkpoint(model)
    check_scores_are_of(checkpoint, metrics, f"{dataset}.metrics", f"kedro run --pipelines=evaluate_{dataset}")
    scores = {"trained": metrics.get("trained", {}), "untrained": metrics.get("untrained", {}),
              **({"pixels": metrics["pixels"]} if metrics.get("pixels") else {})}
    config = export_config(checkpoint, params.framing, scores, dataset,
                           synthetic_data=bool((ingest_report or {}).get("synthetic")))
    logger.info("exporting %s (run %s)", dataset, checkpoint.run_record.name)
    return ExportedModel(checkpoint, config, model_card(config, f"data/06_models/{dataset}/exported"))
