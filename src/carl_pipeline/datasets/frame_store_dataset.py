"""The processed frames of one dataset: a folder of frame packs (``carl_pipeline.video``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError
from kedro_datasets._typing import ImagePreview

from carl_pipeline.datasets.previews import evenly, png_base64
from carl_pipeline.video.frame_store import FrameStore


class FrameStoreDataset(AbstractDataset[None, FrameStore]):
    """Loads a ``FrameStore`` on a folder of frame packs; it is never saved through the catalog.

    The packs are written by the ingestion node ``convert_videos``, which is given the store as an
    input (gigabytes of frames do not pass through memory) and returns the conversion report, the
    catalog entry ``<dataset>.conversion_report`` beside the packs, that the index node reads;
    so the lineage runs plan -> convert -> report -> index. Loading a folder that does not exist
    yet gives an empty store, which the conversion fills.

    Example catalog entry::

        pouring.frame_store:
          type: carl_pipeline.datasets.FrameStoreDataset
          path: data/03_primary/pouring/frames
    """

    def __init__(self, path: str, metadata: dict[str, Any] | None = None):
        self._path = Path(path)
        self.metadata = metadata

    def _load(self) -> FrameStore:
        return FrameStore(self._path)

    def _save(self, data: Any) -> None:
        raise DatasetError(f"{self._path}: a frame store is written by the ingestion node convert_videos, "
                           f"not saved through the catalog")

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
