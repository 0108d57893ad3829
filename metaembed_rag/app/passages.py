"""The passage of a page's text layer that best matches a question (retrieval-only mode).

The page text is split into passages of whole sentences (at most ``max_chars`` characters, a long
sentence cut at word boundaries); the retriever's own model scores every passage against the
question with :meth:`~metaembed_rag.retriever.Retriever.score` (normalised MaxSim at the chat's
budget), and the best one per page is shown. One ``score`` call covers all pages, so the model
encodes the question once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..budget import BudgetLike
from ..retriever import RetrievedPage, Retriever

__all__ = ["best_passages", "split_passages"]

_SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+")


def split_passages(text: str, max_chars: int = 320) -> list[str]:
    """Whole sentences packed into passages of at most ``max_chars`` characters."""
    words = " ".join(text.split())
    if not words:
        return []
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(words):
        while len(sentence) > max_chars:  # a sentence longer than a passage: cut at a word boundary
            cut = sentence[:max_chars].rsplit(" ", 1)[0] or sentence[:max_chars]
            pieces.append(cut)
            sentence = sentence[len(cut):].lstrip()
        if sentence:
            pieces.append(sentence)
    passages: list[str] = []
    for piece in pieces:
        if passages and len(passages[-1]) + 1 + len(piece) <= max_chars:
            passages[-1] += " " + piece
        else:
            passages.append(piece)
    return passages


def best_passages(
    retriever: Retriever,
    question: str,
    pages: Sequence[RetrievedPage],
    *,
    budget: BudgetLike | None = None,
    max_chars: int = 320,
) -> dict[str, str]:
    """Per page id, the passage of the page's text that the model scores highest for ``question``
    (pages with no text layer are left out)."""
    owners: list[str] = []
    passages: list[str] = []
    for page in pages:
        for passage in split_passages(page.text, max_chars):
            owners.append(page.page_id)
            passages.append(passage)
    if not passages:
        return {}
    scores = retriever.score(question, passages, budget=budget)
    best: dict[str, tuple[float, str]] = {}
    for owner, passage, score in zip(owners, passages, scores, strict=True):
        if owner not in best or score > best[owner][0]:
            best[owner] = (score, passage)
    return {owner: passage for owner, (_, passage) in best.items()}
