"""The catalog's table datasets (``carl_pipeline.datasets.atomic_datasets``): written atomically,
a flipped bit is an error naming the file."""


import numpy as np
import pandas as pd

from tests.conftest import damaged_loads


def test_catalog_tables__written_atomically_and_a_flipped_bit_is_an_error_naming_the_file(tmp_path):
    from carl_pipeline.datasets import AtomicJSONDataset, AtomicParquetDataset

    table = pd.DataFrame({"video_id": [f"v{i}" for i in range(50)], "num_frames": np.arange(50)})
    dataset = AtomicParquetDataset(filepath=str(tmp_path / "video_index.parquet"))
    dataset.save(table)
    pd.testing.assert_frame_equal(dataset.load(), table)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["video_index.parquet"]
    path = tmp_path / "video_index.parquet"
    # the data pages: each flipped bit fails a page checksum, never a silently different table
    failed = damaged_loads(path, AtomicParquetDataset(filepath=str(path)).load,
                           lambda loaded: pd.testing.assert_frame_equal(loaded, table), range(4, 600, 13))
    assert failed > 30

    metrics = AtomicJSONDataset(filepath=str(tmp_path / "metrics.json"), save_args={"indent": 2})
    metrics.save({"trained": {"ap@5": 0.5}})
    assert metrics.load() == {"trained": {"ap@5": 0.5}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "video_index.parquet"]
