"""The training algorithms, one row each: what config validation, the training loop, the
comparison and the reports read about an algorithm. Adding one is its loss module and a row
(``register``); nothing else lists them: not conf (a row carries its settings' defaults and what
``compare_<dataset>`` changes for it), not the training loop, not the comparison.

A row's ``loss`` takes ``(outputs, batch, config, amp_dtype)``: ``outputs`` ``(B, V, T, D)`` what
the learner gives (the (projected) embeddings of every view, or for a labelled algorithm the
class logits), ``batch`` the loader's ``steps``, ``masks`` ``(B, V, T)``, ``seq_len`` ``(B, V)``
and, when ``uses_labels``, ``labels`` ``(B, V, T)``; ``config`` the ``LossConfig`` (its ``own``:
the row's settings object); ``amp_dtype`` the forward pass's autocast dtype (None without). It
returns the scalar loss.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

import torch

from carl_pipeline.checks import check_choice
from carl_pipeline.losses.gtcc import GTCCSettings, gtcc_loss
from carl_pipeline.losses.lav import LAVSettings, lav_loss
from carl_pipeline.losses.ops import valid_sequences
from carl_pipeline.losses.scl import SCLSettings, sequence_contrastive_loss
from carl_pipeline.losses.simclr import frame_contrastive_loss
from carl_pipeline.losses.supervised import frame_classification_loss
from carl_pipeline.losses.tcc import TCCSettings, cycle_back_regression_loss
from carl_pipeline.losses.tcn import TCNSettings, time_contrastive_loss
from carl_pipeline.losses.vava import VAVASettings, vava_loss

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
            for it (at least ``loss.algorithm``, which is added when missing); the parameters'
            ``<dataset>.compare.<name>``, when there is one, is laid over it.
        settings: the loss's own settings, a frozen dataclass whose defaults are the authors'
            values and whose ``__post_init__`` validates them (``train.loss.<name>`` in conf,
            ``LossConfig.own`` in the loss); None: the loss has none beyond the shared ones.
        clip_options: what the training data's clip ``layout`` reads from the settings (TCN's
            ``positive_window``), as a function of the ``LossConfig``.
    """

    name: str
    display_name: str
    loss: Callable[..., torch.Tensor]
    layout: str | Callable[[LossConfig], str]
    uses_labels: bool = False
    sequences_per_batch: Callable[[LossConfig], int] = lambda config: 1
    baseline_changes: Mapping[str, Any] = field(default_factory=dict)
    settings: type | None = None
    clip_options: Callable[[LossConfig], Mapping[str, Any]] = lambda config: {}

    def clip_layout(self, config: LossConfig) -> str:
        return self.layout(config) if callable(self.layout) else self.layout

    def comparison_changes(self) -> dict[str, Any]:
        """What ``compare_<dataset>`` changes for this row by default: ``baseline_changes`` with
        its ``loss.algorithm``."""
        changes = {k: dict(v) if isinstance(v, Mapping) else v for k, v in self.baseline_changes.items()}
        changes["loss"] = {"algorithm": self.name, **changes.get("loss", {})}
        return changes

    def make_settings(self, values: Mapping[str, Any] | None = None) -> Any:
        """The row's settings object from ``values`` (defaults for what is missing).

        Raises:
            ValueError: a key the settings do not have, or a value their checks refuse, naming
                ``loss.<name>`` and the key.
        """
        values = dict(values or {})
        if self.settings is None:
            if values:
                raise ValueError(f"loss.{self.name}: {self.name} has no settings of its own, got {sorted(values)}")
            return None
        known = {f.name for f in fields(self.settings)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"loss.{self.name}: unknown setting(s) {unknown}; {self.name}'s settings are {sorted(known)}")
        try:
            return self.settings(**values)
        except ValueError as error:
            raise ValueError(f"loss.{self.name}: {error}") from error


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
    own = config.own
    return sequence_contrastive_loss(outputs, batch["steps"], batch["seq_len"], batch["masks"], config.temperature,
                                     own.variance, own.negatives, target=own.target,
                                     released_dtype=amp_dtype or torch.float32)


def _tcc(outputs, batch, config, amp_dtype):
    return cycle_back_regression_loss(outputs, batch["steps"], batch["seq_len"], batch["masks"], config.temperature,
                                      config.own.variance_lambda, label_smoothing=config.own.label_smoothing)


def _tcn(outputs, batch, config, amp_dtype):
    return time_contrastive_loss(outputs[:, 0], batch["masks"][:, 0], config.own.reg_lambda)


def _simclr(outputs, batch, config, amp_dtype):
    return frame_contrastive_loss(outputs, batch["masks"], config.temperature)


def _lav(outputs, batch, config, amp_dtype):
    return lav_loss(valid_sequences(outputs, batch["masks"]), **asdict(config.own))


def _vava(outputs, batch, config, amp_dtype):
    # The GTCC repository passes the epoch as VAVA's global_step (utils/loss_entry.py).
    return vava_loss(valid_sequences(outputs, batch["masks"]), global_step=int(batch.get("epoch", 0)),
                     **asdict(config.own))


def _gtcc(outputs, batch, config, amp_dtype):
    return gtcc_loss(valid_sequences(outputs, batch["masks"]), **asdict(config.own))


def _supervised(outputs, batch, config, amp_dtype):
    return frame_classification_loss(outputs.flatten(0, 1), batch["labels"].flatten(0, 1), batch["masks"].flatten(0, 1))


register(Algorithm("scl", "CARL (SCL)", _scl, "two_views", settings=SCLSettings))
# The comparison's rows: the released configs' values (configs/tcc_config.yml, tcn_config.yml,
# classification_transformer_config.yml) apart from their other embedder (conv) and clip length
# (40): the comparison keeps CARL's encoder and clip. conf's <dataset>.compare.<name> changes them
# further (conf/paper: the released batches and schedules).
# TCC: one clip per video sampled uniformly (offset_uniform), cycled between videos; no projection
# head, no L2 normalisation (released TCC.*, MODEL.PROJECTION/L2_NORMALIZE false).
register(Algorithm("tcc", "TCC", _tcc, lambda config: "two_views" if config.own.cycle == "views" else "one_view",
                   sequences_per_batch=lambda config: 1 if config.own.cycle == "views" else 2,
                   baseline_changes={"loss": {"tcc": {"cycle": "videos"}, "projection": False, "l2_normalize": False},
                                     "sampling": {"strategy": "offset_uniform"}},
                   settings=TCCSettings))
# TCN: anchors sampled uniformly, each with a positive up to 5 frames before it; L2-normalised, no
# projection head.
register(Algorithm("tcn", "TCN", _tcn, "anchor_positive",
                   baseline_changes={"loss": {"projection": False, "l2_normalize": True},
                                     "sampling": {"strategy": "offset_uniform"}},
                   settings=TCNSettings, clip_options=lambda config: {"positive_window": config.own.positive_window}))
# SimCLR on frames: the same frames augmented twice, NT-Xent over the batch's frames (not in the
# released code; the temperature is SCL's 0.1, unconfirmed for the paper's SimCLR row).
register(Algorithm("simclr", "SimCLR", _simclr, "same_frames"))
# The alignment methods that followed CARL, as the GTCC repository trains them
# (gerardDonahue/GTCC_CVPR2024): one clip per video sampled uniformly over it, aligned with the
# batch's other videos (so two videos a batch at least); no projection head and no L2
# normalisation (the repository's heads end in a linear layer: unconfirmed for LAV's and VAVA's
# own code). LAV: soft-DTW and the intra-video regulariser. VAVA: optimal transport with
# temporal priors and a virtual frame. GTCC: cycle-consistency through a mixture of neighbours.
_ALIGN_VIDEOS = {"loss": {"projection": False, "l2_normalize": False}, "sampling": {"strategy": "offset_uniform"}}
register(Algorithm("lav", "LAV", _lav, "one_view", sequences_per_batch=lambda config: 2,
                   baseline_changes=_ALIGN_VIDEOS, settings=LAVSettings))
register(Algorithm("vava", "VAVA", _vava, "one_view", sequences_per_batch=lambda config: 2,
                   baseline_changes=_ALIGN_VIDEOS, settings=VAVASettings))
register(Algorithm("gtcc", "GTCC", _gtcc, "one_view", sequences_per_batch=lambda config: 2,
                   baseline_changes=_ALIGN_VIDEOS, settings=GTCCSettings))
# Supervised reference: a linear classifier of loss.label on the embedding (released
# classification: time_augment, one view, no projection, no L2 normalisation).
register(Algorithm("supervised", "supervised", _supervised, "one_view", uses_labels=True,
                   baseline_changes={"loss": {"projection": False, "l2_normalize": False}}))
