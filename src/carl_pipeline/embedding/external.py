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

Pickles run code when they load: read only files you trust (CARL's pickles hold torch tensors,
so reading them imports torch).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from carl_pipeline.embedding.table import embeddings_table

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
    if embedding.ndim != 2 or not np.issubdtype(embedding.dtype, np.number):
        found.unreadable.append({"file": str(file), "error": f"embeddings of shape {embedding.shape} "
                                 f"({embedding.dtype}); expected (frames, dimensions) numbers"})
        return
    found.embeddings[name] = embedding.astype(np.float32)
    found.files[name] = str(file)


def _read_pickles(root: Path, found: ExternalEmbeddings) -> None:
    for file in sorted(root.rglob("*.pkl")):
        try:
            with open(file, "rb") as handle:
                data = pickle.load(handle)  # noqa: S301 - the user's own files (module docstring)
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
    table = pd.read_parquet(file)
    missing = {"video_id", "frame_index", "embedding"} - set(table.columns)
    if missing:
        raise ValueError(f"{file}: not an embeddings table (no {sorted(missing)} column)")
    for video_id, rows in table.sort_values(["video_id", "frame_index"]).groupby("video_id", sort=True):
        frames = rows["frame_index"].to_numpy()
        if not np.array_equal(frames, np.arange(len(frames))):
            found.unreadable.append({"file": f"{file} ({video_id})",
                                     "error": "frame_index is not 0, 1, ... without gaps"})
            continue
        _add(found, str(video_id), np.stack(rows["embedding"].to_numpy()), file)


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
