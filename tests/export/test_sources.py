"""Opening any model (videos.model): project checkpoints, run folders, released files, exports."""

import dataclasses
import os

import pytest
import torch

from carl_pipeline.export import (
    ExportedModel,
    ExportMismatchError,
    ModelSourceError,
    export_config,
    load_exported,
    model_card,
    open_model,
    save_exported,
)
from carl_pipeline.export.hub import public_address
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


def _metrics_of(checkpoint: Checkpoint, with_digest: bool = True) -> dict:
    model = {"run": checkpoint.run_record.name, "epochs": checkpoint.epoch}
    if with_digest:
        model["weights"] = checkpoint.weights_digest()
    return {"trained": {"progression": 0.9}, "untrained": {"progression": 0.4}, "model": model}


def test_export__refuses_scores_of_another_run_naming_both(tmp_path):
    """Train seed 0 and evaluate, train seed 1 and do not evaluate, export: the scores are seed 0's."""
    from carl_pipeline.export import export_model

    evaluated = _checkpoint(0)
    newer = dataclasses.replace(_checkpoint(1), run={"id": "beef5678", "name": "scl-lr0.0001-seed1-beef5678"})
    with pytest.raises(ExportMismatchError, match=r"pouring.metrics holds the scores of run scl-lr0.0001-seed0-abcd1234 "
                                                  r"\(epoch 3\), but the model to export is run scl-lr0.0001-seed1-beef5678.*"
                                                  r"kedro run --pipelines=evaluate_pouring"):
        export_model(newer, _metrics_of(evaluated), "resize_crop", "pouring")
    # the same run and epoch, other weights (a file replaced by hand): the digest tells them apart
    with pytest.raises(ExportMismatchError, match="weights"):
        export_model(dataclasses.replace(newer, run=evaluated.run), _metrics_of(evaluated), "resize_crop", "pouring")
    # a metrics.json written before digests: run and epoch must agree
    with pytest.raises(ExportMismatchError, match="no weights digest"):
        export_model(newer, _metrics_of(evaluated, with_digest=False), "resize_crop", "pouring")
    exported = export_model(evaluated, _metrics_of(evaluated), "resize_crop", "pouring")
    assert exported.config["scores"]["trained"] == {"progression": 0.9}
    export_model(evaluated, _metrics_of(evaluated, with_digest=False), "resize_crop", "pouring")


def test_export__readable_by_others_as_a_normal_write_is(tmp_path):
    checkpoint = _checkpoint()
    config = export_config(checkpoint, "resize_crop", {}, "pouring")
    old = os.umask(0o022)
    try:
        save_exported(ExportedModel(checkpoint, config, model_card(config)), tmp_path / "exported")
    finally:
        os.umask(old)
    assert (tmp_path / "exported").stat().st_mode & 0o777 == 0o755
    assert {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "exported").iterdir()} == {
        "README.md": 0o644, "config.json": 0o644, "model.safetensors": 0o644}


def test_a_checkpoint_whose_settings_disagree_with_its_weights_is_an_error_naming_the_file(tmp_path):
    checkpoint = _checkpoint()
    torch.save({**checkpoint.to_dict(), "encoder": {**checkpoint.encoder, "hidden_size": 32}}, tmp_path / "carl.pt")
    with pytest.raises(ValueError, match=r"carl.pt: its weights do not fit the encoder settings stored with them "
                                         r"\(.*size mismatch"):
        load_encoder(open_model(tmp_path / "carl.pt"))


def test_model_card__hugging_face_fields_structured_scores_code_version_and_a_synthetic_data_warning():
    """What Hugging Face's model card guide asks for, parsed by huggingface_hub itself (locally)."""
    from huggingface_hub import ModelCard

    checkpoint = _checkpoint()
    scores = {"trained": {"classification@0.1": 0.5, "progression": 0.9}, "untrained": {"progression": 0.4},
              "pixels": {"progression": 0.6}}
    config = export_config(checkpoint, "resize_crop", scores, "finegym_gym99", synthetic_data=True)
    assert config["code_version"]["package"] and config["synthetic_data"] is True
    card = ModelCard(model_card(config))
    data = card.data
    assert (data.license, data.library_name, data.pipeline_tag, data.datasets) == \
        ("mit", "carl-pipeline", "feature-extraction", ["finegym"])
    assert "synthetic-data" in data.tags
    results = {(r.metric_type, r.metric_value, r.dataset_split, r.dataset_name) for r in data.eval_results}
    assert results == {("classification@0.1", 0.5, "validation", "finegym_gym99"),
                       ("progression", 0.9, "validation", "finegym_gym99")}
    text = card.text
    assert "Trained on synthetic data" in text and "## Intended uses and limitations" in text
    assert "@inproceedings{chen2022framewise" in text and "| progression | 0.900 | 0.400 | 0.600 |" in text
    assert f"git commit `{config['code_version']['git_commit'] or 'unknown'}`" in text
    real = ModelCard(model_card(export_config(checkpoint, "resize_crop", scores, "pouring")))
    assert "Trained on synthetic data" not in real.text and "synthetic-data" not in real.data.tags
    # the repository it came from, as its git remote says, never with the credentials in it
    config["code_version"]["repository"] = public_address("https://someone:token@github.com/lab/carl-pipeline.git")
    assert "in its repository, https://github.com/lab/carl-pipeline)" in model_card(config)
    assert public_address("git@github.com:lab/carl-pipeline.git") == "https://github.com/lab/carl-pipeline"
    assert public_address("/home/me/carl") is None and public_address("") is None
    config["code_version"]["repository"] = None
    assert "no public address was recorded" in model_card(config)
