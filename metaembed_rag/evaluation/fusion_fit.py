"""Fitting the weight of score fusion (MetaEmbed ``alpha`` against BM25) on a dev set.

``metaembed-rag eval --hybrid score --alpha fit`` picks the weight on a grid that maximises the
mean nDCG@5 of the fused runs over every evaluated budget, so one weight serves the whole ladder.
``scripts/ship_model.py --hybrid-alpha`` stores it in the model's config, where ``Retriever`` and
``metaembed-rag search --hybrid score`` read it as their default.
"""

from __future__ import annotations

from collections.abc import Sequence

from .metrics import Qrels, Run, evaluate
from .retrievers import DEFAULT_DEPTH, fuse_runs

__all__ = ["ALPHA_GRID", "FIT_METRIC", "fit_alpha"]

#: The MetaEmbed weights tried, 0 (BM25 alone) to 1 (MetaEmbed alone) in steps of 0.05.
ALPHA_GRID = tuple(round(i / 20, 2) for i in range(21))
FIT_METRIC = "ndcg@5"


def fit_alpha(
    dense_runs: Sequence[Run],
    lexical: Run,
    qrels: Qrels,
    *,
    metric: str = FIT_METRIC,
    grid: Sequence[float] = ALPHA_GRID,
    depth: int = DEFAULT_DEPTH,
) -> tuple[float, dict[float, float]]:
    """``(alpha, {alpha: mean metric})``: the grid weight whose score fusion of each dense run with
    ``lexical`` has the best ``metric`` averaged over the runs. Ties go to the weight nearest 0.5,
    then the smaller one, so the choice is deterministic."""
    if not dense_runs:
        raise ValueError("fit_alpha needs at least one dense run")
    if not grid:
        raise ValueError("fit_alpha needs a non-empty grid of weights")
    curve = {
        float(alpha): sum(
            evaluate(fuse_runs(run, lexical, "score", alpha=alpha, depth=depth), qrels)[metric]
            for run in dense_runs
        )
        / len(dense_runs)
        for alpha in grid
    }
    best = max(curve.values())
    alpha = min((a for a, v in curve.items() if v == best), key=lambda a: (round(abs(a - 0.5), 9), a))
    return alpha, curve
