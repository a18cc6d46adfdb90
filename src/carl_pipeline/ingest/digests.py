"""Content digests of raw files, cached so that an unchanged file is hashed once: what a job's
fingerprint says its video is made from."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from carl_pipeline.atomic import write_json_atomic
from carl_pipeline.ingest.jobs import ConversionJob

logger = logging.getLogger(__name__)

DIGESTS_NAME = "_raw_digests.json"


def file_digest(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """BLAKE2b (128-bit) of a file's bytes."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class RawDigestCache:
    """Content digests of raw files, cached by path (relative to the raw root), size and
    modification time, so that an unchanged file is hashed once however often it is asked for
    (FineGym cuts dozens of events from one raw video). Stored as JSON beside the packs."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.entries: dict[str, dict[str, Any]] = {}
        self.hashed = 0  # files hashed by this instance (not found in the cache)
        if self.path.is_file():
            try:
                self.entries = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                logger.warning("%s: unreadable digest cache, hashing the raw files again", self.path)

    def digest(self, path: str, key: str) -> str:
        """The digest of file ``path``, cached under ``key`` (its path relative to the raw root);
        ``<missing>`` or ``<unreadable: ...>`` for a file that cannot be read (the job then fails
        with the reason)."""
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            return "<missing>"
        except OSError as error:
            return f"<unreadable: {error.strerror}>"
        entry = self.entries.get(key)
        if entry and entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns:
            return entry["digest"]
        try:
            digest = f"{stat.st_size}:{file_digest(path)}"
        except OSError as error:
            return f"<unreadable: {error.strerror}>"
        self.entries[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "digest": digest}
        self.hashed += 1
        return digest

    def save(self) -> None:
        write_json_atomic(self.path, self.entries)


def fingerprints(jobs: Sequence[ConversionJob], cache: RawDigestCache, progress: bool = False) -> dict[str, dict]:
    """Each job's fingerprint with the content digests of its raw files (``RawDigestCache``)."""
    out = {}
    for job in tqdm(jobs, desc="checking raw files", unit="video", disable=not progress or len(jobs) < 50,
                    leave=False):
        raw = {path: cache.digest(path, job.relative(path)) for path in job.raw_files()}
        out[job.video_id] = job.fingerprint(raw)
    return out
