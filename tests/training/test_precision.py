"""Training precision (``training.config.autocast_dtype``): bf16 on a CPU when asked for or, under
``auto``, where the CPU has native bf16; float32 otherwise; and a run in bf16 trains in it (other
weights than float32's, another identity)."""

import math

import pytest
import torch

from carl_pipeline.training.config import autocast_dtype
from tests.conftest import TINY_AUGMENT, TINY_ENCODER, TINY_SAMPLING


@pytest.mark.parametrize("native", [False, True])
def test_autocast_dtype__auto_is_bf16_only_on_a_cpu_with_native_bf16(native, monkeypatch, caplog):
    from carl_pipeline.training import config

    monkeypatch.setattr(config, "cpu_has_native_bf16", lambda: native)
    cpu = torch.device("cpu")
    with caplog.at_level("INFO", logger=config.__name__):
        assert autocast_dtype("auto", cpu) is (torch.bfloat16 if native else None)
    assert ("bf16 autocast on this CPU" in caplog.text) == native  # said in the log when chosen
    assert autocast_dtype("fp32", cpu) is None  # float32 on request, whatever the CPU
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
