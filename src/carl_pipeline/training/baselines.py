"""A baseline's training settings: the dataset's ``train`` block with what the baseline's row of
the algorithm table changes (``Algorithm.baseline_changes``) and, beyond that, what the dataset's
``compare.<algorithm>`` says."""

from __future__ import annotations

from carl_pipeline.losses import algorithm_names, get_algorithm
from carl_pipeline.nested import merge
from carl_pipeline.params import CompareChanges, TrainChanges, TrainParams


def baselines() -> tuple[str, ...]:
    """The baselines compared with CARL: every registered algorithm but CARL's, in the table's
    order (``carl_pipeline.losses.algorithms``: each row says what it changes)."""
    return tuple(a for a in algorithm_names() if a != "scl")


def default_changes(algorithm: str) -> TrainChanges:
    """What a baseline changes in the ``train`` block by default: its row's comparison changes
    (``Algorithm.baseline_changes``, ``carl_pipeline.losses.algorithms``), at least its
    ``loss.algorithm``."""
    return TrainChanges.model_validate(get_algorithm(algorithm).comparison_changes())


def changes_for(algorithm: str, compare: CompareChanges | dict | None = None) -> TrainChanges:
    """What ``compare_<dataset>`` changes for ``algorithm``: its row's defaults
    (``default_changes``) with the dataset's ``compare.<algorithm>``, if any, laid over them."""
    if compare is not None and not isinstance(compare, CompareChanges):
        compare = CompareChanges.model_validate(compare)
    override = compare.get(algorithm) if compare is not None else None
    changes = default_changes(algorithm).as_changes()
    if override is not None:
        changes = merge(changes, override.as_changes())
    return TrainChanges.model_validate(changes)


def baseline_settings(train: TrainParams, changes: TrainChanges) -> TrainParams:
    """The dataset's training settings with what a baseline changes (its loss, its sampling) laid
    over them: the same encoder, data and budget as CARL unless ``changes`` says otherwise.

    Args:
        train: the dataset's ``train`` block (what CARL trains with).
        changes: nested keys of that block to change, e.g. ``{"loss": {"algorithm": "tcc"}}``
            (``changes_for``: the row's defaults and ``<dataset>.compare.<algorithm>``).

    Raises:
        ValueError: a change names a key the training settings do not have (from validation).
    """
    if not isinstance(changes, TrainChanges):
        changes = TrainChanges.model_validate(changes or {})
    base = train.model_dump()
    base["model"].pop("train_length", None)  # set from sampling.num_steps, never given
    return TrainParams.model_validate(merge(base, changes.as_changes()))
