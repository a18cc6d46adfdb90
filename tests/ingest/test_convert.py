from dataclasses import dataclass

import pytest

from carl_pipeline.ingest import ConversionPlan, plan_penn_action, run_conversion
from carl_pipeline.ingest.jobs import ConversionError, ConversionJob, ConvertedVideo
from carl_pipeline.video import FrameStore, encode_jpeg


def _penn_plan(raw, **kwargs):
    jobs, _ = plan_penn_action(raw / "penn_action")
    return ConversionPlan(tuple(jobs), progress=False, **kwargs)


def test_rerun__skips_finished_videos_and_keeps_their_files(tiny_raw, tmp_path):
    store = FrameStore(tmp_path / "frames")
    first = run_conversion(_penn_plan(tiny_raw), store)
    mtimes = {p.name: p.stat().st_mtime_ns for p in store.root.glob("*.frames")}
    second = run_conversion(_penn_plan(tiny_raw), store)
    assert second.converted == [] and sorted(second.skipped_existing) == sorted(first.converted)
    assert {p.name: p.stat().st_mtime_ns for p in store.root.glob("*.frames")} == mtimes


def test_rerun__converts_only_what_an_interrupted_run_left(tiny_raw, tmp_path):
    store = FrameStore(tmp_path / "frames")
    plan = _penn_plan(tiny_raw)
    run_conversion(plan, store)
    lost = store.path_for(plan.jobs[0].video_id)
    lost.unlink()  # as if the run had stopped before this video
    (store.root / f".{lost.name}.abc.tmp").write_bytes(b"half written")  # and left a temporary
    report = run_conversion(plan, store)
    assert report.converted == [plan.jobs[0].video_id]
    assert len(report.skipped_existing) == len(plan.jobs) - 1


def test_rerun__changed_settings_convert_again(tiny_raw, tmp_path):
    store = FrameStore(tmp_path / "frames")
    run_conversion(_penn_plan(tiny_raw), store)
    jobs, _ = plan_penn_action(tiny_raw / "penn_action", frame_size=(12, 16))
    report = run_conversion(ConversionPlan(tuple(jobs), progress=False), store)
    assert len(report.converted) == len(jobs) and report.skipped_existing == []
    assert store.open(jobs[0].video_id).read([0]).shape == (1, 3, 12, 16)


def test_rerun__truncated_pack_is_not_trusted(tiny_raw, tmp_path):
    store = FrameStore(tmp_path / "frames")
    plan = _penn_plan(tiny_raw)
    run_conversion(plan, store)
    path = store.path_for(plan.jobs[1].video_id)
    path.write_bytes(path.read_bytes()[:-5])
    report = run_conversion(plan, store)
    assert report.converted == [plan.jobs[1].video_id]


def test_parallel__process_pool_gives_the_same_store(tiny_raw, tmp_path):
    serial, parallel = FrameStore(tmp_path / "a"), FrameStore(tmp_path / "b")
    run_conversion(_penn_plan(tiny_raw), serial)
    report = run_conversion(_penn_plan(tiny_raw, num_workers=2), parallel)
    assert report.failed == []
    for video_id in serial.video_ids():
        assert serial.path_for(video_id).read_bytes() == parallel.path_for(video_id).read_bytes()


@dataclass(frozen=True)
class _FlakyJob(ConversionJob):
    fail: bool = False

    def run(self) -> ConvertedVideo:
        if self.fail:
            raise ConversionError(f"{self.source}: cannot be read")
        return ConvertedVideo([encode_jpeg(__import__("numpy").zeros((4, 4, 3), "uint8"))], 4, 4, 25.0, {"phase": [0]})


def test_failures__one_bad_video_does_not_stop_the_others(tmp_path):
    jobs = tuple(_FlakyJob(video_id=f"v{i}", source=f"/raw/v{i}.mp4", split="train", action=None, fail=i == 1)
                 for i in range(3))
    report = run_conversion(ConversionPlan(jobs, progress=False), FrameStore(tmp_path))
    assert sorted(report.converted) == ["v0", "v2"]
    assert report.failed == [{"video_id": "v1", "source": "/raw/v1.mp4",
                              "error": "ConversionError: /raw/v1.mp4: cannot be read"}]


def test_failures__raw_entries_sharing_an_id_are_reported_by_file_and_the_rest_converted(tmp_path):
    jobs = tuple(_FlakyJob(video_id="same", source=f"/raw/{i}.mp4", split="train", action=None) for i in range(2))
    jobs += (_FlakyJob(video_id="other", source="/raw/other.mp4", split="train", action=None),)
    store = FrameStore(tmp_path / "s")
    report = run_conversion(ConversionPlan(jobs, progress=False), store)
    assert report.converted == ["other"] and store.video_ids() == ["other"]
    assert sorted(f["source"] for f in report.failed) == ["/raw/0.mp4", "/raw/1.mp4"]
    assert all("/raw/0.mp4, /raw/1.mp4" in f["error"] for f in report.failed)


def test_dask__a_local_cluster_gives_the_process_pools_store_and_failure_report(tiny_raw, tmp_path):
    """ingest.executor: dask without a scheduler address: a LocalCluster of 2 worker processes.
    The packs are byte for byte the process pool's; a broken video is reported the same way;
    a rerun skips what is done without starting any work."""
    jobs = _penn_plan(tiny_raw).jobs
    broken = _FlakyJob(video_id="broken", source="/raw/broken.mp4", split="train", action=None, fail=True)
    pool, dask = FrameStore(tmp_path / "pool"), FrameStore(tmp_path / "dask")
    pool_report = run_conversion(ConversionPlan(jobs + (broken,), num_workers=2, progress=False), pool)
    dask_report = run_conversion(ConversionPlan(jobs + (broken,), num_workers=2, progress=False, executor="dask"), dask)
    assert dask_report.to_dict() == pool_report.to_dict()
    assert dask_report.failed == [{"video_id": "broken", "source": "/raw/broken.mp4",
                                   "error": "ConversionError: /raw/broken.mp4: cannot be read"}]
    assert sorted(dask.video_ids()) == sorted(pool.video_ids()) == sorted(j.video_id for j in jobs)
    for video_id in pool.video_ids():
        assert dask.path_for(video_id).read_bytes() == pool.path_for(video_id).read_bytes()
    again = run_conversion(ConversionPlan(jobs, num_workers=2, progress=False, executor="dask"), dask)
    assert again.converted == [] and sorted(again.skipped_existing) == sorted(j.video_id for j in jobs)


@dataclass(frozen=True)
class _MissingFileJob(ConversionJob):
    def run(self) -> ConvertedVideo:
        open(self.source, "rb")  # noqa: SIM115 - raises: the file is not there for this worker
        raise AssertionError("unreachable")


def test_dask__a_raw_file_a_worker_cannot_read_is_reported_with_what_the_cluster_needs(tmp_path):
    job = _MissingFileJob(video_id="far", source=str(tmp_path / "elsewhere/far.mp4"), split="train", action=None)
    report = run_conversion(ConversionPlan((job,), num_workers=1, progress=False, executor="dask"),
                            FrameStore(tmp_path / "s"))
    assert report.converted == [] and report.failed[0]["video_id"] == "far"
    error = report.failed[0]["error"]
    assert error.startswith("FileNotFoundError") and "far.mp4" in error and "shared filesystem" in error


def test_plan__unknown_executor_is_refused():
    with pytest.raises(ValueError, match="executor must be one of"):
        ConversionPlan((), executor="ray")
