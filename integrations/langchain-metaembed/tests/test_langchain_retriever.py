"""MetaEmbedRetriever: Documents that match the core search, per-call overrides, async, bad input."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_metaembed import MetaEmbedRetriever
from langchain_samples import REPORT, REVENUE_QUERY, SAMPLES
from pydantic import ValidationError

from metaembed_rag import Budget, PageIndex
from metaembed_rag.index import IndexMismatchError
from metaembed_rag.retriever import load_shared_model

NA_QUERY = "How much revenue did Lumen Harbor make in North America?"


def ids(docs: list[Document]) -> list[str]:
    return [d.id for d in docs]


def test_documents_carry_the_page_and_the_scores_of_the_core_search(retriever: MetaEmbedRetriever) -> None:
    docs = retriever.invoke(NA_QUERY)
    pages = retriever.retriever.search(NA_QUERY, budget=(4, 8), k=3)
    assert ids(docs) == [p.page_id for p in pages] and len(docs) == 3
    top, page = docs[0], pages[0]
    assert top.page_content == page.text and "121.7" in top.page_content
    assert top.metadata == {
        "source": str(SAMPLES / REPORT), "page": 4, "page_id": f"{REPORT}:4", "doc_id": REPORT, "rank": 1,
        "score": pytest.approx(page.score), "normalized_score": pytest.approx(page.score / 4),
        "budget": (4, 8), "image_path": str(page.image_path),
    }
    assert Path(top.metadata["image_path"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [d.metadata["rank"] for d in docs] == [1, 2, 3]


def test_budget_per_call_takes_effect(retriever: MetaEmbedRetriever) -> None:
    full = retriever.invoke(REVENUE_QUERY, budget=(16, 64))
    core = retriever.retriever.search(REVENUE_QUERY, budget=(16, 64), k=3)
    assert ids(full) == [p.page_id for p in core]
    assert [d.metadata["score"] for d in full] == pytest.approx([p.score for p in core])
    assert all(d.metadata["budget"] == (16, 64) for d in full)
    assert full[0].metadata["normalized_score"] == pytest.approx(full[0].metadata["score"] / 16)
    # the default is untouched by the call
    assert retriever.invoke(REVENUE_QUERY)[0].metadata["budget"] == (4, 8) == retriever.budget
    assert retriever.invoke(REVENUE_QUERY, budget="1,1")[0].metadata["budget"] == (1, 1)


def test_k_filter_hybrid_and_min_score_per_call_take_effect(retriever: MetaEmbedRetriever) -> None:
    assert len(retriever.invoke(REVENUE_QUERY, k=7)) == 7 and len(retriever.invoke(REVENUE_QUERY, k=1)) == 1
    timetable = retriever.invoke(REVENUE_QUERY, k=10, filter={"doc_id": "riverton-transit-timetable.pdf"})
    assert len(timetable) == 5
    assert {d.metadata["doc_id"] for d in timetable} == {"riverton-transit-timetable.pdf"}
    (page3,) = retriever.invoke(REVENUE_QUERY, k=1, filter={"doc_id": REPORT, "page": 3})
    assert page3.metadata["page"] == 3 and "412.6" in page3.page_content
    fused = retriever.invoke(REVENUE_QUERY, hybrid="rrf")
    expected = retriever.retriever.search(REVENUE_QUERY, budget=(4, 8), k=3, hybrid="rrf")
    assert ids(fused) == [p.page_id for p in expected]
    assert [d.metadata["score"] for d in fused] == pytest.approx([p.score for p in expected])
    every = retriever.invoke(REVENUE_QUERY, k=10)
    cut = (every[1].metadata["normalized_score"] + every[2].metadata["normalized_score"]) / 2
    assert ids(retriever.invoke(REVENUE_QUERY, k=10, min_score=cut)) == ids(every[:2])


def test_include_image_per_call_and_as_a_field(retriever: MetaEmbedRetriever, sample_index: Path) -> None:
    (doc,) = retriever.invoke(NA_QUERY, k=1, include_image="base64")
    data = Path(doc.metadata["image_path"]).read_bytes()
    assert base64.b64decode(doc.metadata["image_base64"]) == data
    assert doc.metadata["image_mime_type"] == "image/png"
    (bare,) = retriever.invoke(NA_QUERY, k=1, include_image=None)
    assert "image_path" not in bare.metadata and "image_base64" not in bare.metadata
    with MetaEmbedRetriever.from_index(sample_index, include_image="base64", k=1) as field:
        (same,) = field.invoke(NA_QUERY)
    assert same.metadata["image_base64"] == doc.metadata["image_base64"]


def test_constructor_fields_are_the_defaults(sample_index: Path) -> None:
    narrow = MetaEmbedRetriever.from_index(sample_index, budget=(2, 4), k=4, filter={"doc_id": REPORT},
                                           min_score=-1.0)
    docs = narrow.invoke(REVENUE_QUERY)
    assert len(docs) == 4 and {d.metadata["doc_id"] for d in docs} == {REPORT}
    assert all(d.metadata["budget"] == (2, 4) for d in docs)
    assert MetaEmbedRetriever(core=narrow.retriever).budget == (16, 64)  # the model's full budget
    assert MetaEmbedRetriever(core=narrow.retriever, budget="8,16").budget == (8, 16)
    assert MetaEmbedRetriever(core=narrow.retriever, budget=Budget(1, 1)).budget == (1, 1)
    narrow.close()


def test_ainvoke_runs_off_the_event_loop_and_matches_invoke(retriever: MetaEmbedRetriever) -> None:
    expected = retriever.invoke(REVENUE_QUERY, budget=(16, 64), k=2)

    async def main() -> tuple[list[Document], int]:
        ticks = 0
        task = asyncio.create_task(retriever.ainvoke(REVENUE_QUERY, budget=(16, 64), k=2))
        while not task.done():  # the loop keeps turning while the search runs in its thread
            ticks += 1
            await asyncio.sleep(0.001)
        return await task, ticks

    docs, ticks = asyncio.run(main())
    assert ticks > 1 and docs == expected


def test_from_pdfs_indexes_incrementally(sample_index: Path, tmp_path: Path) -> None:
    folder = tmp_path / "pdfs"
    folder.mkdir()
    (folder / "timetable.pdf").write_bytes((SAMPLES / "riverton-transit-timetable.pdf").read_bytes())
    first = MetaEmbedRetriever.from_pdfs(folder, index=tmp_path / "one.idx", show_progress_bar=False, k=2)
    assert first.retriever.last_report.pages_added == 5 and len(first.invoke("day pass")) == 2
    first.close()
    again = MetaEmbedRetriever.from_pdfs(folder, index=tmp_path / "one.idx", show_progress_bar=False)
    assert again.retriever.last_report.pages_added == 0 and again.retriever.last_report.pages_skipped == 5
    again.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"input": ""}, "the query is empty"),
        ({"input": "   "}, "the query is empty"),
        ({"k": 0}, "k must be a positive int, got 0"),
        ({"k": -2}, "k must be a positive int, got -2"),
        ({"budget": (32, 8)}, r"budget \(32, 8\) is out of range for this model"),
        ({"budget": (4, 128)}, "r_c in 1..64"),
        ({"min_score": 3.0}, r"min_score is a normalised score \(MaxSim ÷ r_q\) in \[-1, 1\]"),
        ({"hybrid": "bm42"}, "hybrid must be one of"),
    ],
)
def test_bad_input_through_invoke_and_ainvoke(
    retriever: MetaEmbedRetriever, options: dict, message: str
) -> None:
    call = {"input": REVENUE_QUERY} | options
    with pytest.raises(ValueError, match=message):
        retriever.invoke(**call)
    with pytest.raises(ValueError, match=message):
        asyncio.run(retriever.ainvoke(**call))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"k": 0}, "k must be a positive int, got 0"),
        ({"budget": (17, 64)}, r"budget \(17, 64\) is out of range for this model"),
        ({"min_score": -2}, "min_score is a normalised score"),
    ],
)
def test_bad_fields_fail_at_construction(sample_index: Path, fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MetaEmbedRetriever.from_index(sample_index, **fields)


def test_an_unknown_keyword_is_refused_not_dropped(retriever: MetaEmbedRetriever) -> None:
    with pytest.raises(TypeError, match="top_k"):
        retriever.invoke(REVENUE_QUERY, top_k=1)
    with pytest.raises(ValidationError, match="include_image"):
        MetaEmbedRetriever(core=retriever.retriever, include_image="png")


def test_a_missing_index_names_the_path_and_the_command(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.idx"
    with pytest.raises(FileNotFoundError, match=f"no index at {missing}.*metaembed-rag index PDF_FOLDER"):
        MetaEmbedRetriever.from_index(missing)
    with pytest.raises(FileNotFoundError, match=f"no index at {missing}"):
        MetaEmbedRetriever(index=missing)
    with pytest.raises(ValueError, match="needs index=PATH"):
        MetaEmbedRetriever()


def test_a_different_model_is_refused(sample_index: Path) -> None:
    with pytest.raises(IndexMismatchError, match="different model"):
        MetaEmbedRetriever.from_index(sample_index, model="minilm-untrained")


def test_an_empty_index_returns_no_documents(tmp_path: Path) -> None:
    with PageIndex.create(tmp_path / "empty.idx", fingerprint=load_shared_model()):
        pass
    empty = MetaEmbedRetriever.from_index(tmp_path / "empty.idx")
    assert empty.invoke(REVENUE_QUERY) == [] and asyncio.run(empty.ainvoke(REVENUE_QUERY)) == []
    empty.close()
