"""Shared fixtures: tiny raw datasets written by the project's generator in the published layouts."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("DO_NOT_TRACK", "1")  # kedro-telemetry: never reach the network in tests

from carl_pipeline.synthetic import generate_finegym, generate_penn_action, generate_pouring  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_raw(tmp_path_factory) -> Path:
    """A raw root holding tiny ``pouring``, ``penn_action`` and ``finegym`` folders (read-only use)."""
    root = tmp_path_factory.mktemp("raw")
    generate_pouring(root / "pouring", counts={"train": 3, "val": 2}, frames=(8, 12), size=(32, 32),
                     videos_per_file=2, extra_context_files=("val",), seed=1)
    generate_penn_action(root / "penn_action", actions=("squat", "tennis_serve", "strum_guitar"),
                         counts={"train": 2, "val": 1}, frames=(10, 14), size=(24, 32), seed=1)
    generate_finegym(root / "finegym", videos=(("vidA", 30.0, ".mp4"), ("vidB", 24.0, ".webm")),
                     events_per_video=2, elements_per_event=(1, 2), size=(36, 64), val_events=1, seed=1)
    return root


@pytest.fixture
def raw_copy(tiny_raw, tmp_path) -> Path:
    """A private, writable copy of the tiny raw data, for tests that break it."""
    target = tmp_path / "raw"
    shutil.copytree(tiny_raw, target)
    return target


def make_project(root: Path, local_parameters: str = "", raw: Path | None = None) -> Path:
    """A copy of this project's configuration at ``root`` (the package itself is imported from
    its installed location), with ``local_parameters`` as ``conf/local/parameters.yml`` and the
    raw folder ``raw`` as ``data/01_raw``."""
    root.mkdir(parents=True)
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy(PROJECT_ROOT / name, root)
    (root / "src").mkdir()
    shutil.copytree(PROJECT_ROOT / "conf", root / "conf", ignore=shutil.ignore_patterns("local"))
    (root / "conf" / "local").mkdir()
    if local_parameters:
        (root / "conf" / "local" / "parameters.yml").write_text(local_parameters)
    if raw is not None:
        shutil.copytree(raw, root / "data" / "01_raw")
    return root


def open_project(root: Path, local_parameters: str, raw: Path, monkeypatch) -> Path:
    """``make_project``, then work in it as ``kedro run`` would (cwd, bootstrapped)."""
    from kedro.framework.startup import bootstrap_project

    root = make_project(root, local_parameters, raw)
    monkeypatch.chdir(root)
    bootstrap_project(root)
    return root


def _converted(plan, raw: Path, folder: Path):
    """The tiny raw dataset ``raw`` converted to frame packs in ``folder``."""
    from carl_pipeline.ingest import ConversionPlan, run_conversion
    from carl_pipeline.video import FrameStore

    jobs, _ = plan(raw)
    store = FrameStore(folder / "frames")
    run_conversion(ConversionPlan(tuple(jobs), progress=False), store)
    return store


@pytest.fixture(scope="session")
def pouring_store(tiny_raw, tmp_path_factory):
    """The tiny Pouring data converted to frame packs once (read-only use)."""
    from carl_pipeline.ingest import plan_pouring

    return _converted(plan_pouring, tiny_raw / "pouring", tmp_path_factory.mktemp("pouring_store"))


@pytest.fixture(scope="session")
def penn_action_store(tiny_raw, tmp_path_factory):
    """The tiny Penn Action data converted to frame packs once (read-only use)."""
    from carl_pipeline.ingest import plan_penn_action

    return _converted(plan_penn_action, tiny_raw / "penn_action", tmp_path_factory.mktemp("penn_action_store"))


#: The Pouring pipeline's settings of the shared trained project (``trained_pouring``): the demo's
#: (``conf/base``: 64 px, released window, frames standardised) with fewer epochs and quiet.
TRAINED_POURING_PARAMETERS = """
pouring:
  ingest: {splits: [train, val], num_workers: 0, progress: false}
  train: {optim: {epochs: 24, progress: false}}
  evaluate: {protocol: {stride: 1}, alignment_height: 32, progress: false}
"""


@pytest.fixture(scope="session")
def trained_pouring(tmp_path_factory) -> Path:
    """A project where ``kedro run --pipelines=pouring`` ingested the embedded demo data, trained
    an encoder with the demo's settings for 24 epochs (about three minutes on a 2-core CPU) and
    scored it. One training shared by the learning test (the model on videos it never saw), the
    own-videos, untrimmed-footage and export tests (its model, scores and validation videos).
    Tests may run further pipelines in it but must not retrain ``pouring``."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    raw = tmp_path_factory.mktemp("demo_raw")
    shutil.copytree(PROJECT_ROOT / "data/01_raw/pouring", raw / "pouring")
    project = make_project(tmp_path_factory.mktemp("trained_pouring") / "project", TRAINED_POURING_PARAMETERS, raw)
    (project / "conf/local/tracking.yml").write_text("enabled: false\n")
    bootstrap_project(project)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        with KedroSession.create(project_path=project) as session:
            session.run(pipeline_names=["pouring"])
    return project


def newest(path: Path) -> Path:
    """The newest version of a versioned catalog file (``<path>/<version>/<name>``), or ``path``
    itself when it is a plain file."""
    if path.is_dir():
        versions = sorted(p for p in path.iterdir() if (p / path.name).is_file())
        assert versions, f"{path}: no saved version"
        return versions[-1] / path.name
    return path


def dead_pid() -> int:
    """The pid of a process that has finished."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _tiny_configs():
    from carl_pipeline.augment import AugmentConfig
    from carl_pipeline.models import EncoderConfig
    from carl_pipeline.sampling import SamplingConfig

    encoder = EncoderConfig(backbone="resnet18", freeze_through="layer1", num_layers=1, hidden_size=32, num_heads=4,
                            ff_size=64, fc_channels=32, embedding_size=16, projection_hidden=16, projection_size=16,
                            train_length=8, dropout=0.0)
    return encoder, SamplingConfig(num_steps=8), AugmentConfig(image_size=32)


#: The tiny encoder, clips and inputs of the tests that train (seconds a run on a CPU).
TINY_ENCODER, TINY_SAMPLING, TINY_AUGMENT = _tiny_configs()


def damaged_loads(path: Path, load, same, positions) -> int:
    """Flip one bit of ``path`` at each of ``positions`` in turn and ``load`` it: each load either
    fails with a ``DatasetError`` naming the file (counted) or gives what ``same`` accepts (an
    assertion: never silently different data). Returns how many failed; the file is restored."""
    from kedro.io import DatasetError

    good = path.read_bytes()
    failed = 0
    for position in positions:
        data = bytearray(good)
        data[position] ^= 0x10
        path.write_bytes(bytes(data))
        try:
            loaded = load()
        except DatasetError as error:
            assert path.name in str(error)
            failed += 1
        else:
            same(loaded)
    path.write_bytes(good)
    return failed

