"""A timm ViT as CARL's backbone (MV-Former's setting): built with random weights or from a local
file through timm's pretrained-config overlay (never a download), frozen or trained, and CARL's
encoder trains and embeds on it."""

import pytest
import torch

from carl_pipeline.augment import AugmentConfig
from carl_pipeline.embedding import extract_embeddings
from carl_pipeline.losses import LossConfig
from carl_pipeline.models import BackboneWeightsError, CARLEncoder, EncoderConfig
from carl_pipeline.models.vit import build_vit
from carl_pipeline.training import (
    OptimConfig,
    RunDir,
    SamplingConfig,
    TrainSettings,
    load_encoder,
    train,
)

SMALL = dict(backbone="vit_tiny_patch16_224", freeze_through="all", num_layers=1, hidden_size=32, num_heads=4,
             ff_size=64, fc_channels=32, embedding_size=16, projection_hidden=16, projection_size=16,
             train_length=4, frames_per_batch=8)


def test_vit_backbone__frozen_embeds_any_frame_size_and_only_the_head_trains():
    torch.manual_seed(0)
    model = CARLEncoder(EncoderConfig(**SMALL))
    assert not any(p.requires_grad for p in model.frozen.parameters()) and len(model.trained) == 0
    frames = torch.randn(2, 4, 3, 32, 32)
    features = model.backbone_features(frames)
    assert features.shape == (2, 4, 192)  # the CLS token of a ViT-Tiny, whatever the frame size
    assert model.backbone_features(torch.randn(1, 2, 3, 48, 48)).shape == (1, 2, 192)
    model.train()
    loss = model(frames, project=True).square().sum()
    loss.backward()
    assert all(p.grad is None for p in model.frozen.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.embedder.parameters())


def test_vit_backbone__trained_when_not_frozen():
    model = CARLEncoder(EncoderConfig(**{**SMALL, "freeze_through": None}))
    assert len(model.frozen) == 0 and all(p.requires_grad for p in model.trained.parameters())
    model(torch.randn(1, 4, 3, 32, 32)).sum().backward()
    assert any(p.grad is not None for p in model.trained.parameters())


def test_vit_backbone__weights_from_a_local_file_only(tmp_path):
    torch.manual_seed(1)
    source = build_vit("vit_tiny_patch16_224", "all", None)[0][0].vit
    path = tmp_path / "vit_tiny.pth"
    torch.save(source.state_dict(), path)
    loaded = CARLEncoder(EncoderConfig(**{**SMALL, "backbone_weights": "vit_tiny.pth", "backbone_dir": str(tmp_path)}))
    for name, tensor in source.state_dict().items():
        torch.testing.assert_close(loaded.frozen[0].vit.state_dict()[name], tensor)
    with pytest.raises(BackboneWeightsError, match="missing.pth: .* weights for vit_tiny_patch16_224 not found"):
        CARLEncoder(EncoderConfig(**{**SMALL, "backbone_weights": str(tmp_path / "missing.pth")}))
    other = tmp_path / "small.pth"
    torch.save(build_vit("vit_small_patch16_224", "all", None)[0][0].vit.state_dict(), other)
    with pytest.raises(BackboneWeightsError, match="do not fit"):
        CARLEncoder(EncoderConfig(**{**SMALL, "backbone_weights": str(other)}))


def test_vit_backbone__refuses_a_resnet_stage_and_unknown_names():
    with pytest.raises(ValueError, match="freeze_through"):
        CARLEncoder(EncoderConfig(**{**SMALL, "freeze_through": "layer3"}))
    with pytest.raises(ValueError, match="not a timm model"):
        CARLEncoder(EncoderConfig(**{**SMALL, "backbone": "vit_nonexistent_patch3"}))


def test_vit_backbone__carl_trains_on_it_and_embeds_every_frame(pouring_store, tmp_path):
    ids = pouring_store.video_ids()[:4]
    config = EncoderConfig(**SMALL)
    checkpoint = train(str(pouring_store.root), ids, TrainSettings(config, SamplingConfig(num_steps=4), AugmentConfig(image_size=32), OptimConfig(epochs=2, batch_size=2, lr=1e-3, warmup_epochs=0, progress=False, seed=0), loss=LossConfig(), device="cpu"), RunDir(tmp_path / "runs"))
    assert checkpoint.encoder["backbone"] == "vit_tiny_patch16_224" and len(checkpoint.history) == 2
    assert all(torch.isfinite(torch.tensor(checkpoint.history)))
    embeddings = extract_embeddings(load_encoder(checkpoint), pouring_store, ids[:2], 32, device="cpu", progress=False)
    assert [e.shape for e in embeddings.values()] == [(len(pouring_store.open(v)), 16) for v in ids[:2]]
