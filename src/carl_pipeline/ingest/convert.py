"""Run conversion jobs (one per video) in a process pool into a ``FrameStore``.

Each dataset's planner (``ingest.pouring``, ``ingest.penn_action``, ``ingest.finegym``) turns its
raw layout into ``ConversionJob`` objects; this module runs them, skipping videos already in the
store with the same settings and the same raw content, and collects failures by file name without
stopping the others.

When a pack counts as up to date (``run_conversion``): its fingerprint, stored in the pack, equals
the job's, which holds the job's settings with every path made relative to the raw root (a moved
or renamed project reconverts nothing) and a content digest of every raw file the video comes
from (a replaced raw file is converted again). Digests are cached by file, size and modification
time in ``_raw_digests.json`` beside the packs, so a large raw video is hashed once. The pack's
frames must also match their checksums (``verify_existing``).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import multiprocessing
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from carl_pipeline.atomic import sweep_stale_temporaries
from carl_pipeline.checks import check_choice
from carl_pipeline.locking import exclusive_lock
from carl_pipeline.video.frame_pack import encode_jpeg
from carl_pipeline.video.frame_store import FrameStore, write_json_atomic

logger = logging.getLogger(__name__)


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
    #: Fields added after packs were first fingerprinted, with the value every earlier pack had:
    #: left out at that value, so those packs are still found converted (not converted again).
    ADDED_LATER = {"pixels": "project"}

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


#: The file a raw dataset folder holds when carl_pipeline.synthetic wrote it.
SYNTHETIC_MARKER = "SYNTHETIC.md"

#: ``pixels``: ``project`` keeps the published frames (JPEG bytes as they are, resized with
#: antialiasing where a size is set); ``released`` makes them what the released code's readers see
#: (carl_pipeline.video.released_pixels), stored at ``RELEASED_STORE_QUALITY``.
PIXELS = ("project", "released")
#: JPEG quality of released-pixel packs: the x264 frames are already decoded pixels, re-encoded
#: once more to be stored (quality 100 adds 1.0 of 255 mean absolute error on the demo's Pouring
#: frames, 95 adds 1.7: docs/FIDELITY.md).
RELEASED_STORE_QUALITY = 100


def released_pixels(frames: Sequence[np.ndarray], *, source: str) -> list[bytes]:
    """``(H, W, 3)`` uint8 frames of one video through the released x264 round trip
    (``x264_round_trip``), as stored JPEGs.

    Raises:
        ConversionError: the round trip fails (an odd frame size, naming ``source``).
    """
    from carl_pipeline.video.released_pixels import x264_round_trip

    try:
        video = x264_round_trip(np.stack(frames))
    except ValueError as error:
        raise ConversionError(f"{source}: pixels 'released': {error}") from error
    return [encode_jpeg(frame, RELEASED_STORE_QUALITY) for frame in video]


def standardise_jpegs(
    jpeg_frames: Sequence[bytes],
    size: tuple[int, int] | None,
    *,
    source: str,
    jpeg_quality: int = 90,
) -> tuple[list[bytes], int, int]:
    """Check that JPEG frames decode and share one size; resize them to ``size`` if given.

    Frames already at the wanted size are kept byte for byte (no re-encoding loss).

    Returns:
        The frames, their height and width.

    Raises:
        ConversionError: a frame is not a readable JPEG, or sizes differ and no size is set.
    """
    if not jpeg_frames:
        raise ConversionError(f"{source}: no frames")
    images = []
    for index, data in enumerate(jpeg_frames):
        try:
            image = Image.open(io.BytesIO(data))
            image.load()
        except Exception as error:  # PIL raises several types for corrupt data
            raise ConversionError(f"{source}: frame {index} is not a readable image ({error})") from error
        images.append(image)
    sizes = {image.size for image in images}  # PIL sizes are (width, height)
    if size is None and len(sizes) > 1:
        raise ConversionError(f"{source}: frames differ in size {sorted(sizes)}; set frame_size")
    height, width = (int(size[0]), int(size[1])) if size is not None else images[0].size[::-1]
    out = []
    for image, data in zip(images, jpeg_frames, strict=True):
        if image.size == (width, height) and image.format == "JPEG" and image.mode == "RGB":
            out.append(data)
        else:
            image = image.convert("RGB")
            if image.size != (width, height):
                image = image.resize((width, height), Image.BILINEAR)
            out.append(encode_jpeg(np.asarray(image), jpeg_quality))
    return out, height, width


def _run_one(job: ConversionJob, store_root: str, fingerprint: Mapping[str, Any],
             remote: bool = False) -> tuple[str, str | None]:
    """Convert one video and write its pack. Returns (video_id, error message or None).

    ``fingerprint``: what the pack records as made from (``run_conversion`` computes it with
    the raw files' digests).

    ``remote``: running on a cluster worker; a file it cannot open is then reported with the
    worker's host name and what the cluster needs (the same paths on every worker)."""
    try:
        video = job.run()
        FrameStore(store_root).write(
            job.video_id,
            video.jpeg_frames,
            height=video.height,
            width=video.width,
            fps=video.fps,
            labels=video.labels,
            meta={
                **video.meta,
                "split": job.split,
                "action": job.action,
                "source": job.relative(job.source),
                "fingerprint": dict(fingerprint),
            },
        )
        return job.video_id, None
    except Exception as error:  # one bad video must not stop the others
        message = str(error)
        if job.source not in message:
            message = f"{job.source}: {message}"
        if remote and isinstance(error, OSError):
            import socket

            message += (f" (on Dask worker {socket.gethostname()}: every worker must reach the raw data and the "
                        f"frame store at the same paths, e.g. on a shared filesystem)")
        return job.video_id, f"{type(error).__name__}: {message}"


def _drop_duplicate_ids(jobs: Sequence[ConversionJob]) -> tuple[list[ConversionJob], list[dict[str, str]]]:
    """Jobs whose video id no other job has, and a failure naming the raw files of each id that
    several share (none of them can be told apart by id; the rest are converted)."""
    by_id: dict[str, list[ConversionJob]] = {}
    for job in jobs:
        by_id.setdefault(job.video_id, []).append(job)
    kept, failures = [], []
    for video_id, group in by_id.items():
        if len(group) == 1:
            kept.append(group[0])
            continue
        sources = sorted({job.source for job in group})
        for job in group:
            failures.append({"video_id": video_id, "source": job.source,
                             "error": f"video id {video_id!r} comes from {len(group)} raw entries "
                                      f"({', '.join(sources)}); rename one of them"})
    return kept, failures


def fingerprints(jobs: Sequence[ConversionJob], cache: RawDigestCache, progress: bool = False) -> dict[str, dict]:
    """Each job's fingerprint with the content digests of its raw files (``RawDigestCache``)."""
    out = {}
    for job in tqdm(jobs, desc="checking raw files", unit="video", disable=not progress or len(jobs) < 50,
                    leave=False):
        raw = {path: cache.digest(path, job.relative(path)) for path in job.raw_files()}
        out[job.video_id] = job.fingerprint(raw)
    return out


def run_conversion(plan: ConversionPlan, store: FrameStore) -> ConversionReport:
    """Run every job of ``plan`` not already done into ``store``.

    A video whose pack exists with the same fingerprint (settings and raw content) and intact
    frames is skipped. Failures are logged with the file they concern and collected in the
    report; the other videos are still converted. Raw entries that would share one video id are
    all reported and left out. One conversion writes a store at a time (a second one waits for
    the lock, then finds the work done); temporaries of killed writes are removed first.
    ``plan.num_workers`` > 1 runs jobs in that many processes (spawned: safe beside torch and
    TensorFlow); 0 or 1 runs them in this process; ``plan.executor == "dask"`` runs them on a Dask
    distributed cluster instead, with the same skipping, progress bar, failure report and atomic
    pack writes.
    """
    with exclusive_lock(store.root, f"converting {len(plan.jobs)} videos"):
        sweep_stale_temporaries(store.root)
        return _run_conversion(plan, store)


def _run_conversion(plan: ConversionPlan, store: FrameStore) -> ConversionReport:
    jobs, duplicate_failures = _drop_duplicate_ids(plan.jobs)
    report = ConversionReport(failed=[dict(f) for f in plan.failures] + duplicate_failures,
                              warnings=[dict(w) for w in plan.warnings], dataset_order=dict(plan.dataset_order),
                              synthetic=plan.synthetic)
    for failure in report.failed:
        logger.warning("skipped video %s: %s", failure["video_id"], failure["error"])
    for warning in report.warnings:
        logger.warning("%s: %s", warning["video_id"], warning["warning"])
    cache = RawDigestCache(store.root / DIGESTS_NAME)
    wanted = fingerprints(jobs, cache, plan.progress)
    if cache.hashed:
        store.root.mkdir(parents=True, exist_ok=True)
        cache.save()
    todo = []
    for job in jobs:
        if store.has(job.video_id, wanted[job.video_id], verify=plan.verify_existing):
            report.skipped_existing.append(job.video_id)
        else:
            todo.append(job)
    if report.skipped_existing:
        logger.info("%s: %d videos already converted, skipped", store.root, len(report.skipped_existing))
    store.root.mkdir(parents=True, exist_ok=True)

    def record(job: ConversionJob, error: str | None) -> None:
        if error is None:
            report.converted.append(job.video_id)
        else:
            logger.warning("skipped video %s: %s", job.video_id, error)
            report.failed.append({"video_id": job.video_id, "source": job.source, "error": error})

    bar = tqdm(total=len(todo), desc=f"converting {store.root.parent.name}", unit="video",
               disable=not plan.progress or not todo)
    if plan.executor == "dask" and todo:
        _run_on_dask(plan, todo, str(store.root.resolve()), record, bar, wanted)
    elif plan.num_workers <= 1:
        for job in todo:
            record(job, _run_one(job, str(store.root), wanted[job.video_id])[1])
            bar.update()
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(plan.num_workers, mp_context=context) as pool:
            futures = {pool.submit(_run_one, job, str(store.root), wanted[job.video_id]): job for job in todo}
            for future in as_completed(futures):
                job = futures[future]
                try:
                    record(job, future.result()[1])
                except BrokenProcessPool as error:  # a worker died (out of memory, segfault)
                    record(job, f"worker process died ({error})")
                bar.update()
    bar.close()
    if report.failed:
        logger.warning(
            "%s: %d of %d videos could not be converted (see the ingest report): %s",
            store.root, len(report.failed), len(plan.jobs),
            ", ".join(f["video_id"] for f in report.failed[:10]),
        )
    return report


def _run_on_dask(plan: ConversionPlan, todo: list[ConversionJob], store_root: str, record, bar,
                 wanted: Mapping[str, Mapping[str, Any]]) -> None:
    """The jobs on a Dask distributed cluster (``plan.scheduler_address``, else a LocalCluster of
    ``plan.num_workers`` processes), recorded as they finish. A worker that dies takes only its
    job with it (reported like a dead pool process); the local cluster is closed afterwards."""
    try:
        from distributed import Client, LocalCluster
        from distributed import as_completed as dask_completed
    except ImportError as error:  # pragma: no cover - the dependency is declared
        raise ConversionError("ingest.executor is dask but dask.distributed is not installed: "
                              "pip install 'distributed'") from error
    cluster = None
    if plan.scheduler_address:
        client = Client(plan.scheduler_address)
        logger.info("converting %d videos on the Dask cluster at %s", len(todo), plan.scheduler_address)
    else:
        cluster = LocalCluster(n_workers=max(plan.num_workers, 1), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
        logger.info("converting %d videos on a local Dask cluster of %d workers", len(todo), max(plan.num_workers, 1))
    try:
        futures = {client.submit(_run_one, job, store_root, wanted[job.video_id], True, key=f"convert-{job.video_id}", pure=False): job
                   for job in todo}
        for future in dask_completed(futures):
            job = futures[future]
            try:
                record(job, future.result()[1])
            except Exception as error:  # noqa: BLE001 - e.g. KilledWorker: the worker died on it
                record(job, f"Dask worker failed ({type(error).__name__}: {error})")
            bar.update()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
