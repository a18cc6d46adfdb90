"""CARL training learns the phases: on Pouring-style videos generated from a seed the shipped demo
does not use, a short run beats the same architecture untrained on phase classification by a
margin (issue 9). Replace the training by no training and this fails.

Small sizes: the demo's encoder (frames standardised, ``input_norm: frame``) and sampling
(``conf/base/globals.yml``) at 64 px, 16 training and 10 validation videos, 40 epochs (320 steps):
about 85 s on a 2-core CPU. At this size the margins are +0.08 on classification@1.0, +0.07 on
AP@5 and +0.22 on progression (the demo's, at 96 px and 20 validation videos: +0.24, +0.25, +0.18).
"""

import pytest

from carl_pipeline.augment import AugmentConfig
from carl_pipeline.embedding.extract import (
    embeddings_table,
    extract_embeddings,
    untrained_checkpoint,
)
from carl_pipeline.evaluation import EvalConfig, evaluate_table
from carl_pipeline.ingest import ConversionPlan, build_video_index, plan_pouring, run_conversion
from carl_pipeline.losses import LossConfig
from carl_pipeline.models import EncoderConfig
from carl_pipeline.synthetic import generate_pouring
from carl_pipeline.training import RunDir, SamplingConfig, TrainConfig, load_encoder, train
from carl_pipeline.video import FrameStore

SIZE = 64
STEPS = 32  # frames per view, the demo's
ENCODER = EncoderConfig(backbone="resnet18", num_layers=2, hidden_size=128, num_heads=4, ff_size=256,
                        fc_channels=256, embedding_size=128, projection_hidden=128, projection_size=128,
                        train_length=STEPS, dropout=0.1, frames_per_batch=64, input_norm="frame")


@pytest.fixture(scope="module")
def unseen_pouring(tmp_path_factory):
    """Pouring-style videos from a seed the shipped demo does not use, ingested."""
    root = tmp_path_factory.mktemp("learning")
    generate_pouring(root / "raw", counts={"train": 16, "val": 10}, frames=(40, 64), size=(SIZE, SIZE), seed=11)
    jobs, failures = plan_pouring(root / "raw")
    store = FrameStore(root / "frames")
    run_conversion(ConversionPlan(tuple(jobs), progress=False, failures=tuple(failures)), store)
    index, labels = build_video_index(store)
    return store, index, labels


def _scores(checkpoint, store, index, labels) -> dict[str, float]:
    embeddings = extract_embeddings(load_encoder(checkpoint), store, list(index["video_id"]), SIZE, device="cpu",
                                    progress=False)
    return evaluate_table(embeddings_table(embeddings, index, labels), EvalConfig(fractions=(1.0,), ks=(5,)))


def test_carl_training__beats_the_untrained_encoder_on_unseen_pouring_videos(unseen_pouring, tmp_path):
    store, index, labels = unseen_pouring
    training_ids = list(index.loc[index["split"] == "train", "video_id"])
    checkpoint = train(str(store.root), training_ids, ENCODER, SamplingConfig(num_steps=STEPS, window="shifted"),
                       AugmentConfig(image_size=SIZE), TrainConfig(epochs=40, batch_size=2, lr=3e-4, progress=False),
                       RunDir(tmp_path / "run"), device="cpu", loss_config=LossConfig())
    trained = _scores(checkpoint, store, index, labels)
    untrained = _scores(untrained_checkpoint(checkpoint), store, index, labels)
    margins = {k: round(trained[k] - untrained[k], 3) for k in trained}
    assert margins["classification@1.0"] >= 0.05, (trained, untrained)
    assert margins["ap@5"] >= 0.0, (trained, untrained)
    assert margins["progression"] >= 0.0, (trained, untrained)
