"""metaembed-rag: MetaEmbed multi-vector retrieval with test-time budgets, for RAG over PDFs.

Heavy names (the encoder, the index) are imported on first use, so ``metaembed_rag.documents``
and worker processes that only render pages never load torch or transformers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_getattr
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


__getattr__ = lazy_getattr(__name__, _LAZY)
