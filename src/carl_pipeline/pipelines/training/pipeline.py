"""``train_<dataset>``: the training template, placed in a dataset's namespace."""

from kedro.pipeline import Node, Pipeline

from carl_pipeline.pipelines.namespaces import in_namespace
from carl_pipeline.pipelines.training.nodes import (
    pretrain_frame_backbone,
    pretrain_unless_given,
    train_encoder,
    train_unless_given,
)


def create_pipeline(dataset: str, source: str | None = None, model_choice: bool = False) -> Pipeline:
    """``<source>.frame_store``, ``<source>.video_index`` -> ``<dataset>.model`` (resuming from
    ``<dataset>.training_run``); ``source`` defaults to ``dataset``. With ``model_choice``, the
    parameter ``<dataset>.model`` chooses: ``train``, or a model to use as it is (nothing trains)."""
    if model_choice:
        return in_namespace(model_choice_template(), dataset, source)
    return in_namespace(training_template(), dataset, source)


def model_choice_template() -> Pipeline:
    """The training template whose nodes train only when ``params:model`` is ``train``, and
    otherwise pass on the model it names."""
    return Pipeline([
        Node(pretrain_unless_given, inputs=["frame_store", "video_index", "frame_labels", "params:train",
                                            "params:model"],
             outputs="pretrained_backbone", name="pretrain_frame_backbone"),
        Node(train_unless_given, inputs=["frame_store", "video_index", "frame_labels", "pretrained_backbone",
                                         "training_run", "params:train", "params:model", "feature_cache"],
             outputs="model", name="train_carl_encoder_or_use_given_model"),
    ])


def training_template(settings: str = "params:train") -> Pipeline:
    """Frame pretraining (when asked for) and training, reading the training settings from
    ``settings``: the ``train`` parameters, or a dataset that a comparison derives from them."""
    return Pipeline([
        Node(pretrain_frame_backbone, inputs=["frame_store", "video_index", "frame_labels", settings],
             outputs="pretrained_backbone", name="pretrain_frame_backbone"),
        Node(train_encoder, inputs=["frame_store", "video_index", "frame_labels", "pretrained_backbone", "training_run",
                                    settings, "feature_cache"],
             outputs="model", name="train_carl_encoder"),
    ])
