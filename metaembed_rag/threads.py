"""Torch thread counts for the command line's ``--threads``, chosen from a measurement.

``benchmarks/bench_threads.py`` times the first query encode and indexing throughput at each thread
count (results and the machine in docs/benchmarks.md). On the shared 2-core machine one thread won
both: the first query encode took 35 ms against 1.8 s with two threads, and indexing ran at 4.6
against 1.6 pages/s. One query is too small a job to split, so ``search`` uses one thread. Indexing
also renders pages in a background thread, so ``index`` and ``eval`` leave it a core: one thread
per two cores (one on a 2-core machine), at most :data:`MAX_INDEX_THREADS`.
"""

from __future__ import annotations

import os

__all__ = ["MAX_INDEX_THREADS", "QUERY_THREADS", "index_threads", "use_threads"]

#: Torch threads for encoding one query (``search``).
QUERY_THREADS = 1
#: At most this many torch threads for batched page encoding (``index``, ``eval``).
MAX_INDEX_THREADS = 8


def index_threads() -> int:
    """Torch threads for batched page encoding: one per two cores this process may use, 1 to 8."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores // 2, MAX_INDEX_THREADS))


def use_threads(threads: int | None, default: int) -> int:
    """Set torch's intra-op thread count to ``threads`` (``default`` when None); return it."""
    import torch

    count = default if threads is None else threads
    torch.set_num_threads(count)
    return count
