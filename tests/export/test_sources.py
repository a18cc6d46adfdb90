"""Opening any model (videos.model): project checkpoints, run folders, released files, exports."""

import pytest
import torch

from carl_pipeline.export import (
    ExportedModel,
    ModelSourceError,
    export_config,
    load_exported,
    model_card,
    open_model,
    save_exported,
)
from carl_pipeline.models import CARLEncoder, EncoderConfig
from carl_pipeline.training import Checkpoint, load_encoder
from tests.models.test_released import HEADS, TRAIN_LEN, _released_state_dict


def _checkpoint(seed=0) -> Checkpoint:
    config = EncoderConfig(backbone="resnet18", freeze_through="layer2", num_layers=1, hidden_size=16, num_heads=4,
                           ff_size=32, fc_channels=16, embedding_size=8, projection_hidden=8, projection_size=8,
                           input_norm="frame")
    torch.manual_seed(seed)
    return Checkpoint(model=CARLEncoder(config).state_dict(), encoder=config.to_dict(), augment={"image_size": 32},
                      epoch=3, history=[1.0, 0.5, 0.25],
                      run={"id": "abcd1234", "name": "scl-lr0.0001-seed0-abcd1234", "identity": {"data": "f00d"}})


def _same_outputs(a: Checkpoint, b: Checkpoint) -> bool:
    frames = torch.rand(1, 6, 3, 32, 32)
    return torch.equal(load_encoder(a)(frames), load_encoder(b)(frames))


def test_open_model__file_versioned_folder_and_run_folder(tmp_path):
    first, second = _checkpoint(0), _checkpoint(1)
    torch.save(first.to_dict(), tmp_path / "carl.pt")
    assert _same_outputs(open_model(tmp_path / "carl.pt"), first)
    versioned = tmp_path / "models" / "carl.pt"
    for version, checkpoint in (("2026-01-01T00.00.00.000Z", first), ("2026-02-01T00.00.00.000Z", second)):
        (versioned / version).mkdir(parents=True)
        torch.save(checkpoint.to_dict(), versioned / version / "carl.pt")
    assert _same_outputs(open_model(versioned), second)  # the newest version
    (tmp_path / "runs" / "scl-run" / "checkpoints").mkdir(parents=True)
    torch.save({**second.to_dict(), "optimizer": {"state": {}, "param_groups": []}},
               tmp_path / "runs" / "scl-run" / "checkpoints" / "epoch_0003.pt")
    opened = open_model(tmp_path / "runs" / "scl-run")
    assert _same_outputs(opened, second) and opened.optimizer is None  # the resume-only parts dropped


def test_open_model__released_file_and_clear_errors(tmp_path):
    path = tmp_path / "released.pth"
    cfg = {"IMAGE_SIZE": 32, "MODEL": {"EMBEDDER_MODEL": {"NUM_HEADS": HEADS}}, "TRAIN": {"NUM_FRAMES": TRAIN_LEN}}
    torch.save({"epoch": 300, "model_state": _released_state_dict(), "cfg": cfg}, path)
    opened = open_model(path)
    assert opened.encoder["transformer"] == "released" and opened.image_size == 32
    assert opened.released_checkpoint == str(path)
    with pytest.raises(ModelSourceError, match="no such model"):
        open_model(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelSourceError, match="junk.pt: neither a project checkpoint nor a released"):
        open_model(tmp_path / "junk.pt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelSourceError, match="empty: a folder holding no model"):
        open_model(tmp_path / "empty")


def test_export__saved_whole_reloaded_identical_with_a_card(tmp_path):
    checkpoint = _checkpoint()
    scores = {"trained": {"progression": 0.9}, "untrained": {"progression": 0.4}}
    config = export_config(checkpoint, "resize_crop", scores, "pouring")
    save_exported(ExportedModel(checkpoint, config, model_card(config)), tmp_path / "exported")
    assert sorted(p.name for p in (tmp_path / "exported").iterdir()) == ["README.md", "config.json", "model.safetensors"]
    reloaded = load_exported(tmp_path / "exported")
    assert _same_outputs(reloaded, checkpoint) and reloaded.framing == "resize_crop"
    assert reloaded.run["id"] == "abcd1234" and reloaded.history == checkpoint.history
    assert _same_outputs(open_model(tmp_path / "exported"), checkpoint)  # usable as videos.model
    card = (tmp_path / "exported" / "README.md").read_text()
    assert "| progression | 0.900 | 0.400 |" in card and "f00d" in card and "abcd1234" in card
    assert [p.name for p in tmp_path.iterdir()] == ["exported"]  # no staging folder left behind
    with pytest.raises(ValueError, match="not an exported model"):
        load_exported(tmp_path)
