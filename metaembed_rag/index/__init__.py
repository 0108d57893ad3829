"""Stores of MetaEmbed page vectors. :class:`PageIndex` is the embedded on-disk default;
``QdrantStore`` (``pip install metaembed-rag[qdrant]``) keeps them in a Qdrant collection."""

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


def __getattr__(name: str) -> object:
    # QdrantStore is imported on first use, so qdrant-client stays an optional dependency.
    if name == "QdrantStore":
        from .qdrant_store import QdrantStore

        return QdrantStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
