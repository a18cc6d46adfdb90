"""Models from where they lie: ``carl_pipeline.record.sources`` (``open_model`` is its
``open_checkpoint``, under the name the export package first gave it)."""

from carl_pipeline.record.sources import ModelSourceError
from carl_pipeline.record.sources import open_checkpoint as open_model

__all__ = ["ModelSourceError", "open_model"]
