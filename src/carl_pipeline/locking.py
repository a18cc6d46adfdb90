"""One writer per output: a lock file holding the holder's pid and host.

A training run folder and a frame store each have one writer at a time. A second process that
would write the same one waits (saying who holds it) until the first is done, then sees what the
first did (a finished run, converted packs) and does only what is left. A lock whose holder died
(same host, no such pid) is taken over; a lock of another host is trusted until it is older than
``FOREIGN_LOCK_MAX_AGE_S``.

The lock file appears whole (written beside it, then hard-linked into place, which fails where a
lock already is), and a stale lock is taken over by renaming it aside and checking that what was
renamed is the file judged stale: two waiters that both judged one dead holder's lock stale can
never remove each other's fresh lock.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from carl_pipeline.atomic import TEMP_SUFFIX, host_name, pid_alive, temporary_prefix

logger = logging.getLogger(__name__)

LOCK_NAME = ".lock"
FOREIGN_LOCK_MAX_AGE_S = 24 * 3600.0


class LockTimeout(RuntimeError):
    """Another process held the lock for longer than the caller would wait; the message names it."""


def _holder(path: Path) -> dict | None:
    try:
        return _parse(path.read_bytes())
    except FileNotFoundError:
        return None
    except OSError:
        return {}


def _parse(text: bytes) -> dict:
    """A lock's holder; ``{}`` for a damaged lock (or one an older version was writing)."""
    try:
        holder = json.loads(text.decode("utf-8"))
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


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


def _observe(path: Path) -> tuple | None:
    """What identifies this lock file: ``(inode, device, mtime, text)``; None when there is none."""
    try:
        stat = os.stat(path)
        return stat.st_ino, stat.st_dev, stat.st_mtime_ns, path.read_bytes()
    except FileNotFoundError:
        return None


def _take_over(path: Path, judged: tuple) -> bool:
    """Remove the stale lock ``judged`` (``_observe``'s result when it was judged stale), and only
    it: it is renamed aside first (one waiter wins the rename), and if what was renamed is not the
    file judged (another waiter took the lock over in between and holds a fresh one) it is put
    back. True when the stale lock is gone."""
    aside = path.with_name(f"{path.name}.stale.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:  # another waiter removed it first
        return False
    if _observe(aside) == judged:
        aside.unlink(missing_ok=True)
        return True
    try:  # a fresh lock: back where it was, unless yet another writer created one this instant
        os.link(aside, path)
    except FileExistsError:
        logger.warning("%s: a lock was replaced while it was being taken over", path)
    aside.unlink(missing_ok=True)
    return False


def _create(path: Path, me: dict) -> bool:
    """Create the lock holding ``me``, whole (never an empty lock file for another process to
    read); False when a lock is already there."""
    tmp = path.with_name(f"{temporary_prefix(path.name)}{secrets.token_hex(4)}{TEMP_SUFFIX}")  # a sweep spares it
    tmp.write_text(json.dumps(me), encoding="utf-8")
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


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
    while not _create(path, me):
        judged = _observe(path)
        if judged is None:
            continue  # released between our attempt and our look
        holder = _parse(judged[3])
        if _stale(path, holder):
            if _take_over(path, judged):
                logger.warning("%s: took over the lock of %s, which no longer runs", folder, _describe(holder))
            continue
        waited = time.monotonic() - started
        if timeout_s is not None and waited >= timeout_s:
            raise LockTimeout(f"{folder} is being written by {_describe(holder)}; waited {waited:.0f} s. "
                              f"Wait for it to finish, or remove {path} if that process is gone") from None
        if waited >= told:
            logger.warning("%s is being written by %s: waiting for it to finish", folder, _describe(holder))
            told = waited + 60.0
        time.sleep(poll_s)
    try:
        yield path
    finally:
        holder = _holder(path)
        if holder and holder.get("pid") == me["pid"] and holder.get("host") == me["host"]:
            path.unlink(missing_ok=True)
