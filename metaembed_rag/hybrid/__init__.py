"""Hybrid retrieval: BM25 over page text, rank/score fusion, and hybrid search over a store.

    from metaembed_rag.hybrid import hybrid_search

    hits = hybrid_search(index, model, "earnings per share 2024", budget=(4, 8), k=5, fusion="rrf")

* :mod:`.bm25` - tokenisation and :class:`BM25Index` (bm25s, Lucene BM25);
* :mod:`.fusion` - :func:`reciprocal_rank_fusion`, :func:`score_fusion` on ``(id, score)`` lists;
* :mod:`.search` - :func:`hybrid_search` and :func:`lexical_search` over a ``PageIndex`` (or any
  store with ``search`` and ``pages``), the functions LangChain/LlamaIndex retrievers call.

The evaluation harness (:mod:`metaembed_rag.evaluation`) uses the same BM25 and fusion code.
"""

from .bm25 import BM25Index, tokenize
from .fusion import FUSIONS, fuse, reciprocal_rank_fusion, score_fusion
from .search import PageBM25, hybrid_search, lexical_search, page_bm25

__all__ = [
    "FUSIONS",
    "BM25Index",
    "PageBM25",
    "fuse",
    "hybrid_search",
    "lexical_search",
    "page_bm25",
    "reciprocal_rank_fusion",
    "score_fusion",
    "tokenize",
]
