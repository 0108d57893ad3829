"""ordered_map: input order, bounded look-ahead, failures as values, recovery from dead workers."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool

import pytest

from metaembed_rag.documents.stream import Ready, ordered_map

from ._workers import tenfold_or_die


class CountingSource:
    """An iterable that records how far it has been consumed."""

    def __init__(self, n: int) -> None:
        self.n, self.pulled = n, 0

    def __iter__(self) -> Iterator[int]:
        for i in range(self.n):
            self.pulled = i + 1
            yield i


def test_inline_is_lazy_and_passes_ready_values_through() -> None:
    source = CountingSource(10)
    results = ordered_map(lambda x: x + 1, (Ready(-1) if i == 2 else i for i in source), workers=1)
    first = next(results)
    assert first == (0, 1) and source.pulled == 1
    rest = list(results)
    assert [outcome for _, outcome in rest] == [2, -1, 4, 5, 6, 7, 8, 9, 10]


def test_inline_returns_exceptions_as_outcomes() -> None:
    outcomes = [o for _, o in ordered_map(lambda x: 1 // x, [1, 0, 2], workers=1)]
    assert outcomes[0] == 1 and isinstance(outcomes[1], ZeroDivisionError) and outcomes[2] == 0


def test_pool_keeps_order_and_bounds_what_is_in_flight() -> None:
    source = CountingSource(40)
    seen = []
    for index, (item, outcome) in enumerate(ordered_map(abs, source, workers=2, max_in_flight=3)):
        seen.append((item, outcome))
        # Never more than max_in_flight items pulled beyond what has been handed out.
        assert source.pulled <= index + 1 + 3
    assert seen == [(i, i) for i in range(40)]


def test_pool_survives_a_worker_crash_and_blames_only_the_culprit() -> None:
    items = [0, 1, 2, 3, 4, 5, 6, 7, Ready("ready")]
    results = list(ordered_map(tenfold_or_die, items, workers=2, max_in_flight=4))
    assert [item for item, _ in results] == items
    outcomes = [outcome for _, outcome in results]
    assert outcomes[:3] == [0, 10, 20] and outcomes[4] == 40 and outcomes[6:] == [60, 70, "ready"]
    assert isinstance(outcomes[3], BrokenProcessPool)
    assert isinstance(outcomes[5], ValueError) and "five" in str(outcomes[5])


def test_closing_early_shuts_the_pool_down() -> None:
    results = ordered_map(abs, range(1000), workers=2)
    assert next(results) == (0, 0)
    results.close()  # must not hang or leak the executor
    with pytest.raises(StopIteration):
        next(results)
