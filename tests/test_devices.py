import pytest
import torch

from carl_pipeline.devices import resolve_device


def test_resolve_device__auto_and_cpu():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_resolve_device__a_missing_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="device 'cuda:1' is not there: this machine has no CUDA GPU"):
        resolve_device("cuda:1")
    with pytest.raises(ValueError, match="device 'cuda' is not there"):
        resolve_device("cuda")


def test_resolve_device__unknown_names_list_the_choices():
    with pytest.raises(ValueError, match=r"device must be one of \['auto', 'cpu', 'cuda', 'cuda:N', 'mps'\]"):
        resolve_device("tpu")
    with pytest.raises(ValueError, match="expected cuda:N"):
        resolve_device("cuda:x")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_training__device_setting_is_checked_before_any_work(tmp_path):
    from carl_pipeline.augment import AugmentConfig
    from carl_pipeline.models import EncoderConfig
    from carl_pipeline.training import OptimConfig, RunDir, SamplingConfig, TrainSettings, train

    with pytest.raises(ValueError, match="no CUDA GPU"):
        train(str(tmp_path / "frames"), ["a"], TrainSettings(EncoderConfig(backbone="resnet18"), SamplingConfig(), AugmentConfig(), OptimConfig(device="cuda:0")), RunDir(tmp_path / "run"))
    assert not (tmp_path / "run").exists()
