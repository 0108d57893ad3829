"""A second dev set whose queries do not quote their page: section leads.

The first dev set asks with headings and captions that stand verbatim on their page, where BM25
is at home. Here the query is the **first sentence of a section** (the prose right after the
bookmark's title on the page where the section starts), and that sentence is **removed from the
page** in the dev corpus, so the page must be found by what the rest of it says. The other pages
keep their real text layers.

Only dev-split documents are used. Per page at most one query (the first section starting there
that has a lead sentence). A lead sentence that stands on any other page of the dev documents is
dropped (it would have two right answers), as are contents and index pages and pages left with
under ``min_page_chars`` characters.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

from .mining import (
    MinedPair,
    _normalise,
    _query_pattern,
    bookmark_queries,
    cloze_sentence,
    mask_query_text,
    page_sentences,
    query_key,
    trivial_query,
)
from .pdf_text import DocumentText, is_contents_or_index_page

__all__ = ["section_lead_pairs", "section_lead_sentence"]


def section_lead_sentence(
    page_text: str, title: str, *, min_words: int = 6, max_words: int = 40
) -> str | None:
    """The first prose sentence after ``title`` on the page (:func:`~.mining.cloze_sentence`), if any."""
    text = " ".join(_normalise(page_text).split())
    match = _query_pattern(title).search(text)
    if match is None:
        return None
    for sentence in page_sentences(text[match.end() :]):
        if cloze_sentence(sentence, min_words, max_words):
            return sentence
    return None


def section_lead_pairs(
    documents: Sequence[DocumentText],
    *,
    max_queries: int | None = 600,
    seed: int = 0,
    min_words: int = 6,
    max_words: int = 40,
    min_page_chars: int = 200,
) -> tuple[list[MinedPair], Counter[str]]:
    """Section-lead pairs of ``documents`` (source ``"section-lead"``; ``text`` is the page with the
    lead removed) and the drop counts by reason; at most ``max_queries``, sampled with ``seed``."""
    dropped: Counter[str] = Counter()
    # Every page's text in the form query_key gives a sentence, to find a lead anywhere in it.
    flat = {(d.doc_id, n): query_key(text) for d in documents for n, text in enumerate(d.pages, start=1)}
    pairs: list[MinedPair] = []
    taken: set[tuple[str, int]] = set()
    for document in documents:
        for title, number in bookmark_queries(document):
            if (document.doc_id, number) in taken or not 1 <= number <= document.num_pages:
                continue
            text = document.pages[number - 1]
            if trivial_query(title) or is_contents_or_index_page(text):
                continue
            lead = section_lead_sentence(text, title, min_words=min_words, max_words=max_words)
            if lead is None:
                dropped["no_lead_sentence"] += 1
                continue
            key = query_key(lead)
            if any(key in text for where, text in flat.items() if where != (document.doc_id, number)):
                dropped["ambiguous"] += 1
                continue
            masked, count = mask_query_text(text, lead)
            if count == 0:
                dropped["not_on_page"] += 1
            elif len(" ".join(masked.split())) < min_page_chars:
                dropped["little_text"] += 1
            else:
                taken.add((document.doc_id, number))
                pairs.append(MinedPair(lead, document.doc_id, document.path, number, "section-lead", masked))
    if max_queries is not None and len(pairs) > max_queries:
        chosen = sorted(random.Random(seed).sample(range(len(pairs)), max_queries))
        dropped["over_query_cap"] += len(pairs) - max_queries
        pairs = [pairs[i] for i in chosen]
    return pairs, dropped
