"""Experiment tracking with MLflow: every ``kedro run`` that trains or evaluates (has a node that
writes a ``model`` or ``metrics`` dataset, whatever its namespace) is one MLflow run.

Recorded: the parameters of each namespace it trains or evaluates (flattened, e.g.
``pouring.train.optim.lr``), the training run's identity (``pouring.run``), the loss of every
epoch (``pouring/train/loss``), the scores of the trained and the untrained encoder
(``pouring/trained/classification_at_1.0``, ``pouring/untrained/...``; MLflow does not allow ``@``
in a metric name) and, as artifacts, the model, ``metrics.json`` and the plots.

Settings: ``conf/<env>/tracking.yml`` (``enabled``, ``tracking_uri``, ``experiment``); by default
a SQLite store in the project folder (``mlruns/``, ignored by git), which ``mlflow ui
--backend-store-uri sqlite:///mlruns/mlflow.db`` opens with no server to start. MLflow is
imported only when a run is tracked.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from carl_pipeline.distributed import writes
from carl_pipeline.nested import flatten

logger = logging.getLogger(__name__)

#: What is tracked is chosen by the datasets a node writes, whatever the function's name: a node
#: writing a ``model`` trains (or brings a model: ``videos.model``), one writing ``metrics``
#: scores, and these outputs are kept as artifacts.
_MODEL, _METRICS = "model", "metrics"
_ARTIFACT_SUFFIXES = ("model", "metrics", "_plot", "_video", "comparison", "_sheet")


def _name(dataset: str) -> str:
    """A dataset's name without its namespace (``pouring_tcc.metrics`` -> ``metrics``)."""
    return dataset.rsplit(".", 1)[-1]


def _writes(node, name: str) -> bool:
    return any(_name(output) == name for output in node.outputs)


class TrackingStoreError(RuntimeError):
    """The MLflow store cannot be opened; the message names it and the switch that turns tracking off."""


def check_tracking_store(uri: str) -> None:
    """Stop before any node when a local SQLite tracking store exists but is not a readable
    database (a half-copied or damaged ``mlruns/mlflow.db``).

    Raises:
        TrackingStoreError: naming the file and ``tracking.enabled: false``.
    """
    import sqlite3

    if not uri.startswith("sqlite:///"):
        return
    path = Path(uri[len("sqlite:///"):])
    if not path.exists():
        return  # MLflow creates it
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            connection.execute("SELECT name FROM sqlite_master LIMIT 1").fetchall()
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise TrackingStoreError(
            f"{path}: the MLflow tracking store cannot be opened ({error}); move it away to start a new "
            f"one, or turn tracking off with tracking.enabled: false (conf/local/tracking.yml)") from None


def metric_name(name: str) -> str:
    """A name MLflow accepts (letters, digits, ``_ - . / `` and spaces)."""
    return name.replace("@", "_at_")


def _file_of(catalog, name: str) -> Path | None:
    """Where a catalog entry is written (the newest version of a versioned one), if it is a file."""
    try:
        dataset = catalog.get(name)
    except Exception:  # noqa: BLE001 - not every name resolves to a dataset
        return None
    for attribute in ("_filepath", "_path"):
        path = getattr(dataset, attribute, None)
        if path is None:
            continue
        path = Path(str(path))
        if hasattr(dataset, "_get_load_path"):  # versioned: the newest version, this run's
            try:
                path = Path(str(dataset._get_load_path()))
            except Exception:  # noqa: BLE001
                pass
        return path if path.is_file() else None
    return None


class MlflowTrackingHook:
    """Opens one MLflow run per ``kedro run`` that trains or evaluates, records what it did, and
    closes it (FAILED when the pipeline fails)."""

    def __init__(self):
        self._settings: dict[str, Any] = {"enabled": False}
        self._mlflow = None
        self._artifacts: list[str] = []

    @hook_impl
    def after_context_created(self, context) -> None:
        try:
            settings = dict(context.config_loader["tracking"])
        except Exception:  # noqa: BLE001 - no tracking.yml in this environment: off
            settings = {}
        settings.setdefault("enabled", False)
        uri = settings.get("tracking_uri") or "sqlite:///mlruns/mlflow.db"
        for scheme in ("sqlite:///", "file:"):  # a relative store lives in the project folder
            if uri.startswith(scheme) and not uri[len(scheme):].startswith("/"):
                path = Path(context.project_path) / uri[len(scheme):]
                settings["store_folder"] = str(path.parent if scheme == "sqlite:///" else path)
                uri = f"{scheme}{path}" if scheme == "sqlite:///" else path.as_uri()
        settings["tracking_uri"] = uri
        settings["artifact_location"] = settings.get("artifact_location") or str(Path(context.project_path) / "mlruns" / "artifacts")
        settings["env"] = context.env
        self._settings = settings

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        tracked = any(_writes(node, _MODEL) or _writes(node, _METRICS) for node in pipeline.nodes)
        # under torchrun, rank 0 records the run (distributed.writes)
        if not self._settings.get("enabled") or not writes() or not tracked:
            self._mlflow = None
            return
        check_tracking_store(self._settings["tracking_uri"])
        import mlflow

        if self._settings.get("store_folder"):
            Path(self._settings["store_folder"]).mkdir(parents=True, exist_ok=True)
        mlflow.set_tracking_uri(self._settings["tracking_uri"])
        experiment = self._settings.get("experiment") or "carl-pipeline"
        try:
            if mlflow.get_experiment_by_name(experiment) is None:
                mlflow.create_experiment(experiment, artifact_location=Path(self._settings["artifact_location"]).as_uri())
            mlflow.set_experiment(experiment)
        except Exception as error:  # noqa: BLE001 - MLflow raises its own types and SQLAlchemy's
            raise TrackingStoreError(
                f"the MLflow tracking store {self._settings['tracking_uri']} cannot be used "
                f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); repair or move it, "
                f"or turn tracking off with tracking.enabled: false (conf/local/tracking.yml)") from None
        pipelines = run_params.get("pipeline_names") or [run_params.get("pipeline_name") or "__default__"]
        mlflow.start_run(run_name=f"{'+'.join(pipelines)} ({self._settings['env'] or 'local'})")
        mlflow.set_tags({"kedro.pipelines": ",".join(pipelines), "kedro.env": str(self._settings["env"]),
                         "kedro.session_id": str(run_params.get("session_id")),
                         "kedro.runtime_params": str(run_params.get("runtime_params") or {})})
        self._mlflow, self._artifacts = mlflow, []
        logger.info("tracking this run in MLflow (%s, experiment %s)", self._settings["tracking_uri"], experiment)

    @hook_impl
    def after_node_run(self, node, catalog, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        if self._mlflow is None:
            return
        namespace = node.namespace or ""
        prefix = f"{namespace}/" if namespace else ""
        trains, scores = _writes(node, _MODEL), _writes(node, _METRICS)
        if trains or scores:
            params = {}
            for name, value in inputs.items():
                if name.startswith("params:"):
                    params.update(flatten(value, name.removeprefix("params:")))
                elif name.endswith(".train_settings"):  # a baseline's settings, derived from params
                    params.update(flatten(value, name.removesuffix("_settings")))
            self._log_params(params)
        if trains:
            from carl_pipeline.record import read_checkpoint

            checkpoint = read_checkpoint(next(v for k, v in outputs.items() if _name(k) == _MODEL))
            run = checkpoint.run_record
            self._log_params({f"{namespace}.run": run.name, f"{namespace}.run_folder": run.folder})
            for epoch, loss in enumerate(checkpoint.history, start=1):
                self._mlflow.log_metric(f"{prefix}train/loss", loss, step=epoch)
        if scores:
            from carl_pipeline.evaluation import trained_scores

            metrics = next(v for k, v in outputs.items() if _name(k) == _METRICS)
            for encoder in ("trained", "untrained", "pixels", "labels"):
                scores = trained_scores(metrics) if encoder == "trained" else metrics.get(encoder) or {}
                for key, value in scores.items():
                    if isinstance(value, int | float):
                        self._mlflow.log_metric(metric_name(f"{prefix}{encoder}/{key}"), float(value))
        self._artifacts.extend(o for o in node.outputs if _name(o).endswith(_ARTIFACT_SUFFIXES))

    def _log_params(self, params: dict[str, Any]) -> None:
        items = [(k, str(v)[:6000]) for k, v in params.items() if v is not None]
        for start in range(0, len(items), 90):  # MLflow takes at most 100 parameters per call
            self._mlflow.log_params(dict(items[start:start + 90]))

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        if self._mlflow is None:
            return
        for name in self._artifacts:  # saved by now
            path = _file_of(catalog, name)
            if path is not None:
                self._mlflow.log_artifact(str(path), artifact_path=name.replace(".", "/"))
        self._mlflow.end_run()
        self._mlflow = None

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any], pipeline, catalog) -> None:
        if self._mlflow is not None:
            self._mlflow.set_tag("error", f"{type(error).__name__}: {error}"[:5000])
            self._mlflow.end_run(status="FAILED")
            self._mlflow = None
