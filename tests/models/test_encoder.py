import pytest
import torch

from carl_pipeline.models import (
    BackboneWeightsError,
    CARLEncoder,
    EncoderConfig,
    load_backbone_weights,
    sincos_position_encoding,
)

SMALL = dict(backbone="resnet18", freeze_through="layer2", num_layers=1, hidden_size=32, num_heads=4, ff_size=64,
             fc_channels=32, embedding_size=16, projection_hidden=16, projection_size=8, train_length=8)


def test_encoder__chunked_and_unchunked_forward_agree():
    torch.manual_seed(0)
    model = CARLEncoder(EncoderConfig(**SMALL, frames_per_batch=3)).eval()
    frames = torch.randn(2, 8, 3, 32, 32)
    masks = torch.ones(2, 8)
    masks[1, 6:] = 0
    chunked = model(frames, masks)
    whole = CARLEncoder(EncoderConfig(**SMALL, frames_per_batch=100)).eval()
    whole.load_state_dict(model.state_dict())
    torch.testing.assert_close(chunked, whole(frames, masks), atol=1e-5, rtol=1e-5)
    assert chunked.shape == (2, 8, 16)
    torch.testing.assert_close(chunked.norm(dim=-1), torch.ones(2, 8))


def test_encoder__projection_head_and_frozen_stages():
    model = CARLEncoder(EncoderConfig(**SMALL)).train()
    out = model(torch.randn(2, 8, 3, 32, 32), project=True)
    assert out.shape == (2, 8, 8)
    out.sum().backward()
    assert all(p.grad is None for p in model.frozen.parameters())
    assert all(not m.training for m in model.frozen.modules())  # frozen BatchNorm keeps its statistics
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.trained.parameters())


def test_encoder__padded_frames_do_not_change_valid_outputs():
    torch.manual_seed(0)
    model = CARLEncoder(EncoderConfig(**SMALL)).eval()
    frames = torch.randn(1, 8, 3, 32, 32)
    masks = torch.ones(1, 8)
    masks[0, 5:] = 0
    other = frames.clone()
    other[0, 5:] = torch.randn(3, 3, 32, 32)
    torch.testing.assert_close(model(frames, masks)[0, :5], model(other, masks)[0, :5], atol=1e-5, rtol=1e-5)


def test_position_encoding__rescaled_for_other_lengths():
    trained = sincos_position_encoding(8, 16, train_length=8)
    longer = sincos_position_encoding(15, 16, train_length=8)
    torch.testing.assert_close(longer[0], trained[0])
    torch.testing.assert_close(longer[-1], trained[-1])


@pytest.mark.parametrize("prefix", ["", "online_network.encoder.", "module.backbone."])
def test_backbone_weights__torchvision_and_byol_layouts_load(tmp_path, prefix):
    import torchvision

    source = torchvision.models.resnet18(weights=None)
    state = {prefix + k: v for k, v in source.state_dict().items()}
    path = tmp_path / "weights.pth"
    torch.save({"state_dict": state} if prefix else state, path)
    target = torchvision.models.resnet18(weights=None)
    target._carl_name = "resnet18"
    load_backbone_weights(target, str(path))
    torch.testing.assert_close(target.conv1.weight, source.conv1.weight)


def test_backbone_weights__missing_and_mismatched_files_are_named(tmp_path):
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    with pytest.raises(BackboneWeightsError, match="nope.pth: backbone weights file does not exist"):
        load_backbone_weights(model, str(tmp_path / "nope.pth"))
    torch.save({"something.else": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(BackboneWeightsError, match="other.pth: holds no"):
        load_backbone_weights(model, str(tmp_path / "other.pth"))


def test_config__bad_values_say_what_to_change():
    with pytest.raises(ValueError, match="freeze_through"):
        EncoderConfig(freeze_through="layer5")
    with pytest.raises(ValueError, match="divisible"):
        EncoderConfig(hidden_size=30, num_heads=8)
    with pytest.raises(ValueError, match="input_norm"):
        EncoderConfig(input_norm="video")


@pytest.mark.parametrize("input_norm", ["none", "frame"])
def test_input_norm__frame_standardisation_makes_a_video_of_other_colours_embed_alike(input_norm):
    # A video drawn in other colours and contrast (a per-channel gain and offset, as a different
    # figure and background colour give): the same embeddings with input_norm "frame", other ones
    # without it.
    torch.manual_seed(0)
    model = CARLEncoder(EncoderConfig(**SMALL, input_norm=input_norm)).eval()
    frames = torch.randn(1, 8, 3, 32, 32)
    gain, offset = torch.tensor([0.3, 2.0, 1.2])[:, None, None], torch.tensor([0.5, -1.0, 0.2])[:, None, None]
    # What the backbone sees of each frame (the embedding adds the frame's position, the same in both).
    same, recoloured = model.backbone_features(frames), model.backbone_features(frames * gain + offset)
    difference = ((same - recoloured).norm() / same.norm()).item()
    if input_norm == "frame":
        assert difference < 0.05  # not 0: the variance floor keeps a faint channel from being amplified fully
    else:
        assert difference > 0.2
    assert model(frames).shape == (1, 8, 16)


def test_backbone_weights__named_choices_load_from_local_files_only(tmp_path, monkeypatch):
    """imagenet_v1 is torchvision's V1 file under its own name (what the released code loads),
    imagenet_v2 the V2 file, byol <backbone>_byol.pth, all in backbone_dir; a missing file is an
    error naming the file expected, never a download."""
    import torchvision

    from carl_pipeline.models.backbone import resolve_weights_file

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(BackboneWeightsError, match=r"backbones/resnet50-0676ba61\.pth or .*hub/checkpoints/resnet50-0676ba61\.pth"):
        resolve_weights_file("resnet50", "imagenet_v1", tmp_path / "backbones")
    with pytest.raises(BackboneWeightsError, match=r"resnet50-11ad3fa6\.pth"):
        resolve_weights_file("resnet50", "imagenet_v2", tmp_path / "backbones")
    with pytest.raises(BackboneWeightsError, match=r"backbones/resnet50_byol\.pth: byol weights for resnet50 not found"):
        resolve_weights_file("resnet50", "byol", tmp_path / "backbones")
    with pytest.raises(BackboneWeightsError, match="no IMAGENET1K_V2 weights for resnet18"):
        resolve_weights_file("resnet18", "imagenet_v2", tmp_path / "backbones")
    with pytest.raises(BackboneWeightsError, match="imagenet_v1"):
        resolve_weights_file("resnet18", "imagenet", tmp_path / "backbones")

    source = torchvision.models.resnet18(weights=None)
    (tmp_path / "backbones").mkdir()
    torch.save(source.state_dict(), tmp_path / "backbones" / "resnet18-f37072fd.pth")  # V1's file name
    model = CARLEncoder(EncoderConfig(**{**SMALL, "backbone_weights": "imagenet_v1",
                                         "backbone_dir": str(tmp_path / "backbones")}))
    torch.testing.assert_close(model.frozen[0][0].weight, source.conv1.weight)
    torch.save({"online_network.encoder." + k: v for k, v in source.state_dict().items()},
               tmp_path / "backbones" / "resnet18_byol.pth")
    model = CARLEncoder(EncoderConfig(**{**SMALL, "backbone_weights": "byol", "backbone_dir": str(tmp_path / "backbones")}))
    torch.testing.assert_close(model.frozen[0][0].weight, source.conv1.weight)


def test_speed_up__channels_last_and_compile_change_neither_the_outputs_nor_the_names():
    from carl_pipeline.models import CARLEncoder, EncoderConfig

    config = EncoderConfig(backbone="resnet18", freeze_through="layer2", num_layers=1, hidden_size=32, num_heads=4,
                           ff_size=64, fc_channels=32, embedding_size=16, projection_hidden=16, projection_size=16,
                           train_length=4, dropout=0.0)
    torch.manual_seed(0)
    plain = CARLEncoder(config).eval()
    fast = CARLEncoder(config)
    fast.load_state_dict(plain.state_dict())
    fast.speed_up(channels_last=True, compile_backend="eager").eval()
    assert list(fast.state_dict()) == list(plain.state_dict())  # checkpoints load either way
    frames = torch.randn(2, 4, 3, 32, 32)
    torch.testing.assert_close(fast(frames), plain(frames), rtol=1e-4, atol=1e-5)
    # training through it: the frozen stages run under inference_mode, the trained ones get gradients
    fast.train()
    fast(frames, project=True).sum().backward()
    assert all(p.grad is None for p in fast.frozen.parameters())
    assert all(p.grad is not None for p in fast.trained.parameters())
