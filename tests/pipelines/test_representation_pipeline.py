"""Ingestion + training of Pouring through a KedroSession with tiny parameters."""

import shutil

import pytest
import torch
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from carl_pipeline.training import load_encoder
from tests.conftest import PROJECT_ROOT

TINY = """
pouring:
  ingest: {num_workers: 0, progress: false}
  train:
    model: {backbone: resnet18, freeze_through: layer2, num_layers: 1, hidden_size: 32, num_heads: 4, ff_size: 64,
            fc_channels: 32, embedding_size: 16, projection_hidden: 16, projection_size: 16}
    sampling: {num_steps: 8}
    augment: {image_size: 32}
    optim: {epochs: 2, batch_size: 2, checkpoint_every: 1, progress: false}
"""


@pytest.fixture
def project(tiny_raw, tmp_path, monkeypatch):
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(PROJECT_ROOT / "pyproject.toml", root)
    (root / "src").mkdir()
    shutil.copytree(PROJECT_ROOT / "conf", root / "conf", ignore=shutil.ignore_patterns("local"))
    (root / "conf" / "local").mkdir()
    (root / "conf" / "local" / "parameters.yml").write_text(TINY)
    shutil.copytree(tiny_raw, root / "data" / "01_raw")
    monkeypatch.chdir(root)
    bootstrap_project(root)
    return root


def test_pouring_pipeline__trains_a_loadable_model_and_a_rerun_resumes(project):
    with KedroSession.create(project_path=project) as session:
        session.run(pipeline_names=["pouring"])
    model_file = project / "data/06_models/pouring/carl.pt"
    checkpoint = torch.load(model_file, weights_only=True)
    assert len(checkpoint["history"]) == 2 and checkpoint["encoder"]["train_length"] == 8
    assert checkpoint["encoder"]["embedding_size"] == 16 and "optimizer" not in checkpoint
    model = load_encoder(checkpoint)
    assert model(torch.randn(1, 8, 3, 32, 32)).shape == (1, 8, 16)
    assert sorted(p.name for p in (project / "data/06_models/pouring/run/checkpoints").iterdir()) == \
        ["epoch_0001.pt", "epoch_0002.pt"]
    assert any((project / "data/06_models/pouring/run/tensorboard").iterdir())

    with KedroSession.create(project_path=project) as session:  # finished: nothing left to train
        session.run(pipeline_names=["train_pouring"])
    again = torch.load(model_file, weights_only=True)
    assert again["history"] == checkpoint["history"] and again["step"] == checkpoint["step"]


def test_pouring_pipeline__bad_training_parameter_names_the_field(project):
    (project / "conf/local/parameters.yml").write_text(TINY.replace("epochs: 2,", "epochs: 2, algorithm: simclr,"))
    with pytest.raises(Exception, match="algorithm"):
        with KedroSession.create(project_path=project) as session:
            session.run(pipeline_names=["train_pouring"])
