"""The representation pipeline, written once and instantiated per dataset through a namespace."""

from kedro.pipeline import Node, Pipeline

from carl_pipeline.pipelines.representation.nodes import (
    align_own_videos,
    combine_taxonomy_metrics,
    embed_frames,
    embed_own_videos,
    evaluate_encoders,
    import_released_checkpoint,
    log_metrics_to_tensorboard,
    make_untrained_model,
    plot_results,
    pretrain_frame_backbone,
    render_alignment_video,
    render_retrieval_video,
    retrieve_across_videos,
    train_encoder,
)

PROCESSED = ("frame_store", "video_index", "frame_labels")


def _in_namespace(template: Pipeline, namespace: str, source: str | None, params_from: str | None = None) -> Pipeline:
    """``template`` in ``namespace``; with ``source``, its processed inputs (frame store, index,
    labels) are ``source``'s, so several namespaces share one ingestion (FineGym's taxonomies);
    with ``params_from``, its parameters are that namespace's."""
    shared = {}
    if source is not None and source != namespace:
        shared = {name: f"{source}.{name}" for name in PROCESSED if name in template.inputs()}
    parameters = None
    if params_from is not None:
        parameters = {p: p.replace("params:", f"params:{params_from}.", 1) for p in template.inputs()
                      if p.startswith("params:")}
    return Pipeline(template, namespace=namespace, inputs=shared or None, parameters=parameters)


def create_training_pipeline(dataset: str, source: str | None = None) -> Pipeline:
    """``<source>.frame_store``, ``<source>.video_index`` -> ``<dataset>.model`` (resuming from
    ``<dataset>.training_run``); ``source`` defaults to ``dataset``."""
    return _in_namespace(training_template(), dataset, source)


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


def create_evaluation_pipeline(dataset: str, source: str | None = None) -> Pipeline:
    """``<dataset>.model`` -> embeddings of every frame of ``<source>`` (trained and untrained
    encoder) -> ``<dataset>.metrics``, plots, alignment video, TensorBoard scalars."""
    return _in_namespace(evaluation_template(), dataset, source)


def create_released_evaluation_pipeline(dataset: str, source: str | None = None) -> Pipeline:
    """A checkpoint released by CARL's authors (``<dataset>.evaluate.checkpoint``) scored with
    ``<dataset>``'s evaluation, no training: ``<dataset>_released.model`` (converted) -> the same
    reports under ``<dataset>_released``."""
    template = Pipeline([
        Node(import_released_checkpoint, inputs="params:evaluate", outputs="model", name="import_released_checkpoint"),
    ]) + evaluation_template()
    return _in_namespace(template, f"{dataset}_released", source or dataset, params_from=dataset)


def evaluation_template(untrained: bool = True) -> Pipeline:
    """Embed, score, plot, render. ``untrained=False`` leaves out the untrained reference's
    nodes: its embeddings (``embeddings_untrained``) are then an input, shared with another
    namespace that trained the same architecture (a comparison scores every method against one
    untrained encoder)."""
    reference = [
        Node(make_untrained_model, inputs=["model", "params:evaluate"], outputs="model_untrained",
             name="make_untrained_reference_model"),
        Node(embed_frames, inputs=["model_untrained", "frame_store", "video_index", "frame_labels", "params:evaluate"],
             outputs="embeddings_untrained", name="embed_frames_untrained"),
    ] if untrained else []
    return Pipeline(reference + [
        Node(embed_frames, inputs=["model", "frame_store", "video_index", "frame_labels", "params:evaluate"],
             outputs="embeddings", name="embed_frames_trained"),
        Node(evaluate_encoders, inputs=["embeddings", "embeddings_untrained", "model", "params:evaluate"],
             outputs="metrics", name="evaluate_trained_and_untrained"),
        Node(plot_results, inputs=["embeddings", "embeddings_untrained", "metrics", "params:evaluate"],
             outputs=["embedding_projection_plot", "similarity_plot", "metrics_plot"], name="plot_results"),
        Node(render_alignment_video, inputs=["embeddings", "frame_store", "params:evaluate"],
             outputs="alignment_video", name="render_alignment_video"),
        Node(render_retrieval_video, inputs=["embeddings", "frame_store", "params:evaluate"],
             outputs="retrieval_video", name="render_retrieval_video"),
        Node(log_metrics_to_tensorboard, inputs=["metrics", "model", "embeddings", "frame_store", "training_run",
                                                  "params:evaluate"], outputs=None,
             name="log_metrics_to_tensorboard"),
    ])


def create_taxonomy_report_pipeline(dataset: str, taxonomies: tuple[str, ...]) -> Pipeline:
    """``<dataset>_<taxonomy>.metrics`` for each taxonomy -> ``<dataset>.metrics`` (one report)."""
    template = Pipeline([
        Node(combine_taxonomy_metrics, inputs={t: f"{t}_metrics" for t in taxonomies}, outputs="metrics",
             name="combine_taxonomy_metrics"),
    ])
    return Pipeline(template, namespace=dataset, inputs={f"{t}_metrics": f"{dataset}_{t}.metrics" for t in taxonomies})


def create_pipeline(dataset: str) -> Pipeline:
    """Training and evaluation of ``dataset`` (its ingestion is a separate pipeline)."""
    return create_training_pipeline(dataset) + create_evaluation_pipeline(dataset)


def create_own_videos_pipeline(dataset: str = "videos") -> Pipeline:
    """For unlabelled videos: ``<dataset>.model`` -> embeddings of every frame -> an alignment
    video of two of them and a retrieval sheet (no scores: there are no labels)."""
    return Pipeline([
        Node(embed_own_videos, inputs=["model", "frame_store", "video_index", "frame_labels", "params:report"],
             outputs="embeddings", name="embed_frames_trained"),
        Node(align_own_videos, inputs=["embeddings", "frame_store", "params:report"], outputs="alignment_video",
             name="render_alignment_video"),
        Node(retrieve_across_videos, inputs=["embeddings", "frame_store", "params:report"],
             outputs="retrieval_sheet", name="render_retrieval_sheet"),
    ], namespace=dataset)
