"""Train (and, next, embed, evaluate, report) a frame-wise representation of one dataset."""

from carl_pipeline.pipelines.representation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
