"""Hard negatives mined with a MetaEmbed model: the best-ranked candidates that are not the answer.

In-batch negatives are mostly easy; MetaEmbed's recipe adds one hard negative per query. The
risk of mining them is picking a *false* negative, a page that also answers the query, and
teaching the model to push it away. The guards, in order:

1. ``exclude(query_index, candidate_id)``: the caller rules out candidates it knows may be
   relevant (for mined PDF pairs: the pages next to the positive in its own document, where the
   section continues, and pages whose text contains the query itself);
2. positive-aware threshold (NV-Retriever, Moreira et al. 2024, arXiv 2407.15831): a candidate
   scoring above ``max_relative_score`` times the positive's own score is dropped as probably
   relevant;
3. ``skip_top``: the first survivors are skipped as well, for corpora with many near-duplicates.

The next ``k`` candidates are the hard negatives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from tqdm.auto import tqdm

from ..budget import BudgetLike
from ..model.inputs import InputLike
from ..scoring import maxsim

__all__ = ["rank_hard_negatives"]


def rank_hard_negatives(
    model: torch.nn.Module,
    queries: Sequence[InputLike],
    positive_ids: Sequence[str],
    candidates: Mapping[str, InputLike],
    *,
    k: int = 1,
    skip_top: int = 0,
    max_relative_score: float | None = 0.95,
    exclude: Callable[[int, str], bool] | None = None,
    budget: BudgetLike | None = None,
    batch_size: int = 32,
    query_chunk: int = 256,
    show_progress_bar: bool = True,
) -> list[list[str]]:
    """For each query, the ids of its ``k`` hard negatives among ``candidates`` (best first).

    ``model`` is a :class:`~metaembed_rag.MetaEmbed`. ``positive_ids[i]`` is the id of query
    ``i``'s positive in ``candidates`` (it is never returned; its score is the reference of the
    threshold). Scores are MetaEmbed MaxSim at ``budget`` (default: the full one). A query may get
    fewer than ``k`` negatives when the guards leave too few candidates.
    """
    if len(queries) != len(positive_ids):
        raise ValueError(f"{len(queries)} queries but {len(positive_ids)} positive ids")
    if k < 1 or skip_top < 0:
        raise ValueError(f"k must be >= 1 and skip_top >= 0, got k={k}, skip_top={skip_top}")
    ids = list(candidates)
    position = {candidate_id: index for index, candidate_id in enumerate(ids)}
    unknown = [p for p in positive_ids if p not in position]
    if unknown:
        raise ValueError(f"{len(unknown)} positive id(s) are not among the candidates, e.g. {unknown[0]!r}")
    documents = model.encode_documents(
        [candidates[i] for i in ids], batch_size=batch_size, show_progress_bar=show_progress_bar
    )
    encoded = model.encode_queries(list(queries), batch_size=batch_size, show_progress_bar=show_progress_bar)
    negatives: list[list[str]] = []
    starts = range(0, len(queries), query_chunk)
    for start in tqdm(starts, desc="Ranking negatives", unit="chunk", disable=not show_progress_bar):
        scores = maxsim(encoded[start : start + query_chunk], documents, budget)
        for row, query_scores in enumerate(scores):
            index = start + row
            positive = position[positive_ids[index]]
            limit = None
            if max_relative_score is not None:
                limit = max_relative_score * float(query_scores[positive])
            negatives.append(_pick(query_scores, ids, positive, limit, index, exclude, k, skip_top))
    return negatives


def _pick(
    scores: torch.Tensor,
    ids: list[str],
    positive: int,
    limit: float | None,
    query_index: int,
    exclude: Callable[[int, str], bool] | None,
    k: int,
    skip_top: int,
) -> list[str]:
    ranked = torch.argsort(scores, descending=True)
    picked: list[str] = []
    skipped = 0
    for candidate in ranked.tolist():
        if candidate == positive or (limit is not None and float(scores[candidate]) > limit):
            continue
        if exclude is not None and exclude(query_index, ids[candidate]):
            continue
        if skipped < skip_top:
            skipped += 1
            continue
        picked.append(ids[candidate])
        if len(picked) == k:
            break
    return picked
