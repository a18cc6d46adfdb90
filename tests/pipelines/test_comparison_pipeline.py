"""compare_<dataset> through a KedroSession at tiny sizes: every method trained on the same
encoder, scored against one untrained encoder, in one table."""

import json
from dataclasses import dataclass

import pytest
import torch
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from carl_pipeline.evaluation.comparison import compare_methods
from carl_pipeline.losses import Algorithm, algorithms, register
from carl_pipeline.params import TrainParams
from carl_pipeline.training.baselines import baseline_settings
from tests.conftest import newest, open_project
from tests.pipelines.test_representation_pipeline import TINY_TRAIN

TINY = "".join(f"""
{dataset}:
  ingest: {{num_workers: 0, progress: false}}
  train:{TINY_TRAIN.replace("epochs: 2", "epochs: 1")}
  evaluate: {{protocol: {{stride: 1}}, alignment_height: 32, retrieval_stride: 3, progress: false}}
""" for dataset in ("pouring", "penn_action"))
NAMES = {"scl": "CARL (SCL)", "tcc": "TCC", "tcn": "TCN", "simclr": "SimCLR", "lav": "LAV", "vava": "VAVA", "gtcc": "GTCC",
         "supervised": "supervised"}
METHODS = ["untrained", "raw pixels", *NAMES.values()]
PROGRESS_BASELINES = ["constant 0.5", "relative time"]  # the online-progress column's trivial estimates


@dataclass(frozen=True)
class SmoothSettings:
    """The toy loss's own settings: the gap, in frames, between the frames it pulls together."""

    gap: int = 1

    def __post_init__(self):
        if self.gap < 1:
            raise ValueError(f"gap must be >= 1, got {self.gap}")


def _smoothness_loss(outputs, batch, config, amp_dtype):
    """A toy loss: valid frames ``gap`` apart embed close together. ``outputs`` ``(B, V, T, D)``."""
    gap, masks = config.own.gap, batch["masks"]
    pairs = masks[..., gap:] * masks[..., :-gap]
    return ((outputs[..., gap:, :] - outputs[..., :-gap, :]).square().sum(-1) * pairs).sum() / pairs.sum().clamp_min(1)


@pytest.fixture
def project(tiny_raw, tmp_path, monkeypatch):
    return open_project(tmp_path / "project", TINY, tiny_raw, monkeypatch)


@pytest.mark.parametrize("dataset", ["pouring", "penn_action"])
def test_compare__one_row_per_method_and_metric_and_each_method_its_own_outputs(project, dataset, monkeypatch):
    names, methods = dict(NAMES), list(METHODS)
    conf = {path: path.read_bytes() for path in sorted((project / "conf").rglob("*")) if path.is_file()}
    if dataset == "pouring":  # a new loss is one module and one row: compare_pouring runs it, no conf touched
        monkeypatch.setattr(algorithms, "_ALGORITHMS", dict(algorithms._ALGORITHMS))  # the row leaves with the test
        register(Algorithm("smooth", "Smoothness (toy)", _smoothness_loss, "one_view", settings=SmoothSettings,
                           baseline_changes={"loss": {"projection": False, "smooth": {"gap": 2}}}))
        bootstrap_project(project)  # the registry's pipelines are built from the table again
        names["smooth"], methods = "Smoothness (toy)", [*methods, "Smoothness (toy)"]
    methods = [*methods, *PROGRESS_BASELINES]
    with KedroSession.create(project_path=project) as session:
        session.run(pipeline_names=[f"compare_{dataset}"])
    assert {path: path.read_bytes() for path in sorted((project / "conf").rglob("*")) if path.is_file()} == conf
    reports = project / "data/08_reporting"
    comparison = json.loads(newest(reports / dataset / "comparison.json").read_text())
    metrics = ["classification@0.1", "classification@0.5", "classification@1.0", "progression", "kendalls_tau",
               "ap@5", "ap@10", "ap@15", "online_progress_error"]
    assert comparison["methods"] == methods and comparison["metrics"] == metrics
    assert all(set(comparison["scores"][m]) == set(metrics) for m in methods[:-2])
    trained = methods[2:-2]
    assert set(comparison["best"]) == set(metrics) and set(comparison["best"].values()) <= set(trained)
    progress = {m: comparison["scores"][m]["online_progress_error"] for m in methods}
    assert comparison["best"]["online_progress_error"] == min(trained, key=progress.get)  # an error: lowest wins
    assert all(0 <= progress[m] <= 1 for m in PROGRESS_BASELINES) and set(comparison["scores"]["relative time"]) == \
        {"online_progress_error"}
    assert newest(reports / dataset / "comparison.png").stat().st_size > 5000
    # The untrained row is the reference every method's own metrics.json holds too.
    for algorithm, name in names.items():
        namespace = dataset if algorithm == "scl" else f"{dataset}_{algorithm}"
        own = json.loads(newest(reports / namespace / "metrics.json").read_text())
        assert own["model"]["algorithm"] == algorithm and own["untrained"] == comparison["scores"]["untrained"]
        assert own["pixels"] == comparison["scores"]["raw pixels"]  # one raw-pixel reference, shared
        assert comparison["scores"][name] == own["trained"]
        assert newest(reports / namespace / "retrieval.mp4").stat().st_size > 0
        model = torch.load(newest(project / f"data/06_models/{namespace}/carl.pt"), weights_only=True)
        assert model["loss"]["algorithm"] == algorithm and ("head" in model) == (algorithm == "supervised")
        if algorithm == "smooth":  # the row's own settings, from its comparison defaults
            assert model["loss"]["settings"]["smooth"] == {"gap": 2} and model["loss"]["projection"] is False
    # Only CARL's namespace embeds with the untrained encoder: the baselines share its embeddings.
    assert not (project / f"data/07_model_output/{dataset}_tcc/embeddings_untrained.parquet").exists()


def test_compare_finegym__one_row_per_method_and_taxonomy_each_trained_on_its_taxonomy(project):
    """compare_finegym at tiny sizes: every method trained per taxonomy on that taxonomy's events,
    one table with a column per taxonomy and a record per method and taxonomy."""
    train = TINY_TRAIN.replace("epochs: 2", "epochs: 1")
    (project / "conf/local/parameters.yml").write_text(
        "finegym:\n  ingest: {num_workers: 0, progress: false, frame_size: [24, 32]}\n" + "".join(
            f"finegym_{t}:\n  train:{train}\n  evaluate: {{protocol: {{finegym_epochs: 2}}, alignment_height: 32, "
            f"retrieval_stride: 3, progress: false}}\n" for t in ("gym99", "gym288")))
    with KedroSession.create(project_path=project) as session:
        session.run(pipeline_names=["compare_finegym"])
    reports = project / "data/08_reporting"
    comparison = json.loads(newest(reports / "finegym/comparison.json").read_text())
    assert comparison["methods"] == METHODS and comparison["metrics"] == [f"{t}_accuracy{f}" for t in ("gym288", "gym99") for f in ("@0.1", "@0.5", "")]
    assert {(r["method"], r["taxonomy"]) for r in comparison["rows"]} == \
        {(m, t) for m in METHODS[2:] for t in ("gym99", "gym288")} and len(comparison["rows"]) == 6 * len(NAMES)
    assert all(r["raw_pixels"] is not None for r in comparison["rows"])
    assert newest(reports / "finegym/comparison.png").stat().st_size > 5000
    for t in ("gym99", "gym288"):
        for algorithm, name in (("scl", "CARL (SCL)"), ("tcc", "TCC"), ("supervised", "supervised")):
            namespace = f"finegym_{t}" if algorithm == "scl" else f"finegym_{t}_{algorithm}"
            own = json.loads(newest(reports / namespace / "metrics.json").read_text())
            assert comparison["scores"][name][f"{t}_accuracy"] == own["trained"][f"{t}_accuracy"]
            model = torch.load(newest(project / f"data/06_models/{namespace}/carl.pt"), weights_only=True)
            assert model["loss"]["algorithm"] == algorithm
        supervised = torch.load(newest(project / f"data/06_models/finegym_{t}_supervised/carl.pt"), weights_only=True)
        assert supervised["loss"]["label"] == t  # the reference learns the taxonomy's own labels


def _train_params(**changes):
    base = {"model": {"backbone": "resnet18"}, "sampling": {"num_steps": 8}, "augment": {"image_size": 32},
            "loss": {}, "optim": {"epochs": 3}}
    return TrainParams.model_validate({**base, **changes})


def test_baseline_settings__change_only_what_the_baseline_names():
    train = _train_params()
    tcc = baseline_settings(train, {"loss": {"algorithm": "tcc", "projection": False},
                                    "sampling": {"strategy": "offset_uniform"}})
    assert tcc.loss.algorithm == "tcc" and not tcc.loss.projection and tcc.sampling.strategy == "offset_uniform"
    assert tcc.model == train.model and tcc.optim == train.optim and tcc.augment == train.augment
    assert tcc.loss.temperature == train.loss.temperature and tcc.sampling.num_steps == 8
    with pytest.raises(ValueError, match="lossy"):
        baseline_settings(train, {"lossy": {"algorithm": "tcc"}})
    with pytest.raises(ValueError, match="algorithm"):
        baseline_settings(train, {"loss": {"algorithm": "moco"}})


def test_compare_methods__refuses_methods_trained_on_another_encoder():
    def model(size):
        return {"model": {}, "encoder": {"backbone": "resnet18", "embedding_size": size}}

    def metrics(algorithm):
        return {"trained": {"ap@5": 0.5}, "untrained": {"ap@5": 0.4},
                "model": {"algorithm": algorithm, "epochs": 1, "final_loss": 1.0}}

    table = compare_methods(tcc_metrics=metrics("tcc"), tcc_model=model(16), scl_metrics=metrics("scl"), scl_model=model(16))
    assert table["methods"] == ["untrained", "CARL (SCL)", "TCC"]  # CARL first, whatever the input order
    # the raw-pixel reference is a row beside the untrained encoder, and never "best" even when higher
    with_pixels = {**metrics("scl"), "pixels": {"ap@5": 0.9}}
    table = compare_methods(tcc_metrics=metrics("tcc"), tcc_model=model(16), scl_metrics=with_pixels, scl_model=model(16))
    assert table["methods"] == ["untrained", "raw pixels", "CARL (SCL)", "TCC"]
    assert table["scores"]["raw pixels"] == {"ap@5": 0.9} and table["best"]["ap@5"] in ("CARL (SCL)", "TCC")
    with pytest.raises(ValueError, match="tcc trained another encoder.*embedding_size"):
        compare_methods(scl_metrics=metrics("scl"), scl_model=model(16), tcc_metrics=metrics("tcc"), tcc_model=model(8))
