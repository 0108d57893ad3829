"""Stores of MetaEmbed page vectors. :class:`PageIndex` is the embedded on-disk default;
``QdrantStore`` (``pip install metaembed-rag[qdrant]``) keeps them in a Qdrant collection.

Names are imported on first use: :mod:`.summary` (what ``metaembed-rag info`` reads) and
:mod:`.filters` never load torch, and qdrant-client stays an optional dependency.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_getattr

if TYPE_CHECKING:
    from .base import (
        AddResult,
        IndexBeingCreatedError,
        IndexCorruptError,
        IndexMismatchError,
        NonFiniteVectorsError,
        PageIndexError,
        SearchHit,
        StoredPage,
        VectorStore,
    )
    from .page_index import CompactResult, IndexStats, PageIndex
    from .qdrant_store import QdrantStore
    from .quantize import DTYPES
    from .search import two_stage_recall

__all__ = [
    "DTYPES",
    "AddResult",
    "CompactResult",
    "IndexBeingCreatedError",
    "IndexCorruptError",
    "IndexMismatchError",
    "IndexStats",
    "NonFiniteVectorsError",
    "PageIndex",
    "PageIndexError",
    "QdrantStore",
    "SearchHit",
    "StoredPage",
    "VectorStore",
    "two_stage_recall",
]

_LAZY = {
    "DTYPES": ".quantize",
    "AddResult": ".base",
    "CompactResult": ".page_index",
    "IndexBeingCreatedError": ".base",
    "IndexCorruptError": ".base",
    "IndexMismatchError": ".base",
    "IndexStats": ".page_index",
    "NonFiniteVectorsError": ".base",
    "PageIndex": ".page_index",
    "PageIndexError": ".base",
    "QdrantStore": ".qdrant_store",
    "SearchHit": ".base",
    "StoredPage": ".base",
    "VectorStore": ".base",
    "two_stage_recall": ".search",
}


__getattr__ = lazy_getattr(__name__, _LAZY)
