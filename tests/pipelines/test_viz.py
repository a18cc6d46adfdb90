"""kedro-viz builds its static site offline with every pipeline of the project."""

import base64
import json
import os
import shutil
import subprocess

import pytest

from tests.conftest import make_project


def test_kedro_viz_build__lists_every_pipeline(tmp_path):
    kedro = shutil.which("kedro")
    if kedro is None:
        pytest.skip("kedro is not on PATH")
    root = make_project(tmp_path / "project")
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    result = subprocess.run([kedro, "viz", "build"], cwd=root, env=env, capture_output=True, text=True,
                            timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    pipelines = {p["id"] for p in json.loads((root / "build" / "api" / "main").read_text())["pipelines"]}
    expected = {"__default__", "videos"} | {f"{step}{d}" for d in ("pouring", "penn_action", "finegym")
                                            for step in ("", "ingest_", "train_", "evaluate_")}
    assert expected <= pipelines
    nodes = {n["name"] for n in json.loads((root / "build" / "api" / "main").read_text())["nodes"]}
    assert {"train_carl_encoder", "evaluate_trained_and_untrained", "convert_videos_to_frame_packs"} <= nodes


def test_kedro_viz_build__previews_what_a_run_made(tiny_raw, tmp_path, monkeypatch):
    """After a run, `kedro viz build --include-previews` shows a strip of frames of the frame
    store, the checkpoint's run, settings and loss curve, and frames of the alignment video."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from tests.pipelines.test_representation_pipeline import TINY

    kedro = shutil.which("kedro")
    if kedro is None:
        pytest.skip("kedro is not on PATH")
    root = make_project(tmp_path / "project", TINY, tiny_raw)
    monkeypatch.chdir(root)
    bootstrap_project(root)
    with KedroSession.create(project_path=root) as session:
        session.run(pipeline_names=["pouring"])
    result = subprocess.run([kedro, "viz", "build", "--include-previews"], cwd=root,
                            env={**os.environ, "DO_NOT_TRACK": "1"}, capture_output=True, text=True,
                            timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    previews = {}
    for path in (root / "build/api/nodes").iterdir():
        node = json.loads(path.read_text())
        if node.get("preview") is not None:
            previews[node["filepath"].removeprefix(str(root) + "/")] = (node["preview_type"], node["preview"])
    kind, strip = previews["data/03_primary/pouring/frames"]
    assert kind == "ImagePreview" and base64.b64decode(strip).startswith(b"\x89PNG")
    kind, summary = previews["data/06_models/pouring/carl.pt"]
    summary = json.loads(summary) if isinstance(summary, str) else summary
    assert kind == "JSONPreview" and summary["epoch"] == 2 and len(summary["loss_per_epoch"]) == 2
    assert summary["run"].startswith("scl-") and summary["optim"]["batch_size"] == 2
    kind, frames = previews["data/08_reporting/pouring/alignment.mp4"]
    assert kind == "ImagePreview" and base64.b64decode(frames).startswith(b"\x89PNG")
    assert previews["data/08_reporting/pouring/metrics.json"][0] == "JSONPreview"
