"""Any model this project can embed with, from where it lies (``open_checkpoint``: ``videos.model``,
``evaluate.checkpoint``, ``export_<d>``'s sources):

* a project checkpoint: a ``carl.pt`` file, or its versioned folder (``carl.pt/<version>/carl.pt``:
  the newest version), or a training run's folder (``data/06_models/runs/<run>``: its newest
  intact epoch checkpoint);
* a checkpoint released by CARL's authors (``{"model_state", "cfg", ...}``), converted as
  ``evaluate_released_<dataset>`` converts it;
* an exported model's folder (``export_<dataset>``: ``config.json`` + ``model.safetensors``).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch

from carl_pipeline.record.checkpoint import Checkpoint, read_checkpoint
from carl_pipeline.record.run_dir import RunDir, newest_intact_checkpoint


class ModelSourceError(ValueError):
    """A ``videos.model`` that names no model this project reads (the message says what is there)."""


def open_checkpoint(source: str | os.PathLike, train_length: int | None = None) -> Checkpoint:
    """The model at ``source`` as a ``Checkpoint`` without its resume-only parts (optimiser,
    scaler, random states).

    Args:
        source: a file or folder as the module docstring lists.
        train_length: a released checkpoint's training clip length (scales its position
            encoding); None: from its cfg, else 240.

    Raises:
        ModelSourceError: nothing there, or nothing readable as a model (naming the path).
    """
    path = Path(source)
    if not path.exists():
        raise ModelSourceError(f"{path}: no such model file or folder (videos.model takes 'train', a carl.pt, "
                               f"a run folder, a released CARL checkpoint or an exported model's folder)")
    if path.is_dir():
        checkpoint = _from_folder(path, train_length)
    else:
        checkpoint = _from_file(path, train_length)
    return dataclasses.replace(checkpoint, optimizer=None, scaler=None, rng=None)


def _from_folder(path: Path, train_length: int | None) -> Checkpoint:
    from carl_pipeline.export.hub import (  # safetensors and the module: only here
        is_exported,
        load_exported,
    )

    if is_exported(path):
        return load_exported(path)
    if (path / "checkpoints").is_dir() or (path / "identity.json").is_file():  # a training run
        found, checkpoint = newest_intact_checkpoint(RunDir(path))
        if checkpoint is None:
            raise ModelSourceError(f"{path}: a run folder without an intact epoch checkpoint")
        return checkpoint
    versions = sorted(p / path.name for p in path.iterdir() if (p / path.name).is_file())
    if versions:  # a versioned catalog file: <name>/<version>/<name>
        return _from_file(versions[-1], train_length)
    raise ModelSourceError(f"{path}: a folder holding no model (neither an export's config.json and "
                           f"model.safetensors, nor a run's checkpoints, nor versions of a carl.pt)")


def _from_file(path: Path, train_length: int | None) -> Checkpoint:
    from carl_pipeline.models.released import ReleasedCheckpointError, load_released_checkpoint

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - a released file pickles its config: the converter reads it safely
        state = None
    if isinstance(state, dict) and "model" in state and "encoder" in state:
        try:
            return read_checkpoint(state, str(path))
        except ValueError as error:
            raise ModelSourceError(str(error)) from error
    try:
        return read_checkpoint(load_released_checkpoint(path, train_length=train_length), str(path))
    except ReleasedCheckpointError as error:
        raise ModelSourceError(f"{path}: neither a project checkpoint nor a released CARL checkpoint ({error})") \
            from error
