"""``MetaEmbedEmbeddings``: MetaEmbed's (1, 1) single-vector view, for any LangChain vector store."""

from __future__ import annotations

import threading
from typing import Any

from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from metaembed_rag.retriever import load_shared_model

__all__ = ["MetaEmbedEmbeddings"]

_encode_lock = threading.Lock()


class MetaEmbedEmbeddings(BaseModel, Embeddings):
    """One vector per text: the first query / candidate meta-token vector, i.e. budget (1, 1).

    This GIVES UP MULTI-VECTOR SCORING. A vector store compares one query vector with one page
    vector (cosine: the vectors are L2-normalised), which is MetaEmbed's cheapest budget and its
    weakest ranking. Use it where a LangChain vector store is required; use
    :class:`~langchain_metaembed.MetaEmbedRetriever` (budgets up to (16, 64) over a ``PageIndex``)
    for MetaEmbed's quality.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model: str | None = None
    """Model folder or bundled name; None: the bundled default model. Loaded once per process."""
    batch_size: int = Field(default=32, ge=1)
    _model: Any = PrivateAttr(default=None)

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        self._model = load_shared_model(self.model)

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        return int(self._model.encode_queries(["x"], budget=(1, 1)).shape[-1])

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text (the first candidate vector)."""
        if not texts:
            return []
        with _encode_lock:
            vectors = self._model.encode_documents(list(texts), budget=(1, 1), batch_size=self.batch_size,
                                                   show_progress_bar=False)
        return vectors[:, 0].tolist()

    def embed_query(self, text: str) -> list[float]:
        """The query's vector (the first query vector)."""
        with _encode_lock:
            vector = self._model.encode_queries([text], budget=(1, 1), show_progress_bar=False)
        return vector[0, 0].tolist()
