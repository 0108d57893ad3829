"""``MetaEmbedReranker``: re-score any retriever's nodes with MetaEmbed at a chosen budget."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle

from metaembed_rag.budget import BudgetLike
from metaembed_rag.retriever import Retriever

from .base import MetaEmbedRetriever, query_input

if TYPE_CHECKING:
    from metaembed_rag.model import MetaEmbed

__all__ = ["MetaEmbedReranker"]


class MetaEmbedReranker(BaseNodePostprocessor):
    """Re-score the nodes of any retriever (BM25, a vector index, another MetaEmbed retriever) with
    MetaEmbed's MaxSim at ``budget`` and keep the best ``top_n``.

    A node whose ``node_id`` is a page of this reranker's index is scored with the page's stored
    vectors (no encoding); any other node's text is encoded now. ``NodeWithScore.score`` becomes the
    normalised MaxSim score (÷ r_q, in [-1, 1]); the nodes themselves are not changed. A query
    bundle with ``image_path`` scores by image (and text), as in :class:`MetaEmbedRetriever`.
    """

    top_n: int | None = Field(default=None, description="How many nodes to keep (None: all), best first.")
    budget: tuple[int, int] | None = Field(default=None, description="(r_q, r_c); None: the index's default.")
    _core: Retriever = PrivateAttr()

    def __init__(self, retriever: MetaEmbedRetriever | Retriever, *, budget: BudgetLike | None = None,
                 top_n: int | None = None, **kwargs: Any) -> None:
        """``retriever`` gives the model and index (a :class:`MetaEmbedRetriever` or a core
        ``metaembed_rag.Retriever``); ``budget`` is checked against the model here."""
        core = retriever.core if isinstance(retriever, MetaEmbedRetriever) else retriever
        if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
            raise ValueError(f"top_n must be a positive int or None, got {top_n!r}")
        core = core.with_options(budget=budget) if budget is not None else core
        super().__init__(top_n=top_n, budget=(core.budget.r_q, core.budget.r_c), **kwargs)
        self._core = core

    @classmethod
    def from_index(cls, index: str | Path, *, budget: BudgetLike | None = None, top_n: int | None = None,
                   model: MetaEmbed | str | None = None) -> MetaEmbedReranker:
        """A reranker over the index at ``index`` (its model is loaded once per process)."""
        return cls(Retriever.open(index, model=model), budget=budget, top_n=top_n)

    @classmethod
    def class_name(cls) -> str:
        return "MetaEmbedReranker"

    def _postprocess_nodes(self, nodes: list[NodeWithScore],
                           query_bundle: QueryBundle | None = None) -> list[NodeWithScore]:
        if query_bundle is None:
            raise ValueError("MetaEmbedReranker needs the query: pass query_bundle or query_str")
        if not nodes:
            return []
        documents = [n.node.node_id if n.node.node_id in self._core
                     else n.node.get_content(metadata_mode=MetadataMode.NONE) for n in nodes]
        scores = self._core.score(query_input(query_bundle), documents)
        ranked = sorted(zip(nodes, scores, strict=True), key=lambda pair: pair[1], reverse=True)
        kept = ranked if self.top_n is None else ranked[: self.top_n]
        return [NodeWithScore(node=n.node, score=score) for n, score in kept]
