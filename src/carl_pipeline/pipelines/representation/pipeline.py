"""The representation pipeline, written once and instantiated per dataset through a namespace."""

from kedro.pipeline import Node, Pipeline

from carl_pipeline.pipelines.representation.nodes import (
    align_own_videos,
    embed_frames,
    embed_own_videos,
    evaluate_encoders,
    log_metrics_to_tensorboard,
    make_untrained_model,
    plot_results,
    render_alignment_video,
    retrieve_across_videos,
    train_encoder,
)


def create_training_pipeline(dataset: str) -> Pipeline:
    """``<dataset>.frame_store``, ``<dataset>.video_index`` -> ``<dataset>.model`` (resuming from
    ``<dataset>.training_run``)."""
    return Pipeline([
        Node(train_encoder, inputs=["frame_store", "video_index", "training_run", "params:train"],
             outputs="model", name="train_carl_encoder"),
    ], namespace=dataset)


def create_evaluation_pipeline(dataset: str) -> Pipeline:
    """``<dataset>.model`` -> embeddings of every frame (trained and untrained encoder) ->
    ``<dataset>.metrics``, plots, alignment video, TensorBoard scalars."""
    return Pipeline([
        Node(make_untrained_model, inputs=["model", "params:evaluate"], outputs="model_untrained",
             name="make_untrained_reference_model"),
        Node(embed_frames, inputs=["model", "frame_store", "video_index", "frame_labels", "params:evaluate"],
             outputs="embeddings", name="embed_frames_trained"),
        Node(embed_frames, inputs=["model_untrained", "frame_store", "video_index", "frame_labels", "params:evaluate"],
             outputs="embeddings_untrained", name="embed_frames_untrained"),
        Node(evaluate_encoders, inputs=["embeddings", "embeddings_untrained", "model", "params:evaluate"],
             outputs="metrics", name="evaluate_trained_and_untrained"),
        Node(plot_results, inputs=["embeddings", "embeddings_untrained", "metrics", "params:evaluate"],
             outputs=["embedding_projection_plot", "similarity_plot", "metrics_plot"], name="plot_results"),
        Node(render_alignment_video, inputs=["embeddings", "frame_store", "params:evaluate"],
             outputs="alignment_video", name="render_alignment_video"),
        Node(log_metrics_to_tensorboard, inputs=["metrics", "training_run"], outputs=None,
             name="log_metrics_to_tensorboard"),
    ], namespace=dataset)


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
