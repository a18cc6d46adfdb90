"""One ingestion pipeline per raw format, each ending in the same processed form."""

from collections.abc import Callable

from kedro.pipeline import Node, Pipeline

from carl_pipeline.pipelines.ingestion.nodes import (
    index_videos,
    plan_finegym_conversion,
    plan_penn_action_conversion,
    plan_pouring_conversion,
    plan_video_folder_conversion,
)

PLANNERS: dict[str, Callable] = {
    "pouring": plan_pouring_conversion,
    "penn_action": plan_penn_action_conversion,
    "finegym": plan_finegym_conversion,
    "videos": plan_video_folder_conversion,
}


def create_pipeline(dataset: str) -> Pipeline:
    """Ingestion of ``dataset`` (``pouring``, ``penn_action``, ``finegym`` or ``videos``: a folder
    of your own) in its namespace.

    ``<dataset>.raw`` -> plan -> ``<dataset>.frame_store`` -> index -> ``<dataset>.video_index``,
    ``<dataset>.frame_labels``, ``<dataset>.ingest_report``.
    """
    if dataset not in PLANNERS:
        raise ValueError(f"no ingestion for dataset '{dataset}'; known: {sorted(PLANNERS)}")
    template = Pipeline([
        Node(PLANNERS[dataset], inputs=["raw", "params:ingest"], outputs="frame_store",
             name="convert_videos_to_frame_packs"),
        Node(index_videos, inputs="frame_store", outputs=["video_index", "frame_labels", "ingest_report"],
             name="index_converted_videos"),
    ])
    return Pipeline(template, namespace=dataset)
