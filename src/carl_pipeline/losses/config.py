"""The training objective's settings, apart from the optimiser's."""

from __future__ import annotations

from dataclasses import dataclass

from carl_pipeline.checks import check_choice, check_ranges
from carl_pipeline.losses.algorithms import Algorithm, get_algorithm
from carl_pipeline.losses.scl import NEGATIVES, SCL_TARGETS


@dataclass(frozen=True)
class LossConfig:
    """Which loss trains the encoder, and its settings (defaults: the paper's SCL).

    Attributes:
        algorithm: a row of ``carl_pipeline.losses.algorithms``: ``scl`` (CARL's sequence
            contrastive loss), ``tcc`` (cycle-back regression), ``tcn`` (time-contrastive
            n-pairs), ``simclr`` (NT-Xent on frames), ``supervised`` (a per-frame classifier on
            the labels: the reference, not self-supervised), or one registered since.
        temperature: softmax temperature of SCL (paper 0.1, released ``SCL.SOFTMAX_TEMPERATURE``),
            TCC (released ``TCC.SOFTMAX_TEMPERATURE`` 0.1) and SimCLR's NT-Xent.
        variance: variance of SCL's Gaussian target over timestamp distance (paper 10, released
            ``SCL.LABEL_VARIENCE``).
        negatives: SCL's negatives, released ``SCL.NEGATIVE_TYPE``: ``single_noself`` (the other
            view of the same video) or ``batch_noself`` (and every frame of the batch's other videos).
        scl_target: SCL's Gaussian target: ``exact`` (the paper's formula, computed in log space:
            every valid row keeps its target) or ``released`` (``algos/scl.py``: the Gaussian's
            exponentials in the dtype the released code's logits have, float32, or float16 under
            its ``USE_AMP``, so a row whose valid partners all lie beyond ~46 frames, ~19 under
            fp16, underflows to zero and drops out of the loss).
        tcc_variance_lambda: TCC's weight of the log-variance term (released ``TCC.VARIANCE_LAMBDA`` 0.001).
        tcc_label_smoothing: TCC's regression target is ``(1 - s) t_i + s x`` the mean of the other
            valid frames' ``t`` (released ``TCC.LABEL_SMOOTHING`` 0.1 in every config; 0: ``t_i``,
            the TCC paper's cycle-back regression).
        tcc_cycle: ``videos`` (one clip per video, cycled between different videos: TCC as
            published) or ``views`` (two augmented views per video, all cycled: the released
            code's ``SSL: true`` variant).
        tcn_positive_window: a TCN positive lies 1 to this many frames before its anchor
            (released ``TCN.POSITIVE_WINDOW`` 5).
        tcn_reg_lambda: TCN's L2 penalty (released ``TCN.REG_LAMBDA`` 0.002).
        projection: train through the projection head (released ``MODEL.PROJECTION``: true for
            SCL, false in ``tcc_config.yml`` and ``tcn_config.yml``). The supervised classifier
            always reads the embedding.
        l2_normalize: L2-normalise what the loss sees (released ``MODEL.L2_NORMALIZE``: true for
            SCL and TCN, false for TCC).
        label: the frame-label column the supervised classifier learns.
    """

    algorithm: str = "scl"
    temperature: float = 0.1
    variance: float = 10.0
    negatives: str = "single_noself"
    scl_target: str = "exact"
    tcc_variance_lambda: float = 0.001
    tcc_label_smoothing: float = 0.0
    tcc_cycle: str = "videos"
    tcn_positive_window: int = 5
    tcn_reg_lambda: float = 0.002
    projection: bool = True
    l2_normalize: bool = True
    label: str = "phase"

    def __post_init__(self):
        get_algorithm(self.algorithm)  # a registered one (carl_pipeline.losses.algorithms)
        check_ranges(self, {"temperature": "> 0", "variance": "> 0", "tcc_variance_lambda": ">= 0",
                            "tcc_label_smoothing": "in [0, 1)", "tcn_reg_lambda": ">= 0"})
        check_choice("scl_target", self.scl_target, SCL_TARGETS)
        check_choice("negatives", self.negatives, NEGATIVES)
        check_choice("tcc_cycle", self.tcc_cycle, ("videos", "views"))
        if self.tcn_positive_window < 1:
            raise ValueError(f"tcn_positive_window must be >= 1, got {self.tcn_positive_window}")

    @property
    def spec(self) -> Algorithm:
        """The algorithm's row of the table (``carl_pipeline.losses.algorithms``)."""
        return get_algorithm(self.algorithm)

    @property
    def clip_layout(self) -> str:
        """What one training sample holds (``carl_pipeline.losses.algorithms.LAYOUTS``): for SCL
        and TCC's view variant two clips of one video, each sampled and augmented on its own; for
        TCC as published and the supervised reference one clip; for SimCLR one clip augmented
        twice; for TCN anchors interleaved with their positives."""
        return self.spec.clip_layout(self)

    @property
    def uses_labels(self) -> bool:
        return self.spec.uses_labels
