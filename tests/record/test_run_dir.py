"""The run folder (``carl_pipeline.record.run_dir``): checkpoints written atomically, a killed or
failed save leaves the last epoch and names the file."""

import subprocess
import sys
import textwrap

import torch

from carl_pipeline.atomic import host_name
from tests.conftest import dead_pid


def test_killed_checkpoint_and_model_saves__their_temporaries_are_removed_by_the_next_save(tmp_path):
    from kedro.io import Version

    from carl_pipeline.datasets import TorchCheckpointDataset
    from carl_pipeline.training import RunDir

    dead = f"{dead_pid()}@{host_name()}"
    run = RunDir(tmp_path / "run")
    (run.root / "checkpoints").mkdir(parents=True)
    stale_epoch = run.root / "checkpoints" / f".epoch_0003.pt.{dead}.k1ll3d.tmp"
    stale_epoch.write_bytes(b"x" * 1000)
    run.save({"w": torch.zeros(2)}, 4)
    assert [p.name for p in (run.root / "checkpoints").iterdir()] == ["epoch_0004.pt"]

    model_root = tmp_path / "carl.pt"
    killed_version = model_root / "2026-12-01T10.00.00.000Z"
    killed_version.mkdir(parents=True)
    (killed_version / f".carl.pt.{dead}.k1ll3d.tmp").write_bytes(b"x" * 1000)
    dataset = TorchCheckpointDataset(filepath=str(model_root), version=Version(None, "2026-12-01T11.00.00.000Z"))
    dataset.save({"w": torch.ones(2)})
    assert sorted(p.relative_to(model_root).as_posix() for p in model_root.rglob("*")) == [
        "2026-12-01T11.00.00.000Z", "2026-12-01T11.00.00.000Z/carl.pt"]



_SAVE_PAST_A_SIZE_LIMIT = textwrap.dedent("""
    import resource, signal, sys
    import torch
    from carl_pipeline.training import RunDir

    runs = RunDir(sys.argv[1])
    runs.save({"w": torch.zeros(10)}, 1)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing us
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
    try:
        runs.save({"w": torch.zeros(100_000)}, 2)  # 400 kB: the disk is "full" halfway through
    except OSError as error:
        print("ERROR", error)
""")



def test_checkpoint_save__an_os_error_names_the_file_and_the_cause_and_keeps_the_last_epoch(tmp_path):

    from carl_pipeline.training import RunDir

    script = tmp_path / "save.py"
    script.write_text(_SAVE_PAST_A_SIZE_LIMIT)
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "run")], check=False, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    epoch_2 = tmp_path / "run" / "checkpoints" / "epoch_0002.pt"
    assert f"ERROR [Errno 27] File too large while writing: '{epoch_2}'" in out.stdout
    assert [e for e, _ in RunDir(tmp_path / "run").checkpoints()] == [1]  # nothing half-written, epoch 1 intact
    assert torch.load(tmp_path / "run/checkpoints/epoch_0001.pt", weights_only=True)["w"].shape == (10,)
    assert sorted(p.name for p in (tmp_path / "run/checkpoints").iterdir()) == ["epoch_0001.pt"]


def test_runs__a_run_in_a_namespaces_old_folder_is_moved_into_the_shared_one(tmp_path):
    from carl_pipeline.training import RunDir

    old = tmp_path / "pouring/runs/scl-lr0.0001-seed0-697bbb94"
    (old / "checkpoints").mkdir(parents=True)
    (old / "checkpoints/epoch_0001.pt").write_bytes(b"x")
    shared = RunDir(tmp_path / "runs", namespace="pouring", legacy_root=tmp_path / "pouring/runs")
    folder = shared.run_folder("scl-lr0.0001-seed0-697bbb94")
    assert folder.root == tmp_path / "runs/scl-lr0.0001-seed0-697bbb94" and [e for e, _ in folder.checkpoints()] == [1]
    assert not old.exists() and folder.record_namespace() == ["pouring"]
    assert RunDir(tmp_path / "runs", namespace="pouring_tcc").child(folder.root.name).record_namespace() == \
        ["pouring", "pouring_tcc"]
