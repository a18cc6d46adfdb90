"""A raw dataset folder in its publisher's layout, handed to an ingestion node as a path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError


class RawFolderDataset(AbstractDataset[None, Path]):
    """Loads the path of a raw dataset folder after checking that it exists (read-only).

    Raw data (TFRecords, frame folders, long videos) is read by the ingestion code, which knows
    each publisher's layout; the catalog only says where the folder is.

    Example catalog entry::

        pouring.raw:
          type: carl_pipeline.datasets.RawFolderDataset
          path: data/01_raw/pouring
    """

    def __init__(self, path: str, metadata: dict[str, Any] | None = None):
        self._path = Path(path)
        self.metadata = metadata

    def _load(self) -> Path:
        if not self._path.is_dir():
            raise DatasetError(
                f"{self._path}: raw data folder not found. Put the dataset there in its published "
                "layout (see docs/DATA.md), or regenerate the demo data with "
                "'python -m carl_pipeline.synthetic data/01_raw'."
            )
        return self._path

    def _save(self, data: None) -> None:
        raise DatasetError(f"{self._path}: raw data is read-only")

    def _exists(self) -> bool:
        return self._path.is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
