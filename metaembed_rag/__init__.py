"""metaembed-rag: MetaEmbed multi-vector retrieval with test-time budgets, for RAG over PDFs.

Heavy names (the encoder, the index) are imported on first use, so ``metaembed_rag.documents``
and worker processes that only render pages never load torch or transformers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .budget import LADDER, Budget

if TYPE_CHECKING:
    from .index import PageIndex, SearchHit
    from .model import MetaEmbed, MetaEmbedConfig
    from .retriever import RetrievedPage, Retriever

__all__ = [
    "LADDER", "Budget", "MetaEmbed", "MetaEmbedConfig", "PageIndex", "RetrievedPage", "Retriever",
    "SearchHit",
]
__version__ = "0.1.0"

_LAZY = {
    "MetaEmbed": ".model",
    "MetaEmbedConfig": ".model",
    "PageIndex": ".index",
    "SearchHit": ".index",
    "Retriever": ".retriever",
    "RetrievedPage": ".retriever",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
