"""Frame embeddings made elsewhere (another method, CARL's released code), read and joined to a
dataset's index and labels, so the project's protocol scores them like its own.

Three layouts are read (``read_external_embeddings``):

- ``released_pickles``: the per-video pickles CARL's released ``evaluate_finegym.py`` writes
  (``get_embeddings_dataset``: ``finegym_eval_trainset/<name>.pkl``, ``finegym_eval_valset/...``),
  each ``{'embs': (N, D) tensor, 'labels': (N,) tensor, 'seq_len': N, 'name': <event id>}``;
- ``npy``: one ``<video_id>.npy`` array ``(N, D)`` per video, anywhere under a folder;
- ``table``: a Parquet file in the project's embeddings schema (``video_id``, ``frame_index``,
  ``embedding``; other columns are ignored: the labels are the dataset's).

Names are matched to the index's video ids as the released code names its videos: FineGym's
event id ``<youtube id>_E_<start>_<end>`` is the project's FineGym video id, and a file's name
(without its folder and suffix) is taken as the id otherwise. An entry whose name matches no
video, whose frame count is not the video's, or that does not read is reported by name; the rest
are scored.

The pickles are read by a restricted unpickler (``read_released_pickle``) that builds only what
the released layout holds (dicts, lists, strings, numbers, torch tensors and NumPy arrays):
anything else in a file (a class, a function to call) is refused as unreadable, and nothing in
it runs. Reading them imports torch.

Every entry is checked before it counts as scored: a ``(frames, dimensions)`` array of finite
numbers, with at least one dimension, and the same number of dimensions as the other entries
(the most common width wins; an entry of another width is reported by name).
"""

from __future__ import annotations

import codecs
import collections
import functools
import io
import pickle
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from carl_pipeline.embedding.table import embedding_matrix, embeddings_table, read_embeddings_table

FORMATS = ("auto", "released_pickles", "npy", "table")


@dataclass
class ExternalEmbeddings:
    """What a folder or file of external embeddings held.

    ``embeddings``: name -> ``(N, D)`` float32; ``labels``: name -> ``(N,)`` labels the files
    carried (the released pickles do), to check against the dataset's; ``files``: name -> the
    file it came from; ``unreadable``: ``{"file", "error"}`` for files that did not read.
    """

    embeddings: dict[str, np.ndarray] = field(default_factory=dict)
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    unreadable: list[dict[str, str]] = field(default_factory=list)


def _storage_from_bytes(data: bytes):
    """A pickled torch storage (``torch.storage._load_from_bytes``'s input) read weights-only."""
    import torch

    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


@functools.cache
def _allowed_globals() -> dict[tuple[str, str], Any]:
    """What a released embeddings pickle may name: torch's tensor rebuilders (its storages read
    weights-only), NumPy's array and scalar rebuilders, ``OrderedDict`` and ``_codecs.encode``
    (how pickles store bytes). Each builds data; none runs code of the file's choosing."""
    import torch

    allowed: dict[tuple[str, str], Any] = {
        ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
        ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("_codecs", "encode"): codecs.encode,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):  # NumPy 1 and 2 name them apart
        allowed[(module, "_reconstruct")] = np.ndarray.__reduce__(np.zeros(0))[0]
        allowed[(module, "scalar")] = np.int64(0).__reduce__()[0]
    return allowed


class _ReleasedPickleReader(pickle.Unpickler):
    """Builds only what ``_allowed_globals`` names; anything else is an error naming it."""

    def find_class(self, module: str, name: str):
        try:
            return _allowed_globals()[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"{module}.{name} is not a type the released embeddings hold "
                                         f"(only tensors, arrays, dicts, lists, strings and numbers are read; "
                                         f"nothing in the file was run)") from None


def read_released_pickle(path: str | Path) -> Any:
    """One of the released ``evaluate_finegym.py`` pickles, read without running anything in it.

    Raises:
        pickle.UnpicklingError: the file names a type beyond the released layout's (named).
    """
    with open(path, "rb") as handle:
        return _ReleasedPickleReader(handle).load()


def _array(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor (fp16 under the released AMP)
        value = value.detach().cpu().float().numpy()
    return np.asarray(value)


def _unreadable(found: ExternalEmbeddings, file: Path, error: Exception) -> None:
    found.unreadable.append({"file": str(file), "error": f"{type(error).__name__}: {error}"})


def _add(found: ExternalEmbeddings, name: str, embedding: np.ndarray, file: Path) -> None:
    if name in found.embeddings:
        found.unreadable.append({"file": str(file), "error": f"a second entry for '{name}' "
                                 f"(first: {found.files[name]}); left out"})
        return
    if embedding.ndim != 2 or not np.issubdtype(embedding.dtype, np.number) or embedding.shape[1] == 0:
        found.unreadable.append({"file": str(file), "error": f"embeddings of shape {embedding.shape} "
                                 f"({embedding.dtype}); expected (frames, dimensions) numbers, at least one "
                                 f"dimension"})
        return
    embedding = embedding.astype(np.float32)
    finite = np.isfinite(embedding)
    bad = int((~finite).sum())
    if bad:
        rows = np.flatnonzero(~finite.all(axis=1))
        found.unreadable.append({"file": str(file), "error": f"'{name}': {bad} values are NaN or infinite "
                                 f"(in {len(rows)} frames, the first frame {int(rows[0])}); left out"})
        return
    found.embeddings[name] = embedding
    found.files[name] = str(file)


def _one_width(found: ExternalEmbeddings) -> None:
    """Leave out (reported by name) the entries whose width is not the most common one: a probe
    cannot score embeddings of two widths together."""
    widths = Counter(e.shape[1] for e in found.embeddings.values())
    if len(widths) < 2:
        return
    width, count = widths.most_common(1)[0]
    for name in [n for n, e in found.embeddings.items() if e.shape[1] != width]:
        found.unreadable.append({"file": found.files.pop(name), "error": f"'{name}': embeddings of "
                                 f"{found.embeddings.pop(name).shape[1]} dimensions, where {count} other entries "
                                 f"have {width}; left out"})
        found.labels.pop(name, None)


def _read_pickles(root: Path, found: ExternalEmbeddings) -> None:
    for file in sorted(root.rglob("*.pkl")):
        try:
            data = read_released_pickle(file)
            if not isinstance(data, dict) or "embs" not in data:
                raise ValueError(f"holds a {type(data).__name__}, not the released {{'embs', 'labels', "
                                 f"'seq_len', 'name'}} dict")
            name = str(data.get("name") or file.stem)
            embedding = _array(data["embs"])
            if "seq_len" in data and int(data["seq_len"]) != len(embedding):
                raise ValueError(f"seq_len {int(data['seq_len'])} but {len(embedding)} embeddings")
        except Exception as error:  # noqa: BLE001 - any damage is reported with its file
            _unreadable(found, file, error)
            continue
        _add(found, name, embedding, file)
        if "labels" in data and name in found.embeddings:
            found.labels[name] = _array(data["labels"]).astype(np.int64)


def _read_npy(root: Path, found: ExternalEmbeddings) -> None:
    for file in sorted(root.rglob("*.npy")):
        try:
            embedding = np.load(file, allow_pickle=False)
        except Exception as error:  # noqa: BLE001
            _unreadable(found, file, error)
            continue
        _add(found, file.stem, embedding, file)


def _read_table(file: Path, found: ExternalEmbeddings) -> None:
    table = read_embeddings_table(file)
    missing = {"video_id", "frame_index", "embedding"} - set(table.columns)
    if missing:
        raise ValueError(f"{file}: not an embeddings table (no {sorted(missing)} column)")
    for video_id, rows in table.sort_values(["video_id", "frame_index"]).groupby("video_id", sort=True):
        frames = rows["frame_index"].to_numpy()
        if not np.array_equal(frames, np.arange(len(frames))):
            found.unreadable.append({"file": f"{file} ({video_id})",
                                     "error": "frame_index is not 0, 1, ... without gaps"})
            continue
        _add(found, str(video_id), embedding_matrix(rows), file)


def read_external_embeddings(path: str | Path, layout: str = "auto") -> ExternalEmbeddings:
    """Read external frame embeddings from ``path`` (a folder, or a ``.parquet`` table).

    ``layout``: one of ``FORMATS``; ``auto`` takes a ``.parquet`` file as a table, and a folder
    as released pickles when it holds ``.pkl`` files, else as ``.npy`` files.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: an unknown layout, or nothing to read there.
    """
    path = Path(path)
    if layout not in FORMATS:
        raise ValueError(f"layout '{layout}': expected one of {FORMATS}")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no external embeddings there")
    if layout == "auto":
        if path.is_file():
            layout = "table"
        else:
            layout = "released_pickles" if next(path.rglob("*.pkl"), None) is not None else "npy"
    found = ExternalEmbeddings()
    {"released_pickles": _read_pickles, "npy": _read_npy, "table": _read_table}[layout](path, found)
    _one_width(found)
    if not found.embeddings and not found.unreadable:
        raise ValueError(f"{path}: no {layout} embeddings found there")
    return found


def join_to_dataset(found: ExternalEmbeddings, video_index: pd.DataFrame, frame_labels: pd.DataFrame,
                    label_columns: tuple[str, ...] = ()) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The external embeddings as an embeddings table of the dataset, and what did not join.

    Args:
        found: ``read_external_embeddings``'s result.
        video_index: the dataset's index (``video_id``, ``split``, ``num_frames``, ...).
        frame_labels: the dataset's per-frame labels, which are the ones scored.
        label_columns: label columns to check the files' own labels against (the released
            pickles carry the taxonomy's labels); a disagreement is reported, not fatal.

    Returns:
        The table (``embedding.table.embeddings_table``'s schema) of the entries that matched a
        video with its frame count, and a report: ``scored`` (video ids), ``unmatched`` (names
        matching no video, with their files), ``wrong_length`` (name, file, frames, expected),
        ``unreadable`` (file, error), ``labels_disagree`` (name, column, frames that differ) and
        ``not_embedded`` (indexed videos with no entry, per split).
    """
    lengths = video_index.set_index("video_id")["num_frames"].astype(int).to_dict()
    matched, unmatched, wrong_length, disagree = {}, [], [], []
    for name, embedding in sorted(found.embeddings.items()):
        if name not in lengths:
            unmatched.append({"name": name, "file": found.files[name]})
        elif len(embedding) != lengths[name]:
            wrong_length.append({"name": name, "file": found.files[name], "frames": len(embedding),
                                 "expected": lengths[name]})
        else:
            matched[name] = embedding
    if not matched:
        raise ValueError(f"none of the {len(found.embeddings)} external entries matches a video of the index "
                         f"with its frame count (unmatched: {[u['name'] for u in unmatched[:5]]}, "
                         f"wrong length: {[w['name'] for w in wrong_length[:5]]})")
    table = embeddings_table(matched, video_index, frame_labels)
    checked = sorted(set(found.labels) & set(matched))
    if label_columns and checked:
        # one pass over the table (its rows are in frame order within each video)
        ours = table.loc[table["video_id"].isin(checked)].groupby("video_id", sort=False)
        for name, rows in ours:
            for column in label_columns:
                differ = int((found.labels[name] != rows[column].to_numpy()).sum())
                if differ:
                    disagree.append({"name": name, "column": column, "frames": differ})
        disagree.sort(key=lambda d: (label_columns.index(d["column"]), d["name"]))
    missing = video_index.loc[~video_index["video_id"].isin(list(matched))]
    report = {
        "scored": sorted(matched),
        "unmatched": unmatched,
        "wrong_length": wrong_length,
        "unreadable": list(found.unreadable),
        "labels_disagree": disagree,
        "not_embedded": {str(split): sorted(rows["video_id"]) for split, rows in missing.groupby("split")},
    }
    return table, report
