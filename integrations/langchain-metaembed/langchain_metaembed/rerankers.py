"""``MetaEmbedReranker``: re-score any retriever's documents with MetaEmbed, as a document compressor."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import ConfigDict, Field, field_validator

from metaembed_rag.retriever import Retriever

from .retrievers import MetaEmbedRetriever, budget_pair

__all__ = ["MetaEmbedReranker"]


class MetaEmbedReranker(BaseDocumentCompressor):
    """Re-rank documents from any retriever (BM25, a vector store, ...) by MetaEmbed MaxSim at ``budget``.

    Documents that carry a ``page_id`` of this index in their metadata (our retriever's) are scored
    with their stored vectors; any other document's ``page_content`` is encoded on the fly. Keeps the
    best ``top_n``, each with ``metadata["relevance_score"]``: the normalised MaxSim score (÷ r_q,
    in [-1, 1] at every budget), which ``min_score`` also thresholds.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    core: Retriever = Field(repr=False, exclude=True)
    """The core retriever whose model (and stored page vectors) score the documents."""
    budget: tuple[int, int] | None = None
    """``(r_q, r_c)`` to score at; None: the core's default."""
    top_n: int = Field(default=3, ge=1)
    """Documents kept."""
    min_score: float | None = Field(default=None, ge=-1.0, le=1.0)
    """Drop documents whose normalised score is lower."""

    _parse_budget = field_validator("budget", mode="before")(budget_pair)

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        budget = self.core.model.budget(self.budget if self.budget is not None else self.core.budget)
        self.budget = (budget.r_q, budget.r_c)

    @classmethod
    def from_index(cls, path: str | Path, *, model: Any = None, **fields: Any) -> MetaEmbedReranker:
        """A reranker with the model recorded in the index at ``path`` (loaded once per process)."""
        return cls(core=Retriever.open(path, model=model), **fields)

    @classmethod
    def from_retriever(cls, retriever: MetaEmbedRetriever | Retriever, **fields: Any) -> MetaEmbedReranker:
        """A reranker sharing ``retriever``'s model and index."""
        core = retriever.retriever if isinstance(retriever, MetaEmbedRetriever) else retriever
        return cls(core=core, **fields)

    def _inputs(self, documents: Sequence[Document]) -> list[str]:
        """Per document, its page id where this index holds it (stored vectors), else its text."""
        inputs = []
        for doc in documents:
            page_id = doc.metadata.get("page_id")
            known = page_id is not None and self.core.store.get(str(page_id)) is not None
            inputs.append(str(page_id) if known else doc.page_content)
        return inputs

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """The ``top_n`` documents by MetaEmbed score for ``query``, best first."""
        if not documents:
            return []
        scores = self.core.score(query, self._inputs(documents), budget=self.budget)
        order = sorted(range(len(documents)), key=lambda i: -scores[i])
        kept = []
        for i in order[: self.top_n]:
            if self.min_score is not None and scores[i] < self.min_score:
                break
            doc = documents[i]
            metadata = {**doc.metadata, "relevance_score": scores[i], "rerank_budget": self.budget}
            kept.append(Document(page_content=doc.page_content, id=doc.id, metadata=metadata))
        return kept

    async def acompress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """:meth:`compress_documents` in a worker thread, off the event loop."""
        return await asyncio.to_thread(self.compress_documents, documents, query, callbacks)
