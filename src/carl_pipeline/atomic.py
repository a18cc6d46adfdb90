"""Atomic file writes: write beside the target, then rename, so no reader ever sees half a file.

A temporary file is named ``.<target name>.<pid>@<host>.<random>.tmp``: it ends in ``.tmp``, which
no reader of the project matches (a frame store reads ``*.frames``, a run ``epoch_NNNN.pt``, Kedro
``<file>/<version>/<file>``), and it says which process writes it, so that a later writer can tell
the leftovers of a killed process (removed) from a write in progress (left alone):
``sweep_stale_temporaries``.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

TEMP_SUFFIX = ".tmp"
#: ``.<name>.<pid>@<host>.<random>.tmp``
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)@(?P<host>[^/@]+)\.(?P<random>[A-Za-z0-9_]+)\.tmp$")
#: What the writers before this naming left: ``.<stem>.<random>.tmp<suffix>`` (e.g. ``.v1.ab12.tmp.frames``).
_LEGACY_TEMP = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]+\.tmp(\.[A-Za-z0-9]+)?$")
#: A temporary file of another host is taken as abandoned after this long untouched.
FOREIGN_TEMP_MAX_AGE_S = 24 * 3600.0


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it; put it back at once
    os.umask(mask)
    return mask


def host_name() -> str:
    """This machine's name as temporary files and locks record it (characters safe in file names)."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname()) or "host"


def pid_alive(pid: int) -> bool:
    """True when a process ``pid`` exists on this machine (signal 0 probes without signalling)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def is_temporary(path: str | os.PathLike) -> bool:
    """True for a writer's temporary file (this naming or the one before it)."""
    name = Path(path).name
    return bool(_TEMP.match(name) or _LEGACY_TEMP.match(name))


def _abandoned(path: Path) -> bool:
    match = _TEMP.match(path.name)
    if match is None:  # the naming before pids were recorded: its writer cannot be asked
        return True
    if match["host"] == host_name():
        return not pid_alive(int(match["pid"]))
    try:
        return time.time() - path.stat().st_mtime > FOREIGN_TEMP_MAX_AGE_S
    except FileNotFoundError:
        return False


def sweep_stale_temporaries(folder: str | os.PathLike, target_name: str | None = None,
                            recursive: bool = False) -> list[Path]:
    """Remove the temporary files that killed writers left in ``folder`` (only those of
    ``target_name`` when given; sub-folders too when ``recursive``). A temporary file whose
    writer still runs is left alone. Returns what was removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    pattern = f".{target_name}.*" if target_name else ".*"
    candidates = folder.rglob(pattern) if recursive else folder.glob(pattern)
    removed = []
    for path in candidates:
        if path.is_file() and is_temporary(path) and _abandoned(path):
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            removed.append(path)
    if removed:
        logger.info("%s: removed %d temporary file(s) of interrupted writes: %s", folder, len(removed),
                    ", ".join(p.name for p in removed[:5]))
    return removed


@contextmanager
def atomic_path(path: str | os.PathLike, sweep: bool = True) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; on success it replaces ``path``, on any error
    (or interruption) it is removed and ``path`` is left as it was.

    ``sweep``: first remove the temporaries that killed writers of ``path`` left (a writer of
    many files in one folder, like the frame store, sweeps the folder once instead).

    Example:
        >>> with atomic_path("out/model.pt") as tmp:
        ...     torch.save(state, tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if sweep:
        sweep_stale_temporaries(path.parent, path.name)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}@{host_name()}.", suffix=TEMP_SUFFIX,
                                    dir=path.parent)
    os.close(fd)
    os.chmod(tmp_name, 0o666 & ~_umask())  # mkstemp makes 0600; a normal write gives 0666 minus the umask
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; on success it replaces ``path`` (a folder
    of several files written together: an exported model, a search index), on any error it is
    removed and ``path`` is left as it was. Staging folders that killed writers left are removed
    first. A reader sees the old folder, the new one, or (for the instant between two renames)
    none, never a mixture."""
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*"):
        if stale.is_dir() and is_temporary(stale) and _abandoned(stale):
            shutil.rmtree(stale, ignore_errors=True)
    prefix = f".{path.name}.{os.getpid()}@{host_name()}."
    staging = Path(tempfile.mkdtemp(prefix=prefix, suffix=TEMP_SUFFIX, dir=path.parent))
    old = None
    try:
        yield staging
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=prefix, suffix=TEMP_SUFFIX, dir=path.parent))
            os.replace(path, old / path.name)
        os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
