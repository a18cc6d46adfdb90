"""Every configuration environment loads, validates for every pipeline, and says what it should."""

from pathlib import Path

import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from pydantic import BaseModel

from carl_pipeline.losses import algorithm_names, get_algorithm
from carl_pipeline.losses.config import nest_settings
from carl_pipeline.training.baselines import baseline_settings, changes_for
from tests.conftest import PROJECT_ROOT

ENVIRONMENTS = sorted(p.name for p in (PROJECT_ROOT / "conf").iterdir() if p.is_dir() and p.name not in ("base", "local"))


def _context(env: str | None, runtime_params: dict | None = None, project: Path = PROJECT_ROOT):
    bootstrap_project(project)
    with KedroSession.create(project_path=project, env=env, runtime_params=runtime_params) as session:
        return session.load_context()


def _lookup(params: dict, dotted: str):
    value = params
    for part in dotted.split("."):
        value = value[part] if isinstance(value, dict) else getattr(value, part)
    return value


def test_environments__paper_is_one_of_them():
    assert "paper" in ENVIRONMENTS


@pytest.mark.parametrize("env", [None, *ENVIRONMENTS])
def test_environment__parameters_of_every_pipeline_load_and_validate(env):
    """Each parameter block a node reads resolves in this environment and is validated into its
    typed block (a bad or missing value would raise here, before any node runs), and each
    dataset a pipeline starts from resolves in its catalog: `kedro run --env <env> --pipelines=<p>`
    starts for every registered pipeline."""
    from kedro.framework.project import pipelines

    context = _context(env)
    params, catalog = context.params, context.catalog
    checked = set()
    for name, pipeline in pipelines.items():
        for dataset in pipeline.inputs():
            if dataset.startswith("params:"):
                block = _lookup(params, dataset[len("params:"):])
                assert isinstance(block, BaseModel), f"{name}: {dataset} is {type(block).__name__}, not validated"
                checked.add(dataset)
                if dataset.endswith(".compare"):  # every baseline's changes apply to its dataset's train block
                    train = _lookup(params, f"{dataset[len('params:'):].removesuffix('.compare')}.train")
                    for algorithm in algorithm_names():
                        assert baseline_settings(train, changes_for(algorithm, block)).loss.algorithm == algorithm
            else:  # every dataset a pipeline starts from is a catalog entry of this environment
                assert catalog.get(dataset) is not None, f"{name}: {dataset} is not in the catalog"
    assert {"params:pouring.train", "params:penn_action.evaluate", "params:finegym_gym99.train",
            "params:finegym_gym288.evaluate", "params:finegym.ingest", "params:videos.report",
            "params:pouring.compare", "params:penn_action.compare", "params:finegym_gym99.compare"} <= checked


def test_paper_environment__the_released_settings_per_dataset():
    params = _context("paper").params
    pouring, penn, gym99, gym288 = (params[d]["train"] for d in ("pouring", "penn_action", "finegym_gym99", "finegym_gym288"))
    for train in (pouring, penn, gym99, gym288):
        assert (train.model.backbone, train.model.backbone_weights, train.model.freeze_through) == ("resnet50", "imagenet_v1", "layer3")
        assert train.model.backbone_dir == "data/paper/06_models/backbones"
        assert (train.model.fc_channels, train.model.hidden_size, train.model.num_heads, train.model.ff_size) == (512, 256, 8, 1024)
        assert train.model.transformer == "released" and train.augment.color_mode == "released"
        assert train.model.input_norm == "none"  # ImageNet weights: the frames go in as released
        assert (train.optim.lr, train.optim.batch_size, train.augment.image_size) == (1e-4, 1, 224)
        assert train.model.train_length == train.sampling.num_steps  # the clip length, set once
    assert (pouring.sampling.num_steps, pouring.model.num_layers, pouring.optim.epochs) == (240, 2, 500)
    assert (penn.sampling.num_steps, penn.model.num_layers, penn.optim.epochs) == (80, 3, 300)
    for train, taxonomy in ((gym99, "gym99"), (gym288, "gym288")):
        assert (train.sampling.num_steps, train.model.num_layers, train.optim.epochs) == (240, 3, 300)
        assert train.sampling.window == "clip" and train.augment.blur_p == 0.0 and train.labelled_by == taxonomy
        # the demo's channel shuffling and inversion are not the released augmentation
        assert train.augment.channel_shuffle_p == train.augment.invert_p == 0.0
        evaluate = params[f"finegym_{taxonomy}"]["evaluate"]
        assert evaluate.protocol.finegym_labels == (taxonomy,) and evaluate.framing == "native_crop"
        assert evaluate.protocol.num_classes[taxonomy] == {"gym99": 99, "gym288": 288}[taxonomy]
        assert evaluate.protocol.finegym_lr == 50.0
    assert pouring.sampling.window == penn.sampling.window == "video"
    assert params["penn_action"]["evaluate"].framing == "squash" and params["penn_action"]["ingest"].frame_size == (224, 224)
    assert params["finegym"]["ingest"].frame_size == (360, 640)
    # the pixels the released readers see: tfrecords_to_videos.py's x264 round trip (and cv2's squash)
    assert params["pouring"]["ingest"].pixels == params["penn_action"]["ingest"].pixels == "released"
    # the released retrieval video (K 5, every 10th frame) and the released baselines' settings
    assert (params["pouring"]["evaluate"].retrieval_neighbours, params["pouring"]["evaluate"].retrieval_stride) == (5, 10)
    tcc = baseline_settings(params["pouring"]["train"], changes_for("tcc", params["pouring"]["compare"]))
    assert (tcc.loss.own.cycle, tcc.loss.projection, tcc.loss.l2_normalize, tcc.optim.batch_size, tcc.optim.lr_decay) == \
        ("videos", False, False, 2, "fixed")


def test_paper_environment__selects_the_released_variant_of_each_documented_difference():
    """The four places where the released code and the project's own definitions part
    (docs/FIDELITY.md): TCC's label smoothing, SCL's underflowing target (in the fp16 of the
    released USE_AMP), unlabelled frames left out of every task, the multinomial classifier on
    the released subsets; for every dataset, and for the TCC baseline of the comparison."""
    params = _context("paper").params
    for dataset in ("pouring", "penn_action", "finegym_gym99", "finegym_gym288"):
        train, protocol = params[dataset]["train"], params[dataset]["evaluate"].protocol
        assert (train.loss.own.target, train.loss.settings_of("tcc").label_smoothing, train.optim.precision) == \
            ("released", 0.1, "fp16")
        assert (protocol.classifier, protocol.subset_order, protocol.unlabelled_frames) == \
            ("logistic_multinomial", "dataset", "drop"), dataset
    for dataset in ("pouring", "penn_action"):
        tcc = baseline_settings(params[dataset]["train"], changes_for("tcc", params[dataset]["compare"]))
        assert (tcc.loss.algorithm, tcc.loss.own.label_smoothing) == ("tcc", 0.1)


def test_base_environment__the_demo_keeps_its_settings():
    params = _context(None).params
    train = params["pouring"]["train"]
    # The README's numbers and its time (under 5 minutes on a 2-core CPU, issue 36)
    assert (train.model.backbone, train.augment.image_size, train.sampling.num_steps, train.optim.epochs) == ("resnet18", 64, 32, 30)
    assert train.optim.channels_last and train.optim.precision == "auto"
    assert train.model.train_length == 32 and train.loss.algorithm == "scl" and train.sampling.window == "video"
    penn = params["penn_action"]["train"]  # the shared settings, fewer epochs over more videos
    assert (penn.sampling.window, penn.optim.epochs, penn.model.transformer) == ("shifted", 12, "torch")
    assert params["finegym_gym99"]["train"].sampling.window == "clip"
    for taxonomy in ("gym99", "gym288"):  # the FineGym demo's budget (the README's numbers)
        gym = params[f"finegym_{taxonomy}"]
        assert (gym["train"].augment.image_size, gym["train"].optim.epochs) == (64, 8)
        # shapes, not colours: what lifts it above the raw pixels (experiments/LOG.md)
        assert gym["train"].augment.channel_shuffle_p == gym["train"].augment.invert_p == 0.5
        assert gym["compare"]["supervised"].loss["label"] == taxonomy and gym["external"].path is None
    assert params["finegym"]["ingest"].fps == 10.0
    assert params["pouring"]["ingest"].pixels == params["penn_action"]["ingest"].pixels == "project"
    for dataset in ("pouring", "penn_action", "finegym_gym99", "finegym_gym288"):  # random weights: frames standardised
        assert params[dataset]["train"].model.input_norm == "frame", dataset
        # the project's definitions, with which the README's demo numbers were measured
        train, protocol = params[dataset]["train"], params[dataset]["evaluate"].protocol
        assert (train.loss.own.target, train.loss.settings_of("tcc").label_smoothing) == ("exact", 0.0), dataset
        assert (protocol.classifier, protocol.subset_order, protocol.unlabelled_frames) == \
            ("logistic_multinomial", "video_id", "keep")


def test_parameters__the_clip_length_has_one_name():
    from carl_pipeline.params import TrainParams

    block = _context(None).params["pouring"]["train"].model_dump()
    with pytest.raises(ValueError, match="clip length is set once, as sampling.num_steps"):
        TrainParams(**{**block, "model": {**block["model"], "train_length": 16}})
    block["sampling"]["num_steps"] = 12
    block["model"].pop("train_length")
    assert TrainParams(**block).model.train_length == 12


@pytest.mark.parametrize("env", [None, "paper"])
def test_runtime_parameters__change_one_key_of_a_block_and_keep_the_rest(env):
    """`kedro run --params="finegym_gym99.train.optim.epochs=1"` changes that value only, also in
    blocks built from the shared settings with a few values changed (penn_action.evaluate,
    finegym_<taxonomy>.*)."""
    params = _context(env, {"finegym_gym99": {"train": {"optim": {"epochs": 1}}},
                            "penn_action": {"evaluate": {"progress": False}}}).params
    train = params["finegym_gym99"]["train"]
    assert train.optim.epochs == 1 and train.labelled_by == "gym99" and train.sampling.window == "clip"
    evaluate = params["penn_action"]["evaluate"]
    assert evaluate.progress is False and evaluate.protocol.per_action and evaluate.protocol.stride == 2


def test_paper_environment__penn_action_frames_reach_the_encoder_squashed_finegym_centre_cropped():
    """Penn Action: the whole frame, squashed to the square (a crop would lose the red band at
    its left edge); FineGym: a 224 px centre crop of the 640x360 frame at its own resolution."""
    import torch

    from carl_pipeline.augment import eval_transform
    from carl_pipeline.augment.video import normalize

    params = _context("paper").params
    penn = params["penn_action"]["evaluate"]
    frame = torch.zeros(1, 3, 120, 240, dtype=torch.uint8)
    frame[:, 0, :, :24] = 255  # a red band over the left 10% of the width
    out = eval_transform(frame, 224, penn.framing)
    red = normalize(torch.tensor([1.0, 0.0, 0.0])[None, :, None, None].expand(1, 3, 1, 1))[0, :, 0, 0]
    torch.testing.assert_close(out[0, :, 112, 5], red)  # the band is still there, squashed
    assert not torch.allclose(eval_transform(frame, 224, "resize_crop")[0, :, 112, 5], red)

    gym = params["finegym_gym99"]["evaluate"]
    frame = torch.randint(0, 256, (1, 3, 360, 640), dtype=torch.uint8)
    out = eval_transform(frame, 224, gym.framing)
    torch.testing.assert_close(out, normalize(frame[..., 68:292, 208:432].float() / 255))


@pytest.mark.parametrize("env", [None, *ENVIRONMENTS])
def test_environment__tracking_settings_load(env):
    """MLflow tracking is on by default in every environment, into the project's own store."""
    tracking = dict(_context(env).config_loader["tracking"])
    assert tracking["enabled"] is True and tracking["tracking_uri"] == "sqlite:///mlruns/mlflow.db"
    assert tracking["experiment"] == "carl-pipeline"


def test_gpu_sweep__its_dataset_settings_are_the_configured_ones():
    """experiments/demo_sweep_gpu.py runs without Kedro, so it restates each dataset's settings; a
    change in conf/base that it missed would sweep around settings the demo no longer has."""
    import dataclasses

    import yaml

    from experiments import demo_sweep_gpu as sweep

    settings = yaml.safe_load((PROJECT_ROOT / "conf/base/globals.yml").read_text())
    params = _context(None).params
    for dataset in ("pouring", "penn_action"):
        restated = sweep._merge(settings["train"], sweep.DATASETS[dataset]["train"])
        loaded = params[dataset]["train"].model_dump(mode="json")
        restated["loss"] = nest_settings(restated["loss"])  # each loss's own block under loss.settings
        for block, values in restated.items():
            if not isinstance(values, dict):
                continue
            for key, value in values.items():
                if block == "loss" and key == "settings":
                    for name, own in value.items():
                        assert {k: loaded["loss"]["settings"][name][k] for k in own} == own, (dataset, name)
                    continue
                assert loaded[block][key] == (list(value) if isinstance(value, tuple) else value), (dataset, block, key)
        protocol = sweep._merge(settings["evaluate"]["protocol"], sweep.DATASETS[dataset]["protocol"])
        loaded_protocol = dataclasses.asdict(params[dataset]["evaluate"].protocol)  # an EvalConfig
        assert {k: list(v) if isinstance(v, tuple) else v for k, v in loaded_protocol.items() if k in protocol} == protocol, dataset


@pytest.mark.parametrize("env", [None, *ENVIRONMENTS])
def test_compare_blocks__hold_only_what_the_rows_do_not_say(env):
    """A baseline's comparison settings are its row's (``Algorithm.baseline_changes``): conf's
    compare blocks add only what a dataset or an environment changes beyond them. The demo adds
    nothing but FineGym's supervised label; the paper environment adds the released configs'
    batches and schedules and FineGym's L2-normalised TCC. Every row's own changes survive."""
    params = _context(env).params
    datasets = ("pouring", "penn_action", "finegym_gym99", "finegym_gym288")
    overrides = {d: {a: block.as_changes() for a, block in params[d]["compare"].items()} for d in datasets}
    if env is None:
        assert overrides == {"pouring": {}, "penn_action": {},
                             "finegym_gym99": {"supervised": {"loss": {"label": "gym99"}}},
                             "finegym_gym288": {"supervised": {"loss": {"label": "gym288"}}}}
    else:
        for dataset, blocks in overrides.items():
            for algorithm, changes in blocks.items():
                assert set(changes) <= {"optim", "loss"}, (dataset, algorithm)
                assert set(changes.get("loss", {})) <= {"l2_normalize", "label"}, (dataset, algorithm)
    for dataset in datasets:
        train = params[dataset]["train"]
        for algorithm in algorithm_names():
            row = get_algorithm(algorithm).comparison_changes()
            settings = baseline_settings(train, changes_for(algorithm, params[dataset]["compare"]))
            assert settings.loss.algorithm == algorithm
            for key, value in row.get("loss", {}).items():
                if key not in overrides[dataset].get(algorithm, {}).get("loss", {}) and key != "algorithm":
                    got = settings.loss.settings[key] if isinstance(value, dict) else getattr(settings.loss, key)
                    assert got == ({**got, **value} if isinstance(value, dict) else value), (dataset, algorithm, key)
            for key, value in row.get("sampling", {}).items():
                assert getattr(settings.sampling, key) == value, (dataset, algorithm, key)


def test_paper_environment__videos_train_is_the_released_kinetics_400_pretraining():
    """Released configs/scl_transformer_k400_pretrain_config.yml and datasets/kinetics400.py, key
    by key: clip 80, batch 2 per GPU, 10 epochs, batch_noself, consistent offset 1.0, 2 layers,
    save every 5 epochs, every native frame (read_video), and the paper's model and optimiser."""
    params = _context("paper").params
    videos = params["videos"]
    train = videos["train"]
    assert videos["ingest"].fps is None
    assert (train.sampling.strategy, train.sampling.num_steps, train.sampling.sampling_region,
            train.sampling.consistent_offset, train.sampling.window) == ("time_augment", 80, 1.5, 1.0, "video")
    assert (train.optim.batch_size, train.optim.epochs, train.optim.lr, train.optim.lr_decay, train.optim.weight_decay,
            train.optim.grad_clip, train.optim.warmup_epochs, train.optim.precision, train.optim.checkpoint_every,
            train.optim.sync_batchnorm) == (2, 10, 1e-4, "cosine", 1e-5, 10.0, 0.0, "fp16", 5, True)
    assert (train.loss.algorithm, train.loss.own.negatives, train.loss.own.variance, train.loss.temperature) == \
        ("scl", "batch_noself", 10.0, 0.1)
    assert (train.model.backbone, train.model.backbone_weights, train.model.freeze_through, train.model.num_layers,
            train.model.hidden_size, train.model.num_heads, train.model.ff_size, train.model.embedding_size) == \
        ("resnet50", "imagenet_v1", "layer3", 2, 256, 8, 1024, 128)
    assert (train.augment.image_size, train.augment.color_mode) == (224, "released")
    assert train.model.train_length == 80
