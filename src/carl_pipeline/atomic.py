"""Atomic file writes: write beside the target, then rename, so no reader ever sees half a file.

A temporary file is named ``.<target name>.<pid>@<host>.<random>.tmp``: it ends in ``.tmp``, which
no reader of the project matches (a frame store reads ``*.frames``, a run ``epoch_NNNN.pt``, Kedro
``<file>/<version>/<file>``), and it says which process writes it, so that a later writer can tell
the leftovers of a killed process (removed) from a write in progress (left alone):
``sweep_stale_temporaries``. A target name too long for that (a file system allows 255 bytes a
name) is shortened in its temporary's name to its start and a digest of the whole name.

An error while writing (no space left, a file too large, a read-only disk) is raised as an
``OSError`` naming the target file and the cause; the target is left as it was.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

TEMP_SUFFIX = ".tmp"
#: ``.<name>.<pid>@<host>.<random>.tmp``
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)@(?P<host>[^/@]+)\.(?P<random>[A-Za-z0-9_]+)\.tmp$")
#: What the writers before this naming left: ``.<stem>.<random>.tmp<suffix>`` (e.g. ``.v1.ab12.tmp.frames``).
_LEGACY_TEMP = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]+\.tmp(\.[A-Za-z0-9]+)?$")
#: A temporary file of another host is taken as abandoned after this long untouched.
FOREIGN_TEMP_MAX_AGE_S = 24 * 3600.0
#: The longest file name most file systems take (bytes).
NAME_MAX = 255
_PID_DIGITS = 7


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it; put it back at once
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The permissions a plain ``open(path, "w")`` gives a new file here (0666 less the umask)."""
    return 0o666 & ~_umask()


def folder_mode() -> int:
    """The permissions ``mkdir`` gives a new folder here (0777 less the umask)."""
    return 0o777 & ~_umask()


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


def _temporary_stem(name: str) -> str:
    """The part of a temporary's name that stands for its target ``name``: the name itself, or,
    where that would make the temporary's name longer than ``NAME_MAX`` bytes, its start, ``~``
    and twelve hex digits of its digest (so a legal long target name is still writable)."""
    # Room for the widest pid (Linux's PID_MAX_LIMIT, 4194304, has 7 digits), not this process's:
    # the stem must not depend on who writes, or a sweep would miss a writer with a longer pid.
    pid_host = f".{'9' * _PID_DIGITS}@{host_name()}."
    room = NAME_MAX - len(pid_host.encode()) - 1 - 8 - len(TEMP_SUFFIX)  # "." + name; mkstemp's 8 random
    if len(name.encode()) <= room:
        return name
    digest = hashlib.blake2b(name.encode(), digest_size=6).hexdigest()
    return name.encode()[: room - 13].decode(errors="ignore") + "~" + digest


def temporary_prefix(name: str) -> str:
    """``.<name>.<pid>@<host>.``: how this process's temporaries of the target ``name`` start."""
    return f".{_temporary_stem(name)}.{os.getpid()}@{host_name()}."


def _temporaries_of(folder: Path, target_name: str) -> Iterator[Path]:
    """The files in ``folder`` that may be temporaries of ``target_name``, of any writer."""
    return folder.glob(f".{glob.escape(_temporary_stem(target_name))}.*")


@contextmanager
def naming_target(path: str | os.PathLike) -> Iterator[None]:
    """Re-raise an OS error of the block (no space left, file too large, read-only disk) as an
    ``OSError`` of the same kind naming ``path``, the file the block writes: a bare "No space
    left on device" does not say which write failed."""
    try:
        yield
    except OSError as error:
        if error.filename not in (None, ""):
            raise
        raise type(error)(error.errno, f"{error.strerror or error} while writing", str(path)) from error


def write_json_atomic(path: str | os.PathLike, data: Any) -> Path:
    """Write JSON to a temporary file beside ``path`` and rename it into place: never a half-written file."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    return path


def save_torch(obj, path: str | os.PathLike) -> Path:
    """``torch.save(obj)`` to ``path`` whole or not at all, an OS error raised naming ``path`` and
    its cause (torch's own writer reports a full disk as "unexpected pos", naming nothing)."""
    import torch

    path = Path(path)
    buffer = _RecordingWriter()
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:  # atomic_path names the file of an OS error
        buffer.handle = handle
        try:
            torch.save(obj, buffer)
        except RuntimeError as error:
            if buffer.error is not None:  # the OS refused a write: say that, not torch's enforce message
                raise buffer.error from error
            raise RuntimeError(f"{path}: torch.save failed ({error})") from error
    return path


class _RecordingWriter:
    """A file-like object for ``torch.save`` that keeps the ``OSError`` of a failed write (torch
    turns it into a ``RuntimeError`` that names no cause)."""

    def __init__(self):
        self.handle = None
        self.error: OSError | None = None

    def write(self, data) -> int:
        try:
            return self.handle.write(data)
        except OSError as error:
            self.error = error
            raise

    def flush(self) -> None:
        self.handle.flush()


def sweep_stale_temporaries(folder: str | os.PathLike, target_name: str | None = None,
                            recursive: bool = False) -> list[Path]:
    """Remove the temporary files that killed writers left in ``folder`` (only those of
    ``target_name`` when given; sub-folders too when ``recursive``). A temporary file whose
    writer still runs is left alone. Returns what was removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    if target_name:
        candidates = _temporaries_of(folder, target_name)
    else:
        candidates = folder.rglob(".*") if recursive else folder.glob(".*")
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
    with naming_target(path):
        fd, tmp_name = tempfile.mkstemp(prefix=temporary_prefix(path.name), suffix=TEMP_SUFFIX, dir=path.parent)
    os.close(fd)
    os.chmod(tmp_name, file_mode())  # mkstemp makes 0600; a normal write gives 0666 minus the umask
    tmp = Path(tmp_name)
    try:
        with naming_target(path):
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
    none, never a mixture. What lands has the permissions of a normal write (files 0666, folders
    0777, less the umask: readable by others where the umask says so), not ``mkdtemp``'s 0700 or
    a library's 0600, since an export or an index is meant to be handed on."""
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in _temporaries_of(path.parent, path.name):
        if stale.is_dir() and is_temporary(stale) and _abandoned(stale):
            shutil.rmtree(stale, ignore_errors=True)
    prefix = temporary_prefix(path.name)
    staging = Path(tempfile.mkdtemp(prefix=prefix, suffix=TEMP_SUFFIX, dir=path.parent))
    old = None
    try:
        with naming_target(path):
            yield staging
        _normal_permissions(staging)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=prefix, suffix=TEMP_SUFFIX, dir=path.parent))
            os.replace(path, old / path.name)
        os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _normal_permissions(folder: Path) -> None:
    """Give ``folder`` and everything in it the permissions of a normal write."""
    files, folders = file_mode(), folder_mode()
    for entry in folder.rglob("*"):
        if not entry.is_symlink():
            os.chmod(entry, folders if entry.is_dir() else files)
    os.chmod(folder, folders)
