"""Two-stage search (cheap first stage, exact rerank), its recall helper, and 1-bit ranking quality."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from metaembed_rag.budget import Budget
from metaembed_rag.index import PageIndex, two_stage_recall

from .helpers import DIM, R_C, R_Q, fingerprint, metas, reference_scores, unit


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 25),
    k=st.integers(1, 6),
    extra=st.integers(0, 10),
    first=st.sampled_from([(1, 1), (2, 4), (1, 8)]),
    budget=st.sampled_from([(4, 8), (8, 16), (16, 64)]),
    seed=st.integers(0, 2**31 - 1),
)
def test_two_stage_is_exact_rerank_of_first_stage_top_m(
    n: int, k: int, extra: int, first: tuple[int, int], budget: tuple[int, int], seed: int
) -> None:
    gen = torch.Generator().manual_seed(seed)
    pages = {f"p{i}": unit(R_C, DIM, generator=gen) for i in range(n)}
    q = unit(R_Q, DIM, generator=gen)
    m = k + extra
    with tempfile.TemporaryDirectory() as tmp, PageIndex.create(
        Path(tmp) / "ix", fingerprint=fingerprint(), dtype="fp32"
    ) as ix:  # fmt: skip
        ix.add(torch.stack(list(pages.values())), metas(list(pages)), commit_every=None)
        hits = ix.search(q, budget, k=k, rerank_from=m, first_stage=first, chunk_size=4)
    first_ref = reference_scores(q, pages, first)
    boundary = sorted(first_ref.values(), reverse=True)[min(m, n) - 1]
    shortlist = {p for p, s in first_ref.items() if s >= boundary - 1e-5}
    assert {h.page_id for h in hits} <= shortlist
    full = reference_scores(q, pages, budget)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    for h in hits:  # every returned page is scored exactly at the full budget
        assert abs(h.score - full[h.page_id]) <= 1e-5
    if hits:  # no page that surely passed the first stage and scores higher was left out
        floor = min(full[h.page_id] for h in hits)
        returned = {h.page_id for h in hits}
        assert not [
            p for p in shortlist - returned if first_ref[p] > boundary + 1e-5 and full[p] > floor + 2e-5
        ]
    assert len(hits) == min(k, n)


def _adversarial_index(path: Path) -> tuple[PageIndex, torch.Tensor]:
    """Page 'deep' matches the query on every vector but its first; 'shallow*' only on the first."""
    q = torch.eye(DIM)[: R_Q % DIM or DIM].repeat(R_Q // DIM + 1, 1)[:R_Q]  # q_i = e_(i mod D)
    deep = torch.eye(DIM)[torch.arange(R_C) % DIM]  # c_j = e_(j mod D): matches every q_i...
    deep[0] = -torch.eye(DIM)[0]  # ...except at (1, 1): c_0 = -q_0
    shallow = torch.zeros(R_C, DIM)
    shallow[:, 0] = 1.0  # every c_j = q_0: perfect at (1, 1), poor at full budget
    other = torch.zeros(R_C, DIM)
    other[:, 1] = 1.0  # c_j = e_1: first-stage score 0, between shallow (1) and deep (-1)
    ix = PageIndex.create(path, fingerprint=fingerprint(), dtype="fp32")
    ix.add(torch.stack([deep, shallow, shallow, other]), metas(["deep", "shallow1", "shallow2", "other"]))
    return ix, q


def test_two_stage_recall_counts_what_the_first_stage_missed(tmp_path: Path) -> None:
    ix, q = _adversarial_index(tmp_path / "ix")
    with ix:
        assert ix.search(q, (16, 64), k=1)[0].page_id == "deep"
        # The (1,1) shortlist of 3 is shallow1, shallow2, other: deep is missed.
        assert [h.page_id for h in ix.search(q, (16, 64), k=1, rerank_from=3)] != ["deep"]
        assert two_stage_recall(ix, q, (16, 64), k=1, rerank_from=3) == 0.0
        assert two_stage_recall(ix, q, (16, 64), k=2, rerank_from=3) == 0.5
        assert two_stage_recall(ix, q, (16, 64), k=1, rerank_from=4) == 1.0
        # A first stage that sees more vectors ranks deep first, even with a shortlist of one.
        assert two_stage_recall(ix, q, (16, 64), k=1, rerank_from=1, first_stage=(16, 8)) == 1.0
        batch = q.expand(3, -1, -1)
        assert two_stage_recall(ix, batch, (16, 64), k=1, rerank_from=3) == 0.0


def test_two_stage_with_shortlist_covering_everything_equals_exhaustive(index: PageIndex) -> None:
    index.add(unit(12, R_C, DIM), metas([str(i) for i in range(12)]))
    q = unit(3, R_Q, DIM)
    assert index.search(q, (8, 16), k=5, rerank_from=12) == index.search(q, (8, 16), k=5)
    assert two_stage_recall(index, q, Budget(8, 16), k=5, rerank_from=12) == 1.0
    with pytest.raises(ValueError, match="out of range"):
        index.search(q, (8, 16), k=5, rerank_from=6, first_stage=(1, 65))


def test_one_bit_index_finds_near_duplicates(tmp_path: Path) -> None:
    """1-bit scores are shrunk (about sqrt(2/pi) for dense vectors) and noisy, so we only claim what
    follows from that: a query that is a noisy copy of a page's first 16 vectors (cosine ~0.9) ranks
    that page first in at least 95% of cases, against pages of unrelated random vectors."""
    dim, n = 128, 120
    gen = torch.Generator().manual_seed(3)
    pages = unit(n, R_C, dim, generator=gen)
    targets = torch.arange(0, n, 3)
    noise = 0.5 * unit(len(targets), R_Q, dim, generator=gen)
    queries = torch.nn.functional.normalize(pages[targets, :R_Q] + noise, dim=-1)
    with PageIndex.create(tmp_path / "ix", fingerprint=fingerprint(dim=dim), dtype="1bit") as ix:
        ix.add(pages, metas([str(i) for i in range(n)]))
        top = [hits[0].page_id for hits in ix.search(queries, (16, 64), k=1)]
        hit_rate = sum(t == str(int(i)) for t, i in zip(top, targets, strict=True)) / len(targets)
        assert hit_rate >= 0.95
        # Two-stage on the 1-bit codes, (1,1) shortlist of 20: still finds them.
        top2 = [h[0].page_id for h in ix.search(queries, (16, 64), k=1, rerank_from=20)]
        assert sum(t == str(int(i)) for t, i in zip(top2, targets, strict=True)) / len(targets) >= 0.95
