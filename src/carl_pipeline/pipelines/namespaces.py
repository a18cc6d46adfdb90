"""One pipeline template, many namespaces: how a template is placed in a dataset's namespace."""

from kedro.pipeline import Pipeline

#: What ingestion makes and every later pipeline reads.
PROCESSED = ("frame_store", "video_index", "frame_labels")


def in_namespace(template: Pipeline, namespace: str, source: str | None, params_from: str | None = None) -> Pipeline:
    """``template`` in ``namespace``; with ``source``, its processed inputs (frame store, index,
    labels) are ``source``'s, so several namespaces share one ingestion (FineGym's taxonomies);
    with ``params_from``, its parameters are that namespace's."""
    shared = {}
    if source is not None and source != namespace:
        shared = {name: f"{source}.{name}" for name in PROCESSED if name in template.inputs()}
    parameters = None
    if params_from is not None:
        parameters = {p: p.replace("params:", f"params:{params_from}.", 1) for p in template.inputs()
                      if p.startswith("params:")}
    return Pipeline(template, namespace=namespace, inputs=shared or None, parameters=parameters)
