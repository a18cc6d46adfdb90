"""The processed frames of one dataset: a folder of frame packs (``carl_pipeline.video``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError
from kedro_datasets._typing import ImagePreview

from carl_pipeline.datasets.previews import evenly, png_base64
from carl_pipeline.ingest.convert import ConversionPlan, run_conversion
from carl_pipeline.video.frame_store import FrameStore

logger = logging.getLogger(__name__)


class FrameStoreDataset(AbstractDataset[ConversionPlan, FrameStore]):
    """Saves a ``ConversionPlan`` by running it into the folder; loads a ``FrameStore`` on it.

    Saving follows Kedro's lazy-saving idea (as ``PartitionedDataset`` does with callables): the
    ingestion node decides *what* to convert, the dataset writes it, one frame pack per video, in a
    process pool. Videos already converted with the same settings from the same raw content, whose
    frames match their checksums, are skipped, so a rerun after an interruption only does what is
    left; each pack is written atomically. What was converted,
    skipped and why any video failed is written beside the packs as ``_conversion_report.json``.

    Example catalog entry::

        pouring.frame_store:
          type: carl_pipeline.datasets.FrameStoreDataset
          path: data/03_primary/pouring/frames
    """

    def __init__(self, path: str, metadata: dict[str, Any] | None = None):
        self._path = Path(path)
        self.metadata = metadata

    def _load(self) -> FrameStore:
        if not self._path.is_dir():
            raise DatasetError(f"{self._path}: frame store not found; run the ingestion pipeline first")
        return FrameStore(self._path)

    def _save(self, data: ConversionPlan) -> None:
        if not isinstance(data, ConversionPlan):
            raise DatasetError(f"{self._path}: expected a ConversionPlan to save, got {type(data).__name__}")
        store = FrameStore(self._path)
        report = run_conversion(data, store)
        store.write_report(report.to_dict())
        logger.info(
            "%s: %d converted, %d already there, %d failed",
            self._path, len(report.converted), len(report.skipped_existing), len(report.failed),
        )

    def _exists(self) -> bool:
        return bool(FrameStore(self._path).pack_paths())

    def preview(self, frames: int = 6) -> ImagePreview:
        """kedro-viz: frames spread over the first video of the store."""
        store = self._load()
        ids = store.video_ids()
        if not ids:
            raise DatasetError(f"{self._path}: no video converted yet")
        pack = store.open(ids[0])
        picked = pack.read(evenly(frames, len(pack))).permute(0, 2, 3, 1).numpy()
        return ImagePreview(png_base64(picked))

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
