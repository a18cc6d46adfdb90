"""One ingestion pipeline per raw format, each ending in the same processed form."""

from collections.abc import Callable

from kedro.pipeline import Node, Pipeline

from carl_pipeline.pipelines.ingestion.nodes import (
    convert_videos,
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

    ``<dataset>.raw`` -> plan -> ``conversion_plan`` -> convert (writing the packs into
    ``<dataset>.frame_store``) -> ``<dataset>.conversion_report`` -> index -> ``<dataset>.video_index``,
    ``<dataset>.frame_labels``, ``<dataset>.ingest_report``.
    """
    if dataset not in PLANNERS:
        raise ValueError(f"no ingestion for dataset '{dataset}'; known: {sorted(PLANNERS)}")
    template = Pipeline([
        Node(PLANNERS[dataset], inputs=["raw", "params:ingest"], outputs="conversion_plan",
             name="plan_conversion"),
        Node(convert_videos, inputs=["conversion_plan", "frame_store"], outputs="conversion_report",
             name="convert_videos_to_frame_packs"),
        Node(index_videos, inputs=["frame_store", "conversion_report"],
             outputs=["video_index", "frame_labels", "ingest_report"], name="index_converted_videos"),
    ])
    return Pipeline(template, namespace=dataset)
