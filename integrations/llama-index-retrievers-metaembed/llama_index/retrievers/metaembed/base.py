"""``MetaEmbedRetriever``: a LlamaIndex retriever over a metaembed-rag page index."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle

from metaembed_rag.budget import Budget, BudgetLike
from metaembed_rag.retriever import QueryLike, Retriever

from .filters import FilterLike, to_metaembed_filter
from .nodes import to_node_with_score

if TYPE_CHECKING:
    from metaembed_rag.model import MetaEmbed

__all__ = ["MetaEmbedRetriever", "query_input"]

DEFAULT_TOP_K = 5


class MetaEmbedRetriever(BaseRetriever):
    """Retrieve PDF pages with MetaEmbed at a test-time budget ``(r_q, r_c)``.

    Each result is a ``NodeWithScore`` holding an ``ImageNode`` per page: ``node_id`` is the page
    id (``"report.pdf:3"``), ``text`` the page's text layer, ``image_path`` the stored page image,
    and ``metadata`` holds ``source``, ``page``, ``page_id``, ``score``, ``normalized_score``,
    ``budget``, ``image_path`` and ``citation``. The language model sees the text and the citation.

    ``NodeWithScore.score`` is the *normalised* MaxSim score (the sum ÷ r_q, in [-1, 1]) so that a
    ``SimilarityPostprocessor`` cutoff means the same at every budget; the raw sum is
    ``metadata["score"]``. With ``hybrid`` it is the fused score that ranked the page.

    ``retrieve()`` takes no per-call options in LlamaIndex, so change them per query with
    :meth:`with_budget` or :meth:`with_options`: they return a retriever that shares this one's
    loaded model and open index (nothing is reloaded)::

        retriever.with_budget((16, 64)).retrieve("What revenue is expected for 2025?")

    A ``QueryBundle`` with ``image_path`` searches by that image (with ``query_str``, by image and
    text); that needs a model that reads images.
    """

    def __init__(
        self,
        retriever: Retriever,
        *,
        budget: BudgetLike | None = None,
        similarity_top_k: int = DEFAULT_TOP_K,
        filters: FilterLike | None = None,
        min_score: float | None = None,
        hybrid: str | None = None,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        """Wrap a core ``metaembed_rag.Retriever``. ``budget`` (default: the model's full budget),
        ``similarity_top_k``, ``filters`` (LlamaIndex ``MetadataFilters`` or a metaembed-rag filter
        dict), ``min_score`` (on the normalised score) and ``hybrid`` (``"rrf"`` or ``"score"``:
        fuse with BM25) are checked here and raise ``ValueError`` before any search."""
        self._core = retriever.with_options(
            budget=budget if budget is not None else retriever.budget,
            k=similarity_top_k,
            filter=to_metaembed_filter(filters),
            min_score=min_score,
            hybrid=hybrid,
        )
        self._filters = filters
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    # -- constructors ------------------------------------------------------------------------
    @classmethod
    def from_pdfs(
        cls,
        folder: str | Path,
        *,
        index: str | Path,
        model: MetaEmbed | str | None = None,
        show_progress_bar: bool = True,
        index_options: dict[str, Any] | None = None,
        **options: Any,
    ) -> MetaEmbedRetriever:
        """Index the PDFs under ``folder`` into ``index`` (incrementally: unchanged files are
        skipped), then retrieve from it. ``model`` defaults to the bundled ``metaembed-minilm``;
        ``options`` are this class's (``budget``, ``similarity_top_k``, ``filters``, ...)."""
        core = Retriever.from_pdfs(folder, index=index, model=model, show_progress_bar=show_progress_bar,
                                   index_options=index_options)
        return cls(core, **options)

    @classmethod
    def from_index(cls, index: str | Path, *, model: MetaEmbed | str | None = None,
                   **options: Any) -> MetaEmbedRetriever:
        """Open an existing index (built by ``metaembed-rag index`` or :meth:`from_pdfs`) with the
        model it records, loaded once per process."""
        return cls(Retriever.open(index, model=model), **options)

    def with_options(self, **changes: Any) -> MetaEmbedRetriever:
        """A retriever with other ``budget``, ``similarity_top_k``, ``filters``, ``min_score`` or
        ``hybrid`` that shares this one's model and index."""
        unknown = set(changes) - {"budget", "similarity_top_k", "filters", "min_score", "hybrid"}
        if unknown:
            raise TypeError(f"unknown MetaEmbedRetriever options {sorted(unknown)}")
        options: dict[str, Any] = {
            "budget": self.budget,
            "similarity_top_k": self.similarity_top_k,
            "filters": self._filters,
            "min_score": self._core.min_score,
            "hybrid": self._core.hybrid,
        } | changes
        return type(self)(self._core, callback_manager=self.callback_manager, verbose=self._verbose,
                          **options)

    def with_budget(self, budget: BudgetLike) -> MetaEmbedRetriever:
        """This retriever at another budget, e.g. ``(16, 64)`` for the most accurate search or
        ``(1, 1)`` for the fastest; the model and index are shared, not reloaded."""
        return self.with_options(budget=budget)

    # -- settings ----------------------------------------------------------------------------
    @property
    def core(self) -> Retriever:
        """The framework-free ``metaembed_rag.Retriever`` this one calls."""
        return self._core

    @property
    def budget(self) -> Budget:
        return self._core.budget

    @property
    def similarity_top_k(self) -> int:
        return self._core.k

    @property
    def filters(self) -> dict[str, Any] | None:
        """The filter in metaembed-rag's dict form (as translated from ``MetadataFilters``)."""
        return self._core.filter

    @property
    def min_score(self) -> float | None:
        return self._core.min_score

    @property
    def hybrid(self) -> str | None:
        return self._core.hybrid

    def __repr__(self) -> str:
        return (f"MetaEmbedRetriever(budget={self.budget}, similarity_top_k={self.similarity_top_k}, "
                f"filters={self.filters!r}, min_score={self.min_score!r}, hybrid={self.hybrid!r})")

    # -- keeping the index current -----------------------------------------------------------
    def add(self, paths: str | Path | Iterable[str | Path], **index_options: Any) -> Any:
        """Index more PDF folders incrementally; returns the ingestion report."""
        return self._core.add(paths, **index_options)

    def delete(self, *, doc_id: str | None = None, page_ids: Sequence[str] | None = None,
               filters: FilterLike | None = None) -> int:
        """Delete one document's pages, the given pages, or those matching ``filters``."""
        return self._core.delete(doc_id=doc_id, page_ids=page_ids, filter=to_metaembed_filter(filters))

    def close(self) -> None:
        """Close the index (for every retriever made from this one by ``with_*``)."""
        self._core.close()

    def __enter__(self) -> MetaEmbedRetriever:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- retrieval ---------------------------------------------------------------------------
    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [to_node_with_score(p) for p in self._core.search(query_input(query_bundle))]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        pages = await self._core.asearch(query_input(query_bundle))
        return [to_node_with_score(p) for p in pages]


def query_input(bundle: QueryBundle) -> QueryLike:
    """The core query for a ``QueryBundle``: its text, its ``image_path`` image, or both."""
    if bundle.image_path is None:
        return bundle.query_str
    image = Path(bundle.image_path)
    return (image, bundle.query_str) if bundle.query_str.strip() else image
