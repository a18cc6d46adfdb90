"""Where a training run keeps its checkpoints and TensorBoard logs, so an interrupted run resumes."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import torch

from carl_pipeline.atomic import atomic_path, save_torch, sweep_stale_temporaries
from carl_pipeline.record.checkpoint import Checkpoint, RunRecord, read_checkpoint

logger = logging.getLogger(__name__)

_CHECKPOINT = re.compile(r"^epoch_(\d+)\.pt$")


def save_atomic(obj, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file beside ``path``, then rename: never a half-written file;
    a full disk or another OS error is raised naming ``path`` (``carl_pipeline.atomic.save_torch``)."""
    return save_torch(obj, path)


class RunDir:
    """``<root>/checkpoints/epoch_NNNN.pt`` and ``<root>/tensorboard/``; ``child(name)`` is a run
    folder of its own under ``root`` (training keeps one per run identity).

    ``namespace``: the pipeline namespace asking for runs here (``pouring``, ``finegym_gym99``,
    ``pouring_tcc``): every namespace shares one root, so two that ask for the same run find the
    same folder, which records them (``namespaces.json``). ``legacy_root``: where this namespace
    kept its runs before they were shared; a run found there is moved into the shared root
    (a compatibility shim: ``carl_pipeline.compat`` says when it goes).
    """

    def __init__(self, root: str | os.PathLike, keep: int = 2, namespace: str | None = None,
                 legacy_root: str | os.PathLike | None = None):
        self.root = Path(root)
        self.keep = keep
        self.namespace = namespace
        self.legacy_root = Path(legacy_root) if legacy_root is not None else None

    def __repr__(self) -> str:
        return f"RunDir({str(self.root)!r})"

    def child(self, name: str) -> RunDir:
        """The run folder ``<root>/<name>``, keeping as many checkpoints as this one."""
        return RunDir(self.root / name, self.keep, self.namespace)

    def run_folder(self, name: str) -> RunDir:
        """``child(name)``; when it is not there but this namespace's old, unshared root holds a
        run of that name, that folder is moved here first (one rename), so a run trained before
        the runs were shared is resumed or found finished, not trained again."""
        folder = self.child(name)
        old = self.legacy_root / name if self.legacy_root is not None else None
        if not folder.root.exists() and old is not None and old.is_dir() and old.resolve() != folder.root.resolve():
            folder.root.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(old, folder.root)
                logger.info("run %s: moved from %s into the shared runs folder %s", name, old, folder.root)
            except OSError:  # another process moved it first (or made the folder): use what is there
                if not folder.root.is_dir():
                    raise
        return folder

    def record_namespace(self) -> list[str]:
        """Add this folder's ``namespace`` to the namespaces that used the run (``namespaces.json``,
        written atomically) and return them all, sorted."""
        import json

        path = self.root / "namespaces.json"
        used = set(json.loads(path.read_text())) if path.exists() else set()
        if self.namespace is not None and self.namespace not in used:
            used.add(self.namespace)
            self.root.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                tmp.write_text(json.dumps(sorted(used)) + "\n")
        return sorted(used)

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    def checkpoints(self) -> list[tuple[int, Path]]:
        folder = self.root / "checkpoints"
        found = []
        if folder.is_dir():
            for path in folder.iterdir():
                match = _CHECKPOINT.match(path.name)
                if match:
                    found.append((int(match[1]), path))
        return sorted(found)

    def save(self, state: dict, epoch: int) -> Path:
        """Write the checkpoint after ``epoch`` epochs and drop all but the newest ``keep``."""
        sweep_stale_temporaries(self.root / "checkpoints")  # what killed saves of earlier epochs left
        path = save_atomic(state, self.root / "checkpoints" / f"epoch_{epoch:04d}.pt")
        for _, old in self.checkpoints()[:-self.keep]:
            old.unlink(missing_ok=True)
        return path


def newest_intact_checkpoint(run_dir: RunDir) -> tuple[Path | None, Checkpoint | None]:
    """The newest epoch checkpoint of a run that loads, and its path; ``(None, None)`` when there
    is none. A checkpoint that does not load (truncated, damaged) is named in a warning and the
    next older one is tried."""
    for _, path in reversed(run_dir.checkpoints()):
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            return path, read_checkpoint(state, str(path))
        except Exception as error:  # noqa: BLE001 - torch raises several types for a damaged zip
            logger.warning("%s does not load (%s: %s); trying the one before it", path, type(error).__name__,
                           str(error).splitlines()[0] if str(error) else "")
    return None, None


def run_folder(record: RunRecord, runs_root: RunDir) -> RunDir:
    """The ``RunDir`` a checkpoint's run trained in: its stored folder when it is there, else the
    folder of that name under ``runs_root`` (a project moved since), else ``runs_root`` itself
    (a checkpoint that no run here made)."""
    if record.folder and Path(record.folder).is_dir():
        return RunDir(record.folder)
    return runs_root.child(record.name) if record.name else runs_root
