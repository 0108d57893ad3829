"""An order-keeping, memory-bounded map over a process pool, robust to crashing workers.

``ordered_map`` pulls work items lazily, keeps at most ``max_in_flight`` of them submitted, and
yields results strictly in input order; the next item is submitted only as a result is taken. So
memory stays bounded by ``max_in_flight`` results however long the input is, and a slow consumer
(an encoder on a GPU) throttles rendering instead of letting pages pile up.

A worker that dies (PDFium can crash on hostile files, the kernel can kill for memory) breaks a
``ProcessPoolExecutor`` and every future in it. The pool is then restarted and the oldest item
is retried alone: if it crashes again on its own it is the culprit and its outcome is the
``BrokenProcessPool`` error; otherwise it was innocent and work resumes at full width.

With ``timeout``, an item that is still running that many seconds after reaching the head of the
line (when every item before it is done, so it is running) has its workers killed: its outcome is
a :class:`TaskTimeout` and the items behind it are submitted again to a fresh pool.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["Ready", "TaskTimeout", "ordered_map"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Ready(Generic[R]):
    """An item whose outcome is already known: passed through in order, never sent to a worker."""

    value: R


class TaskTimeout(Exception):
    """The outcome of an item that ran past its time limit (its worker was killed)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"still running after {seconds:g} s")
        self.seconds = seconds


@dataclass
class _Entry:
    item: Any
    future: Future[Any] | None = None
    alone: bool = False  # submitted while nothing else ran: a crash then is its own fault


def ordered_map(
    fn: Callable[[T], R],
    items: Iterable[T | Ready[Any]],
    *,
    workers: int = 1,
    max_in_flight: int | None = None,
    timeout: Callable[[T], float] | None = None,
) -> Iterator[tuple[T | Ready[Any], R | BaseException]]:
    """Yield ``(item, fn(item))`` in input order, or ``(item, exception)`` when ``fn`` raised.

    With ``workers <= 1`` and no ``timeout`` everything runs lazily in this process. Otherwise
    ``fn`` and the items must be picklable; workers are spawned (not forked), so a parent that has
    loaded torch or CUDA cannot deadlock them. ``max_in_flight`` defaults to ``2 * workers``.
    ``timeout(item)`` is the seconds ``item`` may run (see the module docstring).
    """
    if workers <= 1 and timeout is None:
        yield from _inline(fn, items)
    else:
        workers = max(1, workers)
        yield from _pooled(fn, items, workers, max_in_flight or 2 * workers, timeout)


def _inline(fn: Callable[[T], R], items: Iterable[T | Ready[Any]]) -> Iterator[tuple[Any, Any]]:
    for item in items:
        if isinstance(item, Ready):
            yield item, item.value
            continue
        try:
            outcome: Any = fn(item)  # type: ignore[arg-type]
        except Exception as error:
            outcome = error
        yield item, outcome


def _started(pool: ProcessPoolExecutor, workers: int, timed: bool) -> ProcessPoolExecutor:
    """With time limits, start every worker before timing anything: a spawned worker's start-up
    (Python, imports, the parent's main module) must not count against the first item's limit."""
    if timed:
        for future in [pool.submit(_nothing) for _ in range(workers)]:
            future.result()
    return pool


def _nothing() -> None:
    return None


def _kill(pool: ProcessPoolExecutor) -> None:
    """Stop a pool whose worker is stuck (in C code that no signal handler can interrupt)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.kill()
    pool.shutdown(wait=True, cancel_futures=True)


def _pooled(
    fn: Callable[[T], R],
    items: Iterable[T | Ready[Any]],
    workers: int,
    max_in_flight: int,
    timeout: Callable[[T], float] | None = None,
) -> Iterator[tuple[Any, Any]]:
    context = multiprocessing.get_context("spawn")
    timed = timeout is not None

    def new_pool() -> ProcessPoolExecutor:
        return _started(ProcessPoolExecutor(max_workers=workers, mp_context=context), workers, timed)

    pool = new_pool()
    source = iter(items)
    pending: deque[_Entry] = deque()
    exhausted = False
    solo = False  # after a crash, the oldest item runs alone to find out whether it is to blame

    def submit(entry: _Entry) -> None:
        if isinstance(entry.item, Ready):
            future: Future[Any] = Future()
            future.set_result(entry.item.value)
            entry.future = future
        else:
            try:
                entry.future = pool.submit(fn, entry.item)
            except BrokenProcessPool as error:
                # A worker died since the last check: fail this entry like the ones in flight,
                # so the recovery below treats it the same way when it reaches the head.
                entry.future = Future()
                entry.future.set_exception(error)
        entry.alone = solo

    try:
        while True:
            if solo:
                if pending and pending[0].future is None:
                    submit(pending[0])
            else:
                for entry in pending:
                    if entry.future is None:
                        submit(entry)
                while not exhausted and len(pending) < max_in_flight:
                    try:
                        entry = _Entry(next(source))
                    except StopIteration:
                        exhausted = True
                        break
                    submit(entry)
                    pending.append(entry)
            if not pending:
                return
            head = pending[0]
            assert head.future is not None
            limit = None if timeout is None or isinstance(head.item, Ready) else timeout(head.item)
            try:
                outcome: Any = head.future.result(timeout=limit)
            except FutureTimeout:
                _kill(pool)
                pool = new_pool()
                for entry in pending:
                    entry.future = None
                outcome = TaskTimeout(limit or 0.0)
            except BrokenProcessPool as error:
                pool.shutdown(wait=True, cancel_futures=True)
                pool = new_pool()
                for entry in pending:
                    entry.future = None
                if not head.alone:
                    solo = True
                    continue
                outcome = error
            except Exception as error:
                outcome = error
            pending.popleft()
            solo = False
            yield head.item, outcome
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
