"""The core Retriever: the one search path. Checked against PageIndex.search and hybrid_search."""

from __future__ import annotations

import asyncio
import io
import shutil
import threading
from pathlib import Path

import pytest
import torch
from PIL import Image

from metaembed_rag import Budget, MetaEmbed, PageIndex
from metaembed_rag.hybrid import hybrid_search
from metaembed_rag.index import IndexMismatchError
from metaembed_rag.retriever import RetrievedPage, Retriever, load_shared_model
from metaembed_rag.scoring import maxsim_reference

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "pdfs"
QUERY = "What was Lumen Harbor's total revenue in 2024?"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample PDFs indexed with the bundled default model (built once for the module)."""
    path = tmp_path_factory.mktemp("retriever") / "samples.idx"
    with Retriever.from_pdfs(SAMPLES, index=path, show_progress_bar=False) as retriever:
        assert retriever.last_report is not None and retriever.last_report.pages_added == 50
    return path


@pytest.fixture
def retriever(built: Path) -> Retriever:
    with Retriever.open(built, budget=(4, 8), k=3) as opened:
        yield opened


def test_results_match_the_index_and_carry_every_field(retriever: Retriever) -> None:
    pages = retriever.search(QUERY)
    vectors = retriever.model.encode_queries([QUERY], budget=(4, 8))[0]
    expected = retriever.store.search(vectors, (4, 8), 3)
    assert [p.page_id for p in pages] == [h.page_id for h in expected]
    assert [p.score for p in pages] == pytest.approx([h.score for h in expected], abs=1e-6)
    top = pages[0]
    assert isinstance(top, RetrievedPage) and [p.rank for p in pages] == [1, 2, 3]
    assert top.budget == Budget(4, 8)
    assert top.normalized_score == pytest.approx(top.score / 4)
    assert top.text == top.metadata["text"] and top.page == top.metadata["page"]
    # the page the sample query is about, whatever the model ranks first
    report = "lumen-harbor-annual-report-2024.pdf"
    (known,) = retriever.search(QUERY, k=1, filter={"doc_id": report, "page": 3})
    assert (Path(known.source).name, known.page, known.doc_id) == (report, 3, report)
    assert known.citation == "lumen-harbor-annual-report-2024.pdf p.3" and "412.6" in known.text
    assert top.image_path is not None and top.image_path.is_file()
    assert top.image_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and top.image().size[0] > 0


def test_budget_k_and_filter_apply_per_call(retriever: Retriever) -> None:
    full = retriever.search(QUERY, budget=(16, 64), k=5)
    assert len(full) == 5 and all(p.budget == Budget(16, 64) for p in full)
    vectors = retriever.model.encode_queries([QUERY])[0]
    assert [p.page_id for p in full] == [h.page_id for h in retriever.store.search(vectors, (16, 64), 5)]
    assert full[0].normalized_score == pytest.approx(full[0].score / 16)
    only = retriever.search(QUERY, filter={"doc_id": "riverton-transit-timetable.pdf"}, k=10)
    assert only and {p.doc_id for p in only} == {"riverton-transit-timetable.pdf"}
    assert retriever.search(QUERY, filter={"page": {"gte": 4}}, k=10)[0].page >= 4


def test_min_score_thresholds_the_normalised_score(retriever: Retriever) -> None:
    everything = retriever.search(QUERY, k=10)
    cut = (everything[2].normalized_score + everything[3].normalized_score) / 2
    kept = retriever.search(QUERY, k=10, min_score=cut)
    assert [p.page_id for p in kept] == [p.page_id for p in everything[:3]]
    assert [p.rank for p in kept] == [1, 2, 3]
    # the same threshold means the same thing at another budget: normalised scores stay in [-1, 1]
    wide = retriever.search(QUERY, budget=(16, 64), k=10)
    assert all(-1.0 <= p.normalized_score <= 1.0 + 1e-3 for p in wide)


def test_hybrid_goes_through_hybrid_search(retriever: Retriever) -> None:
    pages = retriever.search(QUERY, hybrid="score", budget=(16, 64), k=4)
    hits = hybrid_search(retriever.store, retriever.model, QUERY, budget=(16, 64), k=4, fusion="score",
                         alpha=retriever.model.config.hybrid_alpha)  # fmt: skip
    assert [p.page_id for p in pages] == [h.page_id for h in hits]
    assert [p.score for p in pages] == pytest.approx([h.score for h in hits])
    for page, hit in zip(pages, hits, strict=True):
        dense = hit.metadata["hybrid"]["dense_score"]
        assert page.normalized_score == (None if dense is None else pytest.approx(dense / 16))


def test_score_fusion_defaults_to_the_models_fitted_weight(built: Path, monkeypatch) -> None:
    with Retriever.open(built) as shipped:  # the bundled model carries the weight fitted on dev
        assert shipped.alpha == shipped.model.config.hybrid_alpha == 0.2
        monkeypatch.setattr(shipped.model.config, "hybrid_alpha", None)
    with Retriever.open(built) as unfitted:
        assert unfitted.alpha == 0.5
        monkeypatch.setattr(unfitted.model.config, "hybrid_alpha", 0.35)  # as ship_model stores it
    with Retriever.open(built, budget=(16, 64), k=6) as fitted:
        assert fitted.alpha == 0.35 and fitted.with_options(alpha=0.9).alpha == 0.9
        pages = fitted.search(QUERY, hybrid="score")
        options = {"budget": (16, 64), "k": 6, "fusion": "score"}
        hits = hybrid_search(fitted.store, fitted.model, QUERY, alpha=0.35, **options)
        even = hybrid_search(fitted.store, fitted.model, QUERY, alpha=0.5, **options)
        assert [p.page_id for p in pages] == [h.page_id for h in hits]
        assert [p.score for p in pages] == pytest.approx([h.score for h in hits])
        assert [p.score for p in pages] != pytest.approx([h.score for h in even])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"query": ""}, "query is empty"),
        ({"query": "   "}, "query is empty"),
        ({"query": QUERY, "k": 0}, "k must be a positive int"),
        ({"query": QUERY, "k": -2}, "k must be a positive int"),
        ({"query": QUERY, "budget": (17, 64)}, "out of range"),
        ({"query": QUERY, "budget": (0, 4)}, "must be >= 1"),
        ({"query": QUERY, "hybrid": "bm99"}, "hybrid must be one of"),
        ({"query": QUERY, "min_score": 3.0}, "min_score is a normalised score"),
    ],
)
def test_bad_input_raises_before_any_work(retriever: Retriever, monkeypatch, options, message) -> None:
    def no_encoding(*args, **kwargs):
        raise AssertionError("the query was encoded before the input was checked")

    monkeypatch.setattr(retriever.model, "encode_queries", no_encoding)
    with pytest.raises(ValueError, match=message):
        retriever.search(**options)


def test_an_image_query_needs_a_model_that_reads_images(retriever: Retriever) -> None:
    with pytest.raises(ValueError, match="reads text only"):
        retriever.search(Image.new("RGB", (32, 32)))
    with pytest.raises(ValueError, match="reads text only"):
        retriever.search(42)  # type: ignore[arg-type]


def test_a_missing_index_names_the_path_and_the_command(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.idx"
    with pytest.raises(FileNotFoundError, match=f"no index at {missing}.*metaembed-rag index PDF_FOLDER"):
        Retriever.open(missing)


def test_a_different_model_is_refused(built: Path, minilm: MetaEmbed) -> None:
    with pytest.raises(IndexMismatchError, match="different model"):
        Retriever.open(built, model=minilm)


def test_an_empty_index_returns_nothing(tmp_path: Path) -> None:
    model = load_shared_model()
    with PageIndex.create(tmp_path / "empty", fingerprint=model) as store:
        assert Retriever(model, store).search(QUERY) == []


def test_models_are_loaded_once_per_process(built: Path) -> None:
    with Retriever.open(built) as one, Retriever.open(built) as two:
        assert one.model is two.model is load_shared_model()


def test_with_options_shares_model_store_and_lock(retriever: Retriever) -> None:
    wide = retriever.with_options(budget=(16, 64), k=5)
    assert wide.model is retriever.model and wide.store is retriever.store and wide._lock is retriever._lock
    assert (wide.budget, wide.k, retriever.budget, retriever.k) == (Budget(16, 64), 5, Budget(4, 8), 3)
    same = retriever.search(QUERY, budget=(16, 64), k=5)
    assert [p.page_id for p in wide.search(QUERY)] == [p.page_id for p in same]
    with pytest.raises(TypeError, match="unknown retriever options"):
        retriever.with_options(top_k=3)


def test_threads_and_asearch_get_the_same_answers(retriever: Retriever) -> None:
    queries = ["espresso machine descaling", "bus timetable on sundays", QUERY, "garden newsletter compost"]
    expected = {q: [p.page_id for p in retriever.search(q)] for q in queries}
    results: dict[tuple[int, str], list[str]] = {}

    def work(worker: int) -> None:
        for q in queries:
            results[worker, q] = [p.page_id for p in retriever.search(q)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[w, q] == expected[q] for w in range(4) for q in queries)

    async def main() -> tuple[list[RetrievedPage], int]:
        ticks = 0
        task = asyncio.create_task(retriever.asearch(QUERY, budget=(16, 64)))
        while not task.done():  # the loop keeps turning while the search runs in its thread
            ticks += 1
            await asyncio.sleep(0.001)
        return await task, ticks

    pages, ticks = asyncio.run(main())
    assert ticks > 1
    assert [p.page_id for p in pages] == [p.page_id for p in retriever.search(QUERY, budget=(16, 64))]


def test_add_and_delete_keep_the_index_current(built: Path, tmp_path: Path) -> None:
    path = tmp_path / "copy.idx"
    shutil.copytree(built, path)
    folder = tmp_path / "more"
    folder.mkdir()
    shutil.copy(SAMPLES / "riverton-transit-timetable.pdf", folder / "timetable-copy.pdf")
    with Retriever.open(path, k=50) as retriever:
        before = len(retriever)
        report = retriever.add(folder, show_progress_bar=False)
        assert report.pages_added > 0 and len(retriever) == before + report.pages_added
        assert any(p.doc_id == "timetable-copy.pdf" for p in retriever.search("bus timetable"))
        assert retriever.delete(doc_id="timetable-copy.pdf") == report.pages_added
        assert len(retriever) == before
        assert all(p.doc_id != "timetable-copy.pdf" for p in retriever.search("bus timetable"))
    # persistence: a reopened retriever sees what the last one left
    with Retriever.open(path) as reopened:
        assert len(reopened) == before
    again = Retriever.from_pdfs(SAMPLES, index=path, show_progress_bar=False)
    with again:
        assert again.last_report.pages_added == 0 and again.last_report.pages_skipped == before


def test_score_matches_the_reference_for_texts_and_stored_pages(retriever: Retriever) -> None:
    top = retriever.search(QUERY, budget=(16, 64), k=2)
    by_id = retriever.score(QUERY, [p.page_id for p in top], budget=(16, 64))
    assert by_id == pytest.approx([p.normalized_score for p in top], abs=1e-3)
    texts = ["Revenue in 2024 was EUR 412.6 million.", "Soak the beans overnight."]
    q = retriever.model.encode_queries([QUERY], budget=(4, 8))
    docs = retriever.model.encode_documents(texts)
    expected = (maxsim_reference(q, docs, (4, 8))[0] / 4).tolist()
    assert retriever.score(QUERY, texts) == pytest.approx(expected, abs=1e-5)
    assert retriever.score(QUERY, []) == []


def test_image_queries_on_a_vision_language_model(tiny_qwen_vl_dir: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = MetaEmbed.from_backbone(str(tiny_qwen_vl_dir), family="qwen2_5_vl", seed=0).eval()
    pages = [Image.new("RGB", (64, 48), color) for color in ("red", "green", "blue")]
    vectors = model.encode_documents(pages)
    with PageIndex.create(tmp_path / "vl", fingerprint=model) as store:
        store.add(vectors, [{"page_id": f"p{i}", "page": i + 1} for i in range(3)], pages)
        retriever = Retriever(model, store, budget=(2, 4), k=3)
        expected = maxsim_reference(model.encode_queries([pages[1]]), vectors, (2, 4))[0]
        order = [f"p{i}" for i in expected.argsort(descending=True).tolist()]
        png = io.BytesIO()
        pages[1].save(png, format="PNG")
        path = tmp_path / "query.png"
        path.write_bytes(png.getvalue())
        for query in (pages[1], path, png.getvalue()):
            assert [p.page_id for p in retriever.search(query)] == order
        with_text = retriever.search((pages[1], "a green page"))
        assert len(with_text) == 3
        with pytest.raises(FileNotFoundError, match="does not exist"):
            retriever.search(tmp_path / "missing.png")
        with pytest.raises(ValueError, match="cannot be read"):
            retriever.search(b"not an image")
        with pytest.raises(ValueError, match="needs a text query"):
            retriever.search(pages[0], hybrid="rrf")


def test_contains_tells_stored_page_ids_from_other_strings(retriever: Retriever) -> None:
    assert "lumen-harbor-annual-report-2024.pdf:3" in retriever
    assert "lumen-harbor-annual-report-2024.pdf:99" not in retriever
    assert "What was the revenue?" not in retriever and 3 not in retriever
    # a with_options copy sees the same store
    assert "riverton-transit-timetable.pdf:1" in retriever.with_options(budget=(1, 1))


def test_an_index_of_a_seeded_backbone_model_reopens_with_its_recipe(minilm: MetaEmbed, tmp_path: Path):
    texts = ["Revenue was EUR 412.6 million.", "Soak the beans overnight.", "Line 1 runs to the airport."]
    metadata = [{"page_id": f"p{i}", "text": t} for i, t in enumerate(texts)]
    with PageIndex.create(tmp_path / "seeded", fingerprint=minilm) as store:
        store.add(minilm.encode_documents(texts), metadata)
        expected = [h.page_id for h in store.search(minilm.encode_queries(["How much revenue?"])[0], k=3)]
    with Retriever.open(tmp_path / "seeded", k=3) as one, Retriever.open(tmp_path / "seeded") as two:
        assert one.model is two.model and one.model.fingerprint() == minilm.fingerprint()
        assert [p.page_id for p in one.search("How much revenue?")] == expected
