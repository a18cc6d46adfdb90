"""A folder of frame packs, one per video: the processed frame storage every dataset ends in."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from carl_pipeline.video.frame_pack import (
    SUFFIX,
    FramePack,
    FramePackError,
    write_frame_pack,
)

logger = logging.getLogger(__name__)

REPORT_NAME = "_conversion_report.json"
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


class FrameStore:
    """Frame packs of many videos in one folder, addressed by video id.

    Example:
        >>> store = FrameStore("data/03_primary/pouring/frames")
        >>> pack = store.open(store.video_ids()[0])
        >>> pack.read([0, 1, 2]).shape   # (3, 3, H, W) uint8
    """

    def __init__(self, root: str | os.PathLike, verify: bool = True):
        self.root = Path(root)
        self.verify = verify  # check each frame read against its checksum

    def __repr__(self) -> str:
        return f"FrameStore({str(self.root)!r})"

    def path_for(self, video_id: str) -> Path:
        """The pack file of a video (ids with characters unsafe in file names are escaped)."""
        if not video_id:
            raise ValueError("empty video id")
        return self.root / f"{_SAFE.sub('_', video_id)}{SUFFIX}"

    def has(self, video_id: str, fingerprint: Mapping[str, Any] | None = None, verify: bool = False) -> bool:
        """True when a complete pack for ``video_id`` exists (made with ``fingerprint``, if given;
        with every frame matching its checksum, if ``verify``). A damaged pack is logged by name."""
        path = self.path_for(video_id)
        if not path.exists():
            return False
        try:
            pack = FramePack(path, verify=False)
        except FramePackError as error:
            logger.warning("%s; it will be converted again", error)
            return False
        if pack.header.meta.get("video_id") != video_id:
            return False
        if fingerprint is not None and pack.header.meta.get("fingerprint") != dict(fingerprint):
            return False
        if verify:
            try:
                pack.verify()
            except FramePackError as error:
                logger.warning("%s; it will be converted again", error)
                return False
        return True

    def write(
        self,
        video_id: str,
        jpeg_frames: Sequence[bytes],
        *,
        height: int,
        width: int,
        fps: float,
        labels: Mapping[str, Sequence[int]] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> Path:
        """Write (atomically) the pack of one video; ``meta`` gains ``video_id``."""
        self.root.mkdir(parents=True, exist_ok=True)
        # The conversion sweeps the folder's stale temporaries once, before its first write.
        return write_frame_pack(
            self.path_for(video_id), jpeg_frames, height=height, width=width, fps=fps,
            labels=labels, meta={**(meta or {}), "video_id": video_id}, sweep=False,
        )

    def open(self, video_id: str) -> FramePack:
        """Random access to one video's frames; raises ``FramePackError`` naming the file."""
        return FramePack(self.path_for(video_id), verify=self.verify)

    def pack_paths(self) -> list[Path]:
        """The pack files of the folder, in name order: ``*.frames`` but never a hidden file (a
        writer's temporary, or anything else a tool left)."""
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.glob(f"*{SUFFIX}") if not p.name.startswith(".") and p.is_file())

    def iter_packs(self, skip_files: Collection[str] = ()) -> Iterator[FramePack]:
        """Every readable pack in the folder but those named in ``skip_files``, in file-name order
        (an unreadable one is logged by name and passed over: a rerun of the ingestion converts it
        again)."""
        for path in self.pack_paths():
            if path.name in skip_files:
                continue
            try:
                yield FramePack(path, verify=self.verify)
            except FramePackError as error:
                logger.warning("%s", error)

    def video_ids(self) -> list[str]:
        """Ids of every video in the store, sorted."""
        return sorted(pack.header.meta["video_id"] for pack in self.iter_packs())

    def read_report(self) -> dict[str, Any]:
        """The last conversion's report (written beside the packs by the catalog entry
        ``<dataset>.conversion_report``), or an empty one when none was written."""
        path = self.root / REPORT_NAME
        if not path.exists():
            return {"converted": [], "skipped_existing": [], "failed": []}
        return json.loads(path.read_text(encoding="utf-8"))
