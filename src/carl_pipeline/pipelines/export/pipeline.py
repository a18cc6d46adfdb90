"""``export_<dataset>``: the trained encoder out of the project."""

from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline

from carl_pipeline.pipelines.export.nodes import export_trained_model


def create_pipeline(dataset: str) -> Pipeline:
    """``<dataset>.model``, ``<dataset>.metrics`` -> ``<dataset>.exported_model`` (a folder of
    ``model.safetensors``, ``config.json`` and ``README.md``)."""
    export = update_wrapper(partial(export_trained_model, dataset=dataset), export_trained_model)
    return Pipeline([Node(export, inputs=["model", "metrics", "params:evaluate"], outputs="exported_model",
                          name="export_trained_model")], namespace=dataset)
