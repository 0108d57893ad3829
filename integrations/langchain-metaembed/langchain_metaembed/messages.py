"""Retrieved pages as the content of a message to a vision chat model, in langchain-core's standard blocks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.documents import Document

from metaembed_rag.budget import Budget
from metaembed_rag.context import content_blocks
from metaembed_rag.retriever import RetrievedPage

__all__ = ["document_to_page", "pages_to_message_content"]


def document_to_page(doc: Document, rank: int = 1) -> RetrievedPage:
    """Turn a ``Document`` back into the core's :class:`~metaembed_rag.retriever.RetrievedPage`.

    Works for our retriever's documents and for any other ``Document`` with ``source`` and ``page``
    metadata (a PDF loader's, a vector store's); the image is read from ``metadata["image_path"]``.
    """
    meta = doc.metadata
    image = meta.get("image_path")
    budget = meta.get("budget")
    page = meta.get("page")
    return RetrievedPage(
        page_id=str(meta.get("page_id") or doc.id or meta.get("source") or f"document {rank}"),
        score=float(meta.get("score") or 0.0),
        normalized_score=meta.get("normalized_score"),
        rank=int(meta.get("rank") or rank),
        budget=Budget.parse(tuple(budget)) if budget else Budget(1, 1),
        source=meta.get("source"),
        page=int(page) if page is not None else None,
        text=doc.page_content,
        image_path=Path(image) if image else None,
        metadata=dict(meta),
    )


def pages_to_message_content(
    docs: Sequence[Document],
    *,
    question: str | None = None,
    images: bool = True,
    text: bool = True,
    max_chars: int | None = None,
) -> list[dict[str, Any]]:
    """The content list of a ``HumanMessage`` for a vision chat model: per page, a text block with its
    citation (``[report.pdf p.3]``) and text layer, then its stored image as a standard image block
    ``{"type": "image", "base64": ..., "mime_type": "image/png"}``; ``question`` last, as a text block.

    ``images=False`` for a text-only model; ``max_chars`` cuts each page's text at a word boundary.
    Built on :func:`metaembed_rag.context.content_blocks`, which the LlamaIndex package and the chat
    app share.
    """
    pages = [document_to_page(doc, rank) for rank, doc in enumerate(docs, 1)]
    blocks = content_blocks(pages, images=images, text=text, max_chars=max_chars)
    if question is not None:
        blocks.append({"type": "text", "text": question})
    return blocks
