"""Run conversion jobs (one per video) in a process pool into a ``FrameStore``.

Each dataset's planner (``ingest.pouring``, ``ingest.penn_action``, ``ingest.finegym``) turns its
raw layout into ``ConversionJob`` objects; this module runs them, skipping videos already in the
store with the same settings, and collects failures by file name without stopping the others.
"""

from __future__ import annotations

import io
import json
import logging
import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from carl_pipeline.video.frame_pack import encode_jpeg
from carl_pipeline.video.frame_store import FrameStore

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

    Subclasses add their fields and implement ``run``. Every field is part of the fingerprint
    stored in the pack, so changing a setting (frame size, fps, ...) converts the video again.
    """

    video_id: str
    source: str  # the file (or folder) the video comes from, for messages
    split: str
    action: str | None

    def fingerprint(self) -> dict[str, Any]:
        """The job's settings as the JSON the pack stores (tuples become lists), so that a
        fingerprint read back from a pack compares equal to a fresh one."""
        return json.loads(json.dumps({k: v for k, v in asdict(self).items() if k != "video_id"}))

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

    def __post_init__(self):
        if self.executor not in EXECUTORS:
            raise ValueError(f"executor must be one of {EXECUTORS}, got {self.executor!r}")


@dataclass
class ConversionReport:
    """What a conversion did: ids converted now, ids already there, failures with their reason."""

    converted: list[str] = field(default_factory=list)
    skipped_existing: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "converted": sorted(self.converted),
            "skipped_existing": sorted(self.skipped_existing),
            "failed": sorted(self.failed, key=lambda f: f["video_id"]),
        }


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


def _run_one(job: ConversionJob, store_root: str, remote: bool = False) -> tuple[str, str | None]:
    """Convert one video and write its pack. Returns (video_id, error message or None).

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
                "source": job.source,
                "fingerprint": job.fingerprint(),
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


def run_conversion(plan: ConversionPlan, store: FrameStore) -> ConversionReport:
    """Run every job of ``plan`` not already done into ``store``.

    A video whose pack exists with the same fingerprint is skipped. Failures are logged with the
    file they concern and collected in the report; the other videos are still converted.
    ``plan.num_workers`` > 1 runs jobs in that many processes (spawned: safe beside torch and
    TensorFlow); 0 or 1 runs them in this process; ``plan.executor == "dask"`` runs them on a Dask
    distributed cluster instead, with the same skipping, progress bar, failure report and atomic
    pack writes.
    """
    ids = [job.video_id for job in plan.jobs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConversionError(f"{store.root}: duplicate video ids in the raw data: {duplicates[:10]}")
    report = ConversionReport(failed=[dict(f) for f in plan.failures])
    for failure in plan.failures:
        logger.warning("skipped video %s: %s", failure["video_id"], failure["error"])
    todo = []
    for job in plan.jobs:
        if store.has(job.video_id, job.fingerprint()):
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
        _run_on_dask(plan, todo, str(store.root.resolve()), record, bar)
    elif plan.num_workers <= 1:
        for job in todo:
            record(job, _run_one(job, str(store.root))[1])
            bar.update()
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(plan.num_workers, mp_context=context) as pool:
            futures = {pool.submit(_run_one, job, str(store.root)): job for job in todo}
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


def _run_on_dask(plan: ConversionPlan, todo: list[ConversionJob], store_root: str, record, bar) -> None:
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
        futures = {client.submit(_run_one, job, store_root, True, key=f"convert-{job.video_id}", pure=False): job
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
