"""Nearest frames in a library of embedded videos, with FAISS.

The embeddings are L2-normalised, so that the inner product is the cosine similarity, and held
in a FAISS index: exact (``IndexFlatIP``) up to ``exact_below`` frames, an inverted file
(``IndexIVFFlat``: ``nlist`` k-means cells, ``nprobe`` of them searched per query) above, which
answers a query over 10^6 frames in about a millisecond (benchmarks/bench_search_index.py measures it
against brute force). An index remembers the fingerprint of the embeddings it was built from, so
that it is never used with another table, and ``index.json`` holds a checksum of each of its other
files, so that a damaged ``index.faiss`` or frame list is refused instead of answering wrongly.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from carl_pipeline.atomic import atomic_folder
from carl_pipeline.embedding.table import embedding_matrix

if TYPE_CHECKING:
    import faiss

FORMAT_VERSION = 2  # 2: index.json holds the checksums of index.faiss and frames.parquet
#: The files whose checksums ``index.json`` holds.
CHECKED_FILES = ("index.faiss", "frames.parquet")


class SearchIndexError(ValueError):
    """A search index folder that must not be used (damaged, incomplete, written by other code);
    the message names the folder, the file and what is wrong."""


def normalised(x: np.ndarray) -> np.ndarray:
    """``(N, D)`` float32 rows of unit length (zero rows stay zero)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def table_fingerprint(embeddings: np.ndarray, video_ids: np.ndarray, frame_indices: np.ndarray) -> str:
    """A digest of what an index is built from: every embedding and which frame it is."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(np.ascontiguousarray(embeddings, dtype=np.float32).tobytes())
    digest.update("\x00".join(map(str, video_ids)).encode())
    digest.update(np.asarray(frame_indices, dtype=np.int64).tobytes())
    return digest.hexdigest()


def table_arrays(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An embeddings table's ``(N, D)`` embeddings, ``(N,)`` video ids and frame indices."""
    return (embedding_matrix(table), table["video_id"].to_numpy(dtype=object),
            table["frame_index"].to_numpy(dtype=np.int64))


@dataclass
class FrameIndex:
    """A FAISS index over frames and, per row, the frame it is (``video_ids``, ``frame_indices``)."""

    index: faiss.Index
    video_ids: np.ndarray
    frame_indices: np.ndarray
    fingerprint: str
    kind: str

    @classmethod
    def build(cls, embeddings: np.ndarray, video_ids, frame_indices, exact_below: int = 200_000,
              nlist: int | None = None, nprobe: int = 64, seed: int = 0) -> FrameIndex:
        """Index ``(N, D)`` embeddings.

        Args:
            exact_below: libraries of fewer frames get the exact index.
            nlist: k-means cells of the inverted file; None: 2 sqrt(N) (trained on 40 frames a cell).
            nprobe: cells searched per query (more: better recall, slower).
            seed: of the k-means that places the cells.
        """
        import faiss  # where an index is made or read: not on every catalog load (0.2 s)

        vectors = normalised(embeddings)
        n, dim = vectors.shape
        if n == 0:
            raise ValueError("no embedding to index")
        fingerprint = table_fingerprint(embeddings, video_ids, frame_indices)
        if n < exact_below:
            index, kind = faiss.IndexFlatIP(dim), "flat"
        else:
            cells = nlist or int(2 * np.sqrt(n))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, cells, faiss.METRIC_INNER_PRODUCT)
            index.cp.seed = seed
            sample = np.random.default_rng(seed).choice(n, size=min(n, 40 * cells), replace=False)
            index.train(vectors[np.sort(sample)])
            index.nprobe = nprobe
            kind = f"ivf{cells}"
        index.add(vectors)
        return cls(index, np.asarray(video_ids, dtype=object), np.asarray(frame_indices, dtype=np.int64),
                   fingerprint, kind)

    @classmethod
    def from_table(cls, table: pd.DataFrame, **options) -> FrameIndex:
        """Index every frame of an embeddings table (one row per frame)."""
        return cls.build(*table_arrays(table), **options)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(Q, k)`` cosine similarities and row numbers of each query's nearest frames, best
        first (row -1 where fewer than k were found)."""
        similarities, rows = self.index.search(normalised(np.atleast_2d(queries)), min(k, len(self)))
        return similarities, rows

    def nearest_frames(self, queries: np.ndarray, k: int, exclude_videos=None) -> list[pd.DataFrame]:
        """Per query, a table of its ``k`` nearest frames (``rank``, ``video_id``,
        ``frame_index``, ``similarity``), leaving out frames of ``exclude_videos[q]`` (the query's
        own video, say): asked for more until enough are left or the library is exhausted."""
        queries = np.atleast_2d(queries)
        out = []
        for q, query in enumerate(queries):
            excluded = None if exclude_videos is None else exclude_videos[q]
            asked = k if excluded is None else 4 * k
            while True:
                similarities, rows = self.search(query[None], asked)
                keep = rows[0] >= 0
                if excluded is not None:
                    keep &= self.video_ids[np.maximum(rows[0], 0)] != excluded
                if keep.sum() >= k or asked >= len(self):
                    break
                asked = min(4 * asked, len(self))
            chosen = rows[0][keep][:k]
            out.append(pd.DataFrame({"rank": np.arange(1, len(chosen) + 1), "video_id": self.video_ids[chosen],
                                     "frame_index": self.frame_indices[chosen],
                                     "similarity": similarities[0][keep][:k].astype(np.float32)}))
        return out

    def check_built_from(self, table: pd.DataFrame, name: str = "the embeddings table") -> None:
        """Refuse to answer for a table the index was not built from.

        Raises:
            ValueError: the table changed since the index was built.
        """
        fingerprint = table_fingerprint(*table_arrays(table))
        if fingerprint != self.fingerprint:
            raise ValueError(f"the search index was built from other embeddings than {name} "
                             f"({self.fingerprint[:12]} != {fingerprint[:12]}): build it again from this table")

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``index.faiss``, ``frames.parquet`` and ``index.json`` to ``folder``, whole or
        not at all (``carl_pipeline.atomic.atomic_folder``)."""
        import faiss

        from carl_pipeline.ingest.digests import file_digest

        folder = Path(folder)
        with atomic_folder(folder) as staging:
            faiss.write_index(self.index, str(staging / "index.faiss"))
            pd.DataFrame({"video_id": self.video_ids.astype(str), "frame_index": self.frame_indices}).to_parquet(
                staging / "frames.parquet")
            (staging / "index.json").write_text(json.dumps({
                "format_version": FORMAT_VERSION, "fingerprint": self.fingerprint, "kind": self.kind,
                "frames": len(self), "dim": int(self.index.d), "metric": "cosine",
                "nprobe": int(getattr(self.index, "nprobe", 0)),
                "checksums": {name: file_digest(staging / name) for name in CHECKED_FILES}}, indent=2))
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> FrameIndex:
        """An index written by ``save``.

        Raises:
            FileNotFoundError: nothing there (naming the missing files).
            SearchIndexError: a file whose checksum is not the one ``index.json`` holds, an index
                written before checksums were kept, or files that disagree on the number of
                frames (naming the folder, the file and the numbers): build it again.
        """
        folder = Path(folder)
        files = [folder / name for name in ("index.faiss", "frames.parquet", "index.json")]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise FileNotFoundError(f"{folder}: no search index (missing {', '.join(missing)}); build it first")
        import faiss

        from carl_pipeline.ingest.digests import file_digest

        again = "build it again (kedro run --pipelines=videos)"
        try:
            meta = json.loads(files[2].read_text())
            checksums = dict(meta.get("checksums") or {})
        except (ValueError, AttributeError, TypeError) as error:
            raise SearchIndexError(f"{files[2]}: not a readable index description ({error}); {again}") from None
        if set(checksums) != set(CHECKED_FILES):
            raise SearchIndexError(f"{folder}: index.json holds no checksums of {', '.join(CHECKED_FILES)} "
                                   f"(written by an older version, or not by this project); {again}")
        for name in CHECKED_FILES:
            if file_digest(folder / name) != checksums[name]:
                raise SearchIndexError(f"{folder / name}: its checksum is not the one index.json holds "
                                       f"(the file was damaged or replaced since the index was built); {again}")
        index = faiss.read_index(str(files[0]))
        if "nprobe" in meta and hasattr(index, "nprobe") and meta["nprobe"]:
            faiss.extract_index_ivf(index).nprobe = meta["nprobe"]
        frames = pd.read_parquet(files[1])
        if not len(frames) == index.ntotal == meta.get("frames"):
            raise SearchIndexError(f"{folder}: the files disagree on the number of frames: index.faiss holds "
                                   f"{index.ntotal}, frames.parquet lists {len(frames)}, index.json says "
                                   f"{meta.get('frames')}; {again}")
        return cls(index, frames["video_id"].to_numpy(dtype=object), frames["frame_index"].to_numpy(dtype=np.int64),
                   meta["fingerprint"], meta["kind"])
