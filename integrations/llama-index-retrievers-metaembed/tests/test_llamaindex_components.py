"""MetaEmbedReranker, MetaEmbedPDFReader and MetaEmbedEmbedding."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import torch
from llama_index.core.schema import ImageDocument, MetadataMode, NodeWithScore, QueryBundle, TextNode
from llama_index.retrievers.metaembed import (
    MetaEmbedEmbedding,
    MetaEmbedPDFReader,
    MetaEmbedReranker,
    MetaEmbedRetriever,
)
from llamaindex_common import QUERY, SAMPLES
from PIL import Image

from metaembed_rag import MetaEmbed
from metaembed_rag.documents import FileMissingError, render_file
from metaembed_rag.scoring import maxsim_reference
from metaembed_rag.testing import build_tiny_qwen_vl


def test_reranker_rescores_foreign_and_own_nodes(retriever: MetaEmbedRetriever) -> None:
    own = retriever.with_options(similarity_top_k=4).retrieve(QUERY)
    foreign = [
        NodeWithScore(node=TextNode(text="Total revenue rose to EUR 412.6 million in 2024.", id_="bm25-1"),
                      score=9.0),
        NodeWithScore(node=TextNode(text="Roast the pumpkin with sage for 40 minutes.", id_="bm25-2"),
                      score=8.0),
    ]
    nodes = own + foreign
    reranker = MetaEmbedReranker(retriever, budget=(16, 64), top_n=5)
    ranked = reranker.postprocess_nodes(nodes, query_str=QUERY)
    # the index's pages use their stored vectors, the others are encoded from their text
    documents = [n.node.node_id for n in own] + [n.node.text for n in foreign]
    scores = retriever.core.score(QUERY, documents, budget=(16, 64))
    expected = sorted(zip(scores, [n.node.node_id for n in nodes], strict=True), reverse=True)[:5]
    assert [n.node.node_id for n in ranked] == [node_id for _, node_id in expected]
    assert [n.score for n in ranked] == pytest.approx([score for score, _ in expected])
    # stored vectors: the index's pages get the normalised score the retriever gives at that budget
    full = {r.node.node_id: r.score for r in retriever.with_options(budget=(16, 64), similarity_top_k=50)
            .retrieve(QUERY)}
    assert [full[n.node.node_id] for n in own] == pytest.approx(scores[: len(own)], abs=1e-5)
    assert ranked[0].node is not None and nodes[0].score == own[0].score  # inputs are not changed
    ids = [n.node.node_id for n in ranked]
    assert "bm25-1" in ids and "bm25-2" not in ids  # the recipe sentence scores lowest: top_n drops it
    assert reranker.postprocess_nodes([], query_str=QUERY) == []
    assert len(MetaEmbedReranker(retriever.core).postprocess_nodes(nodes, QueryBundle(QUERY))) == 6
    with pytest.raises(ValueError, match="needs the query"):
        reranker.postprocess_nodes(nodes)
    with pytest.raises(ValueError, match="top_n must be a positive int"):
        MetaEmbedReranker(retriever, top_n=0)
    with pytest.raises(ValueError, match="out of range"):
        MetaEmbedReranker(retriever, budget=(17, 64))


def test_pdf_reader_gives_one_image_document_per_page(tmp_path: Path) -> None:
    pdf = SAMPLES / "wayfarer-travel-claim-form.pdf"
    pages = list(render_file(pdf, root=SAMPLES))
    docs = MetaEmbedPDFReader().load_data(pdf, extra_info={"collection": "claims"})
    assert len(docs) == len(pages) == 3 and all(isinstance(d, ImageDocument) for d in docs)
    for doc, page in zip(docs, pages, strict=True):
        assert doc.id_ == page.page_id == f"wayfarer-travel-claim-form.pdf:{page.page_number}"
        assert doc.text == page.text and doc.text.strip()
        assert doc.metadata == {"collection": "claims", "source": page.source, "page": page.page_number,
                                "page_id": page.page_id, "doc_id": page.doc_id,
                                "content_hash": page.content_hash, "width": page.width, "height": page.height}
        assert doc.get_content(metadata_mode=MetadataMode.LLM) == (
            f"collection: claims\nsource: {page.source}\npage: {page.page_number}\n\n{page.text}")
        png = base64.b64decode(doc.image)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and doc.image_mimetype == "image/png"
        assert Image.open(doc.resolve_image()).size == (page.width, page.height)
    on_disk = MetaEmbedPDFReader(image_dir=tmp_path / "images").load_data(pdf)
    assert [Path(d.image_path).parent for d in on_disk] == [tmp_path / "images"] * 3
    assert Path(on_disk[0].image_path).read_bytes() == base64.b64decode(docs[0].image)
    folder = MetaEmbedPDFReader().lazy_load_data(SAMPLES)
    first = next(iter(folder))
    assert first.id_ == "baltic-microplastics-slides.pdf:1"
    with pytest.raises(FileMissingError, match=r"missing\.pdf"):
        MetaEmbedPDFReader().load_data(tmp_path / "missing.pdf")


def test_embedding_is_the_first_vector_of_each_side(retriever: MetaEmbedRetriever) -> None:
    model = retriever.core.model
    embedding = MetaEmbedEmbedding()
    assert embedding._model is model  # the bundled model, loaded once per process
    query = embedding.get_query_embedding(QUERY)
    texts = embedding.get_text_embedding_batch(["Total revenue EUR 412.6 million", "pumpkin soup"])
    assert len(query) == model.encode_queries([QUERY]).shape[-1] == len(texts[0])
    assert query == pytest.approx(model.encode_queries([QUERY])[0, 0].tolist(), abs=1e-6)
    docs = model.encode_documents(["Total revenue EUR 412.6 million", "pumpkin soup"])
    assert texts == [pytest.approx(d[0].tolist(), abs=1e-6) for d in docs]
    # the similarity is MaxSim at budget (1, 1)
    single = embedding.similarity(query, texts[0])
    reference = maxsim_reference(model.encode_queries([QUERY]), docs, (1, 1))[0, 0]
    assert single == pytest.approx(float(reference), abs=1e-5)
    assert single > embedding.similarity(query, texts[1])
    with pytest.raises(ValueError, match="reads text only, so it cannot embed images"):
        embedding.get_image_embedding(str(SAMPLES.parent / "README.md"))


def test_embedding_embeds_images_with_a_vision_language_model(tmp_path: Path) -> None:
    torch.manual_seed(0)
    folder = build_tiny_qwen_vl(tmp_path / "vl")
    model = MetaEmbed.from_backbone(str(folder), family="qwen2_5_vl", seed=0).eval()
    embedding = MetaEmbedEmbedding(model=model)
    image = tmp_path / "green.png"
    Image.new("RGB", (64, 48), "green").save(image)
    vector = embedding.get_image_embedding(str(image))
    expected = model.encode_documents([Image.new("RGB", (64, 48), "green")])[0, 0]
    assert vector == pytest.approx(expected.tolist(), abs=1e-5)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        embedding.get_image_embedding(str(tmp_path / "missing.png"))
