"""``evaluate_embeddings_finegym`` through a KedroSession, as the README runs it (``--env paper``):
released-layout pickles of both taxonomies scored on the ingested index, one report per taxonomy
and both in ``finegym_external``."""

import json
import pickle
import shutil

import numpy as np
import pandas as pd
import torch
from kedro.framework.session import KedroSession

from tests.conftest import newest, open_project

INGEST = {"finegym": {"ingest": {"num_workers": 0, "progress": False, "frame_size": [24, 32]}}}


def test_evaluate_embeddings_finegym__scores_released_pickles_of_both_taxonomies(tiny_raw, tmp_path, monkeypatch):
    project = open_project(tmp_path / "project", "", tiny_raw, monkeypatch)
    shutil.copytree(tiny_raw, project / "data/paper/01_raw")  # the paper env's raw layer
    with KedroSession.create(project_path=project, env="paper", runtime_params=INGEST) as session:
        session.run(pipeline_names=["ingest_finegym"])
    index = pd.read_parquet(project / "data/paper/03_primary/finegym/video_index.parquet")
    labels = pd.read_parquet(project / "data/paper/03_primary/finegym/frame_labels.parquet")
    rng = np.random.default_rng(1)
    folders = {}
    for taxonomy in ("gym99", "gym288"):
        folders[taxonomy] = tmp_path / f"released_{taxonomy}"
        for video_id, split in index[["video_id", "split"]].itertuples(index=False):
            label = labels[labels["video_id"] == video_id].sort_values("frame_index")[taxonomy].to_numpy()
            (folders[taxonomy] / f"finegym_eval_{split}set").mkdir(parents=True, exist_ok=True)
            data = {"embs": torch.from_numpy(rng.normal(size=(len(label), 8)).astype(np.float32)),
                    "labels": torch.tensor(label), "seq_len": len(label), "name": video_id}
            with open(folders[taxonomy] / f"finegym_eval_{split}set/{video_id}.pkl", "wb") as f:
                pickle.dump(data, f)
    params = {f"finegym_{t}": {"external": {"path": str(folders[t]), "method": f"released {t}"},
                               "evaluate": {"protocol": {"finegym_epochs": 3}, "progress": False}}
              for t in folders}
    with KedroSession.create(project_path=project, env="paper", runtime_params=params) as session:
        session.run(pipeline_names=["evaluate_embeddings_finegym"])
    reports = project / "data/paper/08_reporting"
    combined = json.loads(newest(reports / "finegym_external/metrics.json").read_text())
    assert set(combined["trained"]) == {f"{t}_accuracy{f}" for t in ("gym99", "gym288") for f in ("@0.1", "@0.5", "")} and combined["untrained"] == {}
    for t in folders:
        metrics = json.loads(newest(reports / f"finegym_{t}_external/metrics.json").read_text())
        join = json.loads((reports / f"finegym_{t}_external/join_report.json").read_text())
        assert metrics["model"]["algorithm"] == f"released {t}" and 0 <= metrics["trained"][f"{t}_accuracy"] <= 1
        assert join["scored"] == sorted(index["video_id"]) and join["unmatched"] == []
        assert newest(reports / f"finegym_{t}_external/metrics.png").stat().st_size > 0
    # nothing trained or embedded: no model was needed
    assert not any(project.glob("data/**/*.pt"))
