import numpy as np
import pytest
import torch

from carl_pipeline.embedding import embeddings_table, extract_embeddings, untrained_checkpoint
from carl_pipeline.ingest import build_video_index
from carl_pipeline.models import CARLEncoder, EncoderConfig
from carl_pipeline.training import load_encoder

CONFIG = EncoderConfig(backbone="resnet18", freeze_through="layer1", num_layers=1, hidden_size=32, num_heads=4,
                       ff_size=64, fc_channels=32, embedding_size=16, projection_hidden=16, projection_size=16,
                       train_length=8, frames_per_batch=5)


@pytest.fixture(scope="module")
def store(penn_action_store):
    return penn_action_store


def test_extraction__every_frame_deterministic_and_chunking_does_not_matter(store):
    torch.manual_seed(0)
    model = CARLEncoder(CONFIG)
    ids = store.video_ids()
    first = extract_embeddings(model, store, ids, 32, device="cpu", progress=False)
    second = extract_embeddings(model, store, ids, 32, device="cpu", progress=False)
    whole = CARLEncoder(EncoderConfig(**{**CONFIG.to_dict(), "frames_per_batch": 1000}))
    whole.load_state_dict(model.state_dict())
    unchunked = extract_embeddings(whole, store, ids, 32, device="cpu", progress=False)
    for video_id in ids:
        assert first[video_id].shape == (len(store.open(video_id)), 16)
        np.testing.assert_array_equal(first[video_id], second[video_id])
        np.testing.assert_allclose(first[video_id], unchunked[video_id], atol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(first[video_id], axis=1), 1.0, atol=1e-5)


def test_extraction__bf16_on_a_cpu_only_when_asked_and_near_float32(store):
    from carl_pipeline.embedding import embedding_dtype

    cpu = torch.device("cpu")
    assert [embedding_dtype(p, cpu) for p in ("auto", "fp16", "fp32")] == [None] * 3  # scores compare across CPUs
    assert embedding_dtype("bf16", cpu) == torch.bfloat16
    torch.manual_seed(0)
    model = CARLEncoder(CONFIG)
    ids = store.video_ids()[:2]
    exact = extract_embeddings(model, store, ids, 32, device="cpu", progress=False)
    fast = extract_embeddings(model, store, ids, 32, device="cpu", progress=False, precision="bf16")
    for video_id in ids:
        assert fast[video_id].dtype == np.float32 and not np.array_equal(fast[video_id], exact[video_id])  # bf16 ran
        assert (fast[video_id] * exact[video_id]).sum(axis=1).min() > 0.98  # the same embedding, rounded


def test_embeddings_table__one_row_per_frame_with_labels(store):
    index, labels = build_video_index(store)
    model = CARLEncoder(CONFIG)
    embeddings = extract_embeddings(model, store, index["video_id"].tolist(), 32, device="cpu", progress=False)
    table = embeddings_table(embeddings, index, labels)
    assert len(table) == index["num_frames"].sum()
    assert list(table.columns) == ["video_id", "split", "action", "dataset_order", "frame_index", "phase", "embedding"]
    merged = table.merge(labels, on=["video_id", "frame_index"], suffixes=("", "_source"))
    assert len(merged) == len(table) and (merged["phase"] == merged["phase_source"]).all()
    assert table["video_id"].drop_duplicates().tolist() == index["video_id"].tolist()  # index order


def test_untrained_checkpoint__same_architecture_other_weights():
    model = CARLEncoder(CONFIG)
    checkpoint = {"model": model.state_dict(), "encoder": CONFIG.to_dict(), "history": [1.0], "epoch": 3,
                  "loss": {"algorithm": "scl"}, "augment": {"image_size": 32}}
    untrained = untrained_checkpoint(checkpoint, seed=1)
    rebuilt = load_encoder(untrained)
    assert rebuilt.config == CONFIG and untrained.untrained and untrained.history == []
    assert not torch.equal(untrained.model["embedder.to_embedding.weight"], checkpoint["model"]["embedder.to_embedding.weight"])
    assert torch.equal(untrained_checkpoint(checkpoint, seed=1).model["embedder.to_embedding.weight"],
                       untrained.model["embedder.to_embedding.weight"])


def test_pixel_reference__one_unit_vector_per_frame_that_tells_frames_apart(pouring_store):
    """The raw-pixel reference (metrics.json: pixels): each frame framed as the encoder sees it, a
    side x side grey image, centred and L2-normalised."""
    from carl_pipeline.embedding.pixels import pixel_embeddings

    ids = pouring_store.video_ids()[:2]
    features = pixel_embeddings(pouring_store, ids, image_size=32, framing="resize_crop", side=8, progress=False)
    for video_id in ids:
        x = features[video_id]
        assert x.shape == (len(pouring_store.open(video_id)), 64) and x.dtype == np.float32
        assert np.allclose(np.linalg.norm(x, axis=1), 1, atol=1e-5) and np.allclose(x.mean(axis=1), 0, atol=1e-6)
        assert np.linalg.matrix_rank(x) > 1  # frames differ: not one vector repeated
