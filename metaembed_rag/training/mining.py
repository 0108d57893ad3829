"""Automatic (query, page) pairs from PDF corpora: bookmark titles and figure/table captions.

Two signals that authors put in PDFs for readers to navigate by make good retrieval queries:

* **bookmarks** (the outline): a section title points to the page where the section starts;
* **captions** in the text layer: ``Figure 3: Growth of ...`` is a description of what is on
  its page (the ``Figure 3:`` label itself is dropped, since a reader would not search for it).

Filters (each drop is counted by reason, see :class:`MiningResult`):

* ``trivial``: fewer than 5 letters, only numbers or roman numerals, or a generic heading
  (Index, Contents, Bibliography, Introduction, ...) that names no specific content;
* ``ambiguous``: the same query (case and spacing ignored) names more than one page anywhere in
  the corpus; all copies are dropped, since any one of them could be the answer;
* ``contents_or_index_page``: the positive is a table of contents or an index page
  (:func:`~.pdf_text.is_contents_or_index_page`), which mentions everything;
* ``not_on_page``: a bookmark whose title is not in its page's text layer (a broken or offset
  destination), so the pair cannot be checked;
* ``little_text``: under ``min_page_chars`` characters of text on the page once the query is
  masked (a part title page, a full-page image), nothing to learn from.

Inverse-cloze pairs (:func:`inverse_cloze_pairs`, Lee et al., 2019, arXiv 1906.00300): a
sentence taken out of a page is the query for the rest of that page. They need no outline, so
every page with prose gives some, many times the bookmark pairs.

With ``mask_query=True`` every occurrence of the query is removed from the positive's text
(ignoring case and whitespace), and the masked text is stored with the pair: a model trained on
it must match meaning, not copy the heading string. The dev set keeps the real text layers.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import torch
from tqdm.auto import tqdm

from ..budget import BudgetLike
from .hard_negatives import rank_hard_negatives
from .pdf_text import DocumentText, is_contents_or_index_page

__all__ = [
    "MinedPair",
    "MiningResult",
    "bookmark_queries",
    "caption_queries",
    "clean_title",
    "cloze_sentence",
    "inverse_cloze_pairs",
    "mask_query_text",
    "mine_hard_negatives",
    "mine_pairs",
    "page_sentences",
    "query_key",
    "trivial_query",
]

#: Headings that occur in most documents and name nothing specific.
GENERIC_HEADINGS = frozenset(
    {
        "index", "contents", "table of contents", "bibliography", "references", "literature",
        "abstract", "introduction", "preface", "foreword", "acknowledgements", "acknowledgments",
        "appendix", "appendices", "glossary", "license", "licence", "copyright", "title page",
        "cover", "list of figures", "list of tables", "change history", "changes",
        "version history", "summary", "conclusion", "conclusions", "notes", "footnotes",
        "symbols", "examples", "example", "usage", "overview", "implementation", "options",
        "commands", "further reading", "see also", "about this document", "credits",
        # the same in the languages of the Debian documentation corpus
        "literatur", "literaturverzeichnis", "inhaltsverzeichnis", "einleitung", "einführung",
        "inhoudsopgave", "inleiding", "table des matières", "bibliographie",
    }
)
# "2.3", "II.4", "IV", "A.1", "Chapter 4", "Appendix B" in front of a title. Roman numerals and
# single letters must be upper case, so that "I" in "I/O basics" or "a" in "a. b" are not taken.
_NUMBERING = re.compile(
    r"^(?:(?i:chapter|section|part|appendix)\s+[\dA-Za-z]+(?:\.\d+)*[.:]?\s+"
    r"|\d+(?:\.\d+)*\.?\s+|[A-Z](?:\.\d+)+\.?\s+|[A-Z]\.\s+|[IVXLC]+(?:\.\d+)*\.?\s+)"
)
_ONLY_NUMBERS = re.compile(r"^[\divxlcdm\s.,:;()\-–—]*$", re.IGNORECASE)
# "Figure 3: ...", "Figure 2.1. ...", "Fig. 4: ...", "Table 1: ..." at the start of a line.
_CAPTION = re.compile(
    r"^[ \t]*(?:Figure|Fig\.|Table)[ \t]*[A-Z]?\d+(?:\.\d+)*[ \t]*[:.][ \t]+(?P<text>\S.*)$", re.MULTILINE
)
_MAX_CAPTION_LINES = 3
_MAX_QUERY_CHARS = 300
_MIN_LETTERS = 5


@dataclass(frozen=True)
class MinedPair:
    """A mined query and its positive page (``page`` is 1-based; ``pdf`` an absolute path).

    ``text`` is the masked text layer when mining masked the query, else None (read it from
    the PDF). ``negatives`` are ``(pdf, page)`` pairs, filled by hard-negative mining.
    """

    query: str
    doc_id: str
    pdf: str
    page: int
    source: str
    text: str | None = None
    negatives: tuple[tuple[str, int], ...] = field(default=())

    @property
    def page_id(self) -> str:
        return f"{self.doc_id}:{self.page}"


@dataclass
class MiningResult:
    """Kept pairs, candidates found per source, and dropped candidates per reason."""

    pairs: list[MinedPair]
    found: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)

    def kept_by_source(self) -> Counter[str]:
        return Counter(pair.source for pair in self.pairs)


_QUOTES = str.maketrans({"‘": "'", "’": "'", "`": "'", "´": "'", "“": '"', "”": '"', "„": '"'})


def _normalise(text: str) -> str:
    """NFKC (ligatures such as "ﬁ" become letters), PDFium's hyphenation marks (U+FFFE) removed,
    and typographic and TeX quotes (‘ ’ “ ” `` '') made plain, since outlines and text layers
    rarely agree on them."""
    text = unicodedata.normalize("NFKC", text).replace("\ufffe\n", "").replace("\ufffe", "")
    return text.replace("``", '"').replace("''", '"').translate(_QUOTES)


def query_key(query: str) -> str:
    """The form in which two queries count as the same: case, spacing, end punctuation ignored."""
    return " ".join(_normalise(query).casefold().split()).rstrip(".:;,")


def clean_title(title: str) -> str:
    """A bookmark title as a query: spacing collapsed, section numbering removed
    (``"2.3 Setting the title"`` becomes ``"Setting the title"``)."""
    title = " ".join(_normalise(title).split())
    stripped = _NUMBERING.sub("", title, count=1)
    return stripped if sum(c.isalpha() for c in stripped) >= _MIN_LETTERS else title


def trivial_query(query: str) -> bool:
    """Whether ``query`` is too short, only numbers, or a generic heading (see module docstring)."""
    key = query_key(query)
    return (
        sum(c.isalpha() for c in key) < _MIN_LETTERS
        or bool(_ONLY_NUMBERS.match(key))
        or key in GENERIC_HEADINGS
        or len(key) > _MAX_QUERY_CHARS
    )


def bookmark_queries(document: DocumentText) -> Iterator[tuple[str, int]]:
    """``(query, page)`` for each bookmark of ``document`` (titles cleaned, pages 1-based)."""
    for bookmark in document.bookmarks:
        query = clean_title(bookmark.title)
        if query:
            yield query, bookmark.page


def caption_queries(document: DocumentText) -> Iterator[tuple[str, int]]:
    """``(caption, page)`` for each figure or table caption in the text layers.

    A caption continues on the next line while its line does not end a sentence and the next
    line starts in lower case (a wrapped caption), for at most 3 lines in all.
    """
    for number, raw in enumerate(document.pages, start=1):
        text = _normalise(raw)
        for match in _CAPTION.finditer(text):
            lines = [match.group("text").strip()]
            following = text[match.end() :].split("\n")[1 : _MAX_CAPTION_LINES]
            for line in following:
                line = line.strip()
                if lines[-1].endswith((".", ":", "!", "?")) or not line or not line[0].islower():
                    break
                lines.append(line)
            yield " ".join(lines), number


def _query_pattern(query: str) -> re.Pattern[str]:
    words = [re.escape(word) for word in _normalise(query).split()]
    return re.compile(r"\s+".join(words), re.IGNORECASE)


def mask_query_text(text: str, query: str) -> tuple[str, int]:
    """``text`` with every occurrence of ``query`` removed (case and whitespace ignored), and
    the number of occurrences. The text is NFKC-normalised and hyphenation marks are removed."""
    return _query_pattern(query).subn(" ", _normalise(text))


def mine_pairs(
    documents: Sequence[DocumentText],
    *,
    mask_query: bool = True,
    min_page_chars: int = 200,
    show_progress_bar: bool = False,
) -> MiningResult:
    """Mine bookmark and caption pairs from ``documents`` and filter them (module docstring).

    Pairs come out in document order, then page order. Pass each real document once: a second
    copy of a document (the same book in another paper size) makes all its titles ambiguous, so
    remove duplicates first (see :func:`~.pdf_text.duplicate_and_related_documents`).
    """
    result = MiningResult(pairs=[])
    candidates: list[tuple[str, DocumentText, int, str]] = []
    for document in tqdm(documents, desc="Mining pairs", unit="doc", disable=not show_progress_bar):
        sources = (("bookmark", bookmark_queries(document)), ("caption", caption_queries(document)))
        for source, found in sources:
            for query, page in found:
                result.found[source] += 1
                if trivial_query(query):
                    result.dropped["trivial"] += 1
                else:
                    candidates.append((query, document, page, source))
    # A query is ambiguous when its key names two different pages; the same key twice on one
    # page (a bookmark and the caption it points at) is one pair.
    pages_of_key: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for query, document, page, _ in candidates:
        pages_of_key[query_key(query)].add((document.doc_id, page))
    seen: set[tuple[str, str, int]] = set()
    for query, document, page, source in candidates:
        key = query_key(query)
        if (key, document.doc_id, page) in seen:
            result.dropped["repeated_on_page"] += 1
            continue
        seen.add((key, document.doc_id, page))
        ambiguous = len(pages_of_key[key]) > 1
        reason, pair = _check(query, document, page, source, ambiguous, mask_query, min_page_chars)
        if pair is None:
            result.dropped[reason] += 1
        else:
            result.pairs.append(pair)
    return result


def _check(
    query: str, document: DocumentText, page: int, source: str, ambiguous: bool, mask: bool, min_chars: int
) -> tuple[str, MinedPair | None]:
    if ambiguous:
        return "ambiguous", None
    text = document.pages[page - 1]
    if is_contents_or_index_page(text):
        return "contents_or_index_page", None
    masked, found = mask_query_text(text, query)
    if found == 0 and source == "bookmark" and "_" in query:
        # Some outlines spell "Color assignment" as "Color_assignment" (gnuplot's do).
        spaced = query.replace("_", " ")
        masked, found = mask_query_text(text, spaced)
        query = spaced if found else query
    if found == 0 and source == "bookmark":
        return "not_on_page", None
    if len(" ".join(masked.split())) < min_chars:
        return "little_text", None
    pair = MinedPair(query, document.doc_id, document.path, page, source)
    return "", replace(pair, text=masked) if mask else pair


def mine_hard_negatives(
    model: torch.nn.Module,
    pairs: Sequence[MinedPair],
    documents: Sequence[DocumentText],
    *,
    k: int = 1,
    skip_top: int = 0,
    neighbourhood: int = 1,
    max_relative_score: float | None = 0.95,
    budget: BudgetLike | None = None,
    batch_size: int = 32,
    show_progress_bar: bool = True,
) -> list[MinedPair]:
    """``pairs`` with ``k`` hard negatives each, ranked by ``model`` among the pages of
    ``documents`` (which must include every pair's page; pass the training documents only, so
    that no dev page becomes a negative).

    Candidates are the pages' text layers (a text backbone's view). False-negative guards
    (see :mod:`.hard_negatives`): pages within ``neighbourhood`` pages of the positive in its own
    document, and pages whose text contains the query, are never negatives; neither is a page
    scoring above ``max_relative_score`` times the positive page; ``skip_top`` more are skipped.
    """
    pages: dict[str, tuple[DocumentText, int]] = {}
    for document in documents:
        for number, text in enumerate(document.pages, start=1):
            if text.strip():
                pages[f"{document.doc_id}:{number}"] = (document, number)
    normalised: dict[str, str] = {}

    def exclude(index: int, candidate_id: str) -> bool:
        pair = pairs[index]
        document, number = pages[candidate_id]
        if document.doc_id == pair.doc_id and abs(number - pair.page) <= neighbourhood:
            return True
        if candidate_id not in normalised:
            normalised[candidate_id] = _normalise(document.pages[number - 1])
        return _query_pattern(pair.query).search(normalised[candidate_id]) is not None

    negatives = rank_hard_negatives(
        model,
        [pair.query for pair in pairs],
        [pair.page_id for pair in pairs],
        {page_id: document.pages[number - 1] for page_id, (document, number) in pages.items()},
        k=k,
        skip_top=skip_top,
        max_relative_score=max_relative_score,
        exclude=exclude,
        budget=budget,
        batch_size=batch_size,
        show_progress_bar=show_progress_bar,
    )
    return [
        replace(pair, negatives=tuple((pages[n][0].path, pages[n][1]) for n in chosen))
        for pair, chosen in zip(pairs, negatives, strict=True)
    ]


# ---------------------------------------------------------------------- inverse cloze
# A sentence ends at . ! or ? followed by space and an upper-case letter (or the text's end).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")
_MIN_LETTER_SHARE = 0.6


def page_sentences(text: str) -> list[str]:
    """The sentences of a text layer, lines joined, spacing collapsed (``_normalise`` applied)."""
    flat = " ".join(_normalise(text).split())
    return [part.strip() for part in _SENTENCE_END.split(flat) if part.strip()]


def cloze_sentence(sentence: str, min_words: int = 6, max_words: int = 40) -> bool:
    """Whether ``sentence`` reads as prose worth asking with: ``min_words``..``max_words`` words,
    ending in . ! or ?, mostly letters (not code, a table row or an index line), and not trivial."""
    words = sentence.split()
    if not min_words <= len(words) <= max_words or not sentence.endswith((".", "!", "?")):
        return False
    visible = [c for c in sentence if not c.isspace()]
    letters = sum(c.isalpha() for c in visible)
    return letters >= _MIN_LETTER_SHARE * len(visible) and not trivial_query(sentence)


def inverse_cloze_pairs(
    documents: Sequence[DocumentText],
    *,
    per_page: int = 1,
    seed: int = 0,
    min_words: int = 6,
    max_words: int = 40,
    min_page_chars: int = 200,
) -> MiningResult:
    """Up to ``per_page`` inverse-cloze pairs per page of ``documents`` (source ``"ict"``).

    From each page's :func:`cloze_sentence` sentences ``per_page`` are drawn (seeded by ``seed``,
    document and page, so the choice does not depend on the other documents). Each is removed from
    its page like a bookmark title (``text`` holds the masked page). Dropped, by reason: sentences
    that stand on more than one page of ``documents`` (``ambiguous``: boilerplate), pages that are
    contents or index pages, and pages left with under ``min_page_chars`` characters.
    """
    if per_page < 1:
        raise ValueError(f"per_page must be >= 1, got {per_page}")
    result = MiningResult(pairs=[])
    pages_of_key: dict[str, set[tuple[str, int]]] = defaultdict(set)
    sentences: dict[tuple[str, int], list[str]] = {}
    for document in documents:
        for number, text in enumerate(document.pages, start=1):
            found = [s for s in page_sentences(text) if cloze_sentence(s, min_words, max_words)]
            sentences[(document.doc_id, number)] = found
            for sentence in found:
                pages_of_key[query_key(sentence)].add((document.doc_id, number))
    for document in documents:
        for number, text in enumerate(document.pages, start=1):
            found = sentences[(document.doc_id, number)]
            result.found["ict"] += len(found)
            if found and is_contents_or_index_page(text):
                result.dropped["contents_or_index_page"] += len(found)
                continue
            unique = [s for s in dict.fromkeys(found) if len(pages_of_key[query_key(s)]) == 1]
            result.dropped["ambiguous"] += len(found) - len(unique)
            rng = random.Random(f"{seed}:{document.doc_id}:{number}")
            for sentence in rng.sample(unique, min(per_page, len(unique))):
                masked, count = mask_query_text(text, sentence)
                if count == 0:
                    result.dropped["not_on_page"] += 1
                elif len(" ".join(masked.split())) < min_page_chars:
                    result.dropped["little_text"] += 1
                else:
                    pair = MinedPair(sentence, document.doc_id, document.path, number, "ict", masked)
                    result.pairs.append(pair)
    return result
