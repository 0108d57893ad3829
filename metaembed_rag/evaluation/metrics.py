"""Ranking metrics with trec_eval's definitions (as BEIR and ViDoRe compute them via pytrec_eval).

A *run* maps a query id to its ranked ``[(doc id, score), ...]`` (best first); *qrels* map a query
id to ``{doc id: grade}``. A document is relevant when its grade is > 0. The run's order is used as
given (trec_eval would re-sort by score and break ties by doc id; our retrievers already break ties
deterministically, so we keep their order).

* ``ndcg@k``: ``DCG@k / IDCG@k`` with linear gain (the grade) and discount ``1 / log2(rank + 1)``;
  IDCG ranks all judged documents by grade (trec_eval ``ndcg_cut.k``).
* ``recall@k``: relevant documents in the top k / all relevant documents (``recall.k``).
* ``mrr@k``: ``1 / rank`` of the first relevant document within the top k, else 0. The default is
  MRR@10 (MS MARCO's convention); ``mrr_at=None`` gives trec_eval's uncut ``recip_rank``.

:func:`evaluate` averages over the queries that have at least one relevant document (a query with
only grade-0 judgments cannot be scored by recall or nDCG; trec_eval would count it as 0). A query
missing from the run scores 0 everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

__all__ = [
    "Qrels",
    "Run",
    "evaluate",
    "evaluate_per_query",
    "metric_names",
    "ndcg_at_k",
    "recall_at_k",
    "reciprocal_rank",
]

#: query id -> ranked [(doc id, score), ...], best first.
Run = dict[str, list[tuple[str, float]]]
#: query id -> {doc id: relevance grade}.
Qrels = Mapping[str, Mapping[str, int]]

NDCG_AT = (5, 10)
RECALL_AT = (1, 5, 10)
MRR_AT = 10


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")


def ndcg_at_k(ranking: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """nDCG@k of doc ids ``ranking`` (best first) against graded judgments (trec_eval ``ndcg_cut``)."""
    _check_k(k)
    dcg = sum(max(judged.get(d, 0), 0) / math.log2(i + 2) for i, d in enumerate(ranking[:k]))
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranking: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """Fraction of the relevant documents found in the top ``k``."""
    _check_k(k)
    relevant = {d for d, g in judged.items() if g > 0}
    return len(relevant.intersection(ranking[:k])) / len(relevant) if relevant else 0.0


def reciprocal_rank(ranking: Sequence[str], judged: Mapping[str, int], k: int | None = MRR_AT) -> float:
    """``1 / rank`` of the first relevant document within the top ``k`` (all ranks if None), else 0."""
    if k is not None:
        _check_k(k)
    for rank, doc_id in enumerate(ranking[:k] if k else ranking, 1):
        if judged.get(doc_id, 0) > 0:
            return 1.0 / rank
    return 0.0


def metric_names(
    ndcg_at: Sequence[int] = NDCG_AT, recall_at: Sequence[int] = RECALL_AT, mrr_at: int | None = MRR_AT
) -> list[str]:
    """The keys :func:`evaluate` returns, in order: ``ndcg@5``, ..., ``recall@1``, ..., ``mrr@10``."""
    return (
        [f"ndcg@{k}" for k in ndcg_at]
        + [f"recall@{k}" for k in recall_at]
        + [f"mrr@{mrr_at}" if mrr_at else "mrr"]
    )


def evaluate_per_query(
    run: Mapping[str, Sequence[tuple[str, float]]],
    qrels: Qrels,
    *,
    ndcg_at: Sequence[int] = NDCG_AT,
    recall_at: Sequence[int] = RECALL_AT,
    mrr_at: int | None = MRR_AT,
) -> dict[str, dict[str, float]]:
    """``query id -> {metric: value}`` for every query with at least one relevant document."""
    out = {}
    for query_id, judged in qrels.items():
        if not any(g > 0 for g in judged.values()):
            continue
        ranking = [doc_id for doc_id, _ in run.get(query_id, [])]
        values = {f"ndcg@{k}": ndcg_at_k(ranking, judged, k) for k in ndcg_at}
        values |= {f"recall@{k}": recall_at_k(ranking, judged, k) for k in recall_at}
        values[f"mrr@{mrr_at}" if mrr_at else "mrr"] = reciprocal_rank(ranking, judged, mrr_at)
        out[query_id] = values
    return out


def evaluate(
    run: Mapping[str, Sequence[tuple[str, float]]],
    qrels: Qrels,
    *,
    ndcg_at: Sequence[int] = NDCG_AT,
    recall_at: Sequence[int] = RECALL_AT,
    mrr_at: int | None = MRR_AT,
) -> dict[str, float]:
    """Each metric averaged over the queries with a relevant document (see the module docstring)."""
    per_query = evaluate_per_query(run, qrels, ndcg_at=ndcg_at, recall_at=recall_at, mrr_at=mrr_at)
    names = metric_names(ndcg_at, recall_at, mrr_at)
    if not per_query:
        raise ValueError("no query has a relevant document (grade > 0) in the qrels: nothing to evaluate")
    return {name: sum(v[name] for v in per_query.values()) / len(per_query) for name in names}
