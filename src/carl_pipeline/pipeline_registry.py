"""Project pipelines."""

from kedro.pipeline import Pipeline

from carl_pipeline.pipelines import ingestion, representation

DATASETS = ("pouring", "penn_action", "finegym")


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    Returns:
        Per dataset ``<d>``: ``ingest_<d>`` (raw -> frame packs and index), ``train_<d>`` (frame
        packs -> trained encoder) and ``<d>`` (both); ``__default__`` is ``pouring``.
    """
    pipelines: dict[str, Pipeline] = {}
    for dataset in DATASETS:
        pipelines[f"ingest_{dataset}"] = ingestion.create_pipeline(dataset)
        pipelines[f"train_{dataset}"] = representation.create_pipeline(dataset)
        pipelines[dataset] = pipelines[f"ingest_{dataset}"] + pipelines[f"train_{dataset}"]
    pipelines["__default__"] = pipelines["pouring"]
    return pipelines
