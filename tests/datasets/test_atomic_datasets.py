"""The catalog's table datasets (``carl_pipeline.datasets.atomic_datasets``): written atomically,
a flipped bit is an error naming the file."""


import numpy as np
import pandas as pd


def test_catalog_tables__written_atomically_and_a_flipped_bit_is_an_error_naming_the_file(tmp_path):
    from kedro.io import DatasetError

    from carl_pipeline.datasets import AtomicJSONDataset, AtomicParquetDataset

    table = pd.DataFrame({"video_id": [f"v{i}" for i in range(50)], "num_frames": np.arange(50)})
    dataset = AtomicParquetDataset(filepath=str(tmp_path / "video_index.parquet"))
    dataset.save(table)
    pd.testing.assert_frame_equal(dataset.load(), table)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["video_index.parquet"]
    good = (tmp_path / "video_index.parquet").read_bytes()
    damaged = 0
    for position in range(4, 600, 13):  # the data pages: each flipped bit fails a page checksum
        data = bytearray(good)
        data[position] ^= 0x10
        (tmp_path / "video_index.parquet").write_bytes(bytes(data))
        try:
            loaded = AtomicParquetDataset(filepath=str(tmp_path / "video_index.parquet")).load()
        except DatasetError as error:
            assert "video_index.parquet" in str(error)
            damaged += 1
        else:
            pd.testing.assert_frame_equal(loaded, table)  # never a silently different table
    assert damaged > 30
    (tmp_path / "video_index.parquet").write_bytes(good)

    metrics = AtomicJSONDataset(filepath=str(tmp_path / "metrics.json"), save_args={"indent": 2})
    metrics.save({"trained": {"ap@5": 0.5}})
    assert metrics.load() == {"trained": {"ap@5": 0.5}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "video_index.parquet"]
