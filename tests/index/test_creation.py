"""Creating an index is atomic: a reader or a kill at any moment of ``create`` meets no index or a
whole empty one, never a manifest without tables reported as corruption."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from metaembed_rag.index import IndexBeingCreatedError, IndexCorruptError, PageIndex, creating
from metaembed_rag.index.manifest import Manifest

from .helpers import DIM, R_C, fingerprint, metas, unit
from .test_safety import writer


def open_or_none(path: Path) -> int | None:
    """What a reader sees: ``None`` for no index (yet), else the page count of a whole index."""
    try:
        with PageIndex.open(path, read_only=True, verify=True) as ix:
            return len(ix)
    except IndexBeingCreatedError:
        return None
    except FileNotFoundError as err:
        assert "no PageIndex at" in str(err)
        return None


def test_a_reader_at_every_step_of_create_sees_no_index_or_a_whole_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "index"
    seen: list[int | None] = []

    def observing(fn):
        def wrapper(*args, **kwargs):
            seen.append(open_or_none(path))  # before the step
            out = fn(*args, **kwargs)
            seen.append(open_or_none(path))  # and after it
            return out

        return wrapper

    monkeypatch.setattr(Manifest, "set_meta", observing(Manifest.set_meta))  # inside the schema txn
    monkeypatch.setattr(creating, "fsync_dir", observing(creating.fsync_dir))
    monkeypatch.setattr(creating.os, "rename", observing(os.rename))
    PageIndex.create(path, fingerprint=fingerprint()).close()
    # Before and after: set_meta, fsync_dir of the index, rename, fsync_dir of the index and parent.
    # No index until the rename, a whole empty one from then on.
    assert seen == [None] * 5 + [0] * 5


def test_a_reader_racing_creations_never_sees_a_half_made_index(tmp_path: Path) -> None:
    n = 40
    proc = writer("create-many", tmp_path, str(n))
    outcomes: dict[int, set[int | None]] = {i: set() for i in range(n)}
    while proc.poll() is None:
        for i in range(n):
            outcomes[i].add(open_or_none(tmp_path / str(i)))
    assert proc.wait(timeout=60) == 0
    assert all(open_or_none(tmp_path / str(i)) == 0 for i in range(n))
    assert all(seen <= {None, 0} for seen in outcomes.values()), outcomes


@pytest.mark.parametrize("point", ["schema", "subdirs", "rename"])
def test_a_kill_during_create_leaves_no_index_or_a_whole_one_and_create_resumes(
    tmp_path: Path, point: str
) -> None:
    path = tmp_path / "index"
    proc = writer("create", path, point)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    if point == "rename":
        assert open_or_none(path) == 0
        with pytest.raises(FileExistsError, match="already holds an index"):
            PageIndex.create(path, fingerprint=fingerprint())
    else:
        with pytest.raises(IndexBeingCreatedError, match="being created, or its creation was interrupted"):
            PageIndex.open(path)
        assert not PageIndex.exists(path)
    ix = PageIndex.open(path) if PageIndex.exists(path) else PageIndex.create(path, fingerprint=fingerprint())
    with ix:
        ix.add(unit(2, R_C, DIM), metas(["a", "b"]))
    assert sorted(p.name for p in path.iterdir()) == [
        "images", "manifest.sqlite", "manifest.sqlite-shm", "manifest.sqlite-wal", "segments", "write.lock"
    ] or sorted(p.name for p in path.iterdir()) == ["images", "manifest.sqlite", "segments", "write.lock"]
    assert open_or_none(path) == 2


def test_create_in_an_empty_directory_and_through_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    PageIndex.create(tmp_path / "empty", fingerprint=fingerprint()).close()
    assert open_or_none(tmp_path / "empty") == 0
    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target")
    PageIndex.create(tmp_path / "link", fingerprint=fingerprint()).close()
    assert (tmp_path / "target" / "manifest.sqlite").is_file() and open_or_none(tmp_path / "link") == 0


def test_two_creators_at_once_one_wins_the_other_is_told(tmp_path: Path) -> None:
    path = tmp_path / "index"
    barrier = threading.Barrier(2)
    results: list[str] = []

    def create() -> None:
        barrier.wait()
        try:
            PageIndex.create(path, fingerprint=fingerprint()).close()
            results.append("created")
        except FileExistsError as err:
            results.append(str(err))

    threads = [threading.Thread(target=create) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("created") == 1 and len(results) == 2
    assert "already holds an index" in next(r for r in results if r != "created")


def test_leftovers_beside_foreign_files_are_not_taken_for_an_index(tmp_path: Path) -> None:
    path = tmp_path / "index"
    path.mkdir()
    (path / "write.lock").touch()
    (path / "notes.txt").write_text("mine")
    with pytest.raises(FileNotFoundError, match="no PageIndex at") as err:
        PageIndex.open(path)
    assert not isinstance(err.value, IndexBeingCreatedError)
    with pytest.raises(FileExistsError, match=r"not empty and holds no PageIndex \(notes\.txt\)"):
        PageIndex.create(path, fingerprint=fingerprint())
    assert (path / "notes.txt").read_text() == "mine"


def test_a_manifest_without_tables_from_an_older_release_is_named_as_an_interrupted_creation(
    tmp_path: Path,
) -> None:
    path = tmp_path / "index"
    path.mkdir()
    (path / "manifest.sqlite").touch()  # what an older release left when killed inside create
    with pytest.raises(IndexCorruptError, match="creation was interrupted and it holds no pages"):
        PageIndex.open(path)
