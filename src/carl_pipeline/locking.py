"""One writer per output: a lock file holding the holder's pid and host.

A training run folder and a frame store each have one writer at a time. A second process that
would write the same one waits (saying who holds it) until the first is done, then sees what the
first did (a finished run, converted packs) and does only what is left. A lock whose holder died
(same host, no such pid) is taken over; a lock of another host is trusted until it is older than
``FOREIGN_LOCK_MAX_AGE_S``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from carl_pipeline.atomic import host_name, pid_alive

logger = logging.getLogger(__name__)

LOCK_NAME = ".lock"
FOREIGN_LOCK_MAX_AGE_S = 24 * 3600.0


class LockTimeout(RuntimeError):
    """Another process held the lock for longer than the caller would wait; the message names it."""


def _holder(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):  # a lock being written this instant, or a damaged one
        return {}


def _stale(path: Path, holder: dict) -> bool:
    if not holder:  # unreadable: stale once it is older than a few seconds (a write takes microseconds)
        try:
            return time.time() - path.stat().st_mtime > 5.0
        except FileNotFoundError:
            return False
    if holder.get("host") == host_name():
        return not pid_alive(int(holder.get("pid", -1)))
    try:
        return time.time() - path.stat().st_mtime > FOREIGN_LOCK_MAX_AGE_S
    except FileNotFoundError:
        return False


def _describe(holder: dict) -> str:
    if not holder:
        return "another process"
    return f"pid {holder.get('pid')} on {holder.get('host')} (since {holder.get('since')}, {holder.get('what')})"


@contextmanager
def exclusive_lock(folder: str | os.PathLike, what: str, timeout_s: float | None = None,
                   poll_s: float = 0.5) -> Iterator[Path]:
    """Hold ``<folder>/.lock`` while the block runs.

    Args:
        folder: the output folder to guard (created if missing).
        what: what the holder does, for the message another process shows while it waits.
        timeout_s: wait at most this long (None: until the holder is done or dies).
        poll_s: how often to look again.

    Raises:
        LockTimeout: the lock was still held after ``timeout_s``, naming the holder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    me = {"pid": os.getpid(), "host": host_name(), "since": time.strftime("%Y-%m-%dT%H:%M:%S"), "what": what}
    started, told = time.monotonic(), 0.0
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(path)
            if holder is None:
                continue  # released between our open and our read
            if _stale(path, holder):
                logger.warning("%s: taking over the lock of %s, which no longer runs", folder, _describe(holder))
                path.unlink(missing_ok=True)
                continue
            waited = time.monotonic() - started
            if timeout_s is not None and waited >= timeout_s:
                raise LockTimeout(f"{folder} is being written by {_describe(holder)}; waited {waited:.0f} s. "
                                  f"Wait for it to finish, or remove {path} if that process is gone") from None
            if waited >= told:
                logger.warning("%s is being written by %s: waiting for it to finish", folder, _describe(holder))
                told = waited + 60.0
            time.sleep(poll_s)
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(me, handle)
        break
    try:
        yield path
    finally:
        holder = _holder(path)
        if holder and holder.get("pid") == me["pid"] and holder.get("host") == me["host"]:
            path.unlink(missing_ok=True)
