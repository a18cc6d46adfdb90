"""The table of training algorithms is the only place that lists them: a new loss is its
function and one row, and then it trains, is scored and sits in the comparison."""

import pytest
import torch

from carl_pipeline.embedding import embeddings_table, extract_embeddings, untrained_checkpoint
from carl_pipeline.evaluation import EvalConfig
from carl_pipeline.evaluation.comparison import compare_methods
from carl_pipeline.evaluation.report import evaluation_report
from carl_pipeline.ingest import build_video_index
from carl_pipeline.losses import (
    Algorithm,
    LossConfig,
    algorithm_names,
    algorithms,
    get_algorithm,
    register,
)
from carl_pipeline.models import EncoderConfig
from carl_pipeline.params import EvaluateParams, TrainParams
from carl_pipeline.training import RunDir, TrainSettings, load_encoder, train
from carl_pipeline.training.baselines import baseline_settings, default_changes

ENCODER = EncoderConfig(backbone="resnet18", freeze_through="layer1", num_layers=1, hidden_size=32, num_heads=4,
                        ff_size=64, fc_channels=32, embedding_size=16, frames_per_batch=64, train_length=8)


def _smoothness_loss(outputs, batch, config, amp_dtype):
    """A toy loss: consecutive valid frames of a clip embed close together. ``outputs`` ``(B, V, T, D)``."""
    masks = batch["masks"]
    pairs = masks[..., 1:] * masks[..., :-1]
    gaps = (outputs[..., 1:, :] - outputs[..., :-1, :]).square().sum(-1)
    return (gaps * pairs).sum() / pairs.sum().clamp_min(1)


def test_a_new_loss__one_row_and_it_trains_is_scored_and_compared(pouring_store, tmp_path, monkeypatch):
    monkeypatch.setattr(algorithms, "_ALGORITHMS", dict(algorithms._ALGORITHMS))  # the row leaves with the test
    register(Algorithm("smooth", "Smoothness (toy)", _smoothness_loss, "one_view"))
    assert algorithm_names()[-1] == "smooth" and LossConfig(algorithm="smooth").clip_layout == "one_view"

    model = {k: v for k, v in ENCODER.to_dict().items() if k != "train_length"}
    train_params = TrainParams(model=model, sampling={"num_steps": 8}, augment={"image_size": 32}, loss={},
                               optim={"epochs": 1, "batch_size": 2, "progress": False, "device": "cpu"})
    index, labels = build_video_index(pouring_store)
    ids = index.loc[index["split"] == "train", "video_id"].tolist()
    evaluate = EvaluateParams(protocol=EvalConfig(stride=1), progress=False)
    metrics, models = {}, {}
    for algorithm in ("scl", "smooth"):
        settings = train_params if algorithm == "scl" else baseline_settings(train_params, default_changes("smooth"))
        assert settings.loss.algorithm == algorithm
        checkpoint = train(str(pouring_store.root), ids, TrainSettings(settings.model, settings.sampling, settings.augment, settings.optim, loss=settings.loss), RunDir(tmp_path / "runs"))
        assert checkpoint.algorithm == algorithm and torch.isfinite(torch.tensor(checkpoint.history)).all()
        tables = [embeddings_table(extract_embeddings(load_encoder(c), pouring_store, index["video_id"].tolist(), 32, device="cpu",
                                                      progress=False), index, labels)
                  for c in (checkpoint, untrained_checkpoint(checkpoint))]
        metrics[algorithm] = evaluation_report(*tables, checkpoint.to_dict(), evaluate.protocol)
        models[algorithm] = checkpoint.to_dict()
    comparison = compare_methods(**{f"{a}_{what}": (metrics if what == "metrics" else models)[a]
                                    for a in metrics for what in ("metrics", "model")})
    assert comparison["methods"] == ["untrained", "CARL (SCL)", "Smoothness (toy)", "constant 0.5", "relative time"]
    assert set(comparison["scores"]["Smoothness (toy)"]) == set(comparison["metrics"])


def test_algorithm_table__unknown_names_and_layouts_are_refused():
    with pytest.raises(ValueError, match="algorithm must be one of \\('scl', 'tcc', 'tcn', 'simclr', 'lav', 'vava', 'gtcc', 'supervised'"):
        get_algorithm("moco")
    with pytest.raises(ValueError, match="layout must be one of"):
        register(Algorithm("bad", "Bad", _smoothness_loss, "three_views"))
