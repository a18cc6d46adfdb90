"""The project's hooks (``carl_pipeline.hooks``): what they check before any node runs."""


import pytest


def test_tracking__a_corrupt_store_stops_the_run_before_any_node_naming_it_and_the_switch(tmp_path):
    from carl_pipeline.hooks import TrackingStoreError, check_tracking_store

    store = tmp_path / "mlruns" / "mlflow.db"
    store.parent.mkdir()
    store.write_bytes(b"this is not a database" * 100)
    with pytest.raises(TrackingStoreError, match=rf"{store}.*tracking.enabled: false"):
        check_tracking_store(f"sqlite:///{store}")
    check_tracking_store(f"sqlite:///{tmp_path / 'new.db'}")  # a store not yet made: MLflow makes it

    # The hook checks it in before_pipeline_run, that is before Kedro runs any node.
    from types import SimpleNamespace

    from carl_pipeline.hooks import MlflowTrackingHook

    hook = MlflowTrackingHook()
    hook._settings = {"enabled": True, "tracking_uri": f"sqlite:///{store}", "env": None}
    training = SimpleNamespace(outputs=["pouring.model"])  # a node that writes a model: a tracked run
    with pytest.raises(TrackingStoreError, match="tracking.enabled: false"):
        hook.before_pipeline_run({}, SimpleNamespace(nodes=[training]), None)
