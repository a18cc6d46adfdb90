"""Ingestion nodes: plan the conversion of a raw dataset, convert it, then index what was converted.

The work lives in ``carl_pipeline.ingest``; these functions only adapt parameters and results.
"""

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from carl_pipeline.ingest import (
    ConversionPlan,
    build_video_index,
    penn_action_dataset_order,
    plan_finegym,
    plan_penn_action,
    plan_pouring,
    plan_video_folder,
    pouring_dataset_order,
    run_conversion,
)
from carl_pipeline.ingest.convert import SYNTHETIC_MARKER
from carl_pipeline.params import (
    FineGymIngestParams,
    PennActionIngestParams,
    PouringIngestParams,
    VideoFolderIngestParams,
)
from carl_pipeline.video.frame_store import FrameStore

logger = logging.getLogger(__name__)


def _plan(jobs, failures, params, raw_folder: Path, warnings=(), dataset_order=None) -> ConversionPlan:
    return ConversionPlan(tuple(jobs), params.num_workers, params.progress, tuple(failures), params.executor,
                          params.scheduler_address, verify_existing=params.verify_existing,
                          warnings=tuple(warnings), dataset_order=dataset_order or {},
                          synthetic=(Path(raw_folder) / SYNTHETIC_MARKER).is_file())


def plan_pouring_conversion(raw_folder: Path, params: PouringIngestParams) -> ConversionPlan:
    """List every video of the Pouring TFRecords as a conversion job.

    Args:
        raw_folder: folder of ``pouring_{train,val,test}-*.tfrecord`` files.
        params: frame size, frame rate, splits and worker count.

    Returns:
        The plan the frame store runs: one job per record.
    """
    jobs, failures = plan_pouring(raw_folder, frame_size=params.frame_size, fps=params.fps, splits=params.splits,
                                  pixels=params.pixels)
    return _plan(jobs, failures, params, raw_folder, dataset_order=pouring_dataset_order(jobs))


def plan_penn_action_conversion(raw_folder: Path, params: PennActionIngestParams) -> ConversionPlan:
    """List every Penn Action video with phase labels as a conversion job.

    Args:
        raw_folder: folder with ``frames/``, ``labels/`` and ``<split>/<action>/<id>.npy``.
        params: splits, actions to skip, label-length tolerance, frame size and worker count.

    Returns:
        The plan the frame store runs: one job per phase-labelled video.
    """
    jobs, failures = plan_penn_action(
        raw_folder, splits=params.splits, phase_label_dir=params.phase_label_dir,
        skip_actions=params.skip_actions, frame_size=params.frame_size, fps=params.fps,
        label_length_tolerance=params.label_length_tolerance, pixels=params.pixels,
    )
    return _plan(jobs, failures, params, raw_folder, dataset_order=penn_action_dataset_order(raw_folder, jobs))


def plan_finegym_conversion(raw_folder: Path, params: FineGymIngestParams) -> ConversionPlan:
    """List every labelled FineGym event as a job that cuts it from its raw video.

    Args:
        raw_folder: folder with the annotation JSON, the element lists and ``videos/``.
        params: target frame size and rate, file names and worker count.

    Returns:
        The plan the frame store runs: one job per event, plus events that cannot be cut.
    """
    jobs, failures = plan_finegym(
        raw_folder, annotation_file=params.annotation_file,
        element_lists={k: v.model_dump() for k, v in params.element_lists.items()},
        video_dir=params.video_dir, fps=params.fps, frame_size=params.frame_size,
        jpeg_quality=params.jpeg_quality, event_types=params.event_types,
    )
    return _plan(jobs, failures, params, raw_folder)


def convert_videos(plan: ConversionPlan, frame_store: FrameStore) -> dict[str, Any]:
    """Run the plan into the frame store: one pack per video, written atomically, in a pool.

    The packs are written into the store the node is given (gigabytes of frames do not pass
    through memory); videos already converted with the same settings from the same raw content,
    whose frames match their checksums, are skipped, so a rerun after an interruption only does
    what is left.

    Args:
        plan: the jobs the planner listed, and how to run them.
        frame_store: the dataset's frame packs (a folder; made if missing).

    Returns:
        The conversion report: what was converted, skipped and why any video failed (saved beside
        the packs as ``_conversion_report.json``).
    """
    report = run_conversion(plan, frame_store)
    logger.info("%s: %d converted, %d already there, %d failed", frame_store.root,
                len(report.converted), len(report.skipped_existing), len(report.failed))
    return report.to_dict()


def index_videos(frame_store: FrameStore, conversion: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Build the video index and per-frame labels from the converted videos.

    Args:
        frame_store: the dataset's frame packs.
        conversion: the conversion's report (``convert_videos``).

    Returns:
        The video index (one row per video), the per-frame labels (one row per frame, -1 where
        unlabelled) and the ingest report (counts per split, skipped and failed videos).
    """
    planned = conversion.get("planned")  # None: a report written before the index followed the plan
    video_index, frame_labels = build_video_index(frame_store, planned, conversion.get("dataset_order"))
    # Only the packs outside the index are opened again (their headers name their videos).
    left_out = sorted(pack.header.meta["video_id"]
                      for pack in frame_store.iter_packs(skip_files=set(video_index["frames_file"]))
                      ) if planned is not None else []
    report = {
        "videos": int(len(video_index)),
        "frames": int(video_index["num_frames"].sum()),
        "videos_per_split": {str(k): int(v) for k, v in video_index["split"].value_counts().sort_index().items()},
        "converted_this_run": len(conversion["converted"]),
        "already_converted": len(conversion["skipped_existing"]),
        "failed": conversion["failed"],
        "warnings": conversion.get("warnings", []),
        # Packs in the store that this run did not plan (raw video deleted, split no longer asked
        # for) or whose video now fails: kept on disk, left out of the index and of training.
        "left_out_of_index": left_out,
        # The raw folder was written by carl_pipeline.synthetic (the demo's data): not real footage.
        "synthetic": bool(conversion.get("synthetic", False)),
    }
    if report["failed"]:
        logger.warning("%d videos were not converted; see the ingest report", len(report["failed"]))
    if left_out:
        logger.warning("%d converted videos are no longer in the raw data or the plan, and left out of the "
                       "index: %s", len(left_out), ", ".join(left_out[:10]))
    return video_index, frame_labels, report


def plan_video_folder_conversion(raw_folder: Path, params: VideoFolderIngestParams) -> ConversionPlan:
    """List every video file of a folder (your own videos, no labels) as a conversion job.

    Args:
        raw_folder: any folder of video files, searched recursively.
        params: frame rate, frame size, file suffixes and worker count.

    Returns:
        The plan the frame store runs: one job per file; undecodable files are reported, not fatal.
    """
    jobs, failures, warnings = plan_video_folder(raw_folder, fps=params.fps, frame_size=params.frame_size,
                                                 suffixes=params.suffixes, jpeg_quality=params.jpeg_quality)
    return _plan(jobs, failures, params, raw_folder, warnings)
