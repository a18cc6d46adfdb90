"""The learning-rate schedule (``carl_pipeline.training.schedule``)."""


import numpy as np
import pytest

from carl_pipeline.training import (
    lr_schedule,
)


def test_lr_schedule__warmup_then_cosine_to_zero():
    lr = lr_schedule(100, 10, 1e-3)
    assert lr[0] == pytest.approx(1e-4) and lr[9] == pytest.approx(1e-3)
    assert np.all(np.diff(lr[10:]) <= 0) and lr[-1] < 1e-6


def test_lr_schedule__fixed_holds_the_rate_after_the_warmup():
    lr = lr_schedule(50, 5, 1e-4, "fixed")  # released tcc_config.yml: DECAY_TYPE fixed
    assert lr[0] == pytest.approx(2e-5) and np.all(lr[5:] == 1e-4)
    with pytest.raises(ValueError, match=r"decay must be one of \('cosine', 'fixed'\), got 'step'"):
        lr_schedule(10, 0, 1e-4, "step")
