"""A trained encoder -> embeddings of every frame, scores against the untrained encoder, reports;
and embeddings made elsewhere, scored by the same protocol."""

from carl_pipeline.pipelines.evaluation.pipeline import (
    create_external_pipeline,
    create_pipeline,
    create_released_pipeline,
    create_taxonomy_report_pipeline,
    evaluation_template,
)

__all__ = ["create_external_pipeline", "create_pipeline", "create_released_pipeline",
           "create_taxonomy_report_pipeline", "evaluation_template"]
