"""A trained encoder -> embeddings of every frame, scores against the untrained encoder, reports."""

from carl_pipeline.pipelines.evaluation.pipeline import (
    create_pipeline,
    create_released_pipeline,
    create_taxonomy_report_pipeline,
    evaluation_template,
)

__all__ = ["create_pipeline", "create_released_pipeline", "create_taxonomy_report_pipeline", "evaluation_template"]
