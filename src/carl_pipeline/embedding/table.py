"""The embeddings table (one row per frame) and its per-video views: pandas, NumPy and pyarrow
only, so that the evaluation protocol and notebooks read it without loading any model code.

The ``embedding`` column is one fixed-size float32 Arrow array for the whole table
(``pd.ArrowDtype(pa.list_(pa.float32(), D))``), not a Python array object per frame: at
FineGym's real size (5 x 10^6 frames) the object column peaked at about 20 GB, the Arrow one
holds the 2.6 GB of floats (``benchmarks/bench_embeddings_table.py``). ``embedding_matrix``
gives a table's (or a slice's) ``(N, D)`` matrix; ``read_embeddings_table`` reads a Parquet
file in that form, tables written before it (a list column) included.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

logger = logging.getLogger(__name__)


def embedding_column(matrix: np.ndarray) -> pd.arrays.ArrowExtensionArray:
    """``(N, D)`` embeddings as one fixed-size-list Arrow column (float32, no copy per row)."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"embeddings of shape {matrix.shape}: expected (frames, dimensions)")
    values = pa.py_buffer(matrix)  # the matrix's memory itself: no copy
    return pd.arrays.ArrowExtensionArray(pa.FixedSizeListArray.from_arrays(
        pa.Array.from_buffers(pa.float32(), matrix.size, [None, values]), matrix.shape[1]))


def _is_arrow_column(column: pd.Series) -> bool:
    """The column is the fixed-size Arrow layout (not per-row arrays)."""
    return isinstance(column.dtype, pd.ArrowDtype) and pa.types.is_fixed_size_list(column.dtype.pyarrow_dtype)


def embedding_matrix(table: pd.DataFrame | pd.Series) -> np.ndarray:
    """``(N, D)`` float32: the embeddings of ``table``'s rows (or of an ``embedding`` column), in
    row order. The Arrow column is read without a Python object per row; a column of per-row
    arrays (a table built by other code) is stacked."""
    column = table["embedding"] if isinstance(table, pd.DataFrame) else table
    if _is_arrow_column(column):
        width = column.dtype.pyarrow_dtype.list_size
        chunks = column.array._pa_array.chunks  # noqa: SLF001 - pandas' documented Arrow storage
        if not chunks or len(column) == 0:
            return np.zeros((0, width), dtype=np.float32)
        whole = chunks[0] if len(chunks) == 1 else pa.concat_arrays(chunks)
        values = whole.flatten()  # honours a slice's offset; no copy of one chunk
        return values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(-1, width)
    if len(column) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack(column.to_numpy()).astype(np.float32, copy=False)


def embeddings_to_arrow(table: pd.DataFrame) -> pa.Table:
    """The table as Arrow, its ``embedding`` column fixed-size; the pandas metadata says that
    column is an object column, so that ``pd.read_parquet`` without this module still reads it
    (one array per row, as before)."""
    if "embedding" in table.columns and not _is_arrow_column(table["embedding"]):  # a table built by other code
        table = table.assign(embedding=embedding_column(embedding_matrix(table)))
    out = pa.Table.from_pandas(table, preserve_index=False)
    return out.replace_schema_metadata(_embedding_as_object(out.schema.metadata))


def _embedding_as_object(metadata: dict[bytes, bytes] | None) -> dict[bytes, bytes]:
    """Arrow schema metadata whose pandas part calls ``embedding`` an object column (pandas cannot
    rebuild a fixed-size-list dtype from the name it stores for it)."""
    metadata = dict(metadata or {})
    if b"pandas" in metadata:
        pandas_meta = json.loads(metadata[b"pandas"])
        for column in pandas_meta.get("columns", []):
            if column.get("name") == "embedding":
                column.update(pandas_type="object", numpy_type="object", metadata=None)
        metadata[b"pandas"] = json.dumps(pandas_meta).encode()
    return metadata


#: Rows per Parquet row group when writing, and per batch when reading: 32 MiB of 128-d
#: float32 embeddings, so that neither holds more than that beside the table.
ROWS_PER_GROUP = 65_536


def read_embeddings_table(path: str | Path, **read_args) -> pd.DataFrame:
    """An embeddings table from a Parquet file, its ``embedding`` column as one Arrow column over
    one ``(N, D)`` float32 matrix, filled batch by batch (never a second copy of the embeddings).
    A table written before the column was fixed-size (a list per row) is read and converted, with
    a message; rewriting it (rerunning the step that made it) makes later reads cheaper.

    Args:
        read_args: ``pyarrow.parquet.ParquetFile`` options (e.g. ``page_checksum_verification``).

    Raises:
        ValueError: the file has no ``embedding`` column, or rows of different widths.
    """
    # read page by page (pre-buffering would hold whole column chunks: about 2x the file in memory)
    file = pq.ParquetFile(path, **{"pre_buffer": False, "buffer_size": 4 << 20, **read_args})
    names = file.schema_arrow.names
    if "embedding" not in names:
        raise ValueError(f"{path}: not an embeddings table (no 'embedding' column)")
    kind = file.schema_arrow.field("embedding").type
    earlier = not pa.types.is_fixed_size_list(kind)
    if earlier:
        logger.info("%s: an embeddings table of the earlier layout (one array per frame), converted on "
                    "reading; rerun the step that wrote it to store it in the current layout", path)
    matrix, row = None, 0
    for batch in file.iter_batches(batch_size=ROWS_PER_GROUP, columns=["embedding"]):
        column = batch.column(0)
        if earlier:
            widths = set(pa.compute.unique(pa.compute.list_value_length(column)).to_pylist())
            if len(widths) != 1 or (matrix is not None and widths != {matrix.shape[1]}):
                raise ValueError(f"{path}: embeddings of different widths {sorted(widths)[:5]}")
            width = widths.pop()
        else:
            width = kind.list_size
        if matrix is None:
            matrix = np.empty((file.metadata.num_rows, width), dtype=np.float32)
        matrix[row:row + len(column)] = column.flatten().to_numpy(zero_copy_only=False).reshape(-1, width)
        row += len(column)
    others = file.read(columns=[n for n in names if n != "embedding"], use_pandas_metadata=True)
    # a table saved by pandas' own to_parquet names the column's dtype in a way pandas cannot read back
    frame = others.replace_schema_metadata(_embedding_as_object(others.schema.metadata)).to_pandas()
    frame["embedding"] = embedding_column(np.zeros((0, 0), np.float32) if matrix is None else matrix)
    return frame[names]


def embeddings_table(embeddings: dict[str, np.ndarray], video_index: pd.DataFrame,
                     frame_labels: pd.DataFrame) -> pd.DataFrame:
    """One row per frame: ``video_id``, ``split``, ``action``, ``dataset_order`` (where the index
    has it), ``frame_index``, the label columns and ``embedding`` (``embedding_column``: float32,
    ``D`` per frame), in video-index order.

    Args:
        embeddings: ``{video_id: (num_frames, D)}``; videos not in the index are left out.
    """
    rows, matrices = [], []
    index = video_index.set_index("video_id")
    labels = frame_labels.set_index(["video_id", "frame_index"]).sort_index()
    for video_id in video_index["video_id"]:
        if video_id not in embeddings:
            continue
        values = embeddings[video_id]
        table = labels.loc[video_id].reset_index()
        if len(table) != len(values):
            raise ValueError(f"video {video_id}: {len(values)} embeddings for {len(table)} labelled frames")
        table.insert(0, "video_id", video_id)
        table.insert(1, "split", index.loc[video_id, "split"])
        table.insert(2, "action", index.loc[video_id, "action"])
        if "dataset_order" in index.columns:  # what subset_order 'dataset' sorts by
            table.insert(3, "dataset_order", index.loc[video_id, "dataset_order"])
        rows.append(table)
        matrices.append(np.asarray(values, dtype=np.float32))
    out = pd.concat(rows, ignore_index=True)
    out["embedding"] = embedding_column(np.concatenate(matrices))
    if "dataset_order" in out.columns:
        out["dataset_order"] = out["dataset_order"].astype("Int64")
    return out


def per_video(table: pd.DataFrame, label: str, split: str | None = None, action: str | None = None
              ) -> tuple[list[str], list[np.ndarray], list[np.ndarray]]:
    """Split an embeddings table into per-video arrays: ids, ``(num_frames, D)`` embeddings and
    ``(num_frames,)`` labels, in table order. A video whose rows lie in frame order side by side
    (as the table is written) gets a view of the table's matrix, not a copy."""
    keep = np.ones(len(table), dtype=bool)
    if split is not None:
        keep &= (table["split"] == split).to_numpy(dtype=bool)
    if action is not None:
        keep &= (table["action"] == action).to_numpy(dtype=bool)
    matrix = embedding_matrix(table)  # the whole table's: a view of its column, no copy
    rows = pd.DataFrame({"video_id": table["video_id"].to_numpy()[keep],
                         "frame_index": table["frame_index"].to_numpy()[keep],
                         "label": table[label].to_numpy()[keep], "position": np.flatnonzero(keep)})
    ids, embeddings, labels = [], [], []
    for video_id, group in rows.groupby("video_id", sort=False):
        group = group.sort_values("frame_index", kind="stable")
        positions = group["position"].to_numpy()
        ids.append(video_id)
        side_by_side = bool((np.diff(positions) == 1).all())
        embeddings.append(matrix[positions[0]:positions[-1] + 1] if side_by_side else matrix[positions])
        labels.append(group["label"].to_numpy(dtype=np.int64))
    return ids, embeddings, labels


def one_video(table: pd.DataFrame, video_id: str, label: str) -> tuple[np.ndarray, np.ndarray]:
    """One video's ``(num_frames, D)`` embeddings and ``(num_frames,)`` labels from the table."""
    _, embeddings, labels = per_video(table[table["video_id"] == video_id], label)
    if not embeddings:
        raise ValueError(f"video {video_id!r} is not in the embeddings table")
    return embeddings[0], labels[0]
