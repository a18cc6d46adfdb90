"""Comparison nodes: a baseline's training settings, and the table of every method's scores
(``carl_pipeline.evaluation.comparison``, ``carl_pipeline.training.baselines``)."""

from typing import Any

from carl_pipeline.evaluation.comparison import combine_taxonomy_comparisons, compare_methods
from carl_pipeline.params import CompareChanges, TrainParams
from carl_pipeline.reporting import comparison_figure
from carl_pipeline.training.baselines import baseline_settings, changes_for

__all__ = ["baseline_node", "combine_taxonomy_comparisons", "compare_methods", "plot_comparison"]


def baseline_node(algorithm: str):
    """The node function that makes ``algorithm``'s training settings from the dataset's
    ``train`` block and its ``compare`` block (Kedro validates both from the annotations)."""

    def baseline_train_settings(train: TrainParams, compare: CompareChanges) -> TrainParams:
        return baseline_settings(train, changes_for(algorithm, compare))

    baseline_train_settings.__doc__ = f"{algorithm}'s training settings: ``baseline_settings`` with ``changes_for({algorithm!r}, compare)``."
    return baseline_train_settings


def plot_comparison(comparison: dict[str, Any]):
    """The comparison table as a picture: methods x metrics, the best of each metric darkest."""
    return comparison_figure({row: comparison["scores"][row] for row in comparison["methods"]},
                             "methods x metrics on the validation videos (darker: better within the metric)")
