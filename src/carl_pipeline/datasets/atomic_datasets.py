"""Catalog datasets that write atomically: the tables and reports later steps read.

kedro-datasets' ``pandas.ParquetDataset`` and ``json.JSONDataset`` write in place, so a process
killed mid-write leaves half a file where the next step reads. These write local files to a
temporary file beside the target (``carl_pipeline.atomic``) and rename it into place; other
filesystems (s3://, gcs://, ...) are written as kedro-datasets writes them. Parquet files also
carry page checksums, verified on load, so a damaged index or label table is an error, never a
column of NaN.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io.core import DatasetError, get_filepath_str
from kedro_datasets.json import JSONDataset
from kedro_datasets.pandas import ParquetDataset

from carl_pipeline.atomic import atomic_path


class AtomicParquetDataset(ParquetDataset):
    """``pandas.ParquetDataset`` with atomic local writes and page checksums (written and verified).

    Example catalog entry::

        pouring.video_index:
          type: carl_pipeline.datasets.AtomicParquetDataset
          filepath: data/03_primary/pouring/video_index.parquet
    """

    def __init__(self, *, load_args: dict[str, Any] | None = None, save_args: dict[str, Any] | None = None,
                 **kwargs):
        super().__init__(load_args={"page_checksum_verification": True, **(load_args or {})},
                         save_args={"write_page_checksum": True, **(save_args or {})}, **kwargs)

    def load(self) -> pd.DataFrame:
        try:
            return super().load()
        except OSError as error:  # pyarrow's checksum and format errors
            path = get_filepath_str(self._get_load_path(), self._protocol)
            raise DatasetError(f"{path}: damaged Parquet file ({error}); rerun the step that writes it") from error

    def save(self, data: pd.DataFrame) -> None:
        if self._protocol != "file":
            return super().save(data)
        path = Path(get_filepath_str(self._get_save_path(), self._protocol))
        if path.is_dir():
            raise DatasetError(f"{path}: saving {type(self).__name__} to a directory is not supported")
        with atomic_path(path) as tmp:
            data.to_parquet(tmp, **self._save_args)
        self._invalidate_cache()
        return None


class EmbeddingsParquetDataset(AtomicParquetDataset):
    """An embeddings table (``carl_pipeline.embedding.table``): written and read with its
    ``embedding`` column as one fixed-size float32 Arrow column, not a Python array per frame
    (tables of the earlier layout are read too, with a message). Atomic, with page checksums.

    Example catalog entry::

        pouring.embeddings:
          type: carl_pipeline.datasets.EmbeddingsParquetDataset
          filepath: data/07_model_output/pouring/embeddings.parquet
    """

    def load(self) -> pd.DataFrame:
        if self._protocol != "file":
            return super().load()
        from carl_pipeline.embedding.table import read_embeddings_table

        path = get_filepath_str(self._get_load_path(), self._protocol)
        try:
            return read_embeddings_table(path, page_checksum_verification=True)
        except OSError as error:  # pyarrow's checksum and format errors
            raise DatasetError(f"{path}: damaged Parquet file ({error}); rerun the step that writes it") from error

    def save(self, data: pd.DataFrame) -> None:
        if self._protocol != "file":
            return super().save(data)
        import pyarrow.parquet as pq

        from carl_pipeline.embedding.table import ROWS_PER_GROUP, embeddings_to_arrow

        path = Path(get_filepath_str(self._get_save_path(), self._protocol))
        with atomic_path(path) as tmp:  # row groups of bounded size: read back batch by batch
            pq.write_table(embeddings_to_arrow(data), tmp, write_page_checksum=True, row_group_size=ROWS_PER_GROUP)
        self._invalidate_cache()
        return None


class AtomicJSONDataset(JSONDataset):
    """``json.JSONDataset`` with atomic local writes (``metrics.json``, reports)."""

    def save(self, data: Any) -> None:
        if self._protocol != "file":
            return super().save(data)
        path = Path(get_filepath_str(self._get_save_path(), self._protocol))
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(data, **self._save_args), encoding="utf-8")
        self._invalidate_cache()
        return None
