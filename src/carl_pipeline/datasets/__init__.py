"""Kedro datasets for what kedro-datasets has no type for: raw folders, frame stores, training."""

from carl_pipeline.datasets.atomic_datasets import (
    AtomicJSONDataset,
    AtomicParquetDataset,
    EmbeddingsParquetDataset,
)
from carl_pipeline.datasets.frame_store_dataset import FrameStoreDataset
from carl_pipeline.datasets.library_datasets import ExportedModelDataset, FrameIndexDataset
from carl_pipeline.datasets.raw_folder_dataset import RawFolderDataset
from carl_pipeline.datasets.training_datasets import (
    FeatureCacheDataset,
    RunDirDataset,
    TorchCheckpointDataset,
)
from carl_pipeline.datasets.video_file_dataset import VideoFileDataset

__all__ = ["AtomicJSONDataset", "AtomicParquetDataset", "EmbeddingsParquetDataset", "ExportedModelDataset", "FeatureCacheDataset", "FrameIndexDataset", "FrameStoreDataset", "RawFolderDataset", "RunDirDataset", "TorchCheckpointDataset", "VideoFileDataset"]
