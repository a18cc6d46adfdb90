"""Kedro datasets for training: the run folder (checkpoints, TensorBoard) and the trained model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from kedro.io import AbstractDataset, AbstractVersionedDataset, DatasetError, Version
from kedro_datasets._typing import JSONPreview

from carl_pipeline.atomic import sweep_stale_temporaries
from carl_pipeline.datasets.previews import checkpoint_summary
from carl_pipeline.distributed import writes
from carl_pipeline.embedding.features import FeatureCache
from carl_pipeline.record import Checkpoint, RunDir, read_checkpoint, save_atomic


class FeatureCacheDataset(AbstractDataset[None, FeatureCache]):
    """Loads a ``FeatureCache`` handle: the folder of a frozen backbone's per-frame features
    (``train.optim.feature_cache``), keyed by the backbone's weights and the input size, one file
    per video and frame-pack checksum. An input of the training node, which fills it with what is
    missing; never saved."""

    def __init__(self, path: str, metadata: dict[str, Any] | None = None):
        self._path, self.metadata = Path(path), metadata

    def _load(self) -> FeatureCache:
        return FeatureCache(self._path)

    def _save(self, data: None) -> None:
        raise DatasetError(f"{self._path}: the feature cache is written by the training node itself")

    def _exists(self) -> bool:
        return True  # an empty cache is a valid start

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}


class RunDirDataset(AbstractDataset[None, RunDir]):
    """Loads a ``RunDir`` handle: the folder where training keeps its epoch checkpoints (to resume
    an interrupted run) and its TensorBoard logs (``tensorboard --logdir <path>/tensorboard``).

    It is an input of the training node, which writes into it as it goes; it is never saved.
    ``namespace``: the namespace that asks (recorded by the runs it uses); ``legacy_path``: where
    that namespace kept its runs before every namespace shared one root (they are moved over).
    """

    def __init__(self, path: str, keep: int = 2, namespace: str | None = None, legacy_path: str | None = None,
                 metadata: dict[str, Any] | None = None):
        self._path, self._keep, self.metadata = Path(path), keep, metadata
        self._namespace, self._legacy = namespace, legacy_path

    def _load(self) -> RunDir:
        return RunDir(self._path, self._keep, self._namespace, self._legacy)

    def _save(self, data: None) -> None:
        raise DatasetError(f"{self._path}: the run folder is written by the training node itself")

    def _exists(self) -> bool:
        return True  # an empty run folder is a valid start

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "keep": self._keep, "namespace": self._namespace}


class TorchCheckpointDataset(AbstractVersionedDataset[Checkpoint | dict, Checkpoint | dict]):
    """A checkpoint as a ``.pt`` file: an encoder ``Checkpoint`` (saved in its dict form, loaded
    back as a ``Checkpoint``) or another dict of tensors (the pretrained backbone).
    With ``versioned: true`` each run writes ``<filepath>/<version>/<name>``, never overwriting
    an earlier run's model, and loading takes the newest version (or the one asked for).

    Saving is atomic and, under ``torchrun``, done by rank 0 only; the other ranks keep what they
    would have saved and load that back (every rank computes the same result, and the file rank 0
    writes may not be there yet). Loading uses ``weights_only=True``: a checkpoint holds tensors
    and plain values, never code.
    """

    def __init__(self, filepath: str, version: Version | None = None, metadata: dict[str, Any] | None = None):
        super().__init__(filepath=Path(filepath), version=version)
        self.metadata = metadata
        self._kept: dict | Checkpoint | None = None  # a non-zero rank's unsaved result

    def _load(self) -> dict:
        if self._kept is not None:
            return self._kept
        try:
            path = Path(self._get_load_path())
        except DatasetError as error:  # versioned, and no version saved yet
            raise DatasetError(f"{self._filepath}: no trained model; run the training pipeline first") from error
        if not path.is_file():
            raise DatasetError(f"{path}: no trained model; run the training pipeline first")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:
            raise DatasetError(f"{path}: not a readable checkpoint ({error})") from error
        if isinstance(state, dict) and "encoder" in state and "model" in state:  # an encoder checkpoint
            try:
                return read_checkpoint(state, str(path))
            except ValueError as error:
                raise DatasetError(str(error)) from error
        return state

    def resolve_load_version(self) -> str | None:
        if self._kept is not None:  # a non-zero rank wrote nothing: what it keeps is this run's version
            return self.resolve_save_version()
        return super().resolve_load_version()

    def _save(self, data: dict) -> None:
        if not writes():
            self._kept = data
            return
        path = Path(self._get_save_path())
        self._sweep(path)
        save_atomic(data.to_dict() if isinstance(data, Checkpoint) else data, path)

    def _sweep(self, path: Path) -> None:
        """Remove what killed saves of earlier versions left: temporary files (up to a model's size
        each) and the version folders they leave empty (never one holding a model). An unversioned
        file's temporaries lie beside it, where ``atomic_path`` sweeps them itself."""
        root = Path(self._filepath)
        if self._version is None or not root.is_dir():
            return
        sweep_stale_temporaries(root, recursive=True)
        for folder in root.iterdir():
            if folder.is_dir() and folder != path.parent and not any(folder.iterdir()):
                folder.rmdir()

    def preview(self) -> JSONPreview:
        """kedro-viz: the run, the settings and the loss per epoch (weights left out)."""
        return JSONPreview(json.dumps(checkpoint_summary(self._load()), default=str))

    def _exists(self) -> bool:
        try:
            return Path(self._get_load_path()).is_file()
        except DatasetError:
            return False

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "version": self._version}
