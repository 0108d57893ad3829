"""Races between a reader and a compaction, forced deterministically (found by the concurrency
harness, benchmarks/concurrency.py: a search failed with a bare FileNotFoundError)."""

from __future__ import annotations

from pathlib import Path

import pytest

from metaembed_rag.index import PageIndex

from .helpers import DIM, R_C, R_Q, metas, unit
from .test_safety import build, segment_files


def test_a_segment_unlinked_between_stat_and_open_is_retried_not_raised(
    index_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(index_path, batches=2)
    writer = PageIndex.open(index_path)
    reader = PageIndex.open(index_path, read_only=True)  # maps the two segments it sees
    writer.add(unit(3, R_C, DIM), metas(["new-0", "new-1", "new-2"]))
    writer.delete(page_ids=["b0-0"])  # a tombstone, so compact rewrites every segment
    newest = max(segment_files(index_path), key=lambda f: f.stat().st_mtime_ns).name
    real_stat = Path.stat
    compacted: list[bool] = []

    def stat_then_compact(self: Path, *args: object, **kwargs: object):
        out = real_stat(self, *args, **kwargs)
        if self.name == newest and not compacted:  # the reader checked the size; now it is retired
            compacted.append(True)
            writer.compact()
        return out

    monkeypatch.setattr(Path, "stat", stat_then_compact)
    hits = reader.search(unit(R_Q, DIM), k=20)
    assert compacted == [True] and not (index_path / "segments" / newest).exists()
    expected = ["b0-1", "b0-2", "b1-0", "b1-1", "b1-2", "new-0", "new-1", "new-2"]
    assert sorted(h.page_id for h in hits) == expected
    reader.close()
    writer.close()
