"""``export_<dataset>``: the trained encoder out of the project."""

from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline

from carl_pipeline.pipelines.export.nodes import export_trained_model


def create_pipeline(dataset: str, source: str | None = None) -> Pipeline:
    """``<dataset>.model``, ``<dataset>.metrics`` and ``<source>.ingest_report`` (the training
    data's: ``source`` is ``dataset`` unless another namespace ingested them) ->
    ``<dataset>.exported_model`` (a folder of ``model.safetensors``, ``config.json`` and ``README.md``)."""
    export = update_wrapper(partial(export_trained_model, dataset=dataset), export_trained_model)
    inputs = {"model": "model", "metrics": "metrics", "params": "params:evaluate", "ingest_report": "ingest_report"}
    return Pipeline([Node(export, inputs=inputs,
                          outputs="exported_model", name="export_trained_model")], namespace=dataset,
                    inputs={"ingest_report": f"{source or dataset}.ingest_report"})
