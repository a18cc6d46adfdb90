"""Frame embeddings of every video with a frozen encoder. No Kedro imports."""

from carl_pipeline.embedding.extract import (
    embed_video,
    embeddings_table,
    extract_embeddings,
    one_video,
    per_video,
    untrained_checkpoint,
)

__all__ = ["embed_video", "embeddings_table", "extract_embeddings", "one_video", "per_video", "untrained_checkpoint"]
