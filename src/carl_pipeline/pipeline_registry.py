"""Project pipelines."""

from kedro.pipeline import Pipeline

from carl_pipeline.pipelines import ingestion
from carl_pipeline.pipelines.representation.pipeline import (
    create_evaluation_pipeline,
    create_own_videos_pipeline,
    create_training_pipeline,
)

DATASETS = ("pouring", "penn_action", "finegym")


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    Returns:
        Per dataset ``<d>``: ``ingest_<d>`` (raw -> frame packs and index), ``train_<d>`` (frame
        packs -> trained encoder), ``evaluate_<d>`` (encoder -> embeddings, metrics, reports) and
        ``<d>`` (all three); ``videos`` (a folder of your own videos: ingest, train, embed,
        alignment video and retrieval sheet); ``__default__`` is ``pouring``.
    """
    pipelines: dict[str, Pipeline] = {}
    for dataset in DATASETS:
        pipelines[f"ingest_{dataset}"] = ingestion.create_pipeline(dataset)
        pipelines[f"train_{dataset}"] = create_training_pipeline(dataset)
        pipelines[f"evaluate_{dataset}"] = create_evaluation_pipeline(dataset)
        pipelines[dataset] = sum((pipelines[f"{step}_{dataset}"] for step in ("ingest", "train", "evaluate")),
                                 Pipeline([]))
    pipelines["videos"] = (ingestion.create_pipeline("videos") + create_training_pipeline("videos")
                           + create_own_videos_pipeline("videos"))
    pipelines["__default__"] = pipelines["pouring"]
    return pipelines
