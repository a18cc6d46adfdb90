import numpy as np
import pytest
import torch

from carl_pipeline.augment import AugmentConfig
from carl_pipeline.ingest import ConversionPlan, plan_pouring, run_conversion
from carl_pipeline.losses import LossConfig
from carl_pipeline.models import CARLEncoder, EncoderConfig
from carl_pipeline.training import (
    RunDir,
    SamplingConfig,
    TrainConfig,
    TwoViewDataset,
    collate,
    load_encoder,
    lr_schedule,
    train,
)
from carl_pipeline.training.loop import compute_loss
from carl_pipeline.video import FrameStore

ENCODER = EncoderConfig(backbone="resnet18", freeze_through="layer1", num_layers=1, hidden_size=32, num_heads=4,
                        ff_size=64, fc_channels=32, embedding_size=16, projection_hidden=16, projection_size=16,
                        train_length=8, dropout=0.0)
SAMPLING = SamplingConfig(num_steps=8)
AUGMENT = AugmentConfig(image_size=32)


@pytest.fixture(scope="module")
def store(tiny_raw, tmp_path_factory):
    jobs, _ = plan_pouring(tiny_raw / "pouring")
    store = FrameStore(tmp_path_factory.mktemp("train") / "frames")
    run_conversion(ConversionPlan(tuple(jobs), progress=False), store)
    return store


def _fixed_batch_loss(model, store, ids, config):
    dataset = TwoViewDataset(str(store.root), ids, SAMPLING, AUGMENT, seed=123)
    batch = collate([dataset[(i, 0)] for i in range(len(ids))])
    model.eval()
    with torch.no_grad():
        frames = batch["frames"]
        embeddings = model(frames.flatten(0, 1), batch["masks"].flatten(0, 1), project=True)
        return compute_loss(embeddings.unflatten(0, frames.shape[:2]), batch, config).item()


@pytest.mark.parametrize("algorithm", ["scl", "tcc"])
def test_training__a_few_steps_reduce_the_loss(store, tmp_path, algorithm):
    ids = store.video_ids()
    # A narrow target (variance 1) on these short clips: with the paper's variance of 10 the
    # target over 8 frames is almost uniform and an untrained model already matches it.
    config = TrainConfig(epochs=10, batch_size=2, lr=1e-3, warmup_epochs=0, checkpoint_every=100,
                         progress=False, seed=0)
    loss = LossConfig(algorithm=algorithm, variance=1.0)
    torch.manual_seed(0)
    before = _fixed_batch_loss(CARLEncoder(ENCODER), store, ids, loss)
    checkpoint = train(str(store.root), ids, ENCODER, SAMPLING, AUGMENT, config, RunDir(tmp_path / "run"), device="cpu",
                       loss_config=loss)
    after = _fixed_batch_loss(load_encoder(checkpoint), store, ids, loss)
    assert after < before, (before, after)
    assert len(checkpoint["history"]) == 10 and checkpoint["skipped_steps"] == 0
    assert checkpoint["encoder"]["train_length"] == 8 and checkpoint["loss"]["algorithm"] == algorithm
    assert (tmp_path / "run" / "tensorboard").is_dir() and any((tmp_path / "run" / "tensorboard").iterdir())


def test_training__resume_continues_from_the_saved_epoch(store, tmp_path):
    ids = store.video_ids()
    run = RunDir(tmp_path / "run")
    config = TrainConfig(epochs=2, batch_size=2, checkpoint_every=1, progress=False)
    first = train(str(store.root), ids, ENCODER, SAMPLING, AUGMENT, config, run, device="cpu")
    assert [e for e, _ in run.checkpoints()] == [1, 2]
    longer = TrainConfig(epochs=3, batch_size=2, checkpoint_every=1, progress=False)
    resumed = train(str(store.root), ids, ENCODER, SAMPLING, AUGMENT, longer, run, device="cpu")
    assert resumed["history"][:2] == first["history"] and len(resumed["history"]) == 3
    assert resumed["step"] == first["step"] * 3 // 2  # one more epoch of the same length
    assert [e for e, _ in run.checkpoints()] == [2, 3]  # keeps the newest two
    # a finished run resumed again does no more work
    again = train(str(store.root), ids, ENCODER, SAMPLING, AUGMENT, longer, run, device="cpu")
    assert again["history"] == resumed["history"] and again["step"] == resumed["step"]


def test_training__resume_refuses_another_architecture(store, tmp_path):
    ids = store.video_ids()
    run = RunDir(tmp_path / "run")
    train(str(store.root), ids, ENCODER, SAMPLING, AUGMENT, TrainConfig(epochs=1, batch_size=2, progress=False), run, device="cpu")
    other = EncoderConfig(**{**ENCODER.to_dict(), "embedding_size": 8})
    with pytest.raises(ValueError, match=r"epoch_0001\.pt: checkpoint of another architecture.*embedding_size"):
        train(str(store.root), ids, other, SAMPLING, AUGMENT, TrainConfig(epochs=2, batch_size=2, progress=False), run, device="cpu")


def test_training__resume_accepts_a_checkpoint_written_before_new_encoder_fields(store, tmp_path):
    """A run folder from before ``transformer`` / ``backbone_dir`` existed resumes (they held their
    defaults then); a moved weights folder (``backbone_dir``) is not another architecture."""
    ids = store.video_ids()
    run = RunDir(tmp_path / "run")
    train(str(store.root), ids, ENCODER, SAMPLING, AUGMENT, TrainConfig(epochs=1, batch_size=2, progress=False), run, device="cpu")
    saved = torch.load(run.latest(), weights_only=True)
    saved["encoder"] = {k: v for k, v in saved["encoder"].items() if k not in ("transformer", "backbone_dir")}
    torch.save(saved, run.latest())
    moved = EncoderConfig(**{**ENCODER.to_dict(), "backbone_dir": str(tmp_path / "elsewhere")})
    resumed = train(str(store.root), ids, moved, SAMPLING, AUGMENT, TrainConfig(epochs=2, batch_size=2, progress=False),
                    run, device="cpu")
    assert len(resumed["history"]) == 2 and resumed["history"][0] == saved["history"][0]


def test_training__same_seed_same_weights(store, tmp_path):
    ids = store.video_ids()
    config = TrainConfig(epochs=1, batch_size=2, progress=False, seed=5)
    a = train(str(store.root), ids, ENCODER, SAMPLING, AUGMENT, config, RunDir(tmp_path / "a"), device="cpu")
    b = train(str(store.root), ids, ENCODER, SAMPLING, AUGMENT, config, RunDir(tmp_path / "b"), device="cpu")
    for key in a["model"]:
        torch.testing.assert_close(a["model"][key], b["model"][key])


def test_lr_schedule__warmup_then_cosine_to_zero():
    lr = lr_schedule(100, 10, 1e-3)
    assert lr[0] == pytest.approx(1e-4) and lr[9] == pytest.approx(1e-3)
    assert np.all(np.diff(lr[10:]) <= 0) and lr[-1] < 1e-6


def test_dataset__views_come_from_the_video_and_repeat_per_epoch(store):
    ids = store.video_ids()
    dataset = TwoViewDataset(str(store.root), ids, SAMPLING, AUGMENT, seed=0)
    a, b, c = dataset[(0, 0)], dataset[(0, 0)], dataset[(0, 1)]
    assert a["frames"].shape == (2, 8, 3, 32, 32)
    assert torch.equal(a["frames"], b["frames"]) and not torch.equal(a["steps"], c["steps"])
    raw = TwoViewDataset(str(store.root), ids, SAMPLING, AUGMENT, seed=0, augment_in_loader=False)[(0, 0)]
    pack = store.open(ids[0])
    assert torch.equal(raw["frames"][1], pack.read(raw["steps"][1].clamp(0, len(pack) - 1).numpy()))


def test_pretrain_backbone__simclr_on_frames_gives_weights_the_encoder_starts_from(store):
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
