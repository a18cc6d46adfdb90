"""Raw dataset layouts -> conversion jobs -> frame packs. Plain Python, no Kedro imports."""

from carl_pipeline.ingest.convert import run_conversion
from carl_pipeline.ingest.finegym import plan_finegym
from carl_pipeline.ingest.folder import plan_video_folder
from carl_pipeline.ingest.index import build_video_index, index_converted
from carl_pipeline.ingest.jobs import (
    ConversionError,
    ConversionJob,
    ConversionPlan,
    ConversionReport,
    ConvertedVideo,
    plan_for,
)
from carl_pipeline.ingest.penn_action import penn_action_dataset_order, plan_penn_action
from carl_pipeline.ingest.pouring import plan_pouring, pouring_dataset_order

__all__ = ["index_converted", "plan_for",
    "ConversionError",
    "ConversionJob",
    "ConversionPlan",
    "ConversionReport",
    "ConvertedVideo",
    "build_video_index",
    "penn_action_dataset_order",
    "plan_finegym",
    "plan_penn_action",
    "plan_pouring",
    "plan_video_folder",
    "pouring_dataset_order",
    "run_conversion",
]
