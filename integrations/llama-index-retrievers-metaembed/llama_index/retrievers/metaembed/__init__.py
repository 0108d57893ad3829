"""LlamaIndex integration for metaembed-rag: MetaEmbed multi-vector page retrieval at a budget.

    from llama_index.retrievers.metaembed import MetaEmbedRetriever

    retriever = MetaEmbedRetriever.from_pdfs("samples/pdfs", index="samples.idx", budget=(4, 8))
    nodes = retriever.retrieve("What was Lumen Harbor's total revenue in 2024?")
"""

from .base import MetaEmbedRetriever
from .embedding import MetaEmbedEmbedding
from .filters import to_metaembed_filter
from .nodes import PageNode
from .reader import MetaEmbedPDFReader
from .reranker import MetaEmbedReranker

__all__ = [
    "MetaEmbedEmbedding",
    "MetaEmbedPDFReader",
    "MetaEmbedReranker",
    "MetaEmbedRetriever",
    "PageNode",
    "to_metaembed_filter",
]
