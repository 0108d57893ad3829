"""PDF corpora as text for mining: text layers, bookmarks, contents/index pages, duplicate documents.

Mining needs every page's text layer and the outline of each PDF, never pixels, so documents are
read once with PDFium into :class:`DocumentText` records. A file that cannot be opened is
reported and skipped.
"""

from __future__ import annotations

import re
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
from tqdm.auto import tqdm

from ..documents.discover import find_documents
from ..documents.errors import DocumentError
from ..documents.page import doc_id_for
from ..documents.pdfium_backend import open_pdf, page_text

__all__ = [
    "Bookmark",
    "DocumentText",
    "duplicate_and_related_documents",
    "is_contents_or_index_page",
    "read_corpus",
    "read_document",
]


@dataclass(frozen=True)
class Bookmark:
    """An outline entry: its title and the 1-based page it points to."""

    title: str
    page: int
    level: int


@dataclass(frozen=True)
class DocumentText:
    """One PDF's text layers (``pages[n - 1]`` is page ``n``) and bookmarks.

    ``doc_id`` is the path relative to the corpus folder (as :func:`~..documents.doc_id_for`).
    """

    path: str
    doc_id: str
    pages: tuple[str, ...]
    bookmarks: tuple[Bookmark, ...]

    @property
    def num_pages(self) -> int:
        return len(self.pages)

    @property
    def package(self) -> str:
        """The package a document belongs to, for spreading a dev set over several: the first
        folder of ``doc_id``, or, for a tree that starts with ``usr/share/doc/`` (one unpacked
        .deb), the folder below it; ``"."`` for files at the top of the corpus."""
        parts = self.doc_id.split("/")
        if parts[:3] == ["usr", "share", "doc"]:
            parts = parts[3:]
        return parts[0] if len(parts) > 1 else "."


def read_document(path: str | Path, root: str | Path | None = None) -> DocumentText:
    """Read every page's text layer and the outline of one PDF (raises :class:`DocumentError`)."""
    with open_pdf(path) as doc:
        pages = tuple(page_text(doc, index) for index in range(len(doc)))
        bookmarks = tuple(_bookmarks(doc))
    return DocumentText(str(Path(path).resolve()), doc_id_for(path, root), pages, bookmarks)


def _bookmarks(doc: pdfium.PdfDocument) -> Iterable[Bookmark]:
    for item in doc.get_toc(max_depth=16):
        if hasattr(item, "get_title"):  # pypdfium2 >= 5
            title, dest = item.get_title(), item.get_dest()
            index = dest.get_index() if dest is not None else None
        else:  # pypdfium2 4: a named tuple
            title, index = item.title, item.page_index
        if title and index is not None and 0 <= index < len(doc):
            yield Bookmark(title, index + 1, item.level)


def read_corpus(
    root: str | Path, *, show_progress_bar: bool = True
) -> tuple[list[DocumentText], list[str]]:
    """All PDFs under ``root`` as :class:`DocumentText`, sorted by path, plus one message per
    file that could not be read (it is skipped; the run goes on)."""
    documents: list[DocumentText] = []
    failures: list[str] = []
    paths = find_documents(root, include=["*.pdf"])
    for path in tqdm(paths, desc="Reading PDFs", unit="file", disable=not show_progress_bar):
        try:
            documents.append(read_document(path, root))
        except DocumentError as error:
            failures.append(str(error))
        except Exception as error:  # PDFium raises several types on damaged files
            failures.append(f"{path}: could not read text ({type(error).__name__}: {error}); skipped")
    return documents, failures


# A contents or index line ends in a page number, often after dotted leaders: "2.1 Setup . . . 14",
# "\\caption, 12, 45". A page is a contents/index page when such lines dominate it.
_LEADER = re.compile(r"(?:\.\s?){3,}\s*\d+\s*$")
_ENDS_IN_NUMBER = re.compile(r"[\w)\]}.,]\s*[\divxlc]+\s*$", re.IGNORECASE)
_CONTENTS_HEADING = re.compile(
    r"^\s*(?:table of contents|contents|index|list of (?:figures|tables|listings))\s*$", re.IGNORECASE
)
_NUMBER = re.compile(r"^\(?\d+(?:[.,:-]\d+)*\)?[.,;]?$")


def is_contents_or_index_page(text: str) -> bool:
    """Whether a page is a table of contents, a list of figures or an index.

    Such pages mention many headings, so they would be wrong positives for a heading query (and
    the right page would look like a false negative). A page counts when, over its non-empty
    lines (at least 6):

    * 30% or more end in dotted leaders and a page number (``Intro . . . . 3``), or
    * a "Contents"/"Index"/"List of figures" heading is among the first 5 lines and half the
      lines end in a page number, or
    * 60% or more end in a number or roman numeral and 30% of all words are numbers (an index
      or a dense list of page references).
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 6:
        return False
    leaders = sum(bool(_LEADER.search(line)) for line in lines)
    if leaders >= 0.3 * len(lines):
        return True
    ending = sum(bool(_ENDS_IN_NUMBER.search(line)) for line in lines) / len(lines)
    if any(_CONTENTS_HEADING.match(line) for line in lines[:5]) and ending >= 0.5:
        return True
    words = text.split()
    numbers = sum(bool(_NUMBER.match(word)) for word in words) / max(1, len(words))
    return ending >= 0.6 and numbers >= 0.3


# Documents are compared by a 1-in-8 sample of their 5-word shingles (CRC32, so stable across
# runs). The same book in two paper sizes shares ~90% of its shingles; unrelated manuals that
# quote the same licence share a few percent.
_SHINGLE = 5
_SAMPLE_MOD = 8


def _fingerprint(document: DocumentText) -> set[int]:
    words = re.findall(r"\w+", " ".join(document.pages).lower())
    starts = range(len(words) - _SHINGLE + 1)
    hashes = (zlib.crc32(" ".join(words[i : i + _SHINGLE]).encode()) for i in starts)
    return {h for h in hashes if h % _SAMPLE_MOD == 0}


def duplicate_and_related_documents(
    documents: Sequence[DocumentText],
    *,
    duplicate_jaccard: float = 0.5,
    related_containment: float = 0.6,
    min_shingles: int = 50,
    show_progress_bar: bool = False,
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Pairs ``(i, j)``, ``i < j``, of duplicate and of related documents.

    * duplicates: Jaccard similarity of sampled shingles ≥ ``duplicate_jaccard`` (the same text
      in another format: ``cplusplus.pdf`` and ``cplusplusus.pdf``, a refcard in A4 and Letter);
    * related: one contains ≥ ``related_containment`` of the other's shingles (a manual and the
      annotated source that includes it, a package and its successor's examples).

    Documents with fewer than ``min_shingles`` sampled shingles (a few lines of text) are too
    small to judge and are never paired.
    """
    bar = tqdm(documents, desc="Fingerprinting", unit="doc", disable=not show_progress_bar)
    prints = [_fingerprint(document) for document in bar]
    holders: dict[int, list[int]] = defaultdict(list)
    for index, shingles in enumerate(prints):
        if len(shingles) >= min_shingles:
            for shingle in shingles:
                holders[shingle].append(index)
    shared: dict[tuple[int, int], int] = defaultdict(int)
    for indices in holders.values():
        if len(indices) > 50:  # boilerplate shared by many documents says nothing about a pair
            continue
        for a_pos, a in enumerate(indices):
            for b in indices[a_pos + 1 :]:
                shared[a, b] += 1
    duplicates, related = [], []
    for (a, b), common in sorted(shared.items()):
        size_a, size_b = len(prints[a]), len(prints[b])
        if common / (size_a + size_b - common) >= duplicate_jaccard:
            duplicates.append((a, b))
        elif common / min(size_a, size_b) >= related_containment:
            related.append((a, b))
    return duplicates, related
