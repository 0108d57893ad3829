"""Retrieved pages as a chat model's context: citations, text and page images.

Framework-free: the content blocks are plain dicts in LangChain's standard format (langchain-core
1.x ``{"type": "text", "text": ...}`` and ``{"type": "image", "base64": ..., "mime_type": ...}``),
which every provider integration converts, so the LangChain package, the LlamaIndex package and
the chat app build their prompts from one place.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from .retriever import RetrievedPage

__all__ = ["content_blocks", "context_text", "page_excerpt"]


def page_excerpt(page: RetrievedPage, max_chars: int | None = None) -> str:
    """The page's text layer, cut at a word boundary to at most ``max_chars`` characters."""
    text = " ".join(page.text.split())
    if max_chars is None or len(text) <= max_chars:
        return text
    cut = text[:max_chars].rsplit(" ", 1)[0]
    return f"{cut} …"


def context_text(pages: Sequence[RetrievedPage], *, max_chars: int | None = None) -> str:
    """The pages as one text block: ``[report.pdf p.3]`` then the page text, per page."""
    return "\n\n".join(f"[{p.citation}]\n{page_excerpt(p, max_chars)}" for p in pages)


def content_blocks(
    pages: Sequence[RetrievedPage],
    *,
    images: bool = True,
    text: bool = True,
    max_chars: int | None = None,
) -> list[dict[str, Any]]:
    """Per page, a text block with its citation (and text layer if ``text``), then its stored image
    as a base64 image block if ``images`` and the index keeps one. Send these to a vision chat model
    inside a ``HumanMessage(content=[...])``; for a text-only model pass ``images=False``."""
    blocks: list[dict[str, Any]] = []
    for page in pages:
        body = f"[{page.citation}]"
        if text and page.text.strip():
            body += "\n" + page_excerpt(page, max_chars)
        blocks.append({"type": "text", "text": body})
        data = page.image_bytes() if images else None
        if data is not None:
            blocks.append({"type": "image", "base64": base64.b64encode(data).decode("ascii"),
                           "mime_type": page.image_mime_type})
    return blocks
