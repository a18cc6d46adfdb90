"""The own-videos report pipeline (part of ``videos``), and its labelling and search parts."""

from kedro.pipeline import Node, Pipeline

from carl_pipeline.pipelines.own_videos.nodes import (
    align_own_videos,
    build_search_index,
    discover_video_phases,
    embed_own_videos,
    plot_discovered_phases,
    plot_propagated_labels,
    propagate_phase_labels,
    read_labels,
    retrieve_across_videos,
    search_frames,
)


def create_pipeline(dataset: str = "videos") -> Pipeline:
    """For unlabelled videos: ``<dataset>.model`` -> embeddings of every frame -> an alignment
    video of two of them, a retrieval sheet, labels by example (with ``labels.path``) and the
    library's search index with the query's results."""
    return Pipeline([
        Node(embed_own_videos, inputs=["model", "frame_store", "video_index", "frame_labels", "params:report"],
             outputs="embeddings", name="embed_frames_trained"),
        Node(align_own_videos, inputs=["embeddings", "frame_store", "params:report"], outputs="alignment_video",
             name="render_alignment_video"),
        Node(retrieve_across_videos, inputs=["embeddings", "frame_store", "params:report"],
             outputs="retrieval_sheet", name="render_retrieval_sheet"),
        Node(build_search_index, inputs=["embeddings", "params:search"], outputs="search_index",
             name="build_search_index"),
    ], namespace=dataset) + create_label_pipeline(dataset) + create_search_pipeline(dataset)


def create_label_pipeline(dataset: str = "videos") -> Pipeline:
    """``labels.path`` checked -> ``labels_report``; carried over the embeddings to every other
    video -> ``propagated_labels`` and its picture; with ``discover_phases: K``, K phases found
    with no labels -> ``discovered_phases``, ``discovery_report`` and their picture (rerun alone:
    ``label_<dataset>``)."""
    return Pipeline([
        Node(read_labels, inputs=["video_index", "params:labels"], outputs=["labels_given", "labels_report"],
             name="read_and_check_labels"),
        Node(propagate_phase_labels, inputs=["embeddings", "labels_given", "labels_report", "params:labels"],
             outputs="propagated_labels", name="propagate_labels"),
        Node(plot_propagated_labels, inputs=["propagated_labels", "labels_report"], outputs="propagated_labels_plot",
             name="plot_propagated_labels"),
        Node(discover_video_phases, inputs=["embeddings", "params:discover_phases", "params:labels"],
             outputs=["discovered_phases", "discovery_report"], name="discover_phases"),
        Node(plot_discovered_phases, inputs=["discovered_phases", "discovery_report"],
             outputs="discovered_phases_plot", name="plot_discovered_phases"),
    ], namespace=dataset)


def create_search_pipeline(dataset: str = "videos") -> Pipeline:
    """``query`` against the built ``search_index`` -> ``search_results`` and ``search_sheet``
    (rerun alone with another query: ``search_<dataset>``)."""
    return Pipeline([
        Node(search_frames, inputs=["search_index", "embeddings", "model", "frame_store", "params:query",
                                    "params:report"],
             outputs=["search_results", "search_sheet"], name="search_library"),
    ], namespace=dataset)
