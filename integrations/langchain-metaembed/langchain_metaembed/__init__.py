"""LangChain integration for metaembed-rag: MetaEmbed multi-vector page retrieval at a per-call budget.

- :class:`MetaEmbedRetriever` returns ``Document`` pages (text layer, page image, scores) from an index.
- :class:`MetaEmbedReranker` re-ranks any retriever's documents (``ContextualCompressionRetriever``).
- :class:`MetaEmbedEmbeddings` is the (1, 1) single-vector view for LangChain vector stores.
- :func:`pages_to_message_content` turns pages into text and image blocks for a vision chat model.
"""

from langchain_metaembed.embeddings import MetaEmbedEmbeddings
from langchain_metaembed.messages import document_to_page, pages_to_message_content
from langchain_metaembed.rerankers import MetaEmbedReranker
from langchain_metaembed.retrievers import MetaEmbedRetriever, page_to_document

__all__ = [
    "MetaEmbedEmbeddings",
    "MetaEmbedReranker",
    "MetaEmbedRetriever",
    "document_to_page",
    "page_to_document",
    "pages_to_message_content",
]
__version__ = "0.1.0"
