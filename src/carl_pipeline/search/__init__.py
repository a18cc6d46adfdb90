"""Nearest-frame search over a library of embedded videos (FAISS). No Kedro."""

from carl_pipeline.search.index import (
    FrameIndex,
    SearchIndexError,
    normalised,
    table_arrays,
    table_fingerprint,
)
from carl_pipeline.search.query import RESULT_COLUMNS, query_frames, search_results

__all__ = ["RESULT_COLUMNS", "query_frames", "search_results", "FrameIndex", "SearchIndexError", "normalised", "table_arrays", "table_fingerprint"]
