from kedro.framework.startup import bootstrap_project

from carl_pipeline.pipeline_registry import register_pipelines
from tests.conftest import PROJECT_ROOT


def test_registry__ingestion_pipelines_share_one_template_in_namespaces():
    bootstrap_project(PROJECT_ROOT)
    pipelines = register_pipelines()
    assert {"ingest_pouring", "ingest_penn_action", "ingest_finegym", "__default__"} <= set(pipelines)
    assert {"train_pouring", "pouring", "finegym", "penn_action"} <= set(pipelines)
    for dataset in ("pouring", "penn_action", "finegym"):
        pipeline = pipelines[f"ingest_{dataset}"]
        # the frame store is the folder the conversion node writes into (never saved through the catalog)
        assert pipeline.inputs() == {f"{dataset}.raw", f"params:{dataset}.ingest", f"{dataset}.frame_store"}
        assert pipeline.outputs() == {f"{dataset}.video_index", f"{dataset}.frame_labels", f"{dataset}.ingest_report"}
    assert pipelines["__default__"].all_outputs() >= {"pouring.model", "pouring.video_index"}
