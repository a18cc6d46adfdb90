"""Frame packs -> a trained encoder (CARL's, or a baseline's)."""

from carl_pipeline.pipelines.training.pipeline import create_pipeline, training_template

__all__ = ["create_pipeline", "training_template"]
