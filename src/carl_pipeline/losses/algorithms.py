"""The training algorithms, one row each: what config validation, the training loop, the
comparison and the reports read about an algorithm. Adding one is its loss module and a row
(``register``); nothing else lists them.

A row's ``loss`` takes ``(outputs, batch, config, amp_dtype)``: ``outputs`` ``(B, V, T, D)`` what
the learner gives (the (projected) embeddings of every view, or for a labelled algorithm the
class logits), ``batch`` the loader's ``steps``, ``masks`` ``(B, V, T)``, ``seq_len`` ``(B, V)``
and, when ``uses_labels``, ``labels`` ``(B, V, T)``; ``config`` the ``LossConfig``; ``amp_dtype``
the forward pass's autocast dtype (None without). It returns the scalar loss.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from carl_pipeline.checks import check_choice
from carl_pipeline.losses.scl import sequence_contrastive_loss
from carl_pipeline.losses.simclr import frame_contrastive_loss
from carl_pipeline.losses.supervised import frame_classification_loss
from carl_pipeline.losses.tcc import cycle_back_regression_loss
from carl_pipeline.losses.tcn import time_contrastive_loss

if TYPE_CHECKING:
    from carl_pipeline.losses.config import LossConfig

#: How the frames of one training sample are drawn: two clips of one video, each sampled and
#: augmented on its own (``two_views``); one clip (``one_view``); one clip augmented twice
#: (``same_frames``); one clip of anchors interleaved with their positives (``anchor_positive``).
LAYOUTS = ("two_views", "one_view", "same_frames", "anchor_positive")


@dataclass(frozen=True)
class Algorithm:
    """One training algorithm.

    Attributes:
        name: its ``loss.algorithm``.
        display_name: its row in the comparison table and the reports.
        loss: ``(outputs, batch, config, amp_dtype) -> scalar`` (module docstring).
        layout: what a training sample holds (``LAYOUTS``), or a function of the ``LossConfig``
            when a setting chooses it.
        uses_labels: it trains on frame labels (a reference, not self-supervised): the learner
            gets a linear classifier and the loss reads ``batch["labels"]``.
        sequences_per_batch: the fewest sequences a batch must hold (TCC cycles between them),
            as a function of the ``LossConfig``; incomplete last batches are then dropped.
        baseline_changes: what ``compare_<dataset>`` changes in the dataset's ``train`` block
            for it when the parameters give no ``<dataset>.compare.<name>``.
    """

    name: str
    display_name: str
    loss: Callable[..., torch.Tensor]
    layout: str | Callable[[LossConfig], str]
    uses_labels: bool = False
    sequences_per_batch: Callable[[LossConfig], int] = lambda config: 1
    baseline_changes: Mapping[str, Any] = field(default_factory=dict)

    def clip_layout(self, config: LossConfig) -> str:
        return self.layout(config) if callable(self.layout) else self.layout


_ALGORITHMS: dict[str, Algorithm] = {}


def register(algorithm: Algorithm) -> Algorithm:
    """Add (or replace) a row of the table."""
    if not callable(algorithm.layout) and algorithm.layout not in LAYOUTS:
        raise ValueError(f"{algorithm.name}: layout must be one of {LAYOUTS}, got {algorithm.layout!r}")
    _ALGORITHMS[algorithm.name] = algorithm
    return algorithm


def algorithm_names() -> tuple[str, ...]:
    """Every registered algorithm, CARL's first, in the comparison table's order."""
    return tuple(_ALGORITHMS)


def get_algorithm(name: str) -> Algorithm:
    """The row of ``name``.

    Raises:
        ValueError: no such algorithm (naming the registered ones).
    """
    check_choice("algorithm", name, algorithm_names())
    return _ALGORITHMS[name]


def _scl(outputs, batch, config, amp_dtype):
    return sequence_contrastive_loss(outputs, batch["steps"], batch["seq_len"], batch["masks"], config.temperature,
                                     config.variance, config.negatives, target=config.scl_target,
                                     released_dtype=amp_dtype or torch.float32)


def _tcc(outputs, batch, config, amp_dtype):
    return cycle_back_regression_loss(outputs, batch["steps"], batch["seq_len"], batch["masks"], config.temperature,
                                      config.tcc_variance_lambda, label_smoothing=config.tcc_label_smoothing)


def _tcn(outputs, batch, config, amp_dtype):
    return time_contrastive_loss(outputs[:, 0], batch["masks"][:, 0], config.tcn_reg_lambda)


def _simclr(outputs, batch, config, amp_dtype):
    return frame_contrastive_loss(outputs, batch["masks"], config.temperature)


def _supervised(outputs, batch, config, amp_dtype):
    return frame_classification_loss(outputs.flatten(0, 1), batch["labels"].flatten(0, 1), batch["masks"].flatten(0, 1))


register(Algorithm("scl", "CARL (SCL)", _scl, "two_views"))
register(Algorithm("tcc", "TCC", _tcc, lambda config: "two_views" if config.tcc_cycle == "views" else "one_view",
                   sequences_per_batch=lambda config: 1 if config.tcc_cycle == "views" else 2,
                   baseline_changes={"loss": {"algorithm": "tcc", "tcc_cycle": "videos", "projection": False,
                                              "l2_normalize": False},
                                     "sampling": {"strategy": "offset_uniform"}}))
register(Algorithm("tcn", "TCN", _tcn, "anchor_positive",
                   baseline_changes={"loss": {"algorithm": "tcn", "projection": False, "l2_normalize": True},
                                     "sampling": {"strategy": "offset_uniform"}}))
register(Algorithm("simclr", "SimCLR", _simclr, "same_frames", baseline_changes={"loss": {"algorithm": "simclr"}}))
register(Algorithm("supervised", "supervised", _supervised, "one_view", uses_labels=True,
                   baseline_changes={"loss": {"algorithm": "supervised", "projection": False, "l2_normalize": False}}))
