"""The representation pipeline, written once and instantiated per dataset through a namespace."""

from kedro.pipeline import Node, Pipeline

from carl_pipeline.pipelines.representation.nodes import train_encoder


def create_pipeline(dataset: str) -> Pipeline:
    """Training of ``dataset``'s encoder: ``<dataset>.frame_store``, ``<dataset>.video_index`` ->
    ``<dataset>.model`` (resuming from ``<dataset>.training_run``)."""
    template = Pipeline([
        Node(train_encoder, inputs=["frame_store", "video_index", "training_run", "params:train"],
             outputs="model", name="train_carl_encoder"),
    ])
    return Pipeline(template, namespace=dataset)
