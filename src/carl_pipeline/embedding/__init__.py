"""Frame embeddings of every video with a frozen encoder, and the table they are kept in. No
Kedro imports.

``carl_pipeline.embedding.table`` (the table and its per-video views) loads no model code; the
extraction names load ``carl_pipeline.embedding.extract`` (and with it the models) on first use,
so that ``import carl_pipeline.evaluation``, which reads tables, stays free of them.
"""

from carl_pipeline.embedding.external import (
    ExternalEmbeddings,
    join_to_dataset,
    read_external_embeddings,
)
from carl_pipeline.embedding.table import (
    embedding_matrix,
    embeddings_table,
    one_video,
    per_video,
    read_embeddings_table,
)

_EXTRACTION = ("dtype_name", "embed_image", "embed_video", "embed_videos", "embedding_dtype", "extract_embeddings", "input_settings",
               "load_image", "untrained_checkpoint")


def __getattr__(name: str):
    if name in _EXTRACTION:
        from carl_pipeline.embedding import extract

        return getattr(extract, name)
    raise AttributeError(f"module 'carl_pipeline.embedding' has no attribute {name!r}")


__all__ = ["ExternalEmbeddings", "dtype_name", "embedding_dtype", "embed_image", "embed_video", "embed_videos", "load_image", "embedding_matrix", "embeddings_table", "read_embeddings_table", "extract_embeddings", "input_settings", "join_to_dataset", "one_video",
           "per_video", "read_external_embeddings", "untrained_checkpoint"]
