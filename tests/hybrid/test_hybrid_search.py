"""hybrid_search over a small PageIndex equals fusing its MaxSim search with BM25 by hand; filters,
the per-generation BM25 cache, and ``metaembed-rag search --hybrid``."""

import json

import pytest

from metaembed_rag.cli import main
from metaembed_rag.hybrid import BM25Index, fuse, hybrid_search, lexical_search, page_bm25
from metaembed_rag.index import PageIndex

PAGES = {
    ("manual", 1): "Descale the espresso machine boiler every month with citric acid.",
    ("manual", 2): "Error E7 means the water tank is empty; refill it and restart.",
    ("manual", 3): "The steam wand froths milk; purge it after every use.",
    ("report", 1): "Total revenue in 2024 was 412.6 million euros.",
    ("report", 2): "Earnings per share rose to 2.87 euros in 2024.",
    ("report", 3): "The new calibration plant in Aalborg opened in September 2024.",
}


def add_pages(index, model, pages):
    vectors = model.encode_documents(list(pages.values()))
    metas = [
        {"page_id": f"{doc}:{page}", "doc_id": doc, "source": f"{doc}.pdf", "page": page, "text": text}
        for (doc, page), text in pages.items()
    ]
    index.add(vectors, metas)


@pytest.fixture
def index(tmp_path, minilm):
    with PageIndex.create(tmp_path / "idx", fingerprint=minilm) as idx:
        add_pages(idx, minilm, PAGES)
        yield idx


@pytest.mark.parametrize("fusion", ["rrf", "score"])
def test_hybrid_equals_manual_fusion(index, minilm, fusion):
    query = "what does error E7 mean on the espresso machine"
    hits = hybrid_search(index, minilm, query, budget=(4, 8), k=4, fusion=fusion, alpha=0.3)
    dense = index.search(minilm.encode_queries([query], budget=(4, 8))[0], (4, 8), 100)
    ids = [f"{d}:{p}" for d, p in PAGES]
    lexical = BM25Index(ids, list(PAGES.values())).search(query, 100)
    expected = fuse([(h.page_id, h.score) for h in dense], lexical, fusion, alpha=0.3)[:4]
    assert [(h.page_id, h.rank) for h in hits] == [(pid, r) for r, (pid, _) in enumerate(expected, 1)]
    assert [h.score for h in hits] == pytest.approx([s for _, s in expected], rel=1e-6)
    for hit in hits:
        assert hit.metadata["text"] == PAGES[tuple(hit.metadata[k] for k in ("doc_id", "page"))]
        bm25_rank = next((r for r, (pid, _) in enumerate(lexical, 1) if pid == hit.page_id), None)
        dense_rank = next(h.rank for h in dense if h.page_id == hit.page_id)
        assert (hit.metadata["hybrid"]["bm25_rank"], hit.metadata["hybrid"]["dense_rank"]) == (
            bm25_rank,
            dense_rank,
        )


def test_filter_applies_to_both_sides(index, minilm):
    hits = hybrid_search(index, minilm, "espresso revenue 2024", k=10, filter={"doc_id": "report"})
    assert hits and {h.metadata["doc_id"] for h in hits} == {"report"}
    assert [h.page_id for h in lexical_search(index, "espresso boiler", filter={"page": {"gte": 2}})] == []
    assert [h.page_id for h in lexical_search(index, "espresso boiler")] == ["manual:1"]


def test_bm25_cache_follows_the_index_generation(index, minilm):
    first = page_bm25(index)
    assert page_bm25(index) is first and len(first) == len(PAGES)
    add_pages(index, minilm, {("faq", 1): "Zebra crossings are near the harbour."})
    second = page_bm25(index)
    assert second is not first and [h.page_id for h in lexical_search(index, "zebra")] == ["faq:1"]
    index.delete(doc_id="faq")
    assert lexical_search(index, "zebra") == []


def test_hybrid_rejects_bad_arguments(index, minilm):
    with pytest.raises(ValueError, match="k must be a positive int"):
        hybrid_search(index, minilm, "x", k=0)
    with pytest.raises(ValueError, match="non-empty string"):
        hybrid_search(index, minilm, "  ")
    with pytest.raises(ValueError, match="unknown fusion"):
        hybrid_search(index, minilm, "espresso", fusion="max")


def test_cli_search_hybrid(tmp_path, minilm, capsys):
    model_dir = minilm.save_pretrained(tmp_path / "model")
    with PageIndex.create(
        tmp_path / "cli-idx", fingerprint=minilm.fingerprint() | {"model": str(model_dir)}
    ) as idx:
        add_pages(idx, minilm, PAGES)
    assert (
        main(
            [
                "search",
                str(tmp_path / "cli-idx"),
                "error E7 water tank",
                "--hybrid",
                "rrf",
                "-k",
                "2",
                "--budget",
                "2,4",
                "--json",
            ]
        )
        == 0
    )
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["page_id"] == "manual:2" and len(hits) == 2
    assert (
        main(["search", str(tmp_path / "cli-idx"), "citric acid", "--hybrid", "score", "--alpha", "0"]) == 0
    )
    printed = capsys.readouterr().out
    assert "hybrid (score)" in printed and "manual.pdf  page 1" in printed.splitlines()[1]


def test_a_page_without_text_is_not_punished_by_bm25(tmp_path, minilm):
    scanned = {("scan", 1): "Total revenue in 2024 was 412.6 million euros."}
    with PageIndex.create(tmp_path / "idx", fingerprint=minilm) as idx:
        add_pages(idx, minilm, PAGES)
        # vectors of the scanned page's words, but no stored text (as OCR'd or image-read pages)
        vectors = minilm.encode_documents(list(scanned.values()))
        meta = {"page_id": "scan:1", "doc_id": "scan", "source": "scan.pdf", "page": 1, "text": ""}
        idx.add(vectors, [meta])
        assert page_bm25(idx).textless == {"scan:1"}
        query = "total revenue 2024"
        hits = hybrid_search(idx, minilm, query, budget=(16, 64), k=7, fusion="score", alpha=0.5)
        dense = idx.search(minilm.encode_queries([query], budget=(16, 64))[0], (16, 64), 100)
        lexical = lexical_search(idx, query, k=100)
        expected = fuse([(h.page_id, h.score) for h in dense], [(h.page_id, h.score) for h in lexical],
                        "score", alpha=0.5, textless={"scan:1"})  # fmt: skip
        assert [(h.page_id, h.score) for h in hits] == [(i, pytest.approx(s)) for i, s in expected]
        scan = next(h for h in hits if h.page_id == "scan:1")
        report = next(h for h in hits if h.page_id == "report:1")
        assert scan.metadata["hybrid"]["bm25_rank"] is None and scan.rank <= report.rank + 1
