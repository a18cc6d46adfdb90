"""Raw dataset -> frame packs, video index and per-frame labels."""

from carl_pipeline.pipelines.ingestion.pipeline import create_pipeline

__all__ = ["create_pipeline"]
