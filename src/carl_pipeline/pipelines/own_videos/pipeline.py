"""The own-videos report pipeline (part of ``videos``)."""

from kedro.pipeline import Node, Pipeline

from carl_pipeline.pipelines.own_videos.nodes import (
    align_own_videos,
    embed_own_videos,
    retrieve_across_videos,
)


def create_pipeline(dataset: str = "videos") -> Pipeline:
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
