"""The ingestion pipelines run through a KedroSession on the project's own configuration."""

import json
import shutil

import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from tests.conftest import make_project


@pytest.fixture
def project(tiny_raw, tmp_path, monkeypatch):
    """A copy of this project's configuration with the tiny raw data in ``data/01_raw``."""
    root = make_project(tmp_path / "project", raw=tiny_raw, local_parameters=(
        # Small frames for FineGym; one process per conversion except Pouring, which goes through
        # the process pool as a real run does.
        "finegym: {ingest: {frame_size: [18, 32], num_workers: 0, progress: false}}\n"
        "penn_action: {ingest: {num_workers: 0, progress: false}}\n"
        "pouring: {ingest: {num_workers: 2, progress: false}}\n"
    ))
    monkeypatch.chdir(root)
    bootstrap_project(root)
    return root


def _run(project, pipeline):
    with KedroSession.create(project_path=project) as session:
        session.run(pipeline_names=[pipeline])


@pytest.mark.parametrize("dataset,label_columns,splits", [
    ("pouring", ["phase"], {"train": 3, "val": 2}),
    ("penn_action", ["phase"], {"train": 4, "val": 2}),
    ("finegym", ["gym99", "gym288"], {"train": 3, "val": 1}),
])
def test_ingestion_pipeline__writes_the_processed_form_and_reruns_skip(project, dataset, label_columns, splits):
    _run(project, f"ingest_{dataset}")
    index = pd.read_parquet(project / f"data/03_primary/{dataset}/video_index.parquet")
    labels = pd.read_parquet(project / f"data/03_primary/{dataset}/frame_labels.parquet")
    report = json.loads((project / f"data/08_reporting/{dataset}/ingest_report.json").read_text())
    assert {"video_id", "split", "num_frames", "fps", "height", "width", "action"} <= set(index.columns)
    assert index.groupby("split").size().to_dict() == splits
    assert list(labels.columns) == ["video_id", "frame_index", *label_columns]
    assert len(labels) == index["num_frames"].sum() == report["frames"]
    assert (project / f"data/03_primary/{dataset}/frames" / index.iloc[0]["frames_file"]).is_file()
    assert report["converted_this_run"] == len(index) and report["failed"] == []

    _run(project, f"ingest_{dataset}")
    report = json.loads((project / f"data/08_reporting/{dataset}/ingest_report.json").read_text())
    assert report["converted_this_run"] == 0 and report["already_converted"] == len(index)


def test_ingestion_pipeline__missing_raw_folder_says_where_to_put_it(project):
    shutil.rmtree(project / "data/01_raw/pouring")
    with pytest.raises(Exception, match=r"data/01_raw/pouring: raw data folder not found"):
        _run(project, "ingest_pouring")


def test_ingestion_pipeline__bad_parameter_fails_before_any_work(project):
    (project / "conf/local/parameters.yml").write_text("penn_action: {ingest: {frame_size: [0, 10]}}\n")
    with pytest.raises(Exception, match="frame_size"):
        _run(project, "ingest_penn_action")
    assert not (project / "data/03_primary/penn_action").exists()


def test_ingestion_pipeline__on_a_dask_scheduler_as_the_readme_runs_it(project, tmp_path, monkeypatch):
    """The README's command: `kedro run --pipelines=ingest_<d> --params=<d>.ingest.executor=dask,
    <d>.ingest.scheduler_address=tcp://...`, against a running scheduler with 2 workers started
    in another folder than the project's (the jobs' paths are absolute)."""
    import os
    import subprocess
    import sys

    from distributed import Client, LocalCluster

    monkeypatch.chdir(tmp_path)  # the workers' working folder is not the project
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        result = subprocess.run(
            [sys.executable, "-m", "carl_pipeline", "--pipelines=ingest_penn_action",
             f"--params=penn_action.ingest.executor=dask,penn_action.ingest.scheduler_address={cluster.scheduler_address}"],
            cwd=project, env={**os.environ, "DO_NOT_TRACK": "1"}, capture_output=True, text=True, timeout=300,
            check=False)
        with Client(cluster) as client:  # the kinds of task the scheduler has seen
            ran = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    assert result.returncode == 0, result.stderr[-3000:]
    assert ran == ["convert"]  # the conversions ran on this cluster, not in a local pool
    report = json.loads((project / "data/08_reporting/penn_action/ingest_report.json").read_text())
    assert report["converted_this_run"] == 6 and report["failed"] == []
