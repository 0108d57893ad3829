"""``MetaEmbedRetriever``: a LangChain retriever over a MetaEmbed ``PageIndex``, budget chosen per call."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import Field, field_validator

from metaembed_rag.budget import Budget, BudgetLike
from metaembed_rag.retriever import RetrievedPage, Retriever

__all__ = ["ImageMode", "MetaEmbedRetriever", "budget_pair", "page_to_document"]

#: ``include_image``: no image reference, the stored image's path, or the path plus the image itself.
ImageMode = Literal["path", "base64"] | None


def budget_pair(value: BudgetLike | None) -> tuple[int, int] | None:
    """A ``Budget``, ``(r_q, r_c)`` pair or ``"4,8"`` string as a plain pair (None stays None)."""
    if value is None:
        return None
    budget = Budget.parse(value)
    return (budget.r_q, budget.r_c)


def page_to_document(page: RetrievedPage, include_image: ImageMode = "path") -> Document:
    """A ``Document`` for one retrieved page: the text layer as ``page_content``, the page id as ``id``.

    Metadata: ``source`` (the PDF's path), ``page`` (1-based), ``page_id``, ``doc_id``, ``rank``,
    ``score`` (what ranked the page: the MaxSim sum at ``budget``, or the fused score of a hybrid
    search), ``normalized_score`` (MaxSim ÷ r_q, in [-1, 1] at every budget: the one ``min_score``
    thresholds), ``budget`` as ``(r_q, r_c)``, and with ``include_image`` set, ``image_path`` (the
    stored page image; None when the index keeps none); ``"base64"`` adds ``image_base64`` and
    ``image_mime_type``.
    """
    metadata: dict[str, Any] = {
        "source": page.source,
        "page": page.page,
        "page_id": page.page_id,
        "doc_id": page.doc_id,
        "rank": page.rank,
        "score": page.score,
        "normalized_score": page.normalized_score,
        "budget": (page.budget.r_q, page.budget.r_c),
    }
    if include_image is not None:
        metadata["image_path"] = None if page.image_path is None else str(page.image_path)
    if include_image == "base64":
        data = page.image_bytes()
        metadata["image_base64"] = None if data is None else base64.b64encode(data).decode("ascii")
        metadata["image_mime_type"] = page.image_mime_type
    return Document(page_content=page.text, id=page.page_id, metadata=metadata)


class MetaEmbedRetriever(BaseRetriever):
    """Retrieve PDF pages with MetaEmbed at a test-time budget ``(r_q, r_c)`` chosen per call.

    Build one with :meth:`from_pdfs` (index a folder incrementally, then search it) or
    :meth:`from_index` (an index built before, e.g. by ``metaembed-rag index``), or pass
    ``index=PATH`` or ``core=`` a :class:`metaembed_rag.Retriever` to share its model and store.

    Every field is a default that ``invoke`` can override for one call::

        retriever.invoke("revenue 2024", budget=(16, 64), k=3, filter={"doc_id": "report.pdf"})

    Scores: ``metadata["score"]`` is what ranked the page, the MaxSim *sum* at the budget (it grows
    with ``r_q``), or the fused score of a ``hybrid`` search; ``metadata["normalized_score"]`` is
    MaxSim ÷ r_q, in [-1, 1] at every budget. ``min_score`` thresholds ``normalized_score``, so one
    threshold means the same at every budget.
    """

    core: Retriever | None = Field(default=None, repr=False, exclude=True)
    """The framework-free :class:`metaembed_rag.Retriever` (model + store); opened from ``index`` if None."""
    index: str | Path | None = None
    """Path of the ``PageIndex`` to open when no ``core`` is given."""
    model: Any = None
    """Model folder or bundled name (or a loaded ``MetaEmbed``); default: the one the index records."""
    budget: tuple[int, int] | None = None
    """``(r_q, r_c)``; None: the core's default (the model's full budget). Checked against the model."""
    k: int = 5
    """Pages returned per query."""
    filter: dict[str, Any] | None = None
    """Metadata filter (``{"doc_id": "a.pdf", "page": {"gte": 3}}``); a per-call filter replaces it."""
    hybrid: Literal["rrf", "score"] | None = None
    """Fuse with BM25 over the page text: reciprocal-rank (``"rrf"``) or score fusion."""
    min_score: float | None = None
    """Drop pages whose ``normalized_score`` (MaxSim ÷ r_q, in [-1, 1]) is lower."""
    include_image: ImageMode = "path"
    """``"path"``: ``image_path`` in metadata; ``"base64"``: also the image data; None: neither."""

    _parse_budget = field_validator("budget", mode="before")(budget_pair)

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        if self.core is None:
            if self.index is None:
                raise ValueError("MetaEmbedRetriever needs index=PATH (an index built before) "
                                 "or core=Retriever")
            self.core = Retriever.open(self.index, model=self.model)
        # the core's checks, with the core's messages: budget in the model's range, k >= 1, ...
        checked = self.core.with_options(
            budget=self.budget if self.budget is not None else self.core.budget,
            k=self.k, filter=self.filter, hybrid=self.hybrid, min_score=self.min_score,
        )
        self.budget = (checked.budget.r_q, checked.budget.r_c)

    # -- constructors --------------------------------------------------------------------------
    @classmethod
    def from_pdfs(
        cls,
        folder: str | Path,
        *,
        index: str | Path,
        model: Any = None,
        show_progress_bar: bool = True,
        index_options: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> MetaEmbedRetriever:
        """Index the PDFs under ``folder`` into ``index`` (incrementally: unchanged files are skipped),
        then open it. ``index_options`` go to :func:`metaembed_rag.pipeline.index_folder`; ``fields``
        are this class's fields (``budget``, ``k``, ``filter``, ...)."""
        core = Retriever.from_pdfs(folder, index=index, model=model, show_progress_bar=show_progress_bar,
                                   index_options=index_options)
        return cls(core=core, index=index, **fields)

    @classmethod
    def from_index(cls, path: str | Path, *, model: Any = None, **fields: Any) -> MetaEmbedRetriever:
        """Open the index at ``path`` with the model it records (or ``model``); loaded once per process."""
        return cls(index=path, model=model, **fields)

    @property
    def retriever(self) -> Retriever:
        """The core retriever this wraps."""
        assert self.core is not None
        return self.core

    def close(self) -> None:
        """Close the index. The model stays loaded for other retrievers."""
        self.retriever.close()

    def __enter__(self) -> MetaEmbedRetriever:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- LangChain's hooks ---------------------------------------------------------------------
    def _options(self, budget: BudgetLike | None, k: int | None, filter: dict[str, Any] | None,
                 hybrid: str | None, min_score: float | None) -> dict[str, Any]:
        return {
            "budget": budget if budget is not None else self.budget,
            "k": k if k is not None else self.k,
            "filter": filter if filter is not None else self.filter,
            "hybrid": hybrid if hybrid is not None else self.hybrid,
            "min_score": min_score if min_score is not None else self.min_score,
        }

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        budget: BudgetLike | None = None,
        k: int | None = None,
        filter: dict[str, Any] | None = None,
        hybrid: str | None = None,
        min_score: float | None = None,
        include_image: ImageMode | Literal["default"] = "default",
    ) -> list[Document]:
        # These keyword arguments must stay in the signature: BaseRetriever.invoke passes per-call
        # keyword arguments on only to a _get_relevant_documents that declares them.
        pages = self.retriever.search(query, **self._options(budget, k, filter, hybrid, min_score))
        mode = self.include_image if include_image == "default" else include_image
        return [page_to_document(p, mode) for p in pages]

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        budget: BudgetLike | None = None,
        k: int | None = None,
        filter: dict[str, Any] | None = None,
        hybrid: str | None = None,
        min_score: float | None = None,
        include_image: ImageMode | Literal["default"] = "default",
    ) -> list[Document]:
        pages = await self.retriever.asearch(query, **self._options(budget, k, filter, hybrid, min_score))
        mode = self.include_image if include_image == "default" else include_image
        return [page_to_document(p, mode) for p in pages]
