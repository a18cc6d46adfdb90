"""``evaluate_<dataset>``, ``evaluate_released_<dataset>`` and FineGym's combined report: the
evaluation template, placed in a dataset's namespace."""

from kedro.pipeline import Node, Pipeline

from carl_pipeline.pipelines.evaluation.nodes import (
    combine_taxonomy_metrics,
    embed_frames,
    evaluate_encoders,
    import_released_checkpoint,
    log_metrics_to_tensorboard,
    make_untrained_model,
    plot_external_results,
    plot_results,
    plotted_rows,
    render_alignment_video,
    render_retrieval_video,
    score_external_embeddings,
    score_pixel_reference,
    score_untrained_encoder,
)
from carl_pipeline.pipelines.namespaces import in_namespace


def create_pipeline(dataset: str, source: str | None = None) -> Pipeline:
    """``<dataset>.model`` -> embeddings of every frame of ``<source>`` (trained and untrained
    encoder) -> ``<dataset>.metrics``, plots, alignment video, TensorBoard scalars."""
    return in_namespace(evaluation_template(), dataset, source)


def create_released_pipeline(dataset: str, source: str | None = None) -> Pipeline:
    """A checkpoint released by CARL's authors (``<dataset>.evaluate.checkpoint``) scored with
    ``<dataset>``'s evaluation, no training: ``<dataset>_released.model`` (converted) -> the same
    reports under ``<dataset>_released``."""
    template = Pipeline([
        Node(import_released_checkpoint, inputs="params:evaluate", outputs="model", name="import_released_checkpoint"),
    ]) + evaluation_template()
    return in_namespace(template, f"{dataset}_released", source or dataset, params_from=dataset)


def create_external_pipeline(dataset: str, source: str | None = None) -> Pipeline:
    """``evaluate_embeddings_<dataset>``: frame embeddings made elsewhere (``<dataset>.external``:
    released FineGym pickles, per-video ``.npy`` files or an embeddings table) joined to
    ``<source>``'s index and labels and scored with ``<dataset>``'s protocol, no model and no
    frames needed -> ``<dataset>_external.metrics``, its join report, embeddings and plots."""
    template = Pipeline([
        Node(score_external_embeddings, inputs=["video_index", "frame_labels", "params:external", "params:evaluate"],
             outputs=["embeddings", "join_report", "metrics"], name="score_external_embeddings"),
        Node(plot_external_results, inputs=["embeddings", "metrics", "params:evaluate"],
             outputs=["embedding_projection_plot", "similarity_plot", "metrics_plot"], name="plot_external_results"),
    ])
    return in_namespace(template, f"{dataset}_external", source or dataset, params_from=dataset)


def evaluation_template(untrained: bool = True) -> Pipeline:
    """Embed, score, plot, render. ``untrained=False`` leaves out the untrained reference's
    nodes: its embeddings (``embeddings_untrained``) and the raw-pixel reference's scores
    (``pixel_scores``) are then inputs, shared with another
    namespace that trained the same architecture (a comparison scores every method against one
    untrained encoder)."""
    reference = [
        Node(make_untrained_model, inputs=["model", "params:evaluate"], outputs="model_untrained",
             name="make_untrained_reference_model"),
        Node(embed_frames, inputs=["model_untrained", "frame_store", "video_index", "frame_labels", "params:evaluate"],
             outputs="embeddings_untrained", name="embed_frames_untrained"),
        Node(score_pixel_reference, inputs=["model", "frame_store", "video_index", "frame_labels", "params:evaluate"],
             outputs="pixel_scores", name="score_pixel_reference"),
    ] if untrained else []
    return Pipeline(reference + [
        Node(embed_frames, inputs=["model", "frame_store", "video_index", "frame_labels", "params:evaluate"],
             outputs="embeddings", name="embed_frames_trained"),
        Node(score_untrained_encoder, inputs=["embeddings_untrained", "params:evaluate"], outputs="untrained_scores",
             name="score_untrained_encoder"),
        Node(evaluate_encoders, inputs=["embeddings", "untrained_scores", "model", "params:evaluate", "pixel_scores"],
             outputs="metrics", name="evaluate_trained_and_untrained"),
        Node(plotted_rows, inputs=["embeddings", "params:evaluate"], outputs="plotted_rows", name="plotted_rows_trained"),
        Node(plotted_rows, inputs=["embeddings_untrained", "params:evaluate"], outputs="plotted_rows_untrained",
             name="plotted_rows_untrained"),
        Node(plot_results, inputs=["plotted_rows", "plotted_rows_untrained", "metrics", "params:evaluate"],
             outputs=["embedding_projection_plot", "similarity_plot", "metrics_plot"], name="plot_results"),
        Node(render_alignment_video, inputs=["embeddings", "frame_store", "params:evaluate"],
             outputs="alignment_video", name="render_alignment_video"),
        Node(render_retrieval_video, inputs=["embeddings", "frame_store", "params:evaluate"],
             outputs="retrieval_video", name="render_retrieval_video"),
        Node(log_metrics_to_tensorboard, inputs=["metrics", "model", "embeddings", "frame_store", "training_run",
                                                  "params:evaluate"], outputs=None,
             name="log_metrics_to_tensorboard"),
    ])


def create_taxonomy_report_pipeline(dataset: str, taxonomies: tuple[str, ...], suffix: str = "") -> Pipeline:
    """``<dataset>_<taxonomy><suffix>.metrics`` for each taxonomy -> ``<dataset><suffix>.metrics``
    (one report; ``suffix`` ``_external``: the external embeddings' reports)."""
    template = Pipeline([
        Node(combine_taxonomy_metrics, inputs={t: f"{t}_metrics" for t in taxonomies}, outputs="metrics",
             name="combine_taxonomy_metrics"),
    ])
    return Pipeline(template, namespace=f"{dataset}{suffix}",
                    inputs={f"{t}_metrics": f"{dataset}_{t}{suffix}.metrics" for t in taxonomies})
