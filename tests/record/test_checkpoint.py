"""The checkpoint and its run record (``carl_pipeline.record.checkpoint``)."""



from carl_pipeline.training import (
    Checkpoint,
    RunDir,
)


def test_run_record__the_checkpoints_run_read_through_attributes_and_its_stored_folder_used(tmp_path):
    from carl_pipeline.training import RunRecord, run_folder

    folder = tmp_path / "moved" / "scl-lr0.0001-seed0-abcd1234"
    checkpoint = Checkpoint(model={}, encoder={}, run={"id": "abcd1234", "name": folder.name, "folder": str(folder),
                                                       "identity": {"train": {}}})
    record = checkpoint.run_record
    assert (record.id, record.name, record.identity) == ("abcd1234", folder.name, {"train": {}})
    runs = RunDir(tmp_path / "runs")
    assert run_folder(record, runs).root == runs.root / folder.name  # stored folder gone: by name here
    folder.mkdir(parents=True)
    assert run_folder(record, runs).root == folder  # the folder the run trained in, not rebuilt
    assert Checkpoint(model={}, encoder={}).run_record == RunRecord()
    assert run_folder(RunRecord(), runs).root == runs.root  # no run made it (released, untrained)
