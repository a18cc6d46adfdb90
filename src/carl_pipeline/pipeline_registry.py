"""Project pipelines."""

from kedro.pipeline import Pipeline

from carl_pipeline.pipelines import ingestion

DATASETS = ("pouring", "penn_action", "finegym")


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    Returns:
        ``ingest_<dataset>`` for each dataset, and ``__default__``: the ingestion of all three
        embedded demo datasets.
    """
    pipelines = {f"ingest_{dataset}": ingestion.create_pipeline(dataset) for dataset in DATASETS}
    pipelines["__default__"] = sum(pipelines.values(), Pipeline([]))
    return pipelines
