"""``train_<dataset>``: the training template, placed in a dataset's namespace."""

from kedro.pipeline import Node, Pipeline

from carl_pipeline.pipelines.namespaces import in_namespace
from carl_pipeline.pipelines.training.nodes import pretrain_frame_backbone, train_encoder


def create_pipeline(dataset: str, source: str | None = None) -> Pipeline:
    """``<source>.frame_store``, ``<source>.video_index`` -> ``<dataset>.model`` (resuming from
    ``<dataset>.training_run``); ``source`` defaults to ``dataset``."""
    return in_namespace(training_template(), dataset, source)


def training_template(settings: str = "params:train") -> Pipeline:
    """Frame pretraining (when asked for) and training, reading the training settings from
    ``settings``: the ``train`` parameters, or a dataset that a comparison derives from them."""
    return Pipeline([
        Node(pretrain_frame_backbone, inputs=["frame_store", "video_index", "frame_labels", settings],
             outputs="pretrained_backbone", name="pretrain_frame_backbone"),
        Node(train_encoder, inputs=["frame_store", "video_index", "frame_labels", "pretrained_backbone", "training_run",
                                    settings],
             outputs="model", name="train_carl_encoder"),
    ])
