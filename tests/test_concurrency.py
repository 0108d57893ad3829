"""The concurrency harness's short run: readers in threads and processes, a writer adding, deleting
and compacting; no errors, every full result a whole committed state."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import concurrency

from metaembed_rag.index import SearchHit

pytestmark = pytest.mark.usefixtures("one_thread")


def test_readers_see_only_whole_committed_chunks_while_a_writer_runs(tmp_path: Path) -> None:
    result = concurrency.run(1.5, seed=2, workdir=tmp_path)
    for name in ("readers only", "with writer"):
        tally = result[name]
        assert tally.errors == [] and tally.searches >= 12 and len(tally.latencies) == tally.searches
    writer = result["writer"]
    assert writer["adds"] >= 1 and writer["compactions"] >= 1 and "errors" not in writer
    assert result["final"] is None


def hit(page: str, chunk: int, size: int, rank: int, score: float) -> SearchHit:
    return SearchHit(page, score, {"chunk": chunk, "size": size}, rank)


def test_the_check_refuses_partial_chunks_gaps_and_duplicates() -> None:
    whole = [hit("a0", 0, 2, 1, 0.9), hit("a1", 0, 2, 2, 0.8), hit("b0", 1, 1, 3, 0.7)]
    assert concurrency.check_hits(whole, full=True) is None
    cut = [hit("a1", 0, 2, 1, 0.8), hit("b0", 1, 1, 2, 0.7)]
    assert "partial chunks (seen, size): {0: (1, 2)}" in concurrency.check_hits(cut, full=True)
    assert concurrency.check_hits(cut, full=False) is None  # a top-k may cut a chunk
    gap = [hit("a0", 0, 1, 1, 0.9), hit("c0", 2, 1, 2, 0.8)]
    assert "consecutive" in concurrency.check_hits(gap, full=True)
    twice = [hit("a0", 0, 2, 1, 0.9), hit("a0", 0, 2, 2, 0.8)]
    assert "twice" in concurrency.check_hits(twice, full=False)
    unsorted = [hit("a0", 0, 2, 1, 0.5), hit("a1", 0, 2, 2, 0.8)]
    assert "sorted" in concurrency.check_hits(unsorted, full=True)
