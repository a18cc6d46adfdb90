"""The training objective's settings, apart from the optimiser's."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LossConfig:
    """Which self-supervised loss trains the encoder, and its settings (defaults: the paper's).

    Attributes:
        algorithm: ``scl`` (CARL's sequence contrastive loss) or ``tcc`` (TCC's cycle-back
            regression, the baseline).
        temperature: softmax temperature (SCL: paper 0.1, released ``SCL.SOFTMAX_TEMPERATURE``).
        variance: variance of SCL's Gaussian target over timestamp distance (paper 10, released
            ``SCL.LABEL_VARIENCE``).
        tcc_variance_lambda: TCC's weight of the log-variance term (TCC: 0.001).
    """

    algorithm: str = "scl"
    temperature: float = 0.1
    variance: float = 10.0
    tcc_variance_lambda: float = 0.001

    def __post_init__(self):
        if self.algorithm not in ("scl", "tcc"):
            raise ValueError(f"algorithm must be 'scl' or 'tcc', got {self.algorithm!r}")
        if self.temperature <= 0 or self.variance <= 0:
            raise ValueError(f"temperature and variance must be > 0, got {self.temperature}, {self.variance}")
