"""MetaEmbedReranker over another retriever's documents, and the (1, 1) MetaEmbedEmbeddings view."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_metaembed import MetaEmbedEmbeddings, MetaEmbedReranker, MetaEmbedRetriever
from langchain_samples import REPORT

NA_QUERY = "How much revenue did Lumen Harbor make in North America?"


@pytest.fixture(scope="module")
def embeddings() -> MetaEmbedEmbeddings:
    return MetaEmbedEmbeddings()


def test_embeddings_are_the_one_vector_budget(
    embeddings: MetaEmbedEmbeddings, retriever: MetaEmbedRetriever
) -> None:
    text = "Day pass 7.50, valid until 05:00 the next morning."
    query = embeddings.embed_query("price of a day pass")
    (document,) = embeddings.embed_documents([text])
    assert len(query) == len(document) == embeddings.dimension
    assert math.isclose(sum(x * x for x in query), 1.0, rel_tol=1e-4)
    (expected,) = retriever.retriever.score("price of a day pass", [text], budget=(1, 1))
    assert sum(a * b for a, b in zip(query, document, strict=True)) == pytest.approx(expected, abs=1e-5)
    assert embeddings.embed_documents([]) == []


def test_embeddings_in_a_vector_store_then_reranked(
    embeddings: MetaEmbedEmbeddings, retriever: MetaEmbedRetriever
) -> None:
    pages = retriever.invoke(NA_QUERY, k=12, budget=(16, 64), filter={"doc_id": REPORT})
    texts = [Document(page_content=d.page_content, metadata={"page": d.metadata["page"]}) for d in pages]
    store = InMemoryVectorStore.from_documents(texts, embeddings)
    base = store.as_retriever(search_kwargs={"k": 6})
    candidates = base.invoke(NA_QUERY)
    assert len(candidates) == 6
    reranker = MetaEmbedReranker.from_retriever(retriever, budget=(16, 64), top_n=2)
    kept = reranker.compress_documents(candidates, NA_QUERY)
    expected = retriever.retriever.score(NA_QUERY, [d.page_content for d in candidates], budget=(16, 64))
    best = sorted(range(6), key=lambda i: -expected[i])[:2]
    assert [d.page_content for d in kept] == [candidates[i].page_content for i in best]
    assert [d.metadata["relevance_score"] for d in kept] == pytest.approx([expected[i] for i in best])
    assert all(d.metadata["rerank_budget"] == (16, 64) for d in kept)
    assert asyncio.run(reranker.acompress_documents(candidates, NA_QUERY)) == kept


def test_our_documents_are_reranked_with_their_stored_vectors(
    retriever: MetaEmbedRetriever, sample_index: Path
) -> None:
    docs = retriever.invoke(NA_QUERY, k=5, budget=(16, 64))
    # page_content blanked: only the stored vectors can give the retriever's own scores back
    blank = [Document(page_content="", id=d.id, metadata=d.metadata) for d in docs[::-1]]
    reranker = MetaEmbedReranker.from_index(sample_index, budget=(16, 64), top_n=5)
    kept = reranker.compress_documents(blank, NA_QUERY)
    assert [d.id for d in kept] == [d.id for d in docs]
    assert [d.metadata["relevance_score"] for d in kept] == pytest.approx(
        [d.metadata["normalized_score"] for d in docs], abs=1e-5)
    cut = (docs[0].metadata["normalized_score"] + docs[1].metadata["normalized_score"]) / 2
    assert [d.id for d in MetaEmbedReranker.from_index(sample_index, budget=(16, 64), min_score=cut)
            .compress_documents(blank, NA_QUERY)] == [docs[0].id]
    assert reranker.compress_documents([], NA_QUERY) == []
    with pytest.raises(ValueError, match="out of range"):
        MetaEmbedReranker.from_retriever(retriever, budget=(16, 65))
    with pytest.raises(ValueError, match="the query is empty"):
        reranker.compress_documents(blank, " ")
