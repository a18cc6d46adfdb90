"""The library's search index: exact and IVF, against brute force, saved and refused for other embeddings."""

import numpy as np
import pandas as pd
import pytest

from carl_pipeline.search import FrameIndex, normalised


def _library(n=3000, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(size=(n, dim)).astype(np.float32)
    video_ids = np.array([f"v{i // 100}" for i in range(n)], dtype=object)
    return embeddings, video_ids, np.arange(n) % 100


def _brute_force(embeddings, queries, k):
    scores = normalised(queries) @ normalised(embeddings).T
    return np.argsort(-scores, axis=1)[:, :k]


@pytest.mark.parametrize("exact_below", [10**9, 100])  # flat, and IVF
def test_index__finds_the_brute_force_neighbours(exact_below):
    embeddings, video_ids, frames = _library()
    index = FrameIndex.build(embeddings, video_ids, frames, exact_below=exact_below, nlist=16, nprobe=16)
    assert index.kind == ("flat" if exact_below > 3000 else "ivf16")
    queries = embeddings[:50] + 0.01
    similarities, rows = index.search(queries, 5)
    np.testing.assert_array_equal(rows, _brute_force(embeddings, queries, 5))  # nprobe = nlist: exhaustive
    assert (np.diff(similarities, axis=1) <= 1e-6).all()


def test_nearest_frames__leave_out_the_query_video_and_say_which_frame():
    embeddings, video_ids, frames = _library()
    index = FrameIndex.build(embeddings, video_ids, frames)
    found = index.nearest_frames(embeddings[[5, 250]], 4, exclude_videos=["v0", None])
    assert list(found[0].columns) == ["rank", "video_id", "frame_index", "similarity"]
    assert (found[0]["video_id"] != "v0").all() and len(found[0]) == 4
    assert found[1].iloc[0].tolist()[1:3] == ["v2", 50]  # itself first when its video is not left out


def test_saved_index__loads_back_and_refuses_other_embeddings(tmp_path):
    embeddings, video_ids, frames = _library()
    table = pd.DataFrame({"video_id": video_ids, "frame_index": frames, "embedding": list(embeddings)})
    index = FrameIndex.from_table(table, exact_below=100, nlist=16)
    index.save(tmp_path / "index")
    loaded = FrameIndex.load(tmp_path / "index")
    assert loaded.kind == index.kind and len(loaded) == len(table)
    np.testing.assert_array_equal(loaded.search(embeddings[:3], 5)[1], index.search(embeddings[:3], 5)[1])
    loaded.check_built_from(table)
    changed = table.copy()
    changed.loc[7, "embedding"] = changed.loc[7, "embedding"] + 1
    with pytest.raises(ValueError, match="built from other embeddings"):
        loaded.check_built_from(changed)
    with pytest.raises(FileNotFoundError, match="no search index"):
        FrameIndex.load(tmp_path / "nothing")


def _saved(tmp_path):
    embeddings, video_ids, frames = _library()
    table = pd.DataFrame({"video_id": video_ids, "frame_index": frames, "embedding": list(embeddings)})
    FrameIndex.from_table(table, exact_below=100, nlist=16).save(tmp_path / "index")
    return tmp_path / "index", embeddings


@pytest.mark.parametrize("name", ["index.faiss", "frames.parquet"])
def test_saved_index__one_changed_byte_in_a_file_is_refused_naming_it(tmp_path, name):
    from carl_pipeline.search import SearchIndexError

    folder, embeddings = _saved(tmp_path)
    path = folder / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, deep in the vectors or the frame list
    path.write_bytes(bytes(data))
    with pytest.raises(SearchIndexError, match=rf"{name}: its checksum is not the one index.json holds"):
        FrameIndex.load(folder)


def test_saved_index__a_wrong_frame_count_or_no_checksums_says_which_file_says_what(tmp_path):
    import json

    from carl_pipeline.search import SearchIndexError

    folder, embeddings = _saved(tmp_path)
    meta = json.loads((folder / "index.json").read_text())
    (folder / "index.json").write_text(json.dumps({**meta, "frames": meta["frames"] + 1}))
    with pytest.raises(SearchIndexError, match=rf"index.faiss holds {len(embeddings)}, frames.parquet lists "
                                               rf"{len(embeddings)}, index.json says {len(embeddings) + 1}"):
        FrameIndex.load(folder)
    (folder / "index.json").write_text(json.dumps({k: v for k, v in meta.items() if k != "checksums"}))
    with pytest.raises(SearchIndexError, match="holds no checksums.*build it again"):
        FrameIndex.load(folder)


def test_saved_index__readable_by_others_as_the_umask_says(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        folder, _ = _saved(tmp_path)
    finally:
        os.umask(old)
    assert folder.stat().st_mode & 0o777 == 0o755
    assert {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()} == {
        "index.faiss": 0o644, "frames.parquet": 0o644, "index.json": 0o644}
