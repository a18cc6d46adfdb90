"""The training objective's settings, apart from the optimiser's: the ones every loss shares, and
each loss's own (its row's settings class, ``carl_pipeline.losses.algorithms``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from carl_pipeline.checks import check_ranges
from carl_pipeline.compat import FLAT_LOSS_NAMES
from carl_pipeline.losses.algorithms import Algorithm, algorithm_names, get_algorithm

#: The flat names SCL's, TCC's and TCN's settings had before each loss owned its settings, and
#: where they live now (``carl_pipeline.compat``: why they are kept, and when they go).
FLAT_NAMES = FLAT_LOSS_NAMES


def nest_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """A ``train.loss`` block as ``LossConfig`` takes it: each block named after an algorithm
    (``tcc: {cycle: views}``) and each flat name of ``FLAT_NAMES`` (``tcc_cycle: views``) moved
    under ``settings``. Other keys are left for ``LossConfig`` to accept or refuse."""
    values = dict(values)
    settings = {name: dict(block) for name, block in (values.pop("settings", None) or {}).items()}
    shared = {f.name for f in fields(LossConfig)}
    for key in list(values):
        if key not in shared and isinstance(values[key], Mapping):  # a loss's block (LossConfig refuses a stranger)
            settings.setdefault(key, {}).update(values.pop(key))
        elif key in FLAT_NAMES:
            algorithm, name = FLAT_NAMES[key]
            settings.setdefault(algorithm, {})[name] = values.pop(key)
    return {**values, "settings": settings} if settings else values


@dataclass(frozen=True)
class LossConfig:
    """Which loss trains the encoder, the settings every loss shares, and each loss's own
    (defaults: the paper's SCL).

    Attributes:
        algorithm: a row of ``carl_pipeline.losses.algorithms``: ``scl`` (CARL's sequence
            contrastive loss), ``tcc`` (cycle-back regression), ``tcn`` (time-contrastive
            n-pairs), ``simclr`` (NT-Xent on frames), ``lav``, ``vava``, ``gtcc``, ``supervised``
            (a per-frame classifier on the labels: the reference, not self-supervised), or one
            registered since.
        temperature: softmax temperature of SCL (paper 0.1, released ``SCL.SOFTMAX_TEMPERATURE``),
            TCC (released ``TCC.SOFTMAX_TEMPERATURE`` 0.1) and SimCLR's NT-Xent.
        projection: train through the projection head (released ``MODEL.PROJECTION``: true for
            SCL, false in ``tcc_config.yml`` and ``tcn_config.yml``). The supervised classifier
            always reads the embedding.
        l2_normalize: L2-normalise what the loss sees (released ``MODEL.L2_NORMALIZE``: true for
            SCL and TCN, false for TCC).
        label: the frame-label column the supervised classifier learns.
        settings: each loss's own settings, ``{algorithm: {setting: value}}`` (conf writes them
            as ``train.loss.<algorithm>``); validated by the row's settings class and completed
            with its defaults, for every registered algorithm that has settings.
    """

    algorithm: str = "scl"
    temperature: float = 0.1
    projection: bool = True
    l2_normalize: bool = True
    label: str = "phase"
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self):
        get_algorithm(self.algorithm)  # a registered one (carl_pipeline.losses.algorithms)
        check_ranges(self, {"temperature": "> 0"})
        given = dict(self.settings or {})
        for name in given:
            if name not in algorithm_names():
                raise ValueError(f"loss.{name}: no algorithm {name!r} to take these settings; "
                                 f"the algorithms are {algorithm_names()}")
        objects = {}
        for name in algorithm_names():
            row = get_algorithm(name)
            if row.settings is not None or given.get(name):
                objects[name] = row.make_settings(given.get(name))  # raises naming loss.<name> and the key
        object.__setattr__(self, "settings", {name: asdict(own) if own is not None else {}
                                              for name, own in objects.items()})
        # the validated objects, kept: a loss reads its own on every training step
        object.__setattr__(self, "_objects", objects)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> LossConfig:
        """A ``LossConfig`` from a checkpoint's or a config's mapping, the flat names of
        ``FLAT_NAMES`` included; settings of an algorithm not registered here are dropped unless
        it is the one trained (which then fails, naming it)."""
        values = dict(values)
        names = set(algorithm_names())
        stored = {k: v for k, v in (values.pop("settings", None) or {}).items() if k in names}
        return cls(**nest_settings({**values, "settings": stored}))

    @property
    def spec(self) -> Algorithm:
        """The algorithm's row of the table (``carl_pipeline.losses.algorithms``)."""
        return get_algorithm(self.algorithm)

    @property
    def own(self) -> Any:
        """The trained algorithm's settings object (its row's settings class), or None."""
        return self.settings_of(self.algorithm)

    def settings_of(self, algorithm: str) -> Any:
        """``algorithm``'s settings object as this config gives them (its defaults otherwise)."""
        if algorithm in self._objects:
            return self._objects[algorithm]
        return get_algorithm(algorithm).make_settings(None)  # registered after this config was made

    @property
    def clip_layout(self) -> str:
        """What one training sample holds (``carl_pipeline.losses.algorithms.LAYOUTS``): for SCL
        and TCC's view variant two clips of one video, each sampled and augmented on its own; for
        TCC as published and the supervised reference one clip; for SimCLR one clip augmented
        twice; for TCN anchors interleaved with their positives."""
        return self.spec.clip_layout(self)

    @property
    def clip_options(self) -> dict[str, Any]:
        """What the clip layout reads from the settings (TCN's ``positive_window``)."""
        return dict(self.spec.clip_options(self))

    @property
    def uses_labels(self) -> bool:
        return self.spec.uses_labels

    def identity(self) -> dict[str, Any]:
        """What a run's identity holds of the loss: the shared settings, SCL's, TCC's and TCN's
        under their flat names (``FLAT_NAMES``: how runs were identified before each loss owned
        its settings, so that those runs keep their ids), and the trained algorithm's own
        settings when it is another (a change to them starts a new run)."""
        out: dict[str, Any] = {"algorithm": self.algorithm, "temperature": self.temperature,
                               "projection": self.projection, "l2_normalize": self.l2_normalize, "label": self.label}
        for flat, (algorithm, name) in FLAT_NAMES.items():
            out[flat] = self.settings[algorithm][name]
        if self.algorithm not in {a for a, _ in FLAT_NAMES.values()} and self.settings.get(self.algorithm):
            out[self.algorithm] = dict(self.settings[self.algorithm])
        return out
