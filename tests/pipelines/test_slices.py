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
    made from the model, both encoders' embeddings, the raw-pixel reference, and the metrics the
    report is made of, from nothing but in-memory inputs."""
    wanted = evaluation.evaluation_template().to_nodes("evaluate_trained_and_untrained")
    assert {n.name for n in wanted.nodes} == {"make_untrained_reference_model", "embed_frames_untrained",
                                               "embed_frames_trained", "score_pixel_reference",
                                               "score_untrained_encoder", "evaluate_trained_and_untrained"}
    index, labels = build_video_index(pouring_store)
    params = EvaluateParams(protocol=EvalConfig(stride=1), progress=False, device="cpu", image_size=32)
    # (seed 5: the untrained reference is drawn with evaluate.untrained_seed 0)
    catalog = _catalog(model=_checkpoint(5), frame_store=pouring_store, video_index=index, frame_labels=labels,
                       metrics=None, **{"params:evaluate": params})
    SequentialRunner().run(wanted, catalog)
    metrics = catalog.load("metrics")
    assert set(metrics["trained"]) == set(metrics["untrained"]) == set(metrics["pixels"]) >= \
        {"classification@1.0", "kendalls_tau", "ap@5"}
    assert metrics["model"]["run"] == "in-memory" and metrics["trained"] != metrics["untrained"]
    assert all(np.isfinite(v) for v in metrics["trained"].values())
    json.dumps(metrics)  # what the catalog writes as metrics.json


def test_ingestion_slice__plans_converts_into_the_store_it_is_given_and_indexes(tiny_raw, tmp_path):
    """The ingestion template on an in-memory catalog: the plan, the conversion (a node, writing
    packs into the store it is given) and the index that follows from the conversion's report; a
    second run of the slice converts nothing again."""
    from carl_pipeline.datasets import AtomicJSONDataset
    from carl_pipeline.params import PouringIngestParams
    from carl_pipeline.pipelines.ingestion.pipeline import create_pipeline
    from carl_pipeline.video import FrameStore

    template = create_pipeline("pouring")
    assert [n.name for n in template.nodes] == ["pouring.plan_conversion", "pouring.convert_videos_to_frame_packs",
                                                "pouring.index_converted_videos"]
    store = FrameStore(tmp_path / "frames")  # not there yet: the conversion makes it

    def run_slice():
        catalog = _catalog(**{"pouring.raw": tiny_raw / "pouring", "pouring.frame_store": store,
                              "params:pouring.ingest": PouringIngestParams(progress=False, num_workers=1)})
        # The report as the catalog keeps it, beside the packs (a memory copy is released once read)
        catalog["pouring.conversion_report"] = AtomicJSONDataset(filepath=str(store.root / "_conversion_report.json"))
        for name in ("video_index", "frame_labels", "ingest_report"):
            catalog[f"pouring.{name}"] = MemoryDataset()
        SequentialRunner().run(template, catalog)
        return (catalog.load(f"pouring.{n}") for n in ("conversion_report", "video_index", "frame_labels", "ingest_report"))

    conversion, index, labels, report = run_slice()
    assert len(conversion["converted"]) == len(store.video_ids()) == report["videos"] == len(index) == 5
    assert len(labels) == index["num_frames"].sum() and report["failed"] == []
    assert store.read_report()["converted"] == conversion["converted"]
    conversion, index_again, _, report = run_slice()
    assert conversion["converted"] == [] and report["already_converted"] == 5 and index_again.equals(index)


def test_pretraining_node__runs_on_the_device_the_training_is_given(pouring_store, monkeypatch):
    """``train.optim.device: cpu`` on a GPU machine must keep SimCLR pretraining off the GPU too:
    the node hands pretraining the training's device (here recorded as pretraining resolves it)."""
    import torch

    import carl_pipeline.training.pretrain as pretrain_module
    from carl_pipeline.ingest import build_video_index
    from carl_pipeline.params import TrainParams
    from carl_pipeline.pipelines.training.pipeline import training_template

    asked = []

    def recording(name="auto"):
        asked.append(name)
        return torch.device("cpu")

    monkeypatch.setattr(pretrain_module, "resolve_device", recording)
    store = pouring_store
    index, labels = build_video_index(store)
    model = {k: v for k, v in ENCODER.to_dict().items() if k != "train_length"}
    params = TrainParams(model=model, sampling={"num_steps": 8}, augment={"image_size": 32}, loss={},
                         optim={"device": "cpu", "epochs": 1, "progress": False},
                         pretrain={"epochs": 1, "frames_per_step": 8, "progress": False})
    node = next(n for n in training_template("params:train").nodes if n.name == "pretrain_frame_backbone")
    result = node.func(store, index, labels, params)
    assert asked == ["cpu"] and result["state_dict"]
