"""Training precision (``training.config.autocast_dtype``): bf16 on a CPU when asked for, float32
otherwise, and a run asked for bf16 trains in it (other weights than float32's)."""

import math

import torch

from carl_pipeline.training.config import autocast_dtype
from tests.conftest import TINY_AUGMENT, TINY_ENCODER, TINY_SAMPLING


def test_autocast_dtype__a_cpu_trains_in_float32_unless_bf16_is_asked_for():
    cpu = torch.device("cpu")
    assert autocast_dtype("auto", cpu) is None
    assert autocast_dtype("fp32", cpu) is None
    assert autocast_dtype("fp16", cpu) is None  # the released configs' CUDA fp16: float32 on a CPU
    assert autocast_dtype("bf16", cpu) is torch.bfloat16


def test_training__bf16_on_a_cpu_trains_and_gives_other_weights_than_float32(pouring_store, tmp_path):
    from carl_pipeline.training import OptimConfig, RunDir, TrainSettings, train
    from carl_pipeline.training.identity import run_id

    ids = pouring_store.video_ids()
    weights, identities = {}, {}
    for precision in ("fp32", "bf16"):
        optim = OptimConfig(epochs=1, batch_size=2, max_steps_per_epoch=2, progress=False, precision=precision)
        checkpoint = train(str(pouring_store.root), ids, TrainSettings(TINY_ENCODER, TINY_SAMPLING, TINY_AUGMENT, optim,
                                                                       device="cpu"), RunDir(tmp_path / precision))
        assert all(math.isfinite(loss) for loss in checkpoint.history)
        weights[precision], identities[precision] = checkpoint.weights_digest(), checkpoint.run_record.identity
    assert weights["fp32"] != weights["bf16"]  # the dtype changes the weights: it is part of the run identity
    # earlier versions trained precision bf16 in float32 on a CPU: a bf16 run today is another run
    assert identities["bf16"]["autocast"] == "bf16 on cpu" and "autocast" not in identities["fp32"]
    earlier = {k: v for k, v in identities["bf16"].items() if k != "autocast"}
    assert run_id(earlier) != run_id(identities["bf16"])
