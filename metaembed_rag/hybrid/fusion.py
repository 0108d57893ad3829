"""Fusing ranked lists from different retrievers (dense MetaEmbed and lexical BM25).

A ranking is a best-first sequence of ``(id, score)`` pairs. Two fusions:

* :func:`reciprocal_rank_fusion` - Cormack, Clarke & Büttcher (SIGIR 2009): an id scores
  ``Σ_r w_r / (k + rank_r)`` over the rankings that contain it (rank 1-based, k = 60). It needs no
  score calibration, which is why it is the default.
* :func:`score_fusion` - convex combination of min-max normalised scores:
  ``alpha · norm(s_first) + (1 - alpha) · norm(s_second)``. Each ranking is normalised over the ids
  it returned (``(s - min) / (max - min)``; all-equal scores normalise to 1), and an id missing
  from a ranking gets 0 from it.

Fused rankings are sorted by fused score, ties broken by the order in which ids were first seen
(the first ranking's order, then the second's), so results are deterministic.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

__all__ = [
    "DEFAULT_ALPHA", "FUSIONS", "Ranking", "fuse", "fusion_weight", "reciprocal_rank_fusion", "score_fusion",
]

#: A best-first list of ``(id, score)``.
Ranking = Sequence[tuple[str, float]]

#: Fusion method names accepted by :func:`fuse` and the CLI.
FUSIONS = ("rrf", "score")

RRF_K = 60
#: The dense weight of score fusion for a model without a fitted one (``hybrid_alpha``).
DEFAULT_ALPHA = 0.5


def fusion_weight(fitted: float | None) -> float:
    """The dense weight of score fusion: a model's fitted ``hybrid_alpha``, else :data:`DEFAULT_ALPHA`."""
    return DEFAULT_ALPHA if fitted is None else float(fitted)


def _sorted(fused: dict[str, float]) -> list[tuple[str, float]]:
    # dicts keep insertion order, and sorted() is stable: ties keep first-seen order.
    return sorted(fused.items(), key=lambda item: -item[1])


def reciprocal_rank_fusion(
    rankings: Sequence[Ranking], *, k: int = RRF_K, weights: Sequence[float] | None = None
) -> list[tuple[str, float]]:
    """Reciprocal-rank fusion of best-first rankings (Cormack et al. 2009): ``Σ w / (k + rank)``."""
    if k < 0:
        raise ValueError(f"the RRF constant k must be >= 0, got {k}")
    weights = [1.0] * len(rankings) if weights is None else list(weights)
    if len(weights) != len(rankings):
        raise ValueError(f"got {len(weights)} weights for {len(rankings)} rankings")
    fused: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, (doc_id, _) in enumerate(ranking, 1):
            fused[doc_id] = fused.get(doc_id, 0.0) + weight / (k + rank)
    return _sorted(fused)


def _min_max(ranking: Ranking) -> dict[str, float]:
    if not ranking:
        return {}
    scores = [s for _, s in ranking]
    low, high = min(scores), max(scores)
    if high == low:
        return {doc_id: 1.0 for doc_id, _ in ranking}
    return {doc_id: (s - low) / (high - low) for doc_id, s in ranking}


def score_fusion(
    first: Ranking, second: Ranking, *, alpha: float = 0.5, unjudged: Collection[str] = ()
) -> list[tuple[str, float]]:
    """``alpha · minmax(first) + (1 - alpha) · minmax(second)`` over the union of both rankings.

    Ids in ``unjudged`` are ones the second ranker cannot judge (BM25 on a page without a text
    layer): they take their first normalised score in the second's place instead of 0."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1] (the weight of the first ranking), got {alpha}")
    a, b = _min_max(first), _min_max(second)
    b |= {doc_id: a[doc_id] for doc_id in unjudged if doc_id in a and doc_id not in b}
    fused = {doc_id: alpha * a.get(doc_id, 0.0) + (1 - alpha) * b.get(doc_id, 0.0) for doc_id in a | b}
    return _sorted(fused)


def fuse(
    dense: Ranking,
    lexical: Ranking,
    method: str = "rrf",
    *,
    alpha: float = 0.5,
    rrf_k: int = RRF_K,
    textless: Collection[str] = (),
) -> list[tuple[str, float]]:
    """Fuse a dense and a lexical ranking with ``method`` ``"rrf"`` or ``"score"`` (``alpha`` is
    the dense weight for score fusion; RRF weights both equally).

    ``textless`` ids are pages without a text layer, which BM25 cannot judge: rather than count
    BM25's silence against them, their dense rank (RRF) or normalised score stands in for BM25's."""
    if method == "rrf":
        fused = dict(reciprocal_rank_fusion([dense, lexical], k=rrf_k))
        judged, missing = {doc_id for doc_id, _ in lexical}, set(textless)
        for rank, (doc_id, _) in enumerate(dense, 1):
            if doc_id in missing and doc_id not in judged:
                fused[doc_id] += 1.0 / (rrf_k + rank)
        return _sorted(fused)
    if method == "score":
        return score_fusion(dense, lexical, alpha=alpha, unjudged=textless)
    raise ValueError(f"unknown fusion {method!r}: choose one of {', '.join(FUSIONS)}")
