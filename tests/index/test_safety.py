"""Safety: model fingerprint checks, corrupt and truncated files, crashed writers, concurrent readers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from metaembed_rag.index import IndexCorruptError, IndexMismatchError, PageIndex, PageIndexError
from metaembed_rag.index.storage import _SegmentGone

from .helpers import DIM, R_C, R_Q, fingerprint, metas, unit

REPO = Path(__file__).resolve().parents[2]
WRITER = Path(__file__).with_name("_writer.py")


def writer(mode: str, path: Path, arg: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, str(WRITER), mode, str(path), arg], stdout=subprocess.PIPE, text=True, env=env
    )


def build(path: Path, batches: int = 2, per_batch: int = 3, dtype: str = "bf16") -> None:
    with PageIndex.create(path, fingerprint=fingerprint(), dtype=dtype) as ix:
        for b in range(batches):
            ix.add(unit(per_batch, R_C, DIM), metas([f"b{b}-{i}" for i in range(per_batch)], doc_id=f"b{b}"))


def segment_files(path: Path) -> list[Path]:
    return sorted((path / "segments").iterdir())


def registered(path: Path) -> set[str]:
    with sqlite3.connect(path / "manifest.sqlite") as conn:
        return {r[0] for r in conn.execute("SELECT name FROM segments")}


# -- fingerprint ----------------------------------------------------------------------------------
def test_mismatched_fingerprint_is_refused_naming_every_difference(index_path: Path) -> None:
    build(index_path, batches=1)
    with pytest.raises(IndexMismatchError) as err:
        PageIndex.open(index_path, fingerprint(checksum="ffff", name="other-model"))
    message = str(err.value)
    assert "checksum: index has '0123abcd', model has 'ffff'" in message
    assert "name: index has 'test-model', model has 'other-model'" in message
    assert "dim" not in message
    assert "re-index" in message and "Open it with the model it was built with" in message
    assert isinstance(err.value, PageIndexError) and isinstance(err.value, ValueError)


def test_fingerprint_from_a_model_object_and_no_fingerprint(index_path: Path) -> None:
    build(index_path, batches=1)

    class FakeModel:
        def __init__(self, **changes: object) -> None:
            self.changes = changes

        def fingerprint(self) -> dict:
            return fingerprint(**self.changes)

    with PageIndex.open(index_path, FakeModel()) as ix:
        assert len(ix) == 3
    with pytest.raises(IndexMismatchError, match="num_candidate_tokens"):
        PageIndex.open(index_path, FakeModel(num_candidate_tokens=32))
    with PageIndex.open(index_path) as ix:  # no model given: nothing to check
        assert ix.fingerprint()["checksum"] == "0123abcd"
        with PageIndex.open(index_path, ix) as same:  # an index works as a fingerprint source too
            assert same.fingerprint() == ix.fingerprint()


# -- corrupt files --------------------------------------------------------------------------------
def test_truncated_segment_is_named_on_open(index_path: Path) -> None:
    build(index_path)
    victim = segment_files(index_path)[1]
    with open(victim, "r+b") as f:
        f.truncate(victim.stat().st_size - 10)
    with pytest.raises(
        IndexCorruptError, match=rf"segment file .*{victim.name} is damaged: it has \d+ bytes"
    ):
        PageIndex.open(index_path)


def test_flipped_bytes_are_found_by_checksum(index_path: Path) -> None:
    build(index_path)
    victim = segment_files(index_path)[0]
    data = bytearray(victim.read_bytes())
    data[-5] ^= 0xFF  # inside the vector data: size and header still fine
    victim.write_bytes(bytes(data))
    with PageIndex.open(index_path) as ix:  # the default open checks sizes and headers only
        assert len(ix) == 6
        with pytest.raises(IndexCorruptError, match=rf"{victim.name} is damaged: its SHA-256"):
            ix.verify()
    with pytest.raises(IndexCorruptError, match=victim.name):
        PageIndex.open(index_path, verify=True)


def test_damaged_header_is_named_on_open(index_path: Path) -> None:
    build(index_path)
    victim = segment_files(index_path)[0]
    data = bytearray(victim.read_bytes())
    data[10:14] = b"!!!!"  # inside the JSON header
    victim.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match=rf"{victim.name} is damaged: its header"):
        PageIndex.open(index_path)


def test_missing_segment_is_named_on_open(index_path: Path) -> None:
    build(index_path)
    victim = segment_files(index_path)[0]
    victim.unlink()
    with pytest.raises(
        IndexCorruptError, match=rf"{victim.name} is missing but the manifest lists it \(3 pages\)"
    ):
        PageIndex.open(index_path)


def test_corrupt_manifest_is_named(index_path: Path) -> None:
    build(index_path)
    for extra in ("manifest.sqlite-wal", "manifest.sqlite-shm"):
        (index_path / extra).unlink(missing_ok=True)
    (index_path / "manifest.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(IndexCorruptError, match=r"manifest .*manifest\.sqlite cannot be read"):
        PageIndex.open(index_path)


def test_manifest_pointing_past_segment_end_is_refused(index_path: Path) -> None:
    build(index_path)
    with sqlite3.connect(index_path / "manifest.sqlite") as conn:
        conn.execute("UPDATE pages SET row = 99 WHERE page_id = 'b0-1'")
    with pytest.raises(IndexCorruptError, match="rows past the end"):
        PageIndex.open(index_path)


def test_newer_format_version_is_refused(index_path: Path) -> None:
    build(index_path, batches=1)
    with sqlite3.connect(index_path / "manifest.sqlite") as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'format_version'")
    with pytest.raises(IndexCorruptError, match=r"format version 99.*Upgrade"):
        PageIndex.open(index_path)


# -- crashed writers ------------------------------------------------------------------------------
def test_orphans_of_a_crashed_writer_are_removed_on_open(index_path: Path) -> None:
    build(index_path)
    keep = set(segment_files(index_path))
    orphans = [
        index_path / "segments" / ".tmp-abc-x.safetensors",
        index_path / "segments" / "0123.safetensors",
        index_path / "images" / ("ab" * 32 + ".png"),
        index_path / "images" / ".tmp-1-x.png",
    ]
    for f in orphans:
        f.write_bytes(b"partial")
    with PageIndex.open(index_path, read_only=True) as ix:  # read-only: touches nothing
        assert all(f.exists() for f in orphans)
        with pytest.raises(PermissionError, match="read_only"):
            ix.add(unit(1, R_C, DIM), metas(["x"]))
    with PageIndex.open(index_path, verify=True) as ix:
        assert len(ix) == 6
    assert not any(f.exists() for f in orphans)
    assert set(segment_files(index_path)) == keep


@pytest.mark.parametrize("point", ["segment", "transaction"])
def test_writer_killed_mid_commit_leaves_last_commit(index_path: Path, point: str) -> None:
    build(index_path)
    q = unit(R_Q, DIM)
    with PageIndex.open(index_path) as ix:
        before = [(h.page_id, h.score) for h in ix.search(q, k=6)]
    proc = writer("crash", index_path, point)
    assert proc.wait(timeout=120) == -signal.SIGKILL
    assert len(segment_files(index_path)) == 3  # the dead writer's segment is on disk...
    with PageIndex.open(index_path, verify=True) as ix:
        assert len(ix) == 6 and ix.get("crash-0") is None
        assert [(h.page_id, h.score) for h in ix.search(q, k=6)] == before
    assert {f.name for f in segment_files(index_path)} == registered(index_path)  # ...and now gone


def test_writer_killed_mid_compaction_leaves_the_old_segments(index_path: Path) -> None:
    build(index_path, batches=3)
    with PageIndex.open(index_path) as ix:
        ix.delete(doc_id="b1")
        q = unit(R_Q, DIM)
        before = [(h.page_id, h.score) for h in ix.search(q, k=10)]
    old = set(segment_files(index_path))
    proc = writer("crash", index_path, "compact")
    assert proc.wait(timeout=120) == -signal.SIGKILL
    assert len(set(segment_files(index_path)) - old) == 1  # the new segment was written
    with PageIndex.open(index_path, verify=True) as ix:
        assert [(h.page_id, h.score) for h in ix.search(q, k=10)] == before
        assert ix.stats().segments == 3
    assert set(segment_files(index_path)) == old


def test_kill_9_during_a_write_loop(index_path: Path) -> None:
    """SIGKILL a looping writer at points spread over its commit cycle; every reopen shows whole
    batches, verifies, and has no unregistered files. (The exact windows between segment rename and
    COMMIT are hit deterministically by ``test_writer_killed_mid_commit_leaves_last_commit``.)"""
    per_batch = 16
    with PageIndex.create(index_path, fingerprint=fingerprint(dim=256)):
        pass
    committed = 0
    for fraction in (0.25, 0.5, 0.85):
        proc = writer("loop", index_path, str(per_batch))
        times = []
        for _ in range(3):  # let it commit a few batches, then kill it somewhere in the next
            assert proc.stdout.readline(), "writer died on its own"
            times.append(time.monotonic())
        time.sleep(fraction * (times[2] - times[0]) / 2)
        os.kill(proc.pid, signal.SIGKILL)
        reported = 3 + len(proc.stdout.read().split())  # lines printed before the kill
        proc.wait(timeout=60)
        with PageIndex.open(index_path, verify=True) as ix:
            n = len(ix)
            # Each commit is printed right after it; at most the last one went unreported.
            assert n % per_batch == 0
            assert (committed + reported) * per_batch <= n <= (committed + reported + 1) * per_batch
            hits = ix.search(unit(R_Q, 256), (2, 4), k=n)
            assert len(hits) == n and all(ix.get(h.page_id) is not None for h in hits)
            committed = n // per_batch
        assert {f.name for f in segment_files(index_path)} == registered(index_path)


# -- concurrent readers ---------------------------------------------------------------------------
def test_reader_opening_mid_write_sees_last_committed_state(index_path: Path, tmp_path: Path) -> None:
    build(index_path)
    signals = tmp_path / "signals"
    signals.mkdir()
    proc = writer("pause", index_path, str(signals))
    try:
        deadline = time.monotonic() + 120
        while not (signals / "in_txn").exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        writers_segment = set(segment_files(index_path)) - {
            index_path / "segments" / n for n in registered(index_path)
        }
        assert len(writers_segment) == 1  # renamed into place, not registered yet
        with PageIndex.open(index_path) as reader:  # not read-only: it would clean orphans if it could
            assert len(reader) == 6 and reader.get("paused-0") is None
            assert len(reader.search(unit(R_Q, DIM), k=10)) == 6
            assert writers_segment <= set(segment_files(index_path))  # the live writer's file survives
            (signals / "go").touch()
            assert proc.stdout.readline().strip() == "committed"
            assert proc.wait(timeout=60) == 0
            assert len(reader) == 10 and reader.get("paused-0") is not None
            assert len(reader.search(unit(R_Q, DIM), k=10)) == 10
    finally:
        (signals / "go").touch()
        proc.kill()
        proc.wait()


def test_readers_during_a_write_loop_always_see_whole_batches(index_path: Path) -> None:
    per_batch = 5
    build(index_path, batches=0)
    proc = writer("loop", index_path, str(per_batch))
    try:
        seen = []
        deadline = time.monotonic() + 60
        while (not seen or seen[-1] < 6 * per_batch) and time.monotonic() < deadline:
            with PageIndex.open(index_path, read_only=True) as reader:
                n = len(reader)
                hits = reader.search(unit(R_Q, DIM), (1, 1), k=1000)
                assert n % per_batch == 0 and len(hits) >= n  # later snapshots only grow
                assert len(hits) % per_batch == 0
                seen.append(len(hits))
        assert seen == sorted(seen) and seen[-1] >= 6 * per_batch
    finally:
        proc.kill()
        proc.wait()


def test_compaction_under_a_reader_is_retried_not_reported_as_corruption(index_path: Path) -> None:
    build(index_path, batches=3)
    q = unit(R_Q, DIM)
    with PageIndex.open(index_path) as a, PageIndex.open(index_path) as b:
        b.delete(doc_id="b1")
        expected = [(h.page_id, h.score) for h in b.search(q, k=10)]
        a._store.readers.clear()  # a has mapped no segment yet
        real = a._manifest.segments
        raced = []

        def racing():  # a's snapshot is taken, then b compacts and removes the old files
            out = real()
            if not raced:
                raced.append(b.compact())
            return out

        a._manifest.segments = racing
        assert [(h.page_id, h.score) for h in a.search(q, k=10)] == expected
        assert raced[0].segments_after == 1

        a._store.readers.clear()
        with a._manifest.read():
            a._manifest.conn.execute("SELECT count(*) FROM pages").fetchone()
            b.add(unit(1, R_C, DIM), metas(["new"]))
            b.compact()
            with pytest.raises(_SegmentGone):
                a._store.sync_segments()


def test_two_writers_in_turn_lose_nothing(index_path: Path) -> None:
    build(index_path, batches=0)
    with PageIndex.open(index_path) as a, PageIndex.open(index_path) as b:
        for i in range(4):
            (a if i % 2 else b).add(unit(2, R_C, DIM), metas([f"{i}-0", f"{i}-1"]))
        assert len(a) == len(b) == 8
        a.compact()
        assert len(b.search(unit(R_Q, DIM), k=100)) == 8
    torch.manual_seed(0)
