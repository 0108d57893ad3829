"""Inverse-cloze pairs and the section-lead dev set on hand-made text layers, and both written by
scripts/build_training_data.py."""

from __future__ import annotations

import json
from pathlib import Path

from metaembed_rag.training.data import examples_from_beir, load_pairs
from metaembed_rag.training.dev_lead import section_lead_pairs, section_lead_sentence
from metaembed_rag.training.mining import cloze_sentence, inverse_cloze_pairs, page_sentences
from metaembed_rag.training.pdf_text import Bookmark, DocumentText

from ._pdfs import PageSpec, prose, write_pdf
from .test_build import run_script

BOILERPLATE = "This manual is free software under the terms of the licence."


def sentences(seed: int, count: int) -> list[str]:
    return [prose(seed * 100 + i, 9) for i in range(count)]


def page(seed: int, title: str = "", count: int = 6, extra: str = "") -> str:
    body = " ".join(sentences(seed, count))
    return f"{title}\n{body}\n{extra}".strip()


def document(name: str, pages: list[str], bookmarks: list[tuple[str, int]] = ()) -> DocumentText:
    marks = tuple(Bookmark(title, number, 0) for title, number in bookmarks)
    return DocumentText(f"/pdfs/{name}", name, tuple(pages), marks)


def test_sentences_and_what_makes_a_cloze_query() -> None:
    text = "Plot titles\nThe title command\nputs text above the graph. It takes a string! Does it? yes."
    assert page_sentences(text) == ["Plot titles The title command puts text above the graph.",
                                    "It takes a string!", "Does it? yes."]
    assert cloze_sentence("The title command puts text above the graph.")
    assert not cloze_sentence("It takes a string!")  # under 6 words
    assert not cloze_sentence("The title command puts text above the graph")  # no sentence end
    assert not cloze_sentence("x = [1, 2, 3]; y = f(x) + 2 * 3 - 4;.")  # code, not prose
    assert not cloze_sentence(" ".join(["word"] * 41) + ".")


def test_inverse_cloze_pairs_mask_the_sentence_and_skip_boilerplate() -> None:
    docs = [
        document("a.pdf", [page(1, extra=BOILERPLATE), page(2), page(3, extra=BOILERPLATE)]),
        document("b.pdf", [page(4), "Contents\n" + "\n".join(f"{i} Topic . . . . {i}" for i in range(12))]),
    ]
    result = inverse_cloze_pairs(docs, per_page=2, seed=0)
    assert len(result.pairs) == 8  # two per prose page, none from the contents page
    assert result.dropped["ambiguous"] == 2  # the licence sentence stands on two pages
    for pair in result.pairs:
        text = docs[0 if pair.doc_id == "a.pdf" else 1].pages[pair.page - 1]
        seed = pair.page + (3 if pair.doc_id == "b.pdf" else 0)
        assert pair.source == "ict" and pair.query in sentences(seed, 6)
        assert pair.query not in pair.text and pair.query != BOILERPLATE
        # The rest of the page is untouched: the text with the sentence cut out.
        assert " ".join(pair.text.split()) == " ".join(text.replace(pair.query, " ").split())
    on_page = [(p.doc_id, p.page) for p in result.pairs]
    assert len(set(zip(on_page, (p.query for p in result.pairs), strict=True))) == 8
    # Seeded per page: the same pairs again, and a document's pairs do not depend on the others.
    assert inverse_cloze_pairs(docs, per_page=2, seed=0).pairs == result.pairs
    alone = inverse_cloze_pairs(docs[1:], per_page=2, seed=0).pairs
    assert alone == [p for p in result.pairs if p.doc_id == "b.pdf"]
    assert inverse_cloze_pairs(docs, per_page=2, seed=1).pairs != result.pairs


def test_section_leads_are_removed_from_their_page() -> None:
    lead = "The title command puts a line of text above the graph."
    repeated = "Every command of this chapter accepts the same options."
    docs = [document("g.pdf", [
        page(1, title=f"Plot titles\n{lead}"),
        page(2, title=f"Axis labels\n{repeated}"),
        page(3, title=f"Legends\n{repeated}"),
        page(4, title="Colours"),
    ], [("Plot titles", 1), ("Axis labels", 2), ("Legends", 3), ("2 Colours", 4), ("Missing", 4)])]
    assert section_lead_sentence(docs[0].pages[0], "Plot titles") == lead
    pairs, dropped = section_lead_pairs(docs, max_queries=None)
    by_page = {p.page: p for p in pairs}
    assert by_page[1].query == lead and by_page[1].source == "section-lead"
    assert lead not in by_page[1].text and by_page[1].text.startswith("Plot titles")
    assert 2 not in by_page and 3 not in by_page and dropped["ambiguous"] == 2
    assert by_page[4].query == sentences(4, 6)[0]  # "2 Colours" is cleaned to "Colours"; one query per page
    assert len(pairs) == 2
    capped, dropped = section_lead_pairs(docs, max_queries=1, seed=0)
    assert len(capped) == 1 and dropped["over_query_cap"] == 1


def make_prose_packages(root: Path) -> None:
    seed = 0
    for package in ("alpha", "beta", "gamma"):
        for manual in range(2):
            pages = []
            for number in range(4):
                seed += 1
                title = f"{package.title()} topic {manual}{number} {prose(seed, 3)[:-1]}"
                pages.append(PageSpec(f"{title}\n{page(500 + seed, count=5)}", [title]))
            write_pdf(root / package / f"manual{manual}" / "guide.pdf", pages)


def test_build_writes_cloze_pairs_from_train_and_leads_from_dev(tmp_path: Path, capsys) -> None:
    make_prose_packages(tmp_path / "pdfs")
    out = tmp_path / "out"
    argv = [str(tmp_path / "pdfs"), "--out", str(out), "--dev-fraction", "0.34", "--seed", "1", "--quiet",
            "--ict-per-page", "1", "--dev-lead"]
    assert run_script(argv) == 0
    assert "inverse-cloze train pairs" in capsys.readouterr().out
    info = json.loads((out / "build_info.json").read_text())
    dev_docs = {str((tmp_path / "pdfs" / d).resolve()) for d in info["dev_documents"]}
    ict = load_pairs(out / "train-ict.jsonl", read_images=False)
    assert len(ict) == info["ict_pairs"] == 16  # one per training page
    assert all(e.positive_id.rsplit(":", 1)[0] not in dev_docs for e in ict)
    assert all(e.query.text not in e.positive.text for e in ict)
    lead = examples_from_beir(out / "dev-lead", "dev", read_images=False)
    assert len(lead) == info["dev_lead_queries"] == 8
    assert all(e.positive_id.rsplit(":", 1)[0] in {d for d in info["dev_documents"]} for e in lead)
    assert all(e.query.text not in " ".join(e.positive.text.split()) for e in lead)
    # Same pages in both dev sets; only the query pages' text differs.
    first = [json.loads(line) for line in (out / "dev" / "corpus.jsonl").read_text().splitlines()]
    second = [json.loads(line) for line in (out / "dev-lead" / "corpus.jsonl").read_text().splitlines()]
    assert [r["_id"] for r in first] == [r["_id"] for r in second]
    changed = {a["_id"] for a, b in zip(first, second, strict=True) if a["text"] != b["text"]}
    assert changed == {e.positive_id for e in lead}
