"""Project pipelines."""

from kedro.pipeline import Pipeline

from carl_pipeline.pipelines import comparison, evaluation, export, ingestion, own_videos, training

DATASETS = ("pouring", "penn_action", "finegym")
# CARL against its baselines (compare_<dataset>): the datasets whose evaluation is one namespace.
COMPARED_DATASETS = ("pouring", "penn_action")
# FineGym trains and scores one encoder per taxonomy, as the released configs do
# (configs/*finegym*.yml: EVAL.CLASS_NUM 99 or 288, each with its own training set).
FINEGYM_TAXONOMIES = ("gym99", "gym288")


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    Returns:
        Per dataset ``<d>``: ``ingest_<d>`` (raw -> frame packs and index), ``train_<d>`` (frame
        packs -> trained encoder), ``evaluate_<d>`` (encoder -> embeddings, metrics, reports) and
        ``<d>`` (all three). FineGym trains and evaluates in the namespaces ``finegym_gym99`` and
        ``finegym_gym288`` (each also a pipeline of its own) on ``finegym``'s ingestion, and
        combines both scores into ``finegym.metrics``. ``evaluate_released_<d>`` (and
        ``evaluate_released_finegym_<taxonomy>``) scores a checkpoint released by CARL's authors
        (``<d>.evaluate.checkpoint``) without training, under ``<d>_released``.
        ``evaluate_embeddings_<d>`` (FineGym: per taxonomy, and both with one report) scores
        frame embeddings made elsewhere (``<d>.external.path``) with the same protocol, under
        ``<d>_external``.
        ``compare_<d>``: ingestion, CARL in ``<d>``, each baseline (TCC, TCN, SimCLR,
        supervised) in ``<d>_<algorithm>``, and ``<d>.comparison`` (FineGym: per taxonomy,
        ``finegym_<taxonomy>_<algorithm>``, then one table of both in ``finegym.comparison``).
        ``export_<d>`` (``export_finegym_<taxonomy>``): the trained encoder as safetensors,
        config.json and a model card, in ``<d>.exported_model``.
        ``videos`` (a folder of your own videos: ingest, train or use ``videos.model``, embed,
        alignment video, retrieval sheet, labels by example, search index and query);
        ``label_videos`` and ``search_videos`` rerun its labelling and its search alone;
        ``__default__`` is ``pouring``.
    """
    pipelines: dict[str, Pipeline] = {}
    for dataset in DATASETS:
        pipelines[f"ingest_{dataset}"] = ingestion.create_pipeline(dataset)
        if dataset == "finegym":
            for taxonomy in FINEGYM_TAXONOMIES:
                name = f"{dataset}_{taxonomy}"
                pipelines[f"train_{name}"] = training.create_pipeline(name, source=dataset)
                pipelines[f"evaluate_{name}"] = evaluation.create_pipeline(name, source=dataset)
                pipelines[name] = pipelines[f"train_{name}"] + pipelines[f"evaluate_{name}"]
                pipelines[f"evaluate_released_{name}"] = evaluation.create_released_pipeline(name, source=dataset)
                pipelines[f"evaluate_embeddings_{name}"] = evaluation.create_external_pipeline(name, source=dataset)
            pipelines[f"train_{dataset}"] = sum((pipelines[f"train_{dataset}_{t}"] for t in FINEGYM_TAXONOMIES),
                                                Pipeline([]))
            pipelines[f"evaluate_{dataset}"] = sum(
                (pipelines[f"evaluate_{dataset}_{t}"] for t in FINEGYM_TAXONOMIES),
                evaluation.create_taxonomy_report_pipeline(dataset, FINEGYM_TAXONOMIES))
            pipelines[f"evaluate_embeddings_{dataset}"] = sum(
                (pipelines[f"evaluate_embeddings_{dataset}_{t}"] for t in FINEGYM_TAXONOMIES),
                evaluation.create_taxonomy_report_pipeline(dataset, FINEGYM_TAXONOMIES, "_external"))
        else:
            pipelines[f"train_{dataset}"] = training.create_pipeline(dataset)
            pipelines[f"evaluate_{dataset}"] = evaluation.create_pipeline(dataset)
            pipelines[f"evaluate_released_{dataset}"] = evaluation.create_released_pipeline(dataset)
            pipelines[f"evaluate_embeddings_{dataset}"] = evaluation.create_external_pipeline(dataset)
        pipelines[dataset] = sum((pipelines[f"{step}_{dataset}"] for step in ("ingest", "train", "evaluate")),
                                 Pipeline([]))
    for dataset in COMPARED_DATASETS:
        pipelines[f"compare_{dataset}"] = pipelines[f"ingest_{dataset}"] + comparison.create_pipeline(dataset)
    pipelines["compare_finegym"] = pipelines["ingest_finegym"] + comparison.create_taxonomy_pipeline(
        "finegym", FINEGYM_TAXONOMIES)
    for name in ("pouring", "penn_action"):
        pipelines[f"export_{name}"] = export.create_pipeline(name)
    for taxonomy in FINEGYM_TAXONOMIES:
        pipelines[f"export_finegym_{taxonomy}"] = export.create_pipeline(f"finegym_{taxonomy}", source="finegym")
    pipelines["videos"] = (ingestion.create_pipeline("videos") + training.create_pipeline("videos", model_choice=True)
                           + own_videos.create_pipeline("videos"))
    pipelines["label_videos"] = own_videos.create_label_pipeline("videos")
    pipelines["search_videos"] = own_videos.create_search_pipeline("videos")
    pipelines["__default__"] = pipelines["pouring"]
    return pipelines
