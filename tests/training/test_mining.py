"""Pair mining from fpdf2-made PDFs: bookmarks, captions, filters, masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from metaembed_rag.training.mining import (
    caption_queries,
    clean_title,
    mask_query_text,
    mine_pairs,
    query_key,
    trivial_query,
)
from metaembed_rag.training.pdf_text import is_contents_or_index_page, read_corpus, read_document

from ._pdfs import PageSpec, prose, write_pdf

CONTENTS = "Contents\n" + "\n".join(f"{i}.1 Section {i} . . . . . . . . . {i * 3}" for i in range(1, 12))


def test_read_document_gets_text_and_bookmarks(tmp_path: Path) -> None:
    path = write_pdf(
        tmp_path / "a" / "m.pdf",
        [PageSpec("1 Setting up the pump\n" + prose(1), ["1 Setting up the pump"]), prose(2)],
    )
    doc = read_document(path, root=tmp_path)
    assert doc.doc_id == "a/m.pdf" and doc.package == "a" and doc.num_pages == 2
    assert [(b.title, b.page) for b in doc.bookmarks] == [("1 Setting up the pump", 1)]
    assert doc.pages[0].startswith("1 Setting up the pump\n")


@pytest.mark.parametrize(
    ("title", "query"),
    [
        ("2.3 Setting the title", "Setting the title"),
        ("Chapter 4: Output  formats", "Output formats"),
        ("A.1 Old syntax", "Old syntax"),
        ("IV. Advanced use", "Advanced use"),
        ("XXIII.2 Patching output", "Patching output"),
        ("I/O basics", "I/O basics"),
        ("\\captionsetup", "\\captionsetup"),
        ("3 Why?", "3 Why?"),  # stripping would leave too little: kept whole
    ],
)
def test_clean_title(title: str, query: str) -> None:
    assert clean_title(title) == query


@pytest.mark.parametrize(
    ("query", "trivial"),
    [("Index", True), ("CONTENTS", True), ("Bibliography.", True), ("12.4", True), ("xiv", True),
     ("Table of contents", True), ("Abc", True), ("Plot styles", False), ("\\captionsetup", False)],
)
def test_trivial_queries(query: str, trivial: bool) -> None:
    assert trivial_query(query) is trivial


def test_contents_and_index_pages_are_recognised() -> None:
    index = "Index\n" + "\n".join(f"\\command{i}, {i * 7}, {i * 11}" for i in range(12))
    assert is_contents_or_index_page(CONTENTS)
    assert is_contents_or_index_page(index)
    assert not is_contents_or_index_page("\n".join(prose(i, 12) for i in range(12)))
    # A short numbered list in prose is not an index.
    assert not is_contents_or_index_page("Steps\n1 Open it\n2 Close it\n" + prose(3, 80))


def test_captions_with_labels_and_wrapped_lines(tmp_path: Path) -> None:
    text = (
        f"{prose(1, 20)}\nFigure 3: Quarterly growth of the harbor\n{prose(2, 10)}\n"
        "Fig. 4. Signal strength over the canyon\n"
        "Table 2.1: Comparison of two levels of robust fitting with,\n"
        "and without, periodic boundary conditions.\n"
        "Table 2.10 shows the results\n"  # a sentence, not a caption
    )
    doc = read_document(write_pdf(tmp_path / "c.pdf", [text]))
    assert list(caption_queries(doc)) == [
        ("Quarterly growth of the harbor", 1),
        ("Signal strength over the canyon", 1),
        ("Comparison of two levels of robust fitting with, and without, periodic boundary conditions.", 1),
    ]


def test_masking_ignores_case_spacing_quotes_and_ligatures() -> None:
    text = "intro\nSETTING  the\ntitle of a plot\nmore about ‘put_time’ and the ﬁle list\nsetting the title"
    masked, count = mask_query_text(text, "Setting the title")
    assert count == 2 and "title" not in masked.lower() and "intro" in masked
    assert mask_query_text(text, "The 'put_time' manipulator")[1] == 0
    assert mask_query_text(text, "'put_time'")[1] == 1
    assert mask_query_text(text, "the file list")[1] == 1
    assert query_key("  Setting THE title. ") == query_key("setting the title")


def make_corpus(root: Path) -> None:
    """Two manuals: unique and shared headings, a contents page, a thin page, captions."""
    write_pdf(root / "pump" / "pump.pdf", [
        PageSpec(CONTENTS, ["Contents", "Table of pump sections"]),
        PageSpec("1 Installing the pump\n" + prose(10), ["1 Installing the pump"]),
        PageSpec("2 Cleaning the filter\n" + prose(11) + "\nFigure 1: Exploded view of the filter housing\n",
                 ["2 Cleaning the filter", "2.1 Troubleshooting"]),  # 2.1 is not on this page
        PageSpec("3 Examples\n" + prose(12), ["3 Examples"]),  # generic heading
        PageSpec("4 Safety notes\n" + prose(13), ["4 Safety notes"]),  # also in the other manual
        PageSpec("5 Part two\nshort", ["5 Part two"]),  # too little text
    ])
    write_pdf(root / "oven" / "oven.pdf", [
        PageSpec("Baking bread at home\n" + prose(20), ["Baking bread at home"]),
        PageSpec("Safety notes\n" + prose(21), ["Safety notes"]),
    ])


def test_mine_pairs_filters_and_counts(tmp_path: Path) -> None:
    make_corpus(tmp_path)
    docs, failures = read_corpus(tmp_path, show_progress_bar=False)
    assert failures == []
    result = mine_pairs(docs, min_page_chars=100)
    kept = {(p.source, p.query, p.doc_id, p.page) for p in result.pairs}
    assert kept == {
        ("bookmark", "Baking bread at home", "oven/oven.pdf", 1),
        ("bookmark", "Installing the pump", "pump/pump.pdf", 2),
        ("bookmark", "Cleaning the filter", "pump/pump.pdf", 3),
        ("caption", "Exploded view of the filter housing", "pump/pump.pdf", 3),
    }
    assert result.found == {"bookmark": 10, "caption": 1}
    assert result.dropped == {
        "trivial": 2,  # Contents, Examples
        "ambiguous": 2,  # Safety notes, in both manuals
        "contents_or_index_page": 1,  # "Table of pump sections" points at the contents page
        "not_on_page": 1,  # Troubleshooting
        "little_text": 1,  # Part two
    }
    assert result.kept_by_source() == {"bookmark": 3, "caption": 1}


def test_masked_text_is_stored_unless_disabled(tmp_path: Path) -> None:
    make_corpus(tmp_path)
    docs, _ = read_corpus(tmp_path, show_progress_bar=False)
    pair = next(p for p in mine_pairs(docs, min_page_chars=100).pairs if p.query == "Cleaning the filter")
    assert "cleaning the filter" not in pair.text.lower()
    assert "Exploded view of the filter housing" in pair.text  # only the query is removed
    assert pair.page_id == "pump/pump.pdf:3" and pair.pdf == str((tmp_path / "pump" / "pump.pdf").resolve())
    unmasked = mine_pairs(docs, mask_query=False, min_page_chars=100).pairs
    assert all(p.text is None for p in unmasked)


def test_one_query_twice_on_one_page_is_one_pair(tmp_path: Path) -> None:
    text = "Growth of the harbor\n" + prose(5) + "\nFigure 1: Growth of the harbor\n"
    write_pdf(tmp_path / "h.pdf", [PageSpec(text, ["Growth of the harbor"])])
    docs, _ = read_corpus(tmp_path, show_progress_bar=False)
    result = mine_pairs(docs, min_page_chars=50)
    assert [(p.source, p.page) for p in result.pairs] == [("bookmark", 1)]
    assert result.dropped == {"repeated_on_page": 1}


def test_unreadable_pdf_is_reported_and_skipped(tmp_path: Path) -> None:
    write_pdf(tmp_path / "good.pdf", [prose(1)])
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.7\n garbage that is not a PDF body")
    docs, failures = read_corpus(tmp_path, show_progress_bar=False)
    assert [d.doc_id for d in docs] == ["good.pdf"]
    assert len(failures) == 1 and "broken.pdf" in failures[0]
