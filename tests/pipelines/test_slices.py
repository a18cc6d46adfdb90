"""Pipeline slices on an in-memory catalog (Kedro's spaceflights pattern): the nodes of a template
run by a runner, their inputs and outputs ``MemoryDataset``s, no session, no files."""

import json

import numpy as np
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from carl_pipeline.evaluation import EvalConfig
from carl_pipeline.ingest import build_video_index
from carl_pipeline.models import CARLEncoder, EncoderConfig
from carl_pipeline.params import EvaluateParams
from carl_pipeline.pipelines import evaluation
from carl_pipeline.pipelines.ingestion.nodes import index_videos
from carl_pipeline.training import Checkpoint

ENCODER = EncoderConfig(backbone="resnet18", freeze_through="layer1", num_layers=1, hidden_size=32, num_heads=4,
                        ff_size=64, fc_channels=32, embedding_size=16, frames_per_batch=64, train_length=8)


def _catalog(**data):
    # copy_mode assign: frame stores and checkpoints pass between nodes as they are (KEDRO_NOTES)
    return DataCatalog({name: MemoryDataset(value, copy_mode="assign") for name, value in data.items()})


def _checkpoint(seed):
    import torch

    torch.manual_seed(seed)
    return Checkpoint(model=CARLEncoder(ENCODER).state_dict(), encoder=ENCODER.to_dict(), epoch=1,
                      history=[1.0], run={"name": "in-memory", "id": "0"}).to_dict()


def test_evaluation_slice__embeds_both_encoders_and_scores_them(pouring_store):
    """The evaluation template up to ``evaluate_trained_and_untrained``: the untrained reference
    made from the model, both encoders' embeddings, and the metrics the report is made of, from
    nothing but in-memory inputs."""
    wanted = evaluation.evaluation_template().to_nodes("evaluate_trained_and_untrained")
    assert {n.name for n in wanted.nodes} == {"make_untrained_reference_model", "embed_frames_untrained",
                                               "embed_frames_trained", "evaluate_trained_and_untrained"}
    index, labels = build_video_index(pouring_store)
    params = EvaluateParams(protocol=EvalConfig(stride=1), progress=False, device="cpu", image_size=32)
    # (seed 5: the untrained reference is drawn with evaluate.untrained_seed 0)
    catalog = _catalog(model=_checkpoint(5), frame_store=pouring_store, video_index=index, frame_labels=labels,
                       metrics=None, **{"params:evaluate": params})
    SequentialRunner().run(wanted, catalog)
    metrics = catalog.load("metrics")
    assert set(metrics["trained"]) == set(metrics["untrained"]) >= {"classification@1.0", "kendalls_tau", "ap@5"}
    assert metrics["model"]["run"] == "in-memory" and metrics["trained"] != metrics["untrained"]
    assert all(np.isfinite(v) for v in metrics["trained"].values())
    json.dumps(metrics)  # what the catalog writes as metrics.json


def test_ingestion_slice__indexes_a_converted_store(pouring_store):
    """``index_videos`` on its own: the index, the per-frame labels and the report of a store
    converted elsewhere (here: by the fixture), with no raw folder at hand."""
    catalog = _catalog(frame_store=pouring_store)
    from kedro.pipeline import Node, Pipeline

    slice_ = Pipeline([Node(index_videos, inputs="frame_store", outputs=["video_index", "frame_labels", "ingest_report"])])
    SequentialRunner().run(slice_, catalog)
    index, labels, report = (catalog.load(n) for n in ("video_index", "frame_labels", "ingest_report"))
    assert report["videos"] == len(index) == len(pouring_store.video_ids())
    assert len(labels) == index["num_frames"].sum() and report["failed"] == []
