"""Each dataset's pipeline runs under ``--env paper``: the demo's raw data copied into the paper
layout (data/paper/01_raw), the paper's settings, sizes overridden small on the command line
(runtime parameters, as ``kedro run --params`` gives them)."""

import json
import shutil

import pytest
import torch
import torchvision
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from tests.conftest import make_project, newest

SMALL_TRAIN = {"sampling": {"num_steps": 8}, "augment": {"image_size": 32},
               "model": {"frames_per_batch": 16, "fc_channels": 32, "hidden_size": 32, "num_heads": 4, "ff_size": 64},
               "optim": {"epochs": 1, "num_workers": 0, "progress": False}}
SMALL_EVALUATE = {"protocol": {"stride": 1, "finegym_epochs": 3}, "alignment_height": 32, "progress": False}
INGEST = {"num_workers": 0, "progress": False}
TINY = {
    "pouring": {"ingest": INGEST, "train": SMALL_TRAIN, "evaluate": SMALL_EVALUATE},
    "penn_action": {"ingest": INGEST, "train": SMALL_TRAIN, "evaluate": SMALL_EVALUATE},
    "finegym": {"ingest": {**INGEST, "frame_size": [36, 64]}},
    "finegym_gym99": {"train": SMALL_TRAIN, "evaluate": SMALL_EVALUATE},
    "finegym_gym288": {"train": SMALL_TRAIN, "evaluate": SMALL_EVALUATE},
}


@pytest.fixture(scope="module")
def paper_project(tiny_raw, tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("paper") / "project")
    shutil.copytree(tiny_raw, root / "data/paper/01_raw")
    # The paper environment's backbone: torchvision's ResNet-50 ImageNet V1 file, by its own name
    # (random values here; nothing is downloaded).
    backbones = root / "data/paper/06_models/backbones"
    backbones.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet50(weights=None).state_dict(), backbones / "resnet50-0676ba61.pth")
    bootstrap_project(root)
    return root


@pytest.mark.parametrize("dataset", ["pouring", "penn_action", "finegym"])
def test_paper_environment__each_dataset_pipeline_runs_at_tiny_sizes(paper_project, dataset, monkeypatch):
    monkeypatch.chdir(paper_project)
    with KedroSession.create(project_path=paper_project, env="paper", runtime_params=TINY) as session:
        session.run(pipeline_names=[dataset])
    metrics = json.loads(newest(paper_project / f"data/paper/08_reporting/{dataset}/metrics.json").read_text())
    if dataset == "finegym":
        # the released probe at 10%, 50% and 100% of the training videos, per taxonomy
        assert set(metrics["trained"]) == {f"{t}_accuracy{f}" for t in ("gym99", "gym288") for f in ("@0.1", "@0.5", "")}
        assert set(metrics["model"]) == {"gym99", "gym288"}
        checkpoints = [newest(paper_project / f"data/paper/06_models/finegym_{t}/carl.pt") for t in ("gym99", "gym288")]
    else:
        assert {"classification@1.0", "kendalls_tau", "ap@5"} <= set(metrics["trained"])
        checkpoints = [newest(paper_project / f"data/paper/06_models/{dataset}/carl.pt")]
    for path in checkpoints:
        checkpoint = torch.load(path, weights_only=True)
        assert checkpoint["encoder"]["backbone"] == "resnet50" and checkpoint["encoder"]["transformer"] == "released"
        assert checkpoint["encoder"]["backbone_weights"] == "imagenet_v1" and checkpoint["augment"]["color_mode"] == "released"
    assert not (paper_project / "data/06_models").exists()  # the demo's folders are untouched


def test_paper_environment__a_released_checkpoint_is_scored_without_training(paper_project, monkeypatch):
    from tests.models.test_released import _released_state_dict

    monkeypatch.chdir(paper_project)
    released = paper_project / "data/paper/06_models/released/pouring.pth"
    released.parent.mkdir(parents=True)
    torch.save({"epoch": 500, "model_state": _released_state_dict()}, released)
    runtime = {**TINY, "pouring": {**TINY["pouring"], "evaluate": {
        **SMALL_EVALUATE, "image_size": 32, "checkpoint": str(released), "checkpoint_train_length": 8}}}
    with KedroSession.create(project_path=paper_project, env="paper", runtime_params=runtime) as session:
        session.run(pipeline_names=["ingest_pouring", "evaluate_released_pouring"])
    metrics = json.loads(newest(paper_project / "data/paper/08_reporting/pouring_released/metrics.json").read_text())
    assert {"classification@1.0", "kendalls_tau"} <= set(metrics["trained"]) and metrics["model"]["epochs"] == 500
    converted = torch.load(newest(paper_project / "data/paper/06_models/pouring_released/carl.pt"), weights_only=True)
    assert converted["released_checkpoint"] == str(released) and converted["encoder"]["transformer"] == "released"

    runtime["pouring"]["evaluate"]["checkpoint"] = str(paper_project / "data/paper/06_models/backbones/resnet50-0676ba61.pth")
    with pytest.raises(Exception, match="resnet50-0676ba61.pth: not a released CARL TransformerModel"):
        with KedroSession.create(project_path=paper_project, env="paper", runtime_params=runtime) as session:
            session.run(pipeline_names=["evaluate_released_pouring"])


def test_paper_environment__the_readme_command_runs_from_the_command_line(paper_project):
    """`kedro run --env paper --pipelines=ingest_<d>`, as the README gives it, with a size
    overridden by `--params`."""
    import os
    import subprocess
    import sys

    kedro = [sys.executable, "-m", "kedro"]
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    result = subprocess.run([*kedro, "run", "--env", "paper", "--pipelines=ingest_penn_action",
                             "--params=penn_action.ingest.num_workers=0,penn_action.ingest.progress=false"],
                            cwd=paper_project, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((paper_project / "data/paper/08_reporting/penn_action/ingest_report.json").read_text())
    assert report["videos"] > 0 and not report["failed"]
    from carl_pipeline.video import FrameStore

    store = FrameStore(paper_project / "data/paper/03_primary/penn_action/frames")
    assert store.open(store.video_ids()[0]).read([0]).shape[-2:] == (224, 224)  # squashed, as released


def test_paper_environment__a_project_model_is_scored_on_one_penn_action_action(paper_project, monkeypatch):
    """As the released Kinetics-400 run scores its model on Penn Action's baseball_pitch: any model
    `videos.model` takes (here the paper env's own Penn Action training, at tiny sizes) scored by
    `evaluate_released_penn_action` on the actions `protocol.actions` names, in the paper's
    evaluation precision (recorded)."""
    monkeypatch.chdir(paper_project)
    with KedroSession.create(project_path=paper_project, env="paper", runtime_params=TINY) as session:
        session.run(pipeline_names=["ingest_penn_action", "train_penn_action"])  # a finished run: no more work
    model = newest(paper_project / "data/paper/06_models/penn_action/carl.pt")
    runtime = {**TINY, "penn_action": {**TINY["penn_action"], "evaluate": {
        **SMALL_EVALUATE, "checkpoint": str(model), "protocol": {**SMALL_EVALUATE["protocol"], "actions": ["squat"]}}}}
    with KedroSession.create(project_path=paper_project, env="paper", runtime_params=runtime) as session:
        session.run(pipeline_names=["evaluate_released_penn_action"])
    metrics = json.loads(newest(paper_project / "data/paper/08_reporting/penn_action_released/metrics.json").read_text())
    trained = torch.load(model, weights_only=True)
    assert metrics["model"]["run"] == trained["run"]["name"] and {"classification@1.0", "kendalls_tau"} <= set(metrics["trained"])
    assert metrics["model"]["embedding_dtype"] == "float32"  # fp16 is the paper's on CUDA; a CPU embeds in float32
    runtime["penn_action"]["evaluate"]["protocol"]["actions"] = ["baseball_pitch"]  # not in the tiny data
    with pytest.raises(Exception, match=r"protocol.actions names \['baseball_pitch'\], which have no videos here"):
        with KedroSession.create(project_path=paper_project, env="paper", runtime_params=runtime) as session:
            session.run(pipeline_names=["evaluate_released_penn_action"])
