"""Ingestion nodes: plan the conversion of a raw dataset, convert it, then index what was converted.

The work lives in ``carl_pipeline.ingest``; these functions only adapt parameters and results.
"""

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from carl_pipeline.ingest import (
    ConversionPlan,
    index_converted,
    penn_action_dataset_order,
    plan_finegym,
    plan_for,
    plan_penn_action,
    plan_pouring,
    plan_video_folder,
    pouring_dataset_order,
    run_conversion,
)
from carl_pipeline.params import (
    FineGymIngestParams,
    PennActionIngestParams,
    PouringIngestParams,
    VideoFolderIngestParams,
)
from carl_pipeline.video.frame_store import FrameStore

logger = logging.getLogger(__name__)


def plan_pouring_conversion(raw_folder: Path, params: PouringIngestParams) -> ConversionPlan:
    """One job per video of the Pouring TFRecords (``pouring_{train,val,test}-*.tfrecord``)."""
    jobs, failures = plan_pouring(raw_folder, frame_size=params.frame_size, fps=params.fps, splits=params.splits,
                                  pixels=params.pixels)
    return plan_for(raw_folder, jobs, failures, params, dataset_order=pouring_dataset_order(jobs))


def plan_penn_action_conversion(raw_folder: Path, params: PennActionIngestParams) -> ConversionPlan:
    """One job per Penn Action video with phase labels (``frames/``, ``labels/``, ``<split>/<action>/<id>.npy``)."""
    jobs, failures = plan_penn_action(
        raw_folder, splits=params.splits, phase_label_dir=params.phase_label_dir,
        skip_actions=params.skip_actions, frame_size=params.frame_size, fps=params.fps,
        label_length_tolerance=params.label_length_tolerance, pixels=params.pixels,
    )
    return plan_for(raw_folder, jobs, failures, params, dataset_order=penn_action_dataset_order(raw_folder, jobs))


def plan_finegym_conversion(raw_folder: Path, params: FineGymIngestParams) -> ConversionPlan:
    """One job per labelled FineGym event, cut from its raw video, and the events that cannot be cut."""
    jobs, failures = plan_finegym(
        raw_folder, annotation_file=params.annotation_file,
        element_lists={k: v.model_dump() for k, v in params.element_lists.items()},
        video_dir=params.video_dir, fps=params.fps, frame_size=params.frame_size,
        jpeg_quality=params.jpeg_quality, event_types=params.event_types,
    )
    return plan_for(raw_folder, jobs, failures, params)


def plan_video_folder_conversion(raw_folder: Path, params: VideoFolderIngestParams) -> ConversionPlan:
    """One job per video file of a folder (your own videos, no labels); undecodable files reported."""
    jobs, failures, warnings = plan_video_folder(raw_folder, fps=params.fps, frame_size=params.frame_size,
                                                 suffixes=params.suffixes, jpeg_quality=params.jpeg_quality)
    return plan_for(raw_folder, jobs, failures, params, warnings)


def convert_videos(plan: ConversionPlan, frame_store: FrameStore) -> dict[str, Any]:
    """The plan run into the frame store (``ingest.run_conversion``): one pack per video, written
    atomically, videos already converted from the same raw content and settings skipped; the
    report (also beside the packs as ``_conversion_report.json``)."""
    report = run_conversion(plan, frame_store)
    logger.info("%s: %d converted, %d already there, %d failed", frame_store.root,
                len(report.converted), len(report.skipped_existing), len(report.failed))
    return report.to_dict()


def index_videos(frame_store: FrameStore, conversion: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The video index, the per-frame labels and the ingest report of the converted videos
    (``ingest.index_converted``)."""
    return index_converted(frame_store, conversion)
