"""Document splits (groups, determinism, budgets), duplicate detection and the writers' round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from metaembed_rag.training.data import examples_from_beir, load_pairs
from metaembed_rag.training.mining import mine_pairs
from metaembed_rag.training.pdf_text import (
    Bookmark,
    DocumentText,
    duplicate_and_related_documents,
    read_corpus,
)
from metaembed_rag.training.splits import (
    document_groups,
    drop_duplicate_documents,
    split_documents,
    write_beir_dataset,
    write_pairs_jsonl,
)

from ._pdfs import PageSpec, prose, write_pdf


def doc(doc_id: str, pages: int = 10, *, text: str | None = None, bookmarks: int = 0) -> DocumentText:
    texts = (text,) if text is not None else tuple(f"page {i} of {doc_id}" for i in range(pages))
    marks = tuple(Bookmark(f"t{i}", 1, 0) for i in range(bookmarks))
    return DocumentText(f"/corpus/{doc_id}", doc_id, texts, marks)


def corpus() -> list[DocumentText]:
    docs = []
    for package in ("alpha", "beta", "gamma", "delta"):
        for name in range(6):
            docs.append(doc(f"{package}/pkg{name}/manual.pdf", 20 + name))
            docs.append(doc(f"{package}/pkg{name}/examples/ex.pdf", 3))
    docs += [doc("loose-a.pdf", 5), doc("loose-b.pdf", 5)]
    return docs


def test_groups_follow_folders_but_not_the_top_level() -> None:
    docs = corpus()
    groups = [{docs[i].doc_id for i in g} for g in document_groups(docs)]
    assert {"alpha/pkg0/manual.pdf", "alpha/pkg0/examples/ex.pdf"} in groups
    assert {"loose-a.pdf"} in groups and {"loose-b.pdf"} in groups
    assert len(groups) == 4 * 6 + 2
    assert len(document_groups(docs, group_folders=False)) == len(docs)
    related = document_groups(docs, [(0, 2)])  # alpha/pkg0 and alpha/pkg1 contain each other's text
    assert len(related) == len(groups) - 1


def test_package_is_the_first_folder_below_usr_share_doc() -> None:
    assert doc("usr/share/doc/gnuplot/gnuplot.pdf").package == "gnuplot"
    assert doc("usr/share/doc/texlive-doc/latex/caption/caption.pdf").package == "texlive-doc"
    assert doc("reports/2024/annual.pdf").package == "reports"
    assert doc("loose.pdf").package == "."


def test_split_is_deterministic_keeps_groups_and_respects_budgets() -> None:
    docs = corpus()
    total = sum(d.num_pages for d in docs)
    first = split_documents(docs, dev_fraction=0.3, max_dev_pages=200, seed=3, related=[])
    again = split_documents(docs, dev_fraction=0.3, max_dev_pages=200, seed=3, related=[])
    assert first.dev_ids == again.dev_ids
    seeds = [split_documents(docs, dev_fraction=0.3, seed=s, related=[]).dev_ids for s in range(5)]
    assert len({frozenset(ids) for ids in seeds}) > 1
    dev_pages = sum(d.num_pages for d in first.dev)
    assert 0 < dev_pages <= min(200, 0.3 * total)
    assert {d.doc_id for d in first.train}.isdisjoint(first.dev_ids)
    assert len(first.train) + len(first.dev) == len(docs)
    for group in first.groups:  # never split across sides
        assert len({doc_id in first.dev_ids for doc_id in group}) == 1
    assert len({d.package for d in first.dev}) >= 3  # drawn in turns from each package


def test_a_group_larger_than_its_share_stays_in_training() -> None:
    docs = [doc("big/book.pdf", 90), *(doc(f"small{i}/s.pdf", 10) for i in range(10))]
    for seed in range(5):
        split = split_documents(docs, dev_fraction=0.5, max_dev_pages=90, seed=seed, related=[])
        assert "big/book.pdf" not in split.dev_ids
        assert sum(d.num_pages for d in split.dev) == 90
    with pytest.raises(ValueError, match="dev_fraction"):
        split_documents(docs, dev_fraction=1.0)


def test_duplicates_and_related_documents_are_found() -> None:
    body = [prose(seed, 120) for seed in range(8)]
    original = DocumentText("/c/a4.pdf", "book/a4.pdf", tuple(body), ())
    # The same book re-paginated (US letter): different page breaks, same text.
    words = " ".join(body).split()
    letter_pages = tuple(" ".join(words[i : i + 330]) for i in range(0, len(words), 330))
    letter = DocumentText("/c/us.pdf", "book/us.pdf", letter_pages, ())
    extra = tuple(prose(s, 300) for s in range(50, 54))
    annotated = DocumentText("/c/src.pdf", "src/src.pdf", (*body[:6], *extra), ())
    other = tuple(prose(s, 120) for s in range(100, 108))
    unrelated = DocumentText("/c/other.pdf", "other/o.pdf", other, ())
    tiny = DocumentText("/c/tiny.pdf", "tiny/t.pdf", (body[0][:80],), ())
    docs = [original, letter, annotated, unrelated, tiny]
    duplicates, related = duplicate_and_related_documents(docs)
    assert duplicates == [(0, 1)]
    assert sorted(related) == [(0, 2), (1, 2)]  # the annotated source contains the book (both copies)
    kept, dropped = drop_duplicate_documents([original, letter, unrelated], duplicates)
    assert [d.doc_id for d in kept] == ["book/a4.pdf", "other/o.pdf"]
    assert dropped == {"book/us.pdf": "book/a4.pdf"}
    richer = DocumentText(letter.path, letter.doc_id, letter.pages, (Bookmark("x", 1, 0),))
    assert [d.doc_id for d in drop_duplicate_documents([original, richer], duplicates)[0]] == ["book/us.pdf"]


def test_writers_round_trip_through_the_loaders(tmp_path: Path) -> None:
    root = tmp_path / "pdfs"
    write_pdf(root / "pump" / "pump.pdf", [
        PageSpec("Installing the pump\n" + prose(1), ["Installing the pump"]),
        prose(2),
        PageSpec("Cleaning the filter\n" + prose(3), ["Cleaning the filter"]),
    ])
    docs, _ = read_corpus(root, show_progress_bar=False)
    pairs = mine_pairs(docs, min_page_chars=50).pairs
    assert [p.query for p in pairs] == ["Installing the pump", "Cleaning the filter"]

    loaded = load_pairs(write_pairs_jsonl(pairs, tmp_path / "out" / "train.jsonl"), read_images=False)
    assert [e.query.text for e in loaded] == [p.query for p in pairs]
    assert [e.positive.text for e in loaded] == [p.text for p in pairs]
    assert loaded[1].positive_id == f"{docs[0].path}:3"

    dev = write_beir_dataset(docs, pairs, tmp_path / "out" / "dev")
    corpus_rows = (dev / "corpus.jsonl").read_text().splitlines()
    assert len(corpus_rows) == 3  # every page, with or without a query
    examples = examples_from_beir(dev, "dev", read_images=False)
    assert [(e.query.text, e.positive_id) for e in examples] == [
        ("Installing the pump", "pump/pump.pdf:1"),
        ("Cleaning the filter", "pump/pump.pdf:3"),
    ]
    assert examples[1].positive.text == docs[0].pages[2]  # dev keeps the unmasked text layer
    with pytest.raises(ValueError, match="outside the corpus"):
        write_beir_dataset(docs[:0], pairs, tmp_path / "bad")
