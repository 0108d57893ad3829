"""MetaEmbedRetriever: nodes, scores, per-query budget, async, image queries, bad input."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
import torch
from llama_index.core.llms.mock import MockLLM
from llama_index.core.retrievers import QueryFusionRetriever
from llama_index.core.schema import ImageNode, MetadataMode, NodeWithScore, QueryBundle
from llama_index.retrievers.metaembed import MetaEmbedRetriever
from llamaindex_common import QUERY, REVENUE_PAGE, SAMPLES
from PIL import Image

from metaembed_rag import Budget, MetaEmbed, PageIndex
from metaembed_rag.retriever import Retriever
from metaembed_rag.testing import build_tiny_qwen_vl


def test_nodes_are_image_nodes_with_the_page_and_its_scores(retriever: MetaEmbedRetriever) -> None:
    results = retriever.retrieve(QUERY)
    pages = retriever.core.search(QUERY)
    assert len(results) == 3 and [r.node.node_id for r in results] == [p.page_id for p in pages]
    for result, page in zip(results, pages, strict=True):
        node = result.node
        assert isinstance(result, NodeWithScore) and isinstance(node, ImageNode)
        assert node.text == page.text and node.image_path == str(page.image_path.absolute())
        assert Path(node.image_path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert node.image_mimetype == "image/png"
        meta = node.metadata
        assert (meta["source"], meta["page"], meta["page_id"]) == (page.source, page.page, page.page_id)
        assert meta["score"] == pytest.approx(page.score) and meta["budget"] == [4, 8]
        assert meta["normalized_score"] == pytest.approx(page.score / 4)
        assert meta["image_path"] == node.image_path and meta["citation"] == page.citation
        assert "text" not in meta  # the text is the node's text, not repeated in metadata
        # NodeWithScore.score is the normalised score: the same scale at every budget
        assert result.score == pytest.approx(meta["normalized_score"])
    # the LLM sees the citation and the text, not scores or paths
    shown = results[0].node.get_content(metadata_mode=MetadataMode.LLM)
    assert shown.startswith(f"citation: {pages[0].citation}\n") and pages[0].text in shown
    assert "normalized_score" not in shown and "image_path" not in shown
    # for a multimodal LLM: the image, then the same citation and text in one block
    image, text = results[0].node.get_content_blocks(MetadataMode.LLM)
    assert image.path == Path(results[0].node.image_path) and text.text == shown
    blank = results[0].node.model_copy(update={"image_path": None})
    assert [b.text for b in blank.get_content_blocks(MetadataMode.LLM)] == [shown]


def test_with_budget_changes_the_budget_per_query_and_shares_model_and_index(
    retriever: MetaEmbedRetriever,
) -> None:
    precise = retriever.with_budget((16, 64))
    assert precise.core.model is retriever.core.model and precise.core.store is retriever.core.store
    assert precise.budget == Budget(16, 64) and retriever.budget == Budget(4, 8)  # the original is unchanged
    results = precise.retrieve(QUERY)
    expected = retriever.core.search(QUERY, budget=(16, 64))
    assert [r.node.node_id for r in results] == [p.page_id for p in expected]
    assert all(r.node.metadata["budget"] == [16, 64] for r in results)
    assert results[0].node.metadata["score"] == pytest.approx(16 * results[0].score)
    fast = retriever.with_budget((1, 1))
    assert fast.retrieve(QUERY)[0].node.metadata["budget"] == [1, 1]
    more = retriever.with_options(similarity_top_k=7, min_score=0.0)
    assert len(more.retrieve(QUERY)) == 7 and more.budget == Budget(4, 8)
    with pytest.raises(TypeError, match="unknown MetaEmbedRetriever options"):
        retriever.with_options(k=3)


def test_min_score_and_filters_apply(retriever: MetaEmbedRetriever) -> None:
    ten = retriever.with_options(similarity_top_k=10).retrieve(QUERY)
    cut = (ten[1].score + ten[2].score) / 2
    kept = retriever.with_options(similarity_top_k=10, min_score=cut).retrieve(QUERY)
    assert [r.node.node_id for r in kept] == [r.node.node_id for r in ten[:2]]
    only = retriever.with_options(filters={"doc_id": "lumen-harbor-annual-report-2024.pdf", "page": 3})
    (hit,) = only.retrieve(QUERY)
    assert hit.node.node_id == REVENUE_PAGE and "412.6" in hit.node.text


def test_hybrid_scores_are_the_fused_scores(retriever: MetaEmbedRetriever) -> None:
    fused = retriever.with_options(hybrid="rrf")
    results = fused.retrieve(QUERY)
    pages = retriever.core.search(QUERY, hybrid="rrf")
    assert [r.node.node_id for r in results] == [p.page_id for p in pages]
    assert [r.score for r in results] == pytest.approx([p.score for p in pages])


def test_aretrieve_runs_off_the_event_loop(retriever: MetaEmbedRetriever) -> None:
    expected = [r.node.node_id for r in retriever.retrieve(QUERY)]

    async def main() -> tuple[list[NodeWithScore], int]:
        ticks = 0
        task = asyncio.create_task(retriever.with_budget((16, 64)).aretrieve(QUERY))
        while not task.done():
            ticks += 1
            await asyncio.sleep(0.001)
        return await task, ticks

    results, ticks = asyncio.run(main())
    assert ticks > 1  # the loop kept turning while the search ran
    assert [r.node.node_id for r in results] == [
        r.node.node_id for r in retriever.with_budget((16, 64)).retrieve(QUERY)]
    assert [r.node.node_id for r in asyncio.run(retriever.aretrieve(QUERY))] == expected


def test_two_pages_with_the_same_text_stay_two_nodes(tmp_path: Path) -> None:
    folder = tmp_path / "twins"
    folder.mkdir()
    for name in ("claim-a.pdf", "claim-b.pdf"):  # two files, identical pages: same text and same image
        shutil.copy(SAMPLES / "wayfarer-travel-claim-form.pdf", folder / name)
    with MetaEmbedRetriever.from_pdfs(folder, index=tmp_path / "twins.idx", show_progress_bar=False,
                                      budget=(2, 4), similarity_top_k=6) as twins:
        results = twins.retrieve("travel expense claim form")
        assert len(results) == 6 and len({r.node.node_id for r in results}) == 6
        first = {r.node.node_id: r.node for r in results}
        a, b = first["claim-a.pdf:1"], first["claim-b.pdf:1"]
        assert a.text == b.text and a.image_path == b.image_path  # equal content...
        assert a.hash != b.hash  # ...but distinct nodes, also for hash-based deduplication
        fusion = QueryFusionRetriever([twins, twins.with_budget((1, 1))], llm=MockLLM(), similarity_top_k=6,
                                      num_queries=1, mode="reciprocal_rerank", use_async=False)
        fused = fusion.retrieve("travel expense claim form")
        assert {r.node.node_id for r in fused} == set(first)


def test_bad_input_gives_the_core_message(retriever: MetaEmbedRetriever, index_path: Path,
                                          tmp_path: Path) -> None:
    for query in ("", "   ", QueryBundle(query_str=" ")):
        with pytest.raises(ValueError, match="the query is empty"):
            retriever.retrieve(query)
    with pytest.raises(ValueError, match="k must be a positive int, got 0"):
        MetaEmbedRetriever.from_index(index_path, similarity_top_k=0)
    with pytest.raises(ValueError, match="k must be a positive int, got -1"):
        retriever.with_options(similarity_top_k=-1)
    with pytest.raises(ValueError, match=r"budget.*\(32, 64\)|r_q"):
        retriever.with_budget((32, 64))
    with pytest.raises(ValueError, match="min_score"):
        retriever.with_options(min_score=2.0)
    with pytest.raises(ValueError, match="hybrid must be one of"):
        retriever.with_options(hybrid="bm25")
    missing = tmp_path / "nowhere.idx"
    with pytest.raises(FileNotFoundError, match=f"no index at {missing}.*metaembed-rag index"):
        MetaEmbedRetriever.from_index(missing)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        MetaEmbedRetriever.from_pdfs(tmp_path / "no-pdfs", index=tmp_path / "x.idx")
    # an image query on the bundled text-only model, alone or with text
    image = tmp_path / "page.png"
    Image.new("RGB", (32, 32), "white").save(image)
    for bundle in (QueryBundle(query_str="", image_path=str(image)),
                   QueryBundle(query_str="revenue chart", image_path=str(image))):
        with pytest.raises(ValueError, match="reads text only, so it cannot search by image"):
            retriever.retrieve(bundle)


def test_image_query_bundles_search_by_image(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = MetaEmbed.from_backbone(str(build_tiny_qwen_vl(tmp_path / "vl-model")), family="qwen2_5_vl",
                                    seed=0).eval()
    pages = [Image.new("RGB", (64, 48), color) for color in ("red", "green", "blue")]
    with PageIndex.create(tmp_path / "vl.idx", fingerprint=model) as store:
        records = [{"page_id": f"p{i}", "page": i + 1} for i in range(3)]
        store.add(model.encode_documents(pages), records, pages)
        core = Retriever(model, store)
        retriever = MetaEmbedRetriever(core, budget=(2, 4), similarity_top_k=3)
        query = tmp_path / "query.png"
        pages[1].save(query)
        by_image = retriever.retrieve(QueryBundle(query_str="", image_path=str(query)))
        order = [p.page_id for p in core.search(query, budget=(2, 4), k=3)]
        assert [r.node.node_id for r in by_image] == order
        both = retriever.retrieve(QueryBundle(query_str="a green page", image_path=str(query)))
        expected = core.search((query, "a green page"), budget=(2, 4), k=3)
        assert [r.score for r in both] == pytest.approx([p.normalized_score for p in expected])
        assert [r.score for r in both] != pytest.approx([r.score for r in by_image])  # the text counts
        with pytest.raises(FileNotFoundError, match="does not exist"):
            retriever.retrieve(QueryBundle(query_str="", image_path=str(tmp_path / "missing.png")))
