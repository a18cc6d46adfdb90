"""Kedro datasets for what kedro-datasets has no type for: raw dataset folders and frame stores."""

from carl_pipeline.datasets.frame_store_dataset import FrameStoreDataset
from carl_pipeline.datasets.raw_folder_dataset import RawFolderDataset

__all__ = ["FrameStoreDataset", "RawFolderDataset"]
