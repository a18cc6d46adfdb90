"""Ingestion + training of Pouring through a KedroSession with tiny parameters."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from kedro.framework.session import KedroSession

from carl_pipeline.training import SCHEMA_VERSION, Checkpoint, load_encoder
from carl_pipeline.video import decode_clip
from tests.conftest import newest, open_project

TINY_TRAIN = """
    model: {backbone: resnet18, freeze_through: layer2, num_layers: 1, hidden_size: 32, num_heads: 4, ff_size: 64,
            fc_channels: 32, embedding_size: 16, projection_hidden: 16, projection_size: 16}
    sampling: {num_steps: 8}
    augment: {image_size: 32}
    optim: {epochs: 2, batch_size: 2, checkpoint_every: 1, progress: false}"""
TINY = f"""
pouring:
  ingest: {{num_workers: 0, progress: false}}
  train:{TINY_TRAIN}
  evaluate: {{protocol: {{stride: 1}}, alignment_height: 32, progress: false}}
"""


@pytest.fixture
def project(tiny_raw, tmp_path, monkeypatch):
    return open_project(tmp_path / "project", TINY, tiny_raw, monkeypatch)


def test_pouring_pipeline__trains_evaluates_reports_and_a_rerun_resumes(project):
    with KedroSession.create(project_path=project) as session:
        session.run(pipeline_names=["pouring"])
    reports = project / "data/08_reporting/pouring"
    metrics = json.loads(newest(reports / "metrics.json").read_text())
    keys = {"classification@0.1", "classification@0.5", "classification@1.0", "progression", "kendalls_tau",
            "ap@5", "ap@10", "ap@15", "online_progress_error"}
    assert set(metrics["trained"]) == set(metrics["untrained"]) == set(metrics["pixels"]) == keys
    assert metrics["pixels"] != metrics["untrained"]  # the raw-pixel reference, scored on its own
    assert -1 <= metrics["labels"]["kendalls_tau"] <= 1  # tau of the labels' own alignment, the reference
    assert set(metrics["progress"]) == {"constant 0.5", "relative time"}  # the online-progress column's references
    for encoder in ("trained", "untrained", "labels"):
        assert metrics[encoder]["kendalls_tau"] <= metrics["ceiling"]["kendalls_tau"] + 1e-9  # no alignment scores more
        assert sum(metrics["alignment"][encoder].values()) == pytest.approx(1.0)  # what each tau is made of
    assert metrics["alignment"]["labels"]["discordant"] == 0.0  # the labels never match out of order
    assert metrics["model"]["epochs"] == 2 and metrics["model"]["algorithm"] == "scl"
    assert all(0 <= metrics["trained"][k] <= 1 for k in keys if k.startswith(("classification", "ap")))
    for picture in ("embedding_projection.png", "similarity_matrix.png", "metrics.png"):
        assert newest(reports / picture).stat().st_size > 5000
    frames = decode_clip(newest(reports / "alignment.mp4"), as_jpeg=False).frames
    assert len(frames) >= 8 and frames[0].shape[0] == 40  # 32 px frames over an 8 px phase bar
    table = pd.read_parquet(project / "data/07_model_output/pouring/embeddings.parquet")
    index = pd.read_parquet(project / "data/03_primary/pouring/video_index.parquet")
    assert len(table) == index["num_frames"].sum() and len(table["embedding"].iloc[0]) == 16
    model_file = project / "data/06_models/pouring/carl.pt"
    checkpoint = torch.load(newest(model_file), weights_only=True)
    assert len(checkpoint["history"]) == 2 and checkpoint["encoder"]["train_length"] == 8
    assert checkpoint["encoder"]["embedding_size"] == 16 and "optimizer" not in checkpoint
    assert checkpoint["schema_version"] == SCHEMA_VERSION  # on disk: plain values and tensors
    with KedroSession.create(project_path=project) as session:  # in code: a typed Checkpoint
        loaded = session.load_context().catalog.load("pouring.model")
    assert isinstance(loaded, Checkpoint) and loaded.history == checkpoint["history"] and loaded.run == checkpoint["run"]
    model = load_encoder(checkpoint)
    assert model(torch.randn(1, 8, 3, 32, 32)).shape == (1, 8, 16)
    run = project / checkpoint["run"]["folder"]  # data/06_models/runs/<name>, shared by every namespace
    assert run.parent == project / "data/06_models/runs" and run.name == checkpoint["run"]["name"]
    assert checkpoint["run"]["namespaces"] == ["pouring"] and checkpoint["run"]["asked_by"] == "pouring"
    assert json.loads((run / "namespaces.json").read_text()) == ["pouring"]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["epoch_0001.pt", "epoch_0002.pt"]
    assert any((run / "tensorboard").iterdir()) and (run / "identity.json").is_file()
    # TensorBoard: the settings beside the scores (HParams) and the validation frames (Projector),
    # in the evaluating namespace's folder
    scores = run / "tensorboard/evaluation/pouring"
    assert (scores / "hparams").is_dir() and (scores / "projector_config.pbtxt").is_file()
    sprites = list((run / "tensorboard").rglob("sprite.png"))
    metadata = list((run / "tensorboard").rglob("metadata.tsv"))
    assert sprites and metadata and len(metadata[0].read_text().splitlines()) > 5
    assert metrics["model"]["run"] == checkpoint["run"]["name"]  # the numbers say which run made them
    first_run_files = {p: p.stat().st_mtime_ns for p in (run / "checkpoints").iterdir()}
    first_model = newest(model_file)
    first_model_bytes = first_model.read_bytes()

    with KedroSession.create(project_path=project) as session:  # finished: nothing left to train
        session.run(pipeline_names=["train_pouring"])
    again = torch.load(newest(model_file), weights_only=True)
    assert again["history"] == checkpoint["history"] and again["step"] == checkpoint["step"]

    # The rerun: other settings train a new run whose record matches its weights.
    with KedroSession.create(project_path=project, runtime_params={
            "pouring": {"train": {"optim": {"lr": 0.001, "seed": 7}}}}) as session:
        session.run(pipeline_names=["train_pouring"])
    other = torch.load(newest(model_file), weights_only=True)
    assert other["optim"]["lr"] == 0.001 and other["optim"]["seed"] == 7 and len(other["history"]) == 2
    assert other["run"]["id"] != checkpoint["run"]["id"] and other["history"] != checkpoint["history"]
    assert {p: p.stat().st_mtime_ns for p in (run / "checkpoints").iterdir()} == first_run_files
    assert first_model.read_bytes() == first_model_bytes  # the first run's model is still there, as it was

    # A second full run: every run left its own version of the model and of the reports.
    with KedroSession.create(project_path=project) as session:
        session.run(pipeline_names=["pouring"])
    assert len(list(model_file.iterdir())) == 4 and len(list((reports / "metrics.json").iterdir())) == 2
    assert len(list((reports / "alignment.mp4").iterdir())) == 2
    # The README's way to load an earlier run's scores.
    from kedro.io import Version
    from kedro_datasets.json import JSONDataset

    first_version = sorted(p.name for p in (reports / "metrics.json").iterdir())[0]
    assert JSONDataset(filepath=str(reports / "metrics.json"), version=Version(first_version, None)).load() == metrics
    assert json.loads(newest(reports / "metrics.json").read_text())["model"]["run"] == checkpoint["run"]["name"]

    # MLflow (on by default, a SQLite store in the project) holds the four runs, read back
    # through its own client.
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{project / 'mlruns/mlflow.db'}")
    experiment = client.get_experiment_by_name("carl-pipeline")
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    assert [r.data.tags["kedro.pipelines"] for r in runs] == ["pouring", "train_pouring", "train_pouring", "pouring"]
    assert all(r.info.status == "FINISHED" for r in runs)
    assert "pouring/trained/ap_at_5" in runs[3].data.metrics
    full, _, other_run, _ = runs
    assert full.data.params["pouring.train.optim.lr"] == "0.0003" and other_run.data.params["pouring.train.optim.lr"] == "0.001"
    assert full.data.params["pouring.run"] == checkpoint["run"]["name"]
    assert other_run.data.params["pouring.run"] == other["run"]["name"]
    assert full.data.metrics["pouring/trained/classification_at_1.0"] == pytest.approx(metrics["trained"]["classification@1.0"])
    assert "pouring/untrained/kendalls_tau" in full.data.metrics
    assert [m.step for m in client.get_metric_history(full.info.run_id, "pouring/train/loss")] == [1, 2]
    artifacts = {a.path for a in client.list_artifacts(full.info.run_id, "pouring")}
    assert {"pouring/model", "pouring/metrics", "pouring/metrics_plot"} <= artifacts


def test_tracking__switched_off_records_nothing(project):
    (project / "conf/local/tracking.yml").write_text("enabled: false\n")
    with KedroSession.create(project_path=project) as session:
        session.run(pipeline_names=["ingest_pouring", "train_pouring"])
    assert newest(project / "data/06_models/pouring/carl.pt").is_file()
    assert not (project / "mlruns").exists()


def test_pouring_pipeline__bad_training_parameter_names_the_field(project):
    (project / "conf/local/parameters.yml").write_text(TINY.replace("    augment: {image_size: 32}",
                                                                    "    augment: {image_size: 32}\n    loss: {algorithm: simcrl}"))
    with pytest.raises(Exception, match="algorithm must be one of .*got 'simcrl'"):
        with KedroSession.create(project_path=project) as session:
            session.run(pipeline_names=["train_pouring"])


def test_train_pipeline__under_torchrun_two_processes_train_one_model(project):
    """The README's multi-GPU command, on two CPU processes (gloo): DDP, DistributedSampler, and
    only rank 0 writing."""
    import os
    import subprocess
    import sys

    with KedroSession.create(project_path=project) as session:
        session.run(pipeline_names=["ingest_pouring"])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DO_NOT_TRACK": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
         "-m", "carl_pipeline", "--pipelines=train_pouring"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = torch.load(newest(project / "data/06_models/pouring/carl.pt"), weights_only=True)
    # 3 training videos, batch 2 per process, 2 processes: one step per epoch
    assert len(checkpoint["history"]) == 2 and checkpoint["step"] == 2
    run = project / checkpoint["run"]["folder"]
    assert [p.name for p in sorted((run / "checkpoints").iterdir())] == ["epoch_0001.pt", "epoch_0002.pt"]
    assert checkpoint["run"]["identity"]["world_size"] == 2

    # The README's multi-GPU extraction: the videos split across the 2 processes, rank 0 writes
    # one table (and one version of each report); the same table as one process makes.
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
         "-m", "carl_pipeline", "--pipelines=evaluate_pouring"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rank 1/2 embeds 2 of 5 videos" in " ".join((result.stdout + result.stderr).split())
    two = pd.read_parquet(project / "data/07_model_output/pouring/embeddings.parquet")
    assert len(list((project / "data/08_reporting/pouring/metrics.json").iterdir())) == 1
    with KedroSession.create(project_path=project) as session:
        session.run(pipeline_names=["evaluate_pouring"])
    one = pd.read_parquet(project / "data/07_model_output/pouring/embeddings.parquet")
    assert list(two["video_id"]) == list(one["video_id"]) and list(two["frame_index"]) == list(one["frame_index"])
    np.testing.assert_allclose(np.stack(two["embedding"]), np.stack(one["embedding"]), rtol=1e-5, atol=1e-6)


def test_finegym_pipeline__a_run_asked_for_by_two_namespaces_trains_once_and_both_evaluate_it(project):
    """Both taxonomies train on the same events (labelled_by null: the union), so they ask for the
    same run: it trains once, in one folder with one training log, the folder and both models
    record both namespaces, each taxonomy scores it, and both scores land in finegym/metrics.json.
    (Which events each taxonomy trains on by default: the train_encoder test below.)"""
    taxonomy = """
finegym_{t}:
  train:{train}
    labelled_by: null
  evaluate: {{protocol: {{finegym_epochs: 3}}, alignment_height: 32, progress: false}}
"""
    (project / "conf/local/parameters.yml").write_text(
        "finegym:\n  ingest: {num_workers: 0, progress: false, frame_size: [24, 32]}\n"
        + "".join(taxonomy.format(t=t, train=TINY_TRAIN) for t in ("gym99", "gym288")))
    with KedroSession.create(project_path=project) as session:
        session.run(pipeline_names=["finegym"])
    runs = [p for p in (project / "data/06_models/runs").iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    run = runs[0]
    training_logs = [p for p in (run / "tensorboard").glob("events.out.tfevents.*")]
    assert len(training_logs) == 1, training_logs  # the second namespace found it finished
    assert json.loads((run / "namespaces.json").read_text()) == ["finegym_gym288", "finegym_gym99"]
    models = {t: torch.load(newest(project / f"data/06_models/finegym_{t}/carl.pt"), weights_only=True) for t in ("gym99", "gym288")}
    assert models["gym99"]["run"]["id"] == models["gym288"]["run"]["id"] == run.name.rsplit("-", 1)[1]
    assert all(torch.equal(models["gym99"]["model"][k], models["gym288"]["model"][k]) for k in models["gym99"]["model"])
    assert {m["run"]["asked_by"] for m in models.values()} == {"finegym_gym99", "finegym_gym288"}
    assert max(len(m["run"]["namespaces"]) for m in models.values()) == 2  # the later one knows both
    for t in ("gym99", "gym288"):
        metrics = json.loads(newest(project / f"data/08_reporting/finegym_{t}/metrics.json").read_text())
        assert metrics["model"]["run"] == run.name and 0 <= metrics["trained"][f"{t}_accuracy"] <= 1
        assert (run / f"tensorboard/evaluation/finegym_{t}").is_dir()
        assert newest(project / f"data/08_reporting/finegym_{t}/alignment.mp4").is_file()
    combined = json.loads(newest(project / "data/08_reporting/finegym/metrics.json").read_text())
    assert set(combined["trained"]) == set(combined["untrained"]) == set(combined["pixels"]) == {f"{t}_accuracy{f}" for t in ("gym99", "gym288") for f in ("@0.1", "@0.5", "")}
    assert set(combined["model"]) == {"gym99", "gym288"}


def test_videos_pipeline__own_folder_trains_aligns_and_skips_a_broken_file(project):
    """A folder of unlabelled videos (two formats, another frame rate, one broken file)."""
    import numpy as np

    from carl_pipeline.synthetic.actions import POURING
    from carl_pipeline.synthetic.generate import _rng, render_action_video
    from carl_pipeline.video import write_video

    folder = project / "data/01_raw/videos"
    (folder / "more").mkdir(parents=True)
    for i, (name, fps) in enumerate([("a.mp4", 30), ("b.webm", 24), ("more/c.mkv", 25)]):
        frames, _ = render_action_video(_rng(9, i), POURING, 20, 32, 32, pouring_props=True)
        write_video(folder / name, frames, fps)
    (folder / "broken.mp4").write_bytes(b"\x00" * 1000)
    (project / "conf/local/parameters.yml").write_text(TINY.replace("pouring:", "videos:").replace(
        "ingest: {num_workers: 0, progress: false}", "ingest: {num_workers: 0, progress: false, fps: 10}").replace(
        "evaluate: {protocol: {stride: 1}, alignment_height: 32, progress: false}",
        "report: {alignment_height: 32, retrieval_queries: 3, retrieval_neighbours: 2, progress: false}"))
    with KedroSession.create(project_path=project) as session:
        session.run(pipeline_names=["videos"])
    report = json.loads((project / "data/08_reporting/videos/ingest_report.json").read_text())
    assert report["videos"] == 3 and [f["video_id"] for f in report["failed"]] == ["broken"]
    assert "broken.mp4" in report["failed"][0]["error"]
    index = pd.read_parquet(project / "data/03_primary/videos/video_index.parquet")
    assert sorted(index["video_id"]) == ["a", "b", "more__c"] and set(index["fps"]) == {10.0}
    frames = decode_clip(newest(project / "data/08_reporting/videos/alignment.mp4"), as_jpeg=False).frames
    assert len(frames) >= 6 and np.asarray(frames[0]).shape[0] == 40
    assert (project / "data/08_reporting/videos/retrieval_sheet.png").stat().st_size > 5000
    # Many different videos: the others of each batch are SCL negatives too (Kinetics-style)
    model = torch.load(newest(project / "data/06_models/videos/carl.pt"), weights_only=True)
    assert model["loss"]["settings"]["scl"]["negatives"] == "batch_noself"
    # Tracked like every run that trains (MLflow chooses by the datasets a node writes, not by
    # function names): its parameters, its training run and its artifacts.
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{project / 'mlruns/mlflow.db'}")
    (tracked,) = client.search_runs([client.get_experiment_by_name("carl-pipeline").experiment_id])
    assert tracked.data.tags["kedro.pipelines"] == "videos" and tracked.info.status == "FINISHED"
    assert tracked.data.params["videos.train.loss.settings.scl.negatives"] == "batch_noself"
    assert tracked.data.params["videos.run"] == model["run"]["name"]
    assert [m.step for m in client.get_metric_history(tracked.info.run_id, "videos/train/loss")] == [1, 2]
    assert {"videos/model", "videos/alignment_video", "videos/retrieval_sheet"} <= \
        {a.path for a in client.list_artifacts(tracked.info.run_id, "videos")}

    # The raw folder changes: one video replaced by a longer one under the same name, one deleted.
    # The rerun converts the replaced one again, drops the deleted one from the index, and trains a
    # new run on what the folder now holds instead of resuming the finished one.
    frames, _ = render_action_video(_rng(9, 7), POURING, 30, 32, 32, pouring_props=True)
    write_video(folder / "a.mp4", frames, 30)
    (folder / "more" / "c.mkv").unlink()
    with KedroSession.create(project_path=project) as session:
        session.run(pipeline_names=["videos"])
    report = json.loads(newest(project / "data/08_reporting/videos/ingest_report.json").read_text())
    assert report["converted_this_run"] == 1 and report["left_out_of_index"] == ["more__c"]
    again = pd.read_parquet(project / "data/03_primary/videos/video_index.parquet")
    assert sorted(again["video_id"]) == ["a", "b"]
    assert again.set_index("video_id").num_frames["a"] > index.set_index("video_id").num_frames["a"]
    retrained = torch.load(newest(project / "data/06_models/videos/carl.pt"), weights_only=True)
    assert retrained["run"]["id"] != model["run"]["id"]
