"""A frozen backbone's feature cache: the features are the backbone's on the neutral view,
training on them gives the embeddings the frozen backbone gives with augmentation off, a rerun
reads them instead of computing them, and another backbone never reads them."""

import dataclasses

import numpy as np
import pytest
import torch

from carl_pipeline.augment import AugmentConfig, apply_view_params, neutral_view
from carl_pipeline.embedding.features import FeatureCache
from carl_pipeline.losses import LossConfig
from carl_pipeline.models import CARLEncoder, EncoderConfig
from carl_pipeline.training import OptimConfig, RunDir, SamplingConfig, TrainSettings, train
from carl_pipeline.training.step import Learner

VIT = EncoderConfig(backbone="vit_tiny_patch16_224", freeze_through="all", num_layers=1, hidden_size=32, num_heads=4,
                    ff_size=64, fc_channels=32, embedding_size=16, projection_hidden=16, projection_size=16,
                    train_length=8, frames_per_batch=16)
AUGMENT = AugmentConfig(image_size=32)


def _neutral_frames(store, video_id, indices):
    pack = store.open(video_id)
    return apply_view_params(pack.read(np.asarray(indices)), neutral_view(pack.header.height, pack.header.width), AUGMENT)


def test_feature_cache__the_frozen_backbones_features_once_and_never_another_backbones(pouring_store, tmp_path):
    torch.manual_seed(0)
    model = CARLEncoder(VIT).eval()
    ids = pouring_store.video_ids()[:2]
    cache = FeatureCache(tmp_path / "features")
    features = cache.features(model, pouring_store, ids, AUGMENT, progress=False)
    for video_id in ids:
        n = len(pouring_store.open(video_id))
        expected = model.backbone_features(_neutral_frames(pouring_store, video_id, range(n))[None])[0]
        assert features[video_id].shape == (n, 192)
        np.testing.assert_allclose(features[video_id], expected.detach().numpy(), rtol=1e-5, atol=1e-5)
    files = sorted((tmp_path / "features").rglob("*.npy"))
    stamps = [f.stat().st_mtime_ns for f in files]
    cache.features(model, pouring_store, ids, AUGMENT, progress=False)  # a rerun reads, computes nothing
    assert [f.stat().st_mtime_ns for f in files] == stamps
    torch.manual_seed(1)
    other = CARLEncoder(VIT)  # other weights: another key, computed anew
    cache.features(other, pouring_store, ids[:1], AUGMENT, progress=False)
    assert len(list((tmp_path / "features").iterdir())) == 2
    assert cache.key(model, 32) != cache.key(model, 64)
    with pytest.raises(ValueError, match="whole backbone frozen"):
        cache.features(CARLEncoder(dataclasses.replace(VIT, freeze_through=None)), pouring_store, ids, AUGMENT)


def test_feature_cache__training_on_it_embeds_as_the_frozen_backbone_without_augmentation(pouring_store, tmp_path):
    torch.manual_seed(0)
    learner = Learner(CARLEncoder(VIT), LossConfig(), None).eval()
    video_id = pouring_store.video_ids()[0]
    steps = [0, 1, 2, 4, 5, 7, 8, 9]  # the tiny videos have 10 frames
    features = FeatureCache(tmp_path).features(learner.encoder, pouring_store, [video_id], AUGMENT, progress=False)
    cached = torch.from_numpy(np.ascontiguousarray(features[video_id][steps]))[None]  # (1, T, C)
    frames = _neutral_frames(pouring_store, video_id, steps)[None]  # (1, T, 3, S, S)
    masks = torch.ones(1, len(steps))
    with torch.no_grad():
        torch.testing.assert_close(learner(cached, masks), learner(frames, masks), rtol=1e-4, atol=1e-5)


def test_feature_cache__a_run_trains_on_it_and_is_another_run(pouring_store, tmp_path):
    ids = pouring_store.video_ids()[:4]
    optim = OptimConfig(epochs=2, batch_size=2, lr=1e-3, warmup_epochs=0, progress=False, seed=0, feature_cache=True)
    cache = FeatureCache(tmp_path / "features")
    cached = train(str(pouring_store.root), ids, TrainSettings(VIT, SamplingConfig(num_steps=8), AUGMENT, optim, loss=LossConfig(), device="cpu"), RunDir(tmp_path / "runs"), feature_cache=cache)
    assert len(cached.history) == 2 and np.isfinite(cached.history).all()
    assert len(list((tmp_path / "features").rglob("*.npy"))) == 4
    assert cached.run_record.identity["optim"]["feature_cache"] is True
    direct = train(str(pouring_store.root), ids, TrainSettings(VIT, SamplingConfig(num_steps=8), AUGMENT, dataclasses.replace(optim, epochs=1, feature_cache=False), loss=LossConfig(), device="cpu"), RunDir(tmp_path / "runs"))
    assert "feature_cache" not in direct.run_record.identity["optim"]  # runs without it keep their ids
    with pytest.raises(ValueError, match="whole backbone frozen"):
        train(str(pouring_store.root), ids, TrainSettings(dataclasses.replace(VIT, freeze_through=None), SamplingConfig(num_steps=8), AUGMENT, optim, device="cpu"), RunDir(tmp_path / "runs"), feature_cache=cache)
