"""Kedro datasets for using a model beyond the project: the library's search index and an
exported model (safetensors, config.json, model card)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError
from kedro_datasets._typing import JSONPreview

from carl_pipeline.export import ExportedModel, is_exported, load_exported, save_exported
from carl_pipeline.record import Checkpoint
from carl_pipeline.search import FrameIndex


class FrameIndexDataset(AbstractDataset[FrameIndex, FrameIndex]):
    """A ``FrameIndex`` as a folder (``index.faiss``, ``frames.parquet``, ``index.json``),
    written whole or not at all. The index knows the fingerprint of the embeddings it was built
    from, and the search refuses other embeddings."""

    def __init__(self, path: str, metadata: dict[str, Any] | None = None):
        self._path, self.metadata = Path(path), metadata

    def _load(self) -> FrameIndex:
        try:
            return FrameIndex.load(self._path)
        except FileNotFoundError as error:
            raise DatasetError(f"{error}: run the videos pipeline to build it") from error

    def _save(self, data: FrameIndex) -> None:
        data.save(self._path)

    def _exists(self) -> bool:
        return (self._path / "index.json").is_file()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}

    def preview(self) -> JSONPreview:
        """The index's summary (kind, frames, dimension) for kedro-viz."""
        meta = self._path / "index.json"
        return JSONPreview(meta.read_text() if meta.is_file() else json.dumps({"built": False}))


class ExportedModelDataset(AbstractDataset[ExportedModel, Checkpoint]):
    """An exported model's folder (``model.safetensors``, ``config.json``, ``README.md``, the
    Hugging Face Hub's layout), saved from an ``ExportedModel`` and loaded back as a
    ``Checkpoint`` (``carl_pipeline.export.load_exported``). Saving replaces the folder whole."""

    def __init__(self, path: str, metadata: dict[str, Any] | None = None):
        self._path, self.metadata = Path(path), metadata

    def _load(self) -> Checkpoint:
        try:
            return load_exported(self._path)
        except ValueError as error:
            raise DatasetError(str(error)) from error

    def _save(self, data: ExportedModel) -> None:
        save_exported(data, self._path)

    def _exists(self) -> bool:
        return is_exported(self._path)

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}

    def preview(self) -> JSONPreview:
        """The export's config (scores, run, input) for kedro-viz."""
        config = self._path / "config.json"
        return JSONPreview(config.read_text() if config.is_file() else json.dumps({"exported": False}))
