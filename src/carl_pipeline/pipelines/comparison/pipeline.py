"""``compare_<dataset>``: CARL and its baselines trained on the same data, encoder and budget,
scored with the same protocol against one untrained encoder, and put in one table.

Built from the training and evaluation templates through namespaces: CARL is the dataset's own
namespace (``<dataset>``: its model, metrics and reports as ``kedro run`` makes them); each
baseline trains and evaluates in ``<dataset>_<algorithm>`` (``pouring_tcc``, ...) with the
dataset's ``train`` settings changed as its row of the algorithm table says
(``Algorithm.baseline_changes``) and, beyond that, as ``<dataset>.compare.<algorithm>`` says when
conf has it; it reads the untrained reference's embeddings from ``<dataset>``. A registered row
is compared with no conf edit.
"""

from kedro.pipeline import Node, Pipeline

from carl_pipeline.pipelines import evaluation, training
from carl_pipeline.pipelines.comparison.nodes import (
    baseline_node,
    combine_taxonomy_comparisons,
    compare_methods,
    plot_comparison,
)
from carl_pipeline.pipelines.namespaces import PROCESSED
from carl_pipeline.training.baselines import baselines


def create_baseline_pipeline(dataset: str, algorithm: str, source: str | None = None) -> Pipeline:
    """``<dataset>_<algorithm>``: the dataset's training settings with the baseline's changes ->
    its model -> its embeddings, metrics and reports (the untrained row taken from ``<dataset>``)."""
    source = source or dataset
    template = Pipeline([
        Node(baseline_node(algorithm), inputs=["params:train", "params:compare"], outputs="train_settings",
             name="baseline_settings"),
    ]) + training.training_template("train_settings") + evaluation.evaluation_template(untrained=False)
    inputs = {name: f"{source}.{name}" for name in PROCESSED}
    inputs["embeddings_untrained"] = f"{dataset}.embeddings_untrained"
    inputs["pixel_scores"] = f"{dataset}.pixel_scores"
    parameters = {"params:train": f"params:{dataset}.train", "params:compare": f"params:{dataset}.compare",
                  "params:evaluate": f"params:{dataset}.evaluate"}
    return Pipeline(template, namespace=f"{dataset}_{algorithm}", inputs=inputs, parameters=parameters)


def create_pipeline(dataset: str, compared: tuple[str, ...] | None = None, source: str | None = None) -> Pipeline:
    """CARL in ``<dataset>`` and every baseline in ``<dataset>_<algorithm>``, then
    ``<dataset>.comparison`` (``comparison.json``) and ``<dataset>.comparison_plot``."""
    compared = baselines() if compared is None else tuple(compared)
    methods = ("scl",) + compared
    carl = training.create_pipeline(dataset, source) + evaluation.create_pipeline(dataset, source)
    others = sum((create_baseline_pipeline(dataset, a, source) for a in compared), Pipeline([]))
    namespaces = {a: dataset if a == "scl" else f"{dataset}_{a}" for a in methods}
    table = Pipeline([
        Node(compare_methods, inputs={f"{a}_{what}": f"{a}_{what}" for a in methods for what in ("metrics", "model")},
             outputs="comparison", name="compare_methods"),
        Node(plot_comparison, inputs="comparison", outputs="comparison_plot", name="plot_comparison"),
    ])
    table = Pipeline(table, namespace=dataset,
                     inputs={f"{a}_{what}": f"{namespaces[a]}.{what}" for a in methods for what in ("metrics", "model")})
    return carl + others + table


def create_taxonomy_pipeline(dataset: str, taxonomies: tuple[str, ...], compared: tuple[str, ...] | None = None
                             ) -> Pipeline:
    """``compare_finegym``: the comparison of every taxonomy (``<dataset>_<taxonomy>``: CARL and
    each baseline trained on that taxonomy's events, ``<dataset>_<taxonomy>_<algorithm>``), then
    ``<dataset>.comparison``, one table of both, and its picture."""
    per_taxonomy = sum((create_pipeline(f"{dataset}_{t}", compared, source=dataset) for t in taxonomies),
                       Pipeline([]))
    table = Pipeline([
        Node(combine_taxonomy_comparisons, inputs={t: f"{t}_comparison" for t in taxonomies}, outputs="comparison",
             name="combine_taxonomy_comparisons"),
        Node(plot_comparison, inputs="comparison", outputs="comparison_plot", name="plot_comparison"),
    ])
    return per_taxonomy + Pipeline(table, namespace=dataset,
                                   inputs={f"{t}_comparison": f"{dataset}_{t}.comparison" for t in taxonomies})
