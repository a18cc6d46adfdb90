"""Your own unlabelled videos: embeddings, an alignment video, a retrieval sheet, labels by
example and a search index."""

from carl_pipeline.pipelines.own_videos.pipeline import (
    create_label_pipeline,
    create_pipeline,
    create_search_pipeline,
)

__all__ = ["create_label_pipeline", "create_pipeline", "create_search_pipeline"]
