"""The paper's efficiency table (MetaEmbed, arXiv:2509.18095, Table 4), computed and measured.

Per budget ``(r_q, r_c)`` over the dataset's ``N`` documents of dimension ``D``:

* scoring FLOPs per query: ``2·N·r_q·r_c·D`` (one multiply-add per query vector, candidate vector
  and dimension; :meth:`Budget.flops`);
* index memory: ``N·r_c·D·2`` bytes, the bf16 candidate vectors a search at this budget reads
  (:meth:`Budget.index_bytes`);
* scoring latency per query: the median over queries of one exact :func:`maxsim` call at batch 1
  against all ``N`` documents plus its top-10, measured here (device and dtype in the report);
* query encoding time per query: median over queries encoded one at a time. It is measured once,
  not per budget, when the backbone is bidirectional (the BERT text model): every query then runs
  the same forward pass with all its meta tokens, and a budget only slices the output. A causal
  backbone stops a query after ``M_q[:r_q]``, so there it is measured per distinct ``r_q``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..budget import Budget
from ..scoring import maxsim, topk

__all__ = ["MIB", "index_mib", "median_ms", "query_encoding_ms", "scoring_gflops", "scoring_latency_ms"]

MIB = float(1 << 20)
LATENCY_K = 10


def scoring_gflops(budget: Budget, num_docs: int, dim: int) -> float:
    """``2·N·r_q·r_c·D / 1e9``: MaxSim FLOPs per query at ``budget``."""
    return budget.flops(num_docs, dim) / 1e9


def index_mib(budget: Budget, num_docs: int, dim: int, bytes_per_value: int = 2) -> float:
    """``N·r_c·D·bytes / 2**20``: candidate memory at ``budget`` (bf16 by default)."""
    return budget.index_bytes(num_docs, dim, bytes_per_value) / MIB


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_ms(
    calls: Sequence[Callable[[], Any]], *, device: torch.device | None = None, warmup: int = 1
) -> float:
    """Median wall time in ms of ``calls`` (each timed once, after ``warmup`` untimed calls of the first)."""
    if not calls:
        raise ValueError("nothing to time")
    device = device or torch.device("cpu")
    for _ in range(warmup):
        calls[0]()
    times = []
    for call in calls:
        _sync(device)
        start = time.perf_counter()
        call()
        _sync(device)
        times.append(1e3 * (time.perf_counter() - start))
    return statistics.median(times)


def scoring_latency_ms(
    queries: torch.Tensor, documents: torch.Tensor, budget: Budget, *, max_queries: int = 50
) -> float:
    """Median ms of exact MaxSim + top-10 for one query (``queries [Q, R_q, D]``, batch 1) against all
    ``documents [N, R_c, D]`` at ``budget``, on the documents' device and dtype."""
    sample = queries[:max_queries].to(documents.device)

    def search(q: torch.Tensor) -> Callable[[], Any]:
        return lambda: topk(maxsim(q, documents, budget), LATENCY_K)

    return median_ms([search(q) for q in sample], device=documents.device)


def query_encoding_ms(
    model: Any, texts: Sequence[str], *, budget: Budget | None = None, max_queries: int = 16
) -> float:
    """Median ms to encode one query (batch 1) with ``model.encode_queries`` at ``budget``."""
    sample = list(texts[:max_queries])

    def encode(text: str) -> Callable[[], Any]:
        return lambda: model.encode_queries([text], budget=budget, show_progress_bar=False)

    return median_ms([encode(t) for t in sample], device=torch.device(model.device))
