import json
from dataclasses import asdict

import numpy as np
import pytest
import torch

from carl_pipeline.losses import LossConfig
from carl_pipeline.models import CARLEncoder, EncoderConfig
from carl_pipeline.training import (
    SCHEMA_VERSION,
    Checkpoint,
    OptimConfig,
    RunDir,
    TrainSettings,
    TwoViewDataset,
    collate,
    load_encoder,
    read_checkpoint,
    train,
)
from carl_pipeline.training.step import Learner, compute_loss
from tests.conftest import TINY_AUGMENT, TINY_ENCODER, TINY_SAMPLING

ENCODER, SAMPLING, AUGMENT = TINY_ENCODER, TINY_SAMPLING, TINY_AUGMENT


@pytest.fixture(scope="module")
def store(pouring_store):
    return pouring_store


def _phase_labels(store, ids):
    """Four phases of equal length per video: enough for the supervised reference to learn."""
    return {v: (np.arange(len(store.open(v))) * 4 // len(store.open(v))).astype(np.int64) for v in ids}


def _fixed_batch_loss(learner, store, ids, config):
    dataset = TwoViewDataset(str(store.root), ids, SAMPLING, AUGMENT, seed=123, layout=config.clip_layout,
                             labels=_phase_labels(store, ids) if config.uses_labels else None)
    batch = collate([dataset[(i, 0)] for i in range(len(ids))])
    # Batch statistics, as in training (dropout is 0): running statistics of a few tiny batches
    # say little, and SimCLR's loss is the one most sensitive to them.
    learner.train()
    with torch.no_grad():
        frames = batch["frames"]
        outputs = learner(frames.flatten(0, 1), batch["masks"].flatten(0, 1))
        return compute_loss(outputs.unflatten(0, frames.shape[:2]), batch, config).item()


def test_training__gtcc_trains_every_step_and_moves_the_weights(store, tmp_path):
    """GTCC is not in the loss-reduction test above: on these 8-frame clips its objective is
    dominated by its random draws (each row's cycle-back window, forwards or backwards), and over
    10-30 epochs the loss on a fixed batch, averaged over 8 draws, rose on 3 of 6 seeds and
    settings (measured when it was added). What holds: every step is finite and trains."""
    ids = store.video_ids()
    loss = LossConfig.from_dict({"algorithm": "gtcc", "projection": False, "gtcc": {"mixture_fit": "batched"}})
    config = OptimConfig(epochs=3, batch_size=2, lr=1e-3, warmup_epochs=0, checkpoint_every=100, progress=False, seed=0)
    checkpoint = train(str(store.root), ids, TrainSettings(ENCODER, SAMPLING, AUGMENT, config, loss=loss, device="cpu"), RunDir(tmp_path / "runs"))
    assert len(checkpoint.history) == 3 and np.isfinite(checkpoint.history).all() and checkpoint.skipped_steps == 0
    learner = Learner.from_checkpoint(checkpoint).train()
    batch = collate([TwoViewDataset(str(store.root), ids, SAMPLING, AUGMENT, layout=loss.clip_layout)[(i, 0)]
                     for i in range(2)])
    frames = batch["frames"]
    compute_loss(learner(frames.flatten(0, 1), batch["masks"].flatten(0, 1)).unflatten(0, frames.shape[:2]), batch,
                 loss).backward()
    assert sum(p.grad.abs().sum() for p in learner.encoder.embedder.parameters() if p.grad is not None) > 0


@pytest.mark.parametrize("algorithm,settings", [
    ("scl", {}), ("tcc", {}), ("tcc", {"tcc": {"cycle": "views"}}),
    ("tcn", {"projection": False}), ("simclr", {}), ("lav", {"projection": False}), ("vava", {"projection": False}),
    ("supervised", {})])
def test_training__a_few_steps_reduce_the_loss(store, tmp_path, algorithm, settings):
    ids = store.video_ids()
    # A narrow target (variance 1) on these short clips: with the paper's variance of 10 the
    # target over 8 frames is almost uniform and an untrained model already matches it.
    config = OptimConfig(epochs=10, batch_size=2, lr=1e-3, warmup_epochs=0, checkpoint_every=100,
                         progress=False, seed=0)
    loss = LossConfig.from_dict({"algorithm": algorithm, "scl": {"variance": 1.0}, **settings})
    labels = _phase_labels(store, ids) if loss.uses_labels else None
    torch.manual_seed(0)
    before = _fixed_batch_loss(Learner(CARLEncoder(ENCODER), loss, 4 if labels else None), store, ids, loss)
    checkpoint = train(str(store.root), ids, TrainSettings(ENCODER, SAMPLING, AUGMENT, config, loss=loss, device="cpu"), RunDir(tmp_path / "runs"), labels=labels)
    after = _fixed_batch_loss(Learner.from_checkpoint(checkpoint), store, ids, loss)
    assert after < before, (before, after)
    assert len(checkpoint.history) == 10 and checkpoint.skipped_steps == 0
    assert checkpoint.encoder["train_length"] == 8 and checkpoint.loss["algorithm"] == algorithm
    assert (checkpoint.head is not None) == (algorithm == "supervised")  # only the reference has a classifier
    tensorboard = RunDir(checkpoint.run["folder"]).tensorboard  # each run logs to its own folder
    assert tensorboard.is_dir() and any(tensorboard.iterdir())


def _run_folders(root):
    return sorted(p.name for p in root.iterdir() if p.is_dir())


def _checkpoint_files(folder):
    return {p.name: p.stat().st_mtime_ns for p in (folder / "checkpoints").iterdir()}


def test_training__rerun_resumes_only_its_own_run_and_other_settings_start_a_new_one(store, tmp_path):
    ids = store.video_ids()
    runs = RunDir(tmp_path / "runs")
    config = OptimConfig(epochs=2, batch_size=2, checkpoint_every=1, progress=False)
    first = train(str(store.root), ids, TrainSettings(ENCODER, SAMPLING, AUGMENT, config, device="cpu"), runs)
    first_folder = tmp_path / "runs" / first.run["name"]
    assert first.run["folder"] == str(first_folder) and [e for e, _ in RunDir(first_folder).checkpoints()] == [1, 2]
    assert json.loads((first_folder / "identity.json").read_text())["optim"]["lr"] == config.lr
    before = _checkpoint_files(first_folder)

    # Another learning rate, another seed: each trains a run of its own, recording what made it.
    for changed in (OptimConfig(**{**asdict(config), "lr": 1e-3}), OptimConfig(**{**asdict(config), "seed": 7})):
        other = train(str(store.root), ids, TrainSettings(ENCODER, SAMPLING, AUGMENT, changed, device="cpu"), runs)
        assert other.run["id"] != first.run["id"] and len(other.history) == 2
        assert other.optim["lr"] == changed.lr and other.optim["seed"] == changed.seed
        assert other.history != first.history
        assert any(not torch.equal(other.model[k], first.model[k]) for k in first.model)
    # ... and another loss, another architecture.
    tcc = train(str(store.root), ids, TrainSettings(ENCODER, SAMPLING, AUGMENT, config, loss=LossConfig(algorithm="tcc"), device="cpu"), runs)
    assert tcc.run["name"].startswith("tcc-") and tcc.loss["algorithm"] == "tcc"
    smaller = EncoderConfig(**{**ENCODER.to_dict(), "embedding_size": 8})
    assert train(str(store.root), ids, TrainSettings(smaller, SAMPLING, AUGMENT, config, device="cpu"), runs).run["id"] not in \
        (first.run["id"], tcc.run["id"])
    assert len(_run_folders(tmp_path / "runs")) == 5
    assert _checkpoint_files(first_folder) == before  # the first run was never touched

    # The same settings: resumes the finished run and does no more work.
    again = train(str(store.root), ids, TrainSettings(ENCODER, SAMPLING, AUGMENT, config, device="cpu"), runs)
    assert again.run["id"] == first.run["id"] and again.history == first.history
    assert again.step == first.step and _checkpoint_files(first_folder) == before
    # Settings that do not change the result do not split runs.
    cosmetic = OptimConfig(**{**asdict(config), "checkpoint_every": 5, "num_workers": 0, "device": "cpu"})
    assert train(str(store.root), ids, TrainSettings(ENCODER, SAMPLING, AUGMENT, cosmetic, device="cpu"), runs).run["id"] == \
        first.run["id"]

    # Equal run ids mean equal weights: "2 epochs, then ask for 3" and "3 from scratch" are one
    # run (the cosine schedule spans the epochs, so the 2-epoch run is not a prefix of it), and the
    # 2-epoch run is still there, untouched.
    longer = OptimConfig(**{**asdict(config), "epochs": 3})
    extended = train(str(store.root), ids, TrainSettings(ENCODER, SAMPLING, AUGMENT, longer, device="cpu"), runs)
    assert extended.run["id"] != first.run["id"] and len(extended.history) == 3
    scratch_runs = RunDir(tmp_path / "scratch_runs")
    scratch = train(str(store.root), ids, TrainSettings(ENCODER, SAMPLING, AUGMENT, longer, device="cpu"), scratch_runs)
    assert scratch.run["id"] == extended.run["id"]
    assert all(torch.equal(scratch.model[k], extended.model[k]) for k in scratch.model)
    assert _checkpoint_files(first_folder) == before


def test_training__other_training_data_is_another_run(store, tmp_path):
    ids = store.video_ids()
    config = OptimConfig(epochs=1, batch_size=2, progress=False)
    runs = RunDir(tmp_path / "runs")
    every = train(str(store.root), ids, TrainSettings(ENCODER, SAMPLING, AUGMENT, config, device="cpu"), runs)
    fewer = train(str(store.root), ids[:-1], TrainSettings(ENCODER, SAMPLING, AUGMENT, config, device="cpu"), runs)
    assert every.run["identity"]["data"] != fewer.run["identity"]["data"]
    assert every.run["id"] != fewer.run["id"]


def test_training__a_run_stopped_after_2_of_4_epochs_and_resumed_ends_with_the_same_weights(store, tmp_path):
    """Dropout draws from torch's global generator: resuming must restore it (and NumPy's,
    Python's), not reseed it, for the weights to come out the same."""
    ids = store.video_ids()
    encoder = EncoderConfig(**{**ENCODER.to_dict(), "dropout": 0.3})
    config = OptimConfig(epochs=4, batch_size=2, checkpoint_every=1, progress=False)
    whole = train(str(store.root), ids, TrainSettings(encoder, SAMPLING, AUGMENT, config, device="cpu"), RunDir(tmp_path / "whole", keep=4))
    interrupted = RunDir(tmp_path / "interrupted", keep=4)
    train(str(store.root), ids, TrainSettings(encoder, SAMPLING, AUGMENT, config, device="cpu"), interrupted)
    folder = interrupted.child(whole.run["name"])
    for epoch, path in folder.checkpoints():
        if epoch > 2:
            path.unlink()  # as if the process had stopped after epoch 2
    torch.manual_seed(1234)  # whatever state the new process starts in
    resumed = train(str(store.root), ids, TrainSettings(encoder, SAMPLING, AUGMENT, config, device="cpu"), interrupted)
    assert resumed.history == whole.history
    for key in whole.model:
        assert torch.equal(resumed.model[key], whole.model[key]), key


def test_training__a_truncated_newest_checkpoint_is_named_and_the_older_one_resumed(store, tmp_path, caplog):
    ids = store.video_ids()
    config = OptimConfig(epochs=3, batch_size=2, checkpoint_every=1, progress=False)
    whole = train(str(store.root), ids, TrainSettings(ENCODER, SAMPLING, AUGMENT, config, device="cpu"), RunDir(tmp_path / "whole"))
    runs = RunDir(tmp_path / "interrupted", keep=3)
    train(str(store.root), ids, TrainSettings(ENCODER, SAMPLING, AUGMENT, OptimConfig(**{**asdict(config), "epochs": 3}), device="cpu"), runs)
    folder = runs.child(whole.run["name"])
    (_, third), = [(e, p) for e, p in folder.checkpoints() if e == 3]
    third.write_bytes(third.read_bytes()[:1000])  # a save killed half-way, by something other than us
    with caplog.at_level("WARNING"):
        resumed = train(str(store.root), ids, TrainSettings(ENCODER, SAMPLING, AUGMENT, config, device="cpu"), runs)
    assert any(str(third) in r.getMessage() and "does not load" in r.getMessage() for r in caplog.records)
    assert resumed.history == whole.history
    assert all(torch.equal(resumed.model[k], whole.model[k]) for k in whole.model)


def test_training__same_seed_same_weights(store, tmp_path):
    ids = store.video_ids()
    config = OptimConfig(epochs=1, batch_size=2, progress=False, seed=5)
    a = train(str(store.root), ids, TrainSettings(ENCODER, SAMPLING, AUGMENT, config, device="cpu"), RunDir(tmp_path / "a"))
    b = train(str(store.root), ids, TrainSettings(ENCODER, SAMPLING, AUGMENT, config, device="cpu"), RunDir(tmp_path / "b"))
    for key in a.model:
        torch.testing.assert_close(a.model[key], b.model[key])


def test_dataset__views_come_from_the_video_and_repeat_per_epoch(store):
    ids = store.video_ids()
    dataset = TwoViewDataset(str(store.root), ids, SAMPLING, AUGMENT, seed=0)
    a, b, c = dataset[(0, 0)], dataset[(0, 0)], dataset[(0, 1)]
    assert a["frames"].shape == (2, 8, 3, 32, 32)
    assert torch.equal(a["frames"], b["frames"]) and not torch.equal(a["steps"], c["steps"])
    raw = TwoViewDataset(str(store.root), ids, SAMPLING, AUGMENT, seed=0, augment_in_loader=False)[(0, 0)]
    pack = store.open(ids[0])
    assert torch.equal(raw["frames"][1], pack.read(raw["steps"][1].clamp(0, len(pack) - 1).numpy()))


def test_pretrain_backbone__simclr_on_frames_gives_weights_the_encoder_starts_from(store, tmp_path):
    from carl_pipeline.training import PretrainConfig, pretrain_backbone

    ids = store.video_ids()
    config = PretrainConfig(epochs=2, frames_per_step=8, progress=False, seed=1)
    result = pretrain_backbone(str(store.root), ids, "resnet18", AUGMENT, config, device="cpu")
    assert len(result["history"]) == 2 and all(np.isfinite(result["history"]))
    assert "conv1.weight" in result["state_dict"] and not any(k.startswith("fc.") for k in result["state_dict"])
    untouched = CARLEncoder(ENCODER)
    started = CARLEncoder(ENCODER, result["state_dict"])
    torch.testing.assert_close(started.frozen[0][0].weight, result["state_dict"]["conv1.weight"])
    assert not torch.allclose(untouched.frozen[0][0].weight, started.frozen[0][0].weight)
    again = pretrain_backbone(str(store.root), ids, "resnet18", AUGMENT, config, device="cpu")
    torch.testing.assert_close(again["state_dict"]["conv1.weight"], result["state_dict"]["conv1.weight"])  # seeded
    assert pretrain_backbone(str(store.root), ids, "resnet18", AUGMENT, PretrainConfig(epochs=0))["state_dict"] == {}
    # An encoder that standardises its frames gets a backbone pretrained on standardised frames.
    standardised = pretrain_backbone(str(store.root), ids, "resnet18", AUGMENT, config, device="cpu", input_norm="frame")
    assert not torch.allclose(standardised["state_dict"]["conv1.weight"], result["state_dict"]["conv1.weight"])
    with pytest.raises(ValueError, match="input_norm"):
        pretrain_backbone(str(store.root), ids, "resnet18", AUGMENT, config, input_norm="video")

    # CARL trains from it (the pipeline's path: the state, BatchNorm's 0-dim counters included,
    # is part of the run's identity), and another pretraining is another run.
    runs, config = RunDir(tmp_path / "runs"), OptimConfig(epochs=1, batch_size=2, progress=False)
    from_pretrained = train(str(store.root), ids, TrainSettings(ENCODER, SAMPLING, AUGMENT, config, device="cpu"), runs, backbone_state=result["state_dict"])
    torch.testing.assert_close(from_pretrained.model["frozen.0.0.weight"], result["state_dict"]["conv1.weight"])
    other = pretrain_backbone(str(store.root), ids, "resnet18", AUGMENT,
                              PretrainConfig(epochs=1, frames_per_step=8, progress=False, seed=2), device="cpu")
    other_run_ids = {train(str(store.root), ids, TrainSettings(ENCODER, SAMPLING, AUGMENT, config, device="cpu"), runs, backbone_state=state).run["id"]
              for state in (other["state_dict"], None)}
    assert len(other_run_ids | {from_pretrained.run["id"]}) == 3


def test_checkpoint__typed_with_a_schema_version_read_through_one_function(store, tmp_path):
    ids = store.video_ids()
    checkpoint = train(str(store.root), ids, TrainSettings(ENCODER, SAMPLING, AUGMENT, OptimConfig(epochs=1, batch_size=2, progress=False), device="cpu"), RunDir(tmp_path / "runs"))
    assert isinstance(checkpoint, Checkpoint) and checkpoint.schema_version == SCHEMA_VERSION
    on_disk = checkpoint.to_dict()
    assert "optimizer" not in on_disk and on_disk["run"]["id"] == checkpoint.run["id"]
    assert read_checkpoint(on_disk).history == checkpoint.history and read_checkpoint(checkpoint) is checkpoint
    # A file from before the schema (no version, no run) still reads; a newer one is refused by name.
    old = {k: v for k, v in on_disk.items() if k not in ("schema_version", "run", "optim")}
    old["train"] = on_disk["optim"]  # the optimiser block's name before schema version 2
    assert read_checkpoint(old).run == {} and load_encoder(old).config == ENCODER
    assert read_checkpoint(old).optim == on_disk["optim"] and read_checkpoint({**old, "schema_version": 1}).optim["lr"] > 0
    with pytest.raises(ValueError, match=r"carl\.pt: schema version 99 is newer"):
        read_checkpoint({**on_disk, "schema_version": 99}, "carl.pt")
    with pytest.raises(ValueError, match="not a CARL encoder checkpoint"):
        read_checkpoint({"state_dict": {}}, "backbone.pt")


def test_gpu_data_path__jpeg_bytes_decoded_and_augmented_on_the_device_equal_the_loaders_views(store):
    """On CUDA the loader hands over JPEG bytes and the loop decodes the batch in one call and
    augments it on the device, one step ahead (DevicePrefetcher). The same code on the CPU (no
    CUDA here) must give exactly the views the CPU loader makes with the same draws."""
    from carl_pipeline.training.data import DevicePrefetcher, decode_and_augment_on_device

    ids = store.video_ids()
    for layout in ("two_views", "anchor_positive"):
        in_loader = TwoViewDataset(str(store.root), ids, SAMPLING, AUGMENT, seed=5, layout=layout)
        as_bytes = TwoViewDataset(str(store.root), ids, SAMPLING, AUGMENT, seed=5, layout=layout,
                                  augment_in_loader=False, jpeg_on_device=True)
        expected = collate([in_loader[(i, 3)] for i in range(len(ids))])
        handed = collate([as_bytes[(i, 3)] for i in range(len(ids))])
        assert "frames" not in handed and all(j.dtype == torch.uint8 and j.dim() == 1 for j in handed["jpegs"][0])
        frames = decode_and_augment_on_device(handed, AUGMENT, torch.device("cpu"))
        torch.testing.assert_close(frames, expected["frames"])
        torch.testing.assert_close(handed["steps"], expected["steps"])
    # the prefetcher, off CUDA, prepares each batch in line and keeps their order
    batches = [collate([as_bytes[(i, e)] for i in range(2)]) for e in range(3)]
    out = list(DevicePrefetcher(batches, lambda b: decode_and_augment_on_device(b, AUGMENT, torch.device("cpu")),
                                torch.device("cpu")))
    assert [b is batch for (b, _), batch in zip(out, batches, strict=True)] == [True] * 3
    torch.testing.assert_close(out[1][1], decode_and_augment_on_device(batches[1], AUGMENT, torch.device("cpu")))


def test_sync_batchnorm__every_batchnorm_synced_and_the_optimiser_still_trains_the_same_parameters(store):
    from carl_pipeline.training.loop import sync_batchnorm

    learner = Learner(CARLEncoder(ENCODER), LossConfig(), None)
    optimiser = torch.optim.Adam([p for p in learner.parameters() if p.requires_grad])
    held = {id(p) for group in optimiser.param_groups for p in group["params"]}
    norms = sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in learner.modules())  # 2d and 1d
    synced = sync_batchnorm(learner)
    assert norms > 0 and sum(isinstance(m, torch.nn.SyncBatchNorm) for m in synced.modules()) == norms
    assert not any(type(m) in (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d) for m in synced.modules())
    assert {id(p) for p in synced.parameters() if p.requires_grad} == held
