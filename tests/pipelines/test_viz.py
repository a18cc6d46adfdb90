"""kedro-viz builds its static site offline with every pipeline of the project."""

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
