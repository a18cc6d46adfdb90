"""The embeddings table (``carl_pipeline.embedding.table``) and its catalog dataset: one
fixed-size Arrow column of float32 embeddings, no Python object per frame; tables of the earlier
layout still load; per-video views equal the embeddings put in."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from carl_pipeline.datasets import EmbeddingsParquetDataset
from carl_pipeline.embedding.table import embedding_matrix, embeddings_table, one_video, per_video
from tests.conftest import damaged_loads


def _inputs(seed: int = 0):
    rng = np.random.default_rng(seed)
    lengths = {"v0": 5, "v1": 3, "v2": 4}
    index = pd.DataFrame({"video_id": list(lengths), "split": ["train", "val", "val"], "action": "pour",
                          "num_frames": list(lengths.values()), "dataset_order": [2, None, 1]})
    labels = pd.DataFrame({"video_id": [v for v, n in lengths.items() for _ in range(n)],
                           "frame_index": [t for n in lengths.values() for t in range(n)],
                           "phase": [t % 2 for n in lengths.values() for t in range(n)]})
    embeddings = {v: rng.standard_normal((n, 6)) for v, n in lengths.items()}
    return embeddings, index, labels


def test_table__one_arrow_column_whose_per_video_views_are_the_embeddings_put_in(tmp_path):
    embeddings, index, labels = _inputs()
    table = embeddings_table(embeddings, index, labels)
    assert isinstance(table["embedding"].dtype, pd.ArrowDtype)
    assert pa.types.is_fixed_size_list(table["embedding"].dtype.pyarrow_dtype)
    np.testing.assert_array_equal(embedding_matrix(table),
                                  np.concatenate([embeddings[v] for v in ("v0", "v1", "v2")]).astype(np.float32))
    ids, xs, ys = per_video(table.sample(frac=1.0, random_state=0), "phase", split="val")  # any row order
    assert sorted(ids) == ["v1", "v2"]
    for video_id, x, y in zip(ids, xs, ys, strict=True):
        np.testing.assert_array_equal(x, embeddings[video_id].astype(np.float32))
        np.testing.assert_array_equal(y, np.arange(len(x)) % 2)
    x, _ = one_video(table, "v2", "phase")
    np.testing.assert_array_equal(x, embeddings["v2"].astype(np.float32))
    # a slice of the table (another video's rows skipped) gives its own rows' matrix
    np.testing.assert_array_equal(embedding_matrix(table.iloc[[7, 1]]),
                                  np.stack([embeddings["v1"][2], embeddings["v0"][1]]).astype(np.float32))

    dataset = EmbeddingsParquetDataset(filepath=str(tmp_path / "embeddings.parquet"))
    dataset.save(table)
    loaded = dataset.load()
    assert list(loaded.columns) == list(table.columns) and loaded["dataset_order"].dtype == "Int64"
    np.testing.assert_array_equal(embedding_matrix(loaded), embedding_matrix(table))
    assert isinstance(loaded["embedding"].dtype, pd.ArrowDtype)
    # the loaded table's per-video views are views of its one matrix: no copy per video
    whole = embedding_matrix(loaded)
    assert all(np.shares_memory(x, whole) for x in per_video(loaded, "phase")[1])
    # pandas alone (a notebook without the project) still reads the file: one array per row
    plain = pd.read_parquet(tmp_path / "embeddings.parquet")
    np.testing.assert_array_equal(np.stack(plain["embedding"].to_numpy()), embedding_matrix(table))
    # and a table a notebook saved with pandas' own to_parquet loads through the catalog's dataset
    table.to_parquet(tmp_path / "by_pandas.parquet")
    again = EmbeddingsParquetDataset(filepath=str(tmp_path / "by_pandas.parquet")).load()
    np.testing.assert_array_equal(embedding_matrix(again), embedding_matrix(table))


def test_table__a_table_of_the_earlier_layout_still_loads_and_damage_names_the_file(tmp_path, caplog):
    from kedro.io import DatasetError

    embeddings, index, labels = _inputs(1)
    table = embeddings_table(embeddings, index, labels)
    old = table.copy()
    old["embedding"] = list(embedding_matrix(table))  # the earlier layout: one float32 array per frame
    old.to_parquet(tmp_path / "old.parquet")
    with caplog.at_level("INFO"):
        loaded = EmbeddingsParquetDataset(filepath=str(tmp_path / "old.parquet")).load()
    assert "earlier layout" in caplog.text and "old.parquet" in caplog.text
    np.testing.assert_array_equal(embedding_matrix(loaded), embedding_matrix(table))
    assert isinstance(loaded["embedding"].dtype, pd.ArrowDtype)

    ragged = pd.DataFrame({"video_id": ["a", "a"], "frame_index": [0, 1],
                           "embedding": [np.zeros(3, np.float32), np.zeros(4, np.float32)]})
    ragged.to_parquet(tmp_path / "ragged.parquet")
    with pytest.raises(DatasetError, match=r"ragged\.parquet: embeddings of different widths"):
        EmbeddingsParquetDataset(filepath=str(tmp_path / "ragged.parquet")).load()

    dataset = EmbeddingsParquetDataset(filepath=str(tmp_path / "embeddings.parquet"))
    dataset.save(table)
    path = tmp_path / "embeddings.parquet"
    positions = range(4, path.stat().st_size // 2, 7)  # the data pages: a flipped bit fails a page checksum
    failed = damaged_loads(path, EmbeddingsParquetDataset(filepath=str(path)).load,
                           lambda loaded: np.testing.assert_array_equal(embedding_matrix(loaded), embedding_matrix(table)),
                           positions)
    assert failed > len(positions) // 3  # the rest: page headers and padding, read the same
