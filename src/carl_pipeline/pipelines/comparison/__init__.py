"""CARL against its baselines: each method trained and scored like CARL, then one table."""

from carl_pipeline.pipelines.comparison.pipeline import (
    baselines,
    create_pipeline,
    create_taxonomy_pipeline,
)

__all__ = ["baselines", "create_pipeline", "create_taxonomy_pipeline"]
