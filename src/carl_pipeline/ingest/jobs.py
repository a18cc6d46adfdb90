"""What a conversion is made of: a job per video (what it converts, from where, with which
settings: its fingerprint), the plan an ingestion node hands to the frame store, and the report
of what was converted."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from carl_pipeline.checks import check_choice
from carl_pipeline.compat import ADDED_LATER_JOB

#: The file a raw dataset folder holds when carl_pipeline.synthetic wrote it.
SYNTHETIC_MARKER = "SYNTHETIC.md"

class ConversionError(RuntimeError):
    """One video could not be converted; the message names the file and the problem."""


@dataclass(frozen=True)
class ConvertedVideo:
    """What a job produces: the frames as JPEG bytes and one label array per label name."""

    jpeg_frames: list[bytes]
    height: int
    width: int
    fps: float
    labels: Mapping[str, Sequence[int]]
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ConversionJob:
    """Base of every dataset's job: which video, from where, and the settings that shape it.

    Subclasses add their fields and implement ``run``. Every field but those in
    ``NOT_IN_FINGERPRINT`` is part of the fingerprint stored in the pack (paths relative to
    ``raw_root``), so changing a setting (frame size, fps, ...) converts the video again; so does a
    change to the content of a file ``raw_files`` lists.
    """

    video_id: str
    source: str  # the file (or folder) the video comes from, for messages
    split: str
    action: str | None
    raw_root: str = ""  # the dataset's raw folder: the fingerprint's paths are relative to it

    #: Fields that say where to find the input but not what it is (their content is digested).
    NOT_IN_FINGERPRINT = ("video_id", "raw_root")
    #: Fields added after packs were first fingerprinted, left out at the value every earlier pack
    #: had (``carl_pipeline.compat.ADDED_LATER_JOB``: and when that goes).
    ADDED_LATER = ADDED_LATER_JOB

    def raw_files(self) -> tuple[str, ...]:
        """The files whose content this video is made from (digested into the fingerprint)."""
        return (self.source,)

    def relative(self, path: str) -> str:
        """``path`` relative to the raw root when it lies inside it (else as it is)."""
        if self.raw_root and isinstance(path, str):
            root = self.raw_root.rstrip(os.sep)
            if path == root:
                return "."
            if path.startswith(root + os.sep):
                return path[len(root) + 1:]
        return path

    def fingerprint(self, raw_digests: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The job's settings as the JSON the pack stores (tuples become lists, paths relative to
        the raw root), with ``raw``: the content digest of each raw file, so that a fingerprint
        read back from a pack compares equal to a fresh one of the same settings and content."""
        fields = {k: self.relative(v) for k, v in asdict(self).items() if k not in self.NOT_IN_FINGERPRINT
                  and not (k in self.ADDED_LATER and self.ADDED_LATER[k] == v)}
        if raw_digests is not None:
            fields["raw"] = {self.relative(k): v for k, v in sorted(raw_digests.items())}
        return json.loads(json.dumps(fields))

    def run(self) -> ConvertedVideo:  # pragma: no cover - abstract
        raise NotImplementedError


EXECUTORS = ("processes", "dask")


@dataclass(frozen=True)
class ConversionPlan:
    """Jobs to run and where: what an ingestion node hands to the frame store.

    ``executor``: ``processes`` (this machine: ``num_workers`` processes, or this process when
    ``num_workers`` <= 1) or ``dask`` (a Dask distributed cluster: the scheduler at
    ``scheduler_address``, or a ``LocalCluster`` of ``num_workers`` worker processes when none is
    given). On a cluster every worker must reach the raw files and the frame store at the same
    paths (a shared filesystem); the jobs' paths are absolute (the Kedro catalog makes every path
    absolute), so a worker's own working folder does not matter.
    """

    jobs: tuple[ConversionJob, ...]
    num_workers: int = 0
    progress: bool = True
    # Videos the planner already found unusable (unlisted file, annotation without timestamps).
    failures: tuple[dict[str, str], ...] = ()
    executor: str = "processes"
    scheduler_address: str | None = None
    # Check every frame of an existing pack against its checksum before trusting it as converted.
    verify_existing: bool = True
    # What the planner noticed but converted anyway (e.g. two files that would have had one id).
    warnings: tuple[dict[str, str], ...] = ()
    # Each video's position in its split in the order CARL's released code reads the dataset
    # (what its 10% / 50% classification subsets take first); empty where there is none.
    dataset_order: Mapping[str, int] = field(default_factory=dict)
    # The raw folder was written by carl_pipeline.synthetic (it holds SYNTHETIC_MARKER).
    synthetic: bool = False

    def __post_init__(self):
        check_choice("executor", self.executor, EXECUTORS)


@dataclass
class ConversionReport:
    """What a conversion did: ids converted now, ids already there, failures with their reason."""

    converted: list[str] = field(default_factory=list)
    skipped_existing: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    dataset_order: dict[str, int] = field(default_factory=dict)
    synthetic: bool = False

    @property
    def planned(self) -> list[str]:
        """The videos this run planned and has a pack of: what the video index holds."""
        return sorted(set(self.converted) | set(self.skipped_existing))

    def to_dict(self) -> dict[str, Any]:
        return {
            "converted": sorted(self.converted),
            "skipped_existing": sorted(self.skipped_existing),
            "failed": sorted(self.failed, key=lambda f: f["video_id"]),
            "warnings": sorted(self.warnings, key=lambda f: f["video_id"]),
            "planned": self.planned,
            "dataset_order": {v: int(self.dataset_order[v]) for v in self.planned if v in self.dataset_order},
            "synthetic": self.synthetic,
        }


def plan_for(raw_folder: str | os.PathLike, jobs, failures, settings, warnings=(), dataset_order=None) -> ConversionPlan:
    """The plan of a planner's jobs and failures, run as an ingest block says (``settings``:
    ``num_workers``, ``progress``, ``executor``, ``scheduler_address``, ``verify_existing``);
    ``synthetic`` when ``raw_folder`` holds ``SYNTHETIC_MARKER``."""
    return ConversionPlan(tuple(jobs), settings.num_workers, settings.progress, tuple(failures), settings.executor,
                          settings.scheduler_address, verify_existing=settings.verify_existing,
                          warnings=tuple(warnings), dataset_order=dataset_order or {},
                          synthetic=(Path(raw_folder) / SYNTHETIC_MARKER).is_file())
