"""The comparison of methods trained on the same data, encoder and budget: one table of every
method's scores beside the references (the untrained encoder, the raw pixels, the trivial progress
estimates), and the best method per metric.

Not imported by ``carl_pipeline.evaluation`` itself (it reads checkpoints and the loss table).
"""

from __future__ import annotations

import logging
from typing import Any

from carl_pipeline.evaluation.progress import oriented
from carl_pipeline.evaluation.protocol import trained_scores
from carl_pipeline.losses import algorithm_names, get_algorithm
from carl_pipeline.record import read_checkpoint

logger = logging.getLogger(__name__)

#: Rows of a comparison that are references, not trained methods (never "best"): the untrained
#: encoder, the raw pixels, and the trivial online-progress estimates (their one column).
REFERENCES = ("untrained", "raw pixels", "constant 0.5", "relative time")


def _best(rows, metric: str, scores) -> str:
    """The row that scores best on ``metric`` (lowest for ``LOWER_IS_BETTER``; a row without it: never)."""
    return max(rows, key=lambda r: oriented(metric, scores[r][metric]) if metric in scores[r] else float("-inf"))


def compare_methods(**inputs: Any) -> dict[str, Any]:
    """One table of every method's validation scores, the untrained encoder as a row.

    Args:
        inputs: ``<algorithm>_metrics`` (each method's ``metrics``) and ``<algorithm>_model``
            (its checkpoint, read to check that every method trained the same encoder) for each
            compared algorithm; rows follow the algorithm table (CARL first), whose untrained row
            is the table's.

    Returns:
        ``{"methods": [...], "metrics": [...], "scores": {row: {metric: value}}, "labels": {...},
        "models": {row: {"algorithm", "run", "epochs", "final_loss"}}}``; rows are
        ``untrained``, ``raw pixels``, each method's name (``CARL (SCL)``, ``TCC``, ...) and, on
        phase tasks, ``constant 0.5`` and ``relative time``: the trivial online-progress
        estimates, with their one metric, ``online_progress_error`` (lower is better).

    Raises:
        ValueError: two methods trained different encoder architectures (the table would not
            compare losses), naming them.
    """
    algorithms = [key.removesuffix("_metrics") for key in inputs if key.endswith("_metrics")]
    order = list(algorithm_names())  # CARL first, then the baselines in the table's order
    algorithms.sort(key=lambda a: order.index(a) if a in order else len(order))
    reference = algorithms[0]
    encoder = encoder_architecture(inputs[f"{reference}_model"])
    scores: dict[str, dict[str, float]] = {"untrained": dict(inputs[f"{reference}_metrics"]["untrained"])}
    if inputs[f"{reference}_metrics"].get("pixels"):  # the raw-pixel reference, beside the untrained encoder
        scores["raw pixels"] = dict(inputs[f"{reference}_metrics"]["pixels"])
    models = {}
    for algorithm in algorithms:
        metrics, model = inputs[f"{algorithm}_metrics"], inputs[f"{algorithm}_model"]
        architecture = encoder_architecture(model)
        if architecture != encoder:
            differing = sorted(k for k in encoder if encoder[k] != architecture.get(k))
            raise ValueError(f"{algorithm} trained another encoder than {reference} (differs in {differing}): "
                             f"the comparison needs the same encoder for every method")
        name = get_algorithm(algorithm).display_name
        scores[name] = dict(trained_scores(metrics))
        models[name] = {"algorithm": metrics["model"]["algorithm"], "run": metrics["model"].get("run"),
                        "epochs": metrics["model"]["epochs"], "final_loss": metrics["model"]["final_loss"]}
    metric_names = list(scores["untrained"])
    for name, value in inputs[f"{reference}_metrics"].get("progress", {}).items():  # the column's trivial estimates
        scores[name] = {"online_progress_error": value}
    best = {m: _best([row for row in scores if row not in REFERENCES], m, scores) for m in metric_names}
    logger.info("comparison: best per metric %s", best)
    return {"methods": list(scores), "metrics": metric_names, "scores": scores, "best": best,
            "labels": inputs[f"{reference}_metrics"].get("labels", {}), "models": models}


def combine_taxonomy_comparisons(**comparisons: dict[str, Any]) -> dict[str, Any]:
    """FineGym's per-taxonomy comparisons in one table: a row per method (the untrained encoder
    first), a column per taxonomy's metric (``gym99_accuracy``, ``gym288_accuracy``), each cell
    from that taxonomy's own training of the method.

    Args:
        comparisons: each taxonomy's ``compare_methods`` result, keyed by the taxonomy.

    Returns:
        ``compare_methods``'s layout (``methods``, ``metrics``, ``scores``, ``best``, ``models``:
        row -> taxonomy -> model) and ``rows``: one record per method and taxonomy
        (``method``, ``taxonomy``, ``metric``, ``value``, ``untrained``, ``run``).
    """
    methods: list[str] = []
    scores: dict[str, dict[str, float]] = {}
    models: dict[str, dict[str, Any]] = {}
    rows = []
    for taxonomy, table in sorted(comparisons.items()):
        for method in table["methods"]:
            if method not in methods:
                methods.append(method)
            scores.setdefault(method, {}).update(table["scores"][method])
        for method, model in table["models"].items():
            models.setdefault(method, {})[taxonomy] = model
            for metric in table["metrics"]:
                rows.append({"method": method, "taxonomy": taxonomy, "metric": metric,
                             "value": table["scores"][method].get(metric),
                             "untrained": table["scores"]["untrained"].get(metric),
                             "raw_pixels": table["scores"].get("raw pixels", {}).get(metric), "run": model.get("run")})
    metric_names = [m for table in (comparisons[t] for t in sorted(comparisons)) for m in table["metrics"]]
    best = {m: _best([r for r in methods if r not in REFERENCES and m in scores[r]], m, scores) for m in metric_names}
    return {"methods": methods, "metrics": metric_names, "scores": scores, "best": best, "models": models,
            "rows": rows}


def encoder_architecture(model) -> dict[str, Any]:
    """The encoder settings a checkpoint trained (where its weights files were looked up left out)."""
    encoder = dict(read_checkpoint(model).encoder)
    encoder.pop("backbone_dir", None)  # where weights files are looked up, not which weights
    return encoder
