"""Released CARL checkpoints (minghchen/CARL_code ``TransformerModel``) in the project's encoder."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision

from carl_pipeline.models import CARLEncoder
from carl_pipeline.models.released import (
    ReleasedCheckpointError,
    convert_released_state_dict,
    load_released_checkpoint,
)
from carl_pipeline.training import load_encoder

FC, HIDDEN, HEADS, FF, LAYERS, EMBED, TRAIN_LEN = 32, 32, 4, 64, 2, 16, 8


def _released_state_dict(seed=0):
    """Key names and shapes of the released TransformerModel (small widths), random values."""
    generator = torch.Generator().manual_seed(seed)
    res50 = torchvision.models.resnet50(weights=None)
    children = list(res50.children())
    state = {}
    for index in (0, 1, 4, 5, 6):  # conv1, bn1, layer1..layer3
        for key, value in children[index].state_dict().items():
            state[f"backbone.{index}.{key}"] = value.clone()
    for key, value in children[7].state_dict().items():  # layer4
        state[f"res_finetune.{key}"] = value.clone()
    for key in list(state):  # random statistics too, so that BatchNorm is exercised
        if key.endswith(("running_mean", "running_var", "bn1.weight", "bn2.weight", "bn3.weight")):
            state[key] = torch.rand(state[key].shape, generator=generator) + 0.5

    def rnd(*shape, scale=0.2):
        return torch.randn(*shape, generator=generator) * scale

    channels = 2048
    for i, index in enumerate((1, 5)):
        state[f"embed.fc_layers.{index}.weight"] = rnd(FC, channels if i == 0 else FC, scale=0.05)
        state[f"embed.fc_layers.{index}.bias"] = rnd(FC)
        bn = f"embed.fc_layers.{index + 1}"
        state.update({f"{bn}.weight": 1 + rnd(FC), f"{bn}.bias": rnd(FC), f"{bn}.running_mean": rnd(FC),
                      f"{bn}.running_var": torch.rand(FC, generator=generator) + 0.5,
                      f"{bn}.num_batches_tracked": torch.tensor(7)})
    state["embed.video_emb.weight"], state["embed.video_emb.bias"] = rnd(HIDDEN, FC), rnd(HIDDEN)
    for layer in range(LAYERS):
        prefix = f"embed.video_encoder.enc_layers.{layer}"
        for norm in ("res_layer0.norm", "res_layer1.norm"):
            state[f"{prefix}.{norm}.weight"], state[f"{prefix}.{norm}.bias"] = 1 + rnd(HIDDEN), rnd(HIDDEN)
        for proj in ("linear_Q2d", "linear_K2d", "linear_V2d", "linear_d2Q"):
            state[f"{prefix}.self_att.{proj}.weight"] = rnd(HIDDEN, HIDDEN)
            state[f"{prefix}.self_att.{proj}.bias"] = rnd(HIDDEN)
        state[f"{prefix}.feed_forward.fc1.weight"], state[f"{prefix}.feed_forward.fc1.bias"] = rnd(FF, HIDDEN), rnd(FF)
        state[f"{prefix}.feed_forward.fc2.weight"], state[f"{prefix}.feed_forward.fc2.bias"] = rnd(HIDDEN, FF), rnd(HIDDEN)
    state["embed.embedding_layer.weight"], state["embed.embedding_layer.bias"] = rnd(EMBED, HIDDEN), rnd(EMBED)
    state["ssl_projection.net.0.weight"], state["ssl_projection.net.0.bias"] = rnd(128, EMBED), rnd(128)
    state.update({"ssl_projection.net.1.weight": 1 + rnd(128), "ssl_projection.net.1.bias": rnd(128),
                  "ssl_projection.net.1.running_mean": rnd(128), "ssl_projection.net.1.running_var": torch.ones(128),
                  "ssl_projection.net.1.num_batches_tracked": torch.tensor(0)})
    state["ssl_projection.net.3.weight"], state["ssl_projection.net.3.bias"] = rnd(EMBED, 128), rnd(EMBED)
    return state


def _sincos(seq_len, d_model, train_len):
    """generate_sincos_embedding of the released models/transformer.py, transcribed."""
    odds, evens = np.arange(0, d_model, 2), np.arange(1, d_model, 2)
    table = np.zeros((seq_len, d_model))
    positions = np.arange(seq_len) if seq_len == train_len else np.linspace(0, train_len - 1, num=seq_len)
    for i, pos in enumerate(positions):
        table[i, odds] = np.sin(pos / (10000 ** (odds / d_model)))
        table[i, evens] = np.cos(pos / (10000 ** (evens / d_model)))
    return torch.from_numpy(table).float()[None]


def _released_forward(state, frames, masks):
    """The released TransformerModel.forward in eval mode (dropout off), written from its
    description: ResNet-50 to layer3 then layer4, max pool, [Linear, BatchNorm, ReLU] x 2,
    video_emb, + sine-cosine positions, pre-LayerNorm layers (attention with masked keys,
    ReLU feed-forward), embedding_layer, L2 normalisation."""
    res50 = torchvision.models.resnet50(weights=None)
    backbone = torch.nn.Sequential(*list(res50.children())[:-3])
    finetune = list(res50.children())[-3]
    backbone.load_state_dict({k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")})
    finetune.load_state_dict({k[len("res_finetune."):]: v for k, v in state.items() if k.startswith("res_finetune.")})
    backbone.eval(), finetune.eval()
    b, t, c, h, w = frames.shape
    with torch.no_grad():
        x = finetune(backbone(frames.view(b * t, c, h, w)))
    x = torch.flatten(F.adaptive_max_pool2d(x, 1), 1)
    for index in (1, 5):
        x = F.linear(x, state[f"embed.fc_layers.{index}.weight"], state[f"embed.fc_layers.{index}.bias"])
        bn = f"embed.fc_layers.{index + 1}"
        x = F.relu(F.batch_norm(x, state[f"{bn}.running_mean"], state[f"{bn}.running_var"],
                                state[f"{bn}.weight"], state[f"{bn}.bias"], training=False, eps=1e-5))
    x = F.linear(x, state["embed.video_emb.weight"], state["embed.video_emb.bias"]).view(b, t, -1)
    x = x + _sincos(t, HIDDEN, TRAIN_LEN)
    for layer in range(LAYERS):
        p = f"embed.video_encoder.enc_layers.{layer}"
        res = F.layer_norm(x, (HIDDEN,), state[f"{p}.res_layer0.norm.weight"], state[f"{p}.res_layer0.norm.bias"])
        q, k, v = (F.linear(res, state[f"{p}.self_att.linear_{n}2d.weight"], state[f"{p}.self_att.linear_{n}2d.bias"])
                   .view(b, -1, HEADS, HIDDEN // HEADS).transpose(-3, -2) for n in "QKV")
        scores = q.matmul(k.transpose(-1, -2)) / np.sqrt(HIDDEN // HEADS)
        scores = scores.masked_fill(masks.view(b, 1, 1, t) == 0, -float("inf"))
        out = F.softmax(scores, dim=-1).matmul(v).transpose(-3, -2).contiguous().view(b, t, HIDDEN)
        x = x + F.linear(out, state[f"{p}.self_att.linear_d2Q.weight"], state[f"{p}.self_att.linear_d2Q.bias"])
        res = F.layer_norm(x, (HIDDEN,), state[f"{p}.res_layer1.norm.weight"], state[f"{p}.res_layer1.norm.bias"])
        res = F.linear(F.relu(F.linear(res, state[f"{p}.feed_forward.fc1.weight"], state[f"{p}.feed_forward.fc1.bias"])),
                       state[f"{p}.feed_forward.fc2.weight"], state[f"{p}.feed_forward.fc2.bias"])
        x = x + res
    x = F.linear(x, state["embed.embedding_layer.weight"], state["embed.embedding_layer.bias"])
    return F.normalize(x, dim=-1)


def test_released_checkpoint__converted_encoder_gives_the_released_embeddings(tmp_path):
    state = _released_state_dict()
    path = tmp_path / "checkpoint_epoch_00300.pth"
    torch.save({"epoch": 300, "model_state": {"module." + k: v for k, v in state.items()}, "optimizer_state": {}}, path)
    checkpoint = load_released_checkpoint(path, num_heads=HEADS, train_length=TRAIN_LEN)
    model = load_encoder(checkpoint)
    assert model.config.transformer == "released" and model.config.num_layers == LAYERS
    generator = torch.Generator().manual_seed(1)
    frames = torch.randn(2, 10, 3, 32, 32, generator=generator)  # 10 frames: positions rescaled to T = 8
    masks = torch.ones(2, 10)
    masks[1, 7:] = 0
    ours = model(frames, masks)
    theirs = _released_forward(state, frames, masks)
    torch.testing.assert_close(ours, theirs, atol=2e-4, rtol=1e-3)
    wrong_heads = load_encoder(load_released_checkpoint(path, num_heads=2, train_length=TRAIN_LEN))
    assert not torch.allclose(wrong_heads(frames, masks), theirs, atol=1e-3)  # the comparison can fail


def _small_config():
    from carl_pipeline.models import EncoderConfig

    return EncoderConfig(backbone="resnet18", freeze_through="layer2", num_layers=1, hidden_size=16, num_heads=4,
                         ff_size=32, fc_channels=16, embedding_size=8, projection_hidden=8, projection_size=8)


def test_released_checkpoint__other_files_get_a_clear_error(tmp_path):
    with pytest.raises(ReleasedCheckpointError, match="nope.pth: released checkpoint file does not exist"):
        load_released_checkpoint(tmp_path / "nope.pth")
    # a checkpoint of this project is not a released one
    torch.save({"model": CARLEncoder(_small_config()).state_dict()}, tmp_path / "ours.pt")
    with pytest.raises(ReleasedCheckpointError, match="ours.pt: not a released CARL TransformerModel"):
        load_released_checkpoint(tmp_path / "ours.pt")
    (tmp_path / "text.pth").write_text("hello")
    with pytest.raises(ReleasedCheckpointError, match="text.pth: not a readable torch checkpoint"):
        load_released_checkpoint(tmp_path / "text.pth")
    state = _released_state_dict()
    state["embed.video_emb.weight"] = torch.zeros(HIDDEN, FC + 1)
    with pytest.raises(ReleasedCheckpointError, match="does not fit"):
        convert_released_state_dict(state, num_heads=HEADS, train_length=TRAIN_LEN, source="x.pth")


def test_released_checkpoint__its_easydict_config_reads_without_running_code(tmp_path):
    from easydict import EasyDict

    cfg = EasyDict({"IMAGE_SIZE": 48, "MODEL": {"EMBEDDER_MODEL": {"NUM_HEADS": HEADS}},
                    "TRAIN": {"NUM_FRAMES": TRAIN_LEN}, "DATASETS": ["pouring"]})
    path = tmp_path / "checkpoint_epoch_00300.pth"  # as the released save_checkpoint writes it
    torch.save({"epoch": 300, "model_state": _released_state_dict(), "optimizer_state": {}, "cfg": cfg}, path)
    checkpoint = load_released_checkpoint(path)
    assert checkpoint["augment"]["image_size"] == 48 and checkpoint["encoder"]["num_heads"] == HEADS
    assert checkpoint["encoder"]["train_length"] == TRAIN_LEN


class _WritesAMarker:
    """What a hostile checkpoint holds: unpickling it calls ``exec`` (pickle's ``__reduce__``)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('ran')",)


@pytest.mark.parametrize("protocol", [2, 4])
def test_released_checkpoint__a_crafted_file_runs_nothing_and_is_refused_naming_it(tmp_path, protocol):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pth"
    torch.save({"epoch": 1, "model_state": _released_state_dict(), "cfg": _WritesAMarker(marker)}, path,
               pickle_protocol=protocol)
    with pytest.raises(ReleasedCheckpointError, match="evil.pth: not a readable torch checkpoint"):
        load_released_checkpoint(path)
    assert not marker.exists()
