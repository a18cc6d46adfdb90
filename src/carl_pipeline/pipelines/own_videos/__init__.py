"""Your own unlabelled videos: embeddings, an alignment video and a retrieval sheet."""

from carl_pipeline.pipelines.own_videos.pipeline import create_pipeline

__all__ = ["create_pipeline"]
