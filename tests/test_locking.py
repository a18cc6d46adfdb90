"""One writer per run folder and frame store (``carl_pipeline.locking``): stale locks of dead
processes are taken over, fresh ones never removed, two identical runs train once."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from carl_pipeline.atomic import host_name
from tests.conftest import dead_pid


def test_lock__a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    from carl_pipeline.locking import LockTimeout, exclusive_lock

    (tmp_path / ".lock").write_text(json.dumps({"pid": dead_pid(), "host": host_name(), "what": "training"}))
    with exclusive_lock(tmp_path, "test", timeout_s=5):
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
        # held by a live process (this one): another writer waits, then says who holds it
        with pytest.raises(LockTimeout, match=rf"pid {os.getpid()} on {host_name()}"):
            with exclusive_lock(tmp_path, "second", timeout_s=0.2, poll_s=0.05):
                pass
    assert not (tmp_path / ".lock").exists()



def test_lock__two_waiters_that_judged_one_dead_lock_stale_never_remove_each_others_fresh_lock(tmp_path):
    """Waiters A and B both read the dead holder's lock and judge it stale; A takes it over first
    and holds a fresh lock; B's takeover, acting on its earlier judgement, must leave A's lock."""
    from carl_pipeline.locking import _observe, _take_over, exclusive_lock

    lock = tmp_path / ".lock"
    lock.write_text(json.dumps({"pid": dead_pid(), "host": host_name(), "what": "training"}))
    judged_by_b = _observe(lock)
    with exclusive_lock(tmp_path, "A", timeout_s=5):  # A takes the stale lock over
        held_by_a = lock.read_text()
        assert json.loads(held_by_a)["what"] == "A"
        assert _take_over(lock, judged_by_b) is False  # B, late
        assert lock.read_text() == held_by_a  # A still holds it, and no one else could take it
    assert not lock.exists() and sorted(p.name for p in tmp_path.iterdir()) == []



_TRAIN_ONE = textwrap.dedent("""
    import logging, sys, torch
    from carl_pipeline.augment import AugmentConfig
    from carl_pipeline.models import EncoderConfig
    from carl_pipeline.training import RunDir, SamplingConfig, OptimConfig, TrainSettings, train
    from carl_pipeline.video import FrameStore

    messages = []
    class Keep(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())
    logging.getLogger("carl_pipeline").addHandler(Keep())
    logging.getLogger("carl_pipeline").setLevel(logging.INFO)
    store, runs, out = sys.argv[1:4]
    encoder = EncoderConfig(backbone="resnet18", freeze_through="layer1", num_layers=1, hidden_size=32,
                            num_heads=4, ff_size=64, fc_channels=32, embedding_size=16, projection_hidden=16,
                            projection_size=16, train_length=8, dropout=0.0)
    settings = TrainSettings(encoder, SamplingConfig(num_steps=8), AugmentConfig(image_size=32),
                             OptimConfig(epochs=2, batch_size=2, progress=False), device="cpu")
    checkpoint = train(store, FrameStore(store).video_ids(), settings, RunDir(runs))
    torch.save({"model": checkpoint.model, "messages": messages}, out)
""")



def test_two_identical_training_runs_started_together_train_once(pouring_store, tmp_path):
    import torch

    script = tmp_path / "train_one.py"
    script.write_text(_TRAIN_ONE)
    runs = tmp_path / "runs"
    processes = [subprocess.Popen([sys.executable, str(script), str(pouring_store.root), str(runs),
                                   str(tmp_path / f"out{i}.pt")]) for i in range(2)]
    assert [p.wait(timeout=600) for p in processes] == [0, 0]
    outs = [torch.load(tmp_path / f"out{i}.pt", weights_only=True) for i in range(2)]
    messages = [m for out in outs for m in out["messages"]]
    assert sum("a new run" in m for m in messages) == 1
    assert sum("resuming from" in m and "(epoch 2 of 2)" in m for m in messages) == 1
    assert any("is being written by pid" in m for m in messages)  # the second said whom it waited for
    assert all(torch.equal(outs[0]["model"][k], outs[1]["model"][k]) for k in outs[0]["model"])
    assert [p.name for p in runs.iterdir()] and not any(runs.rglob(".lock"))
