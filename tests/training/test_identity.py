"""The run identity (``carl_pipeline.training.identity``): what changes a run's weights changes its
id."""

import shutil

from carl_pipeline.augment import AugmentConfig
from carl_pipeline.losses import LossConfig
from carl_pipeline.models import EncoderConfig
from carl_pipeline.training import (
    OptimConfig,
    SamplingConfig,
)
from carl_pipeline.video import FrameStore
from tests.conftest import TINY_AUGMENT, TINY_ENCODER, TINY_SAMPLING


def test_training_data_fingerprint__covers_frame_content(pouring_store, tmp_path):
    from carl_pipeline.training.identity import data_fingerprint

    ids = pouring_store.video_ids()
    copy = FrameStore(tmp_path / "frames")
    shutil.copytree(pouring_store.root, copy.root)
    assert data_fingerprint(copy, ids) == data_fingerprint(pouring_store, ids)
    pack = copy.open(ids[0])
    frames = pack.read_jpeg(range(len(pack)))
    frames[1] = frames[1][:-2] + bytes([frames[1][-2] ^ 1]) + frames[1][-1:]  # same length, same offsets
    copy.write(ids[0], frames, height=pack.header.height, width=pack.header.width, fps=pack.header.fps,
               labels={k: list(v) for k, v in pack.header.labels.items()}, meta=dict(pack.header.meta))
    assert data_fingerprint(copy, ids) != data_fingerprint(pouring_store, ids)


def test_run_identity__input_norm_is_another_run_and_earlier_runs_keep_their_ids():
    from carl_pipeline.training.identity import run_id, run_identity

    def identity(encoder):
        return run_identity(encoder, TINY_SAMPLING, TINY_AUGMENT, LossConfig(), OptimConfig(), data="fingerprint")

    plain = identity(TINY_ENCODER)
    framed = identity(EncoderConfig(**{**TINY_ENCODER.to_dict(), "input_norm": "frame"}))
    assert run_id(framed) != run_id(plain) and framed["encoder"]["input_norm"] == "frame"
    # A run trained before the option existed was identified without it: it is still found finished.
    assert plain["encoder"] == {k: v for k, v in TINY_ENCODER.to_dict().items() if k not in ("backbone_dir", "input_norm")}


def test_run_identity__the_optimiser_block_is_optim_everywhere_and_run_ids_did_not_move():
    """conf's name (``train.optim``) is the identity's and the checkpoint's; the id of a run at the
    defaults is the one it had when the block was still called ``train`` there (697bbb94, computed
    at d1faf87), so runs trained before are found and resumed, not trained again."""
    from carl_pipeline.training.identity import run_id, run_identity, run_name

    identity = run_identity(EncoderConfig(), SamplingConfig(), AugmentConfig(), LossConfig(), OptimConfig(), data="d")
    assert "optim" in identity and "train" not in identity
    assert run_id(identity) == "697bbb94" and run_name(identity) == "scl-lr0.0001-seed0-697bbb94"
    assert run_id({**identity, "optim": {**identity["optim"], "lr": 1e-3}}) != "697bbb94"


def test_run_identity__the_fixed_decay_and_sync_batchnorm_are_other_runs_and_earlier_ids_stay():
    from dataclasses import replace

    from carl_pipeline.training.identity import run_id, run_identity

    def identity(optim):
        return run_id(run_identity(EncoderConfig(), SamplingConfig(), AugmentConfig(), LossConfig(), optim, data="d"))

    assert identity(OptimConfig()) == "697bbb94"  # the id runs at the defaults always had
    ids = {identity(OptimConfig()), identity(replace(OptimConfig(), lr_decay="fixed")),
           identity(replace(OptimConfig(), sync_batchnorm=True))}
    assert len(ids) == 3
