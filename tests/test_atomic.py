import os

import pytest

from carl_pipeline.atomic import atomic_folder, atomic_path


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
