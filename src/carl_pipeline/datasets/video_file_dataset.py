"""A video file written from, and read back as, a uint8 ``(T, H, W, 3)`` array."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from kedro.io import AbstractVersionedDataset, DatasetError, Version
from kedro_datasets._typing import ImagePreview

from carl_pipeline.datasets.previews import evenly, png_base64


class VideoFileDataset(AbstractVersionedDataset[np.ndarray, np.ndarray]):
    """Saves frames as an H.264 ``.mp4`` (or VP9 ``.webm``) with PyAV, atomically; loads them back.
    With ``versioned: true`` each run writes ``<filepath>/<version>/<name>`` and never overwrites
    an earlier run's video.

    Example catalog entry::

        pouring.alignment_video:
          type: carl_pipeline.datasets.VideoFileDataset
          filepath: data/08_reporting/pouring/alignment.mp4
          fps: 15
    """

    def __init__(self, filepath: str, fps: float = 15.0, version: Version | None = None,
                 metadata: dict[str, Any] | None = None):
        super().__init__(filepath=Path(filepath), version=version)
        self._fps, self.metadata = fps, metadata

    def _save(self, data: np.ndarray) -> None:
        from carl_pipeline.video import write_video

        frames = np.asarray(data)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise DatasetError(f"{self._filepath}: expected uint8 (T, H, W, 3) frames, got {frames.dtype} {frames.shape}")
        # H.264 needs even sides
        frames = frames[:, : frames.shape[1] // 2 * 2, : frames.shape[2] // 2 * 2]
        path = Path(self._get_save_path())
        path.parent.mkdir(parents=True, exist_ok=True)
        write_video(path, frames, self._fps)  # atomic

    def _load(self) -> np.ndarray:
        from carl_pipeline.video import decode_clip

        clip = decode_clip(Path(self._get_load_path()), as_jpeg=False)
        return np.stack(clip.frames)

    def preview(self, frames: int = 5) -> ImagePreview:
        """kedro-viz: frames spread over the video."""
        video = self._load()
        return ImagePreview(png_base64(video[evenly(frames, len(video))], height=120))

    def _exists(self) -> bool:
        try:
            return Path(self._get_load_path()).is_file()
        except DatasetError:  # versioned, no version yet
            return False

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "fps": self._fps, "version": self._version}
