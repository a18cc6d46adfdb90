import os

import pytest

from carl_pipeline.atomic import atomic_folder, atomic_path, host_name, pid_alive
from tests.conftest import dead_pid


def test_atomic_path__file_gets_the_permissions_of_a_normal_write(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "model.pt") as tmp:
            tmp.write_bytes(b"weights")
        (tmp_path / "plain.txt").write_bytes(b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "model.pt").stat().st_mode & 0o777 == (tmp_path / "plain.txt").stat().st_mode & 0o777 == 0o644


def test_atomic_path__a_failed_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_atomic_folder__a_failed_write_leaves_the_old_folder_and_no_staging(tmp_path):
    target = tmp_path / "exported"
    with atomic_folder(target) as staging:
        (staging / "a.txt").write_text("one")
    assert (target / "a.txt").read_text() == "one"
    with pytest.raises(RuntimeError), atomic_folder(target) as staging:
        (staging / "a.txt").write_text("two")
        raise RuntimeError("killed halfway")
    assert (target / "a.txt").read_text() == "one" and [p.name for p in tmp_path.iterdir()] == ["exported"]
    with atomic_folder(target) as staging:
        (staging / "b.txt").write_text("three")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]  # replaced whole, not merged
    assert [p.name for p in tmp_path.iterdir()] == ["exported"]


def test_atomic_path__temporary_file_ends_in_tmp_and_names_its_writer(tmp_path):
    with atomic_path(tmp_path / "v.frames") as tmp:
        assert tmp.name.startswith(f".v.frames.{os.getpid()}@") and tmp.suffix == ".tmp"
        tmp.write_bytes(b"x")
    assert [p.name for p in tmp_path.iterdir()] == ["v.frames"]



def test_atomic_path__temporaries_of_a_long_name_are_shortened_and_still_swept(tmp_path):
    from carl_pipeline.atomic import NAME_MAX, sweep_stale_temporaries, temporary_prefix


    name = "x" * 250
    prefix = temporary_prefix(name)
    assert len(prefix.encode()) + 8 + len(".tmp") <= NAME_MAX and "~" in prefix
    assert temporary_prefix("y" * 250) != prefix  # a digest of the whole name keeps two long names apart
    stem = prefix[1:].split(f".{os.getpid()}@")[0]
    # What killed writers left, one with a short pid and one with the widest pid Linux gives (CI's
    # pids are longer than a laptop's): the stem must not depend on the writer's pid.
    dead = [dead_pid(), 4194303]
    assert not pid_alive(dead[1]) or pytest.skip("pid 4194303 is alive here")
    left = [tmp_path / f".{stem}.{pid}@{host_name()}.abcd1234.tmp" for pid in dead]
    for path in left:
        path.write_bytes(b"half")
    assert sorted(sweep_stale_temporaries(tmp_path, name)) == sorted(left)



def test_atomic_path__no_space_left_is_raised_naming_the_target(tmp_path, monkeypatch):
    import errno

    from carl_pipeline.atomic import save_torch


    class FullDisk:  # a file on a disk with no space left
        def __enter__(self):
            return self


        def __exit__(self, *exc):
            return False


        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


        def flush(self):
            pass


    real_open = open
    monkeypatch.setattr("builtins.open", lambda file, mode="r", *a, **k: FullDisk() if str(file).endswith(".tmp")
                        and "w" in mode else real_open(file, mode, *a, **k))
    with pytest.raises(OSError, match=r"No space left on device while writing: '.*epoch_0003.pt'"):
        save_torch({"w": 1}, tmp_path / "epoch_0003.pt")
    assert list(tmp_path.iterdir()) == []
