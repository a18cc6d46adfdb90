"""``export_<dataset>``: a trained encoder as safetensors, config.json and a model card."""

from carl_pipeline.pipelines.export.pipeline import create_pipeline

__all__ = ["create_pipeline"]
