"""Nearest-frame search over a library of embedded videos (FAISS). No Kedro."""

from carl_pipeline.search.index import (
    FrameIndex,
    SearchIndexError,
    normalised,
    table_arrays,
    table_fingerprint,
)

__all__ = ["FrameIndex", "SearchIndexError", "normalised", "table_arrays", "table_fingerprint"]
