"""Run conversion jobs (one per video) in a process pool into a ``FrameStore``.

The job, plan and report types are in ``ingest.jobs``, raw-file digests in ``ingest.digests``, the
stored frames in ``ingest.frames``. Each dataset's planner (``ingest.pouring``, ``ingest.penn_action``, ``ingest.finegym``) turns its
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

import logging
import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from tqdm.auto import tqdm

from carl_pipeline.atomic import sweep_stale_temporaries
from carl_pipeline.ingest.digests import DIGESTS_NAME, RawDigestCache, fingerprints
from carl_pipeline.ingest.jobs import (
    ConversionError,
    ConversionJob,
    ConversionPlan,
    ConversionReport,
)
from carl_pipeline.locking import exclusive_lock
from carl_pipeline.video.frame_store import FrameStore

logger = logging.getLogger(__name__)


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
