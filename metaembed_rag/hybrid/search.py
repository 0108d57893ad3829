"""Hybrid search over a vector store: MetaEmbed MaxSim hits fused with BM25 over the page text.

The BM25 side reads the ``"text"`` each page stores in its metadata (the PDF text layer; see
:func:`metaembed_rag.pipeline.page_metadata`). Building it lists every page, so it is cached per
store and per store *generation* (:meth:`PageIndex.generation` changes with every committed write);
a store without generations (Qdrant) is keyed by a digest of its page ids and content hashes.
The cache lives in the process: a long-lived retriever builds it once, a one-shot CLI search builds
it each time (about a second per 10k pages).

Both retrievers return ``depth`` hits (default 100) before fusion, and both honour ``filter``.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any

from ..budget import BudgetLike
from ..index.base import Filter, SearchHit, StoredPage, VectorStore
from .bm25 import BM25Index
from .fusion import RRF_K, fuse

__all__ = ["PageBM25", "hybrid_search", "lexical_search", "page_bm25"]

DEFAULT_DEPTH = 100
_CACHED_STORES = 4


class PageBM25:
    """BM25 over the stored text of ``pages``, answering with :class:`SearchHit` s."""

    def __init__(self, pages: Sequence[StoredPage], **bm25_options: Any) -> None:
        self.metadata = {p.page_id: p.metadata() for p in pages}
        texts = [str(p.fields.get("text") or "") for p in pages]
        self.index = BM25Index([p.page_id for p in pages], texts, **bm25_options)
        #: Pages without a text layer (or stored with ``--no-text``): BM25 cannot judge them.
        self.textless = frozenset(p.page_id for p, text in zip(pages, texts, strict=True) if not text.strip())

    def __len__(self) -> int:
        return len(self.index)

    def search(self, query: str, k: int = 10, *, allowed: set[str] | None = None) -> list[SearchHit]:
        """The ``k`` best pages by BM25 (only pages sharing a token with the query), best first."""
        return [
            SearchHit(page_id, score, dict(self.metadata[page_id]), rank)
            for rank, (page_id, score) in enumerate(self.index.search(query, k, allowed=allowed), 1)
        ]


_cache: OrderedDict[Hashable, PageBM25] = OrderedDict()
_cache_lock = threading.Lock()


def _cache_key(store: VectorStore) -> tuple[Hashable, list[StoredPage] | None]:
    """``(key, pages)``: pages are returned when listing them was needed to compute the key."""
    where = str(getattr(store, "path", None) or id(store))
    generation = getattr(store, "generation", None)
    if callable(generation):
        return (type(store).__name__, where, generation()), None
    pages = store.pages()  # type: ignore[attr-defined]
    digest = hashlib.sha256()
    for page in sorted(pages, key=lambda p: p.page_id):
        digest.update(f"{page.page_id}\0{page.content_hash}\0".encode())
    return (type(store).__name__, where, digest.hexdigest()), pages


def page_bm25(store: VectorStore) -> PageBM25:
    """The BM25 index over ``store``'s page texts, rebuilt only when the store has changed."""
    key, pages = _cache_key(store)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    built = PageBM25(pages if pages is not None else store.pages())  # type: ignore[attr-defined]
    with _cache_lock:
        _cache[key] = built
        while len(_cache) > _CACHED_STORES:
            _cache.popitem(last=False)
    return built


def _allowed(store: VectorStore, filter: Filter | None) -> set[str] | None:
    if not filter:
        return None
    return {p.page_id for p in store.pages(filter)}  # type: ignore[attr-defined]


def lexical_search(
    store: VectorStore, query: str, *, k: int = 10, filter: Filter | None = None
) -> list[SearchHit]:
    """BM25 over the stored page texts of ``store`` (see :mod:`metaembed_rag.hybrid.bm25`)."""
    return page_bm25(store).search(query, k, allowed=_allowed(store, filter))


def hybrid_search(
    store: VectorStore,
    model: Any,
    query: str,
    *,
    budget: BudgetLike | None = None,
    k: int = 10,
    fusion: str = "rrf",
    filter: Filter | None = None,
    alpha: float = 0.5,
    rrf_k: int = RRF_K,
    depth: int = DEFAULT_DEPTH,
) -> list[SearchHit]:
    """Top-``k`` pages by fusing MetaEmbed MaxSim at ``budget`` with BM25 over the page text.

    ``fusion`` is ``"rrf"`` (reciprocal-rank fusion, constant ``rrf_k``) or ``"score"`` (min-max
    normalised scores, ``alpha`` the MetaEmbed weight); see :mod:`metaembed_rag.hybrid.fusion`.
    Each side contributes its top ``max(depth, k)`` pages; a page without text, which BM25 cannot
    judge, has its dense rank or score stand in for BM25's (:func:`~.fusion.fuse`). A hit's
    ``score`` is the fused score and its metadata gains
    ``"hybrid": {"dense_rank", "dense_score", "bm25_rank", "bm25_score"}`` (None where a side did
    not return the page).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if not isinstance(query, str) or not query.strip():
        raise ValueError("query must be a non-empty string")
    depth = max(depth, k)
    vectors = model.encode_queries([query], budget=budget)[0]
    dense = store.search(vectors, budget, depth, filter)
    bm25 = page_bm25(store)
    lexical = bm25.search(query, depth, allowed=_allowed(store, filter))
    fused = fuse(
        [(h.page_id, h.score) for h in dense],  # type: ignore[union-attr]
        [(h.page_id, h.score) for h in lexical],
        fusion, alpha=alpha, rrf_k=rrf_k, textless=bm25.textless,
    )  # fmt: skip
    by_id = {h.page_id: h for h in [*lexical, *dense]}  # type: ignore[misc]
    dense_of = {h.page_id: h for h in dense}  # type: ignore[union-attr]
    lexical_of = {h.page_id: h for h in lexical}
    hits = []
    for rank, (page_id, score) in enumerate(fused[:k], 1):
        d, s = dense_of.get(page_id), lexical_of.get(page_id)
        detail = {
            "dense_rank": d and d.rank, "dense_score": d and d.score,
            "bm25_rank": s and s.rank, "bm25_score": s and s.score,
        }  # fmt: skip
        hits.append(SearchHit(page_id, score, {**by_id[page_id].metadata, "hybrid": detail}, rank))
    return hits
