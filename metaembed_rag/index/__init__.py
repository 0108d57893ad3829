"""Stores of MetaEmbed page vectors. :class:`PageIndex` is the embedded on-disk default."""

from .base import (
    AddResult,
    IndexCorruptError,
    IndexMismatchError,
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
    "IndexCorruptError",
    "IndexMismatchError",
    "IndexStats",
    "PageIndex",
    "PageIndexError",
    "SearchHit",
    "StoredPage",
    "VectorStore",
    "two_stage_recall",
]
