"""Parameter blocks (``carl_pipeline.params``): a bad value is refused naming the field."""


import pytest


def test_settings__a_negative_learning_rate_is_refused_naming_the_field():
    from pydantic import ValidationError

    from carl_pipeline.params import TrainParams

    block = {"model": {"backbone": "resnet18"}, "sampling": {}, "augment": {}, "loss": {},
             "optim": {"lr": -0.001}}
    with pytest.raises(ValidationError, match=r"optim[\s\S]*lr must be > 0, got -0.001"):
        TrainParams(**block)
    for field, value in (("weight_decay", -1.0), ("grad_clip", 0.0), ("warmup_epochs", -1)):
        with pytest.raises(ValidationError, match=f"{field} must be"):
            TrainParams(**{**block, "optim": {field: value}})
