"""The core retriever: one model, one store and search defaults. The one search path.

The CLI's ``search``, the LangChain and LlamaIndex retrievers, the notebooks and the chat app all
call :meth:`Retriever.search`, so a fix or a speed-up here lands everywhere at once. This module
imports no framework.

Scores. MetaEmbed's MaxSim score is a *sum* over the ``r_q`` query vectors, so the same page scores
about 0.4 at budget (1,1) and about 8 at (16,64): a threshold set at one budget means nothing at
another. Every hit therefore also carries ``normalized_score = score / r_q``, the mean of the
per-vector maxima, in [-1, 1] whatever the budget, and ``min_score`` thresholds on it.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from .budget import Budget, BudgetLike
from .hybrid.fusion import fusion_weight

if TYPE_CHECKING:
    from .index.base import Filter, SearchHit, VectorStore
    from .model import MetaEmbed
    from .pipeline import IngestReport

__all__ = ["HYBRID_MODES", "QueryLike", "RetrievedPage", "Retriever", "load_shared_model", "model_for_index"]

#: ``hybrid=`` values: reciprocal-rank fusion or min-max score fusion with BM25 over the page text.
HYBRID_MODES = ("rrf", "score")
DEFAULT_K = 5

#: A text query, a page image (PIL image, ``Path`` to an image file, or encoded image ``bytes``),
#: or an ``(image, text)`` pair. A ``str`` is always text; pass an image file as a ``Path``.
QueryLike = str | Image.Image | Path | bytes | tuple[Any, str]
_MIME_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}


@dataclass(frozen=True)
class RetrievedPage:
    """One retrieved page.

    ``score`` is what ranked the page: the MaxSim sum at ``budget`` for a dense search, the fused
    score for a hybrid one. ``normalized_score`` is the MaxSim sum divided by ``budget.r_q``, in
    [-1, 1] at every budget (None for a hybrid hit that only BM25 found).
    """

    page_id: str
    score: float
    normalized_score: float | None
    rank: int
    budget: Budget
    source: str | None
    page: int | None
    text: str
    image_path: Path | None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def doc_id(self) -> str | None:
        return self.metadata.get("doc_id")

    @property
    def citation(self) -> str:
        """``"report.pdf p.3"``: the file name and 1-based page, for answers that cite pages."""
        name = Path(self.source).name if self.source else self.page_id
        return f"{name} p.{self.page}" if self.page is not None else name

    @property
    def image_mime_type(self) -> str | None:
        """``image/png``, ``image/jpeg`` or ``image/webp`` for the stored image; None without one."""
        if self.image_path is None:
            return None
        return _MIME_TYPES.get(self.image_path.suffix.lower(), "application/octet-stream")

    def image_bytes(self) -> bytes | None:
        """The stored page image's bytes, or None when the index keeps no image for it."""
        return None if self.image_path is None else self.image_path.read_bytes()

    def image(self) -> Image.Image | None:
        """The stored page image as a PIL image, or None."""
        data = self.image_bytes()
        return None if data is None else Image.open(io.BytesIO(data))


# -- models shared across retrievers -------------------------------------------------------------
_models: dict[str, MetaEmbed] = {}
_models_lock = threading.Lock()


def load_shared_model(reference: str | None = None) -> MetaEmbed:
    """Load the model ``reference`` (a folder or bundled name; None: the default model) once per
    process: a second retriever over the same model gets the same object."""
    from .model.defaults import default_model_reference, load_model

    reference = reference or default_model_reference()
    key = str(Path(reference).resolve()) if Path(reference).is_dir() else reference
    with _models_lock:
        if key not in _models:
            _models[key] = load_model(key).eval()
        return _models[key]


def model_for_index(fingerprint: Mapping[str, Any], override: str | None = None,
                    where: str | Path = "this index") -> MetaEmbed:
    """The model for an index whose fingerprint is ``fingerprint``: ``override`` if given, else the
    one it records (a bundled name or saved folder, or the ``from_backbone`` recipe of an unsaved
    seeded model), loaded once per process."""
    if override or fingerprint.get("model"):
        return load_shared_model(override or fingerprint["model"])
    recipe = fingerprint.get("recipe")
    if not recipe:
        raise ValueError(
            f"the index at {where} does not record where its model {fingerprint.get('name')!r} can be "
            "loaded from (it was built from Python with a model that was never saved): save that model "
            "with model.save_pretrained(DIR) and pass --model DIR (model=DIR in Python)"
        )
    from .model import MetaEmbed

    key = "recipe:" + json.dumps(recipe, sort_keys=True)
    with _models_lock:
        if key not in _models:
            _models[key] = MetaEmbed.from_recipe(dict(recipe))
        return _models[key]


# -- the retriever -------------------------------------------------------------------------------
class Retriever:
    """Search a store of MetaEmbed page vectors with a model, at a budget chosen per call.

    Build one with :meth:`from_pdfs` (index a folder, then search it) or :meth:`open` (an existing
    index), or pass a model and any :class:`~metaembed_rag.index.VectorStore` (``PageIndex`` or
    ``QdrantStore``). The defaults given here (``budget``, ``k``, ``filter``, ``hybrid``,
    ``rerank_from``, ``min_score``) apply to every :meth:`search` that does not override them.

    Searches are thread-safe; :meth:`asearch` runs one in a worker thread, off the event loop.
    """

    def __init__(
        self,
        model: MetaEmbed,
        store: VectorStore,
        *,
        budget: BudgetLike | None = None,
        k: int = DEFAULT_K,
        filter: Filter | None = None,
        hybrid: str | None = None,
        alpha: float | None = None,
        rerank_from: int | None = None,
        min_score: float | None = None,
    ) -> None:
        self.model = model
        self.store = store
        self.budget = self._budget(budget)
        self.k = _check_k(k)
        self.filter = dict(filter) if filter else None
        self.hybrid = _check_hybrid(hybrid)
        self.alpha = fusion_weight(model.config.hybrid_alpha) if alpha is None else float(alpha)
        self.rerank_from = rerank_from
        self.min_score = _check_min_score(min_score)
        # One PageIndex object runs its calls one at a time, and encoding toggles module state:
        # a lock per retriever family (shared by with_options copies) keeps threads apart.
        self._lock = threading.RLock()
        self.last_report: IngestReport | None = None

    # -- constructors ------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        index: str | Path,
        model: MetaEmbed | str | None = None,
        *,
        read_only: bool = False,
        **defaults: Any,
    ) -> Retriever:
        """Open the index at ``index`` for search. ``model`` is a loaded model, a model folder or
        bundled name; by default the model the index records (see :func:`model_for_index`), loaded
        once per process. ``read_only`` opens the store for searching only."""
        from .index import PageIndex
        from .index.manifest import MANIFEST_NAME

        path = Path(index)
        if not (path / MANIFEST_NAME).is_file():
            raise FileNotFoundError(
                f"no index at {path}: build it with `metaembed-rag index PDF_FOLDER --index {path}` "
                f"or Retriever.from_pdfs(PDF_FOLDER, index={str(path)!r})"
            )
        if model is None or isinstance(model, str):
            with PageIndex.open(path, read_only=True) as probe:
                model = model_for_index(probe.fingerprint(), model, path)
        store = PageIndex.open(path, model.fingerprint(), read_only=read_only)
        return cls(model, store, **defaults)

    @classmethod
    def from_pdfs(
        cls,
        folder: str | Path,
        *,
        index: str | Path,
        model: MetaEmbed | str | None = None,
        dtype: str = "bf16",
        show_progress_bar: bool = True,
        index_options: Mapping[str, Any] | None = None,
        **defaults: Any,
    ) -> Retriever:
        """Index the PDFs (and images) under ``folder`` into ``index`` (created if missing), then
        open it for search. Indexing is incremental: unchanged files are skipped, changed ones
        replaced, an interrupted run resumed. ``index_options`` go to
        :func:`metaembed_rag.pipeline.index_folder` (``include``, ``exclude``, ``password``,
        ``sync``, ``renderer``, ``dpi``, ``batch_size``, ``commit_every``, ...); the report of the
        run is kept as :attr:`last_report`."""
        from .index import PageIndex

        folder = Path(folder)
        if not folder.exists():
            raise FileNotFoundError(f"{folder} does not exist; pass the folder that holds your PDFs")
        path = Path(index)
        if model is None and PageIndex.exists(path):  # an existing index keeps the model it records
            with PageIndex.open(path, read_only=True) as probe:
                model = model_for_index(probe.fingerprint(), None, path)
        elif model is None or isinstance(model, str):
            model = load_shared_model(model)
        store = PageIndex.open(path, model, create=True, dtype=dtype)  # records how to reload the model
        retriever = cls(model, store, **defaults)
        try:
            retriever.add(folder, show_progress_bar=show_progress_bar, **dict(index_options or {}))
        except BaseException:
            store.close()
            raise
        return retriever

    def with_options(self, **changes: Any) -> Retriever:
        """A retriever with other defaults (``budget=(16, 64)``, ``k=10``, ...) that shares this
        one's model, store and lock: no reload, no second copy of anything."""
        unknown = set(changes) - {"budget", "k", "filter", "hybrid", "alpha", "rerank_from", "min_score"}
        if unknown:
            raise TypeError(f"unknown retriever options {sorted(unknown)}")
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        checks = {"budget": self._budget, "k": _check_k, "hybrid": _check_hybrid,
                  "min_score": _check_min_score, "filter": lambda f: dict(f) if f else None}
        for name, value in changes.items():
            setattr(clone, name, checks.get(name, lambda v: v)(value))
        return clone

    # -- keeping the index current ------------------------------------------------------------
    def add(self, paths: str | Path | Iterable[str | Path], *, show_progress_bar: bool = True,
            **index_options: Any) -> IngestReport:
        """Index a folder, or a list of folders, incrementally; return the ingestion report.
        Needs a :class:`~metaembed_rag.index.PageIndex` store."""
        from .pipeline import IngestReport, index_folder

        folders = [paths] if isinstance(paths, (str, Path)) else list(paths)
        total = IngestReport()
        with self._lock:
            for folder in folders:
                report = index_folder(folder, self.store, self.model,  # type: ignore[arg-type]
                                      show_progress_bar=show_progress_bar, **index_options)
                total.files += report.files
                total.pages_added += report.pages_added
                total.pages_skipped += report.pages_skipped
                total.pages_removed += report.pages_removed
                total.seconds += report.seconds
        self.last_report = total
        return total

    def delete(self, *, doc_id: str | None = None, page_ids: Sequence[str] | None = None,
               filter: Filter | None = None) -> int:
        """Delete one document's pages, the given pages, or those matching ``filter``; return the
        number deleted."""
        with self._lock:
            return self.store.delete(doc_id=doc_id, page_ids=page_ids, filter=filter)

    def __len__(self) -> int:
        return len(self.store)

    def __contains__(self, page_id: object) -> bool:
        """Whether ``page_id`` names a page stored in this index (rerankers use it to tell this
        index's pages, scored with their stored vectors, from other text, which is encoded)."""
        if not isinstance(page_id, str):
            return False
        with self._lock:
            return self.store.get(page_id) is not None

    def close(self) -> None:
        """Close the store. The model stays loaded for other retrievers."""
        close = getattr(self.store, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Retriever:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Retriever(model={self.model.config.name!r}, store={self.store!r}, budget={self.budget}, "
                f"k={self.k}, hybrid={self.hybrid!r})")

    # -- searching ---------------------------------------------------------------------------
    def search(
        self,
        query: QueryLike,
        *,
        budget: BudgetLike | None = None,
        k: int | None = None,
        filter: Filter | None = None,
        hybrid: str | None = None,
        min_score: float | None = None,
        rerank_from: int | None = None,
    ) -> list[RetrievedPage]:
        """The best ``k`` pages for ``query`` at ``budget``, best first (``[]`` for an empty index).

        Every argument left as None takes the retriever's default. ``filter`` is a metadata filter
        (:mod:`metaembed_rag.index.filters`), ``hybrid`` fuses with BM25 over the page text
        (``"rrf"`` or ``"score"``; text queries only), ``min_score`` drops hits whose
        ``normalized_score`` is lower. Bad input raises ``ValueError``/``TypeError`` before any work.
        """
        budget = self._budget(budget) if budget is not None else self.budget
        k = _check_k(k) if k is not None else self.k
        hybrid = _check_hybrid(hybrid) if hybrid is not None else self.hybrid
        min_score = _check_min_score(min_score) if min_score is not None else self.min_score
        filter = dict(filter) if filter is not None else self.filter
        rerank_from = rerank_from if rerank_from is not None else self.rerank_from
        item = self._query_input(query)
        if hybrid and not isinstance(item, str):
            raise ValueError("hybrid search fuses with BM25 over the page text, so it needs a text query")
        with self._lock:
            if len(self.store) == 0:
                return []
            if hybrid:
                hits = self._hybrid(item, budget, k, filter, hybrid)  # type: ignore[arg-type]
            else:
                vectors = self.model.encode_queries([item], budget=budget)[0]
                hits = self.store.search(vectors, budget, k, filter, rerank_from=rerank_from)
        pages = [_page(hit, budget) for hit in hits]  # type: ignore[arg-type]
        if min_score is not None:
            pages = [p for p in pages if p.normalized_score is not None and p.normalized_score >= min_score]
        return [replace(p, rank=rank) for rank, p in enumerate(pages, 1)]

    async def asearch(self, query: QueryLike, **options: Any) -> list[RetrievedPage]:
        """:meth:`search` in a worker thread, so the event loop keeps running while it works."""
        return await asyncio.to_thread(self.search, query, **options)

    def score(self, query: QueryLike, documents: Sequence[Any], *, budget: BudgetLike | None = None,
              ) -> list[float]:
        """Normalised MaxSim scores (÷ r_q) of ``query`` against ``documents`` encoded now: texts,
        images or ``(image, text)`` pairs, or page ids of this index (their stored vectors are used).
        For rerankers over another retriever's results."""
        import torch

        from .scoring import maxsim

        budget = self._budget(budget) if budget is not None else self.budget
        item = self._query_input(query)
        if not documents:
            return []
        with self._lock:
            q = self.model.encode_queries([item], budget=budget)
            stored = [self._stored_vectors(d) if isinstance(d, str) else None for d in documents]
            fresh = [i for i, s in enumerate(stored) if s is None]
            if fresh:
                encoded = self.model.encode_documents([documents[i] for i in fresh], budget=budget)
                for i, vectors in zip(fresh, encoded, strict=True):
                    stored[i] = vectors
        candidates = torch.stack([s[: budget.r_c] for s in stored])  # type: ignore[index]
        scores = maxsim(q, candidates, budget)[0] / budget.r_q
        return [float(s) for s in scores]

    # -- internals ---------------------------------------------------------------------------
    def _stored_vectors(self, text_or_id: str) -> Any:
        """The stored vectors of page id ``text_or_id``, or None when it is not one (it is text)."""
        stored = self.store.get(text_or_id, with_vectors=True)
        return None if stored is None else stored.vectors

    def _budget(self, budget: BudgetLike | None) -> Budget:
        """``budget`` checked against the model; None is the full budget."""
        return self.model.budget(budget)

    def _query_input(self, query: QueryLike) -> Any:
        """Check a query and turn it into what the encoder reads (str, PIL image or pair)."""
        if isinstance(query, str):
            if not query.strip():
                raise ValueError("the query is empty; pass a question or keywords")
            return query
        if isinstance(query, tuple) and len(query) == 2:
            image, text = query
            if not isinstance(text, str) or not text.strip():
                raise ValueError("an (image, text) query needs a non-empty text")
            return (self._image(image), text)
        if query is None:
            raise TypeError("the query is None; pass text, a page image or an (image, text) pair")
        return self._image(query)

    def _image(self, image: Any) -> Image.Image:
        if not self.model.adapter.reads_images:
            raise ValueError(
                f"the model {self.model.config.name!r} ({self.model.config.family}) reads text only, so it "
                "cannot search by image; image queries need a vision-language model (Qwen2-VL, Qwen2.5-VL)"
            )
        if isinstance(image, Image.Image):
            return image
        if isinstance(image, (bytes, bytearray)):
            source: Any = io.BytesIO(image)
        elif isinstance(image, Path):
            if not image.is_file():
                raise FileNotFoundError(f"query image {image} does not exist")
            source = image
        else:
            raise TypeError(
                f"cannot search with a {type(image).__name__}: pass text (str), an image (PIL image, "
                "pathlib.Path or bytes) or an (image, text) pair"
            )
        try:
            opened = Image.open(source)
            opened.load()
        except (OSError, Image.DecompressionBombError) as error:
            raise ValueError(f"the query image cannot be read: {error}") from None
        return opened.convert("RGB")

    def _hybrid(
        self, query: str, budget: Budget, k: int, filter: Filter | None, mode: str
    ) -> list[SearchHit]:
        from .hybrid import hybrid_search

        return hybrid_search(self.store, self.model, query, budget=budget, k=k, fusion=mode,
                             filter=filter, alpha=self.alpha)


def _page(hit: SearchHit, budget: Budget) -> RetrievedPage:
    meta = dict(hit.metadata)
    detail = meta.get("hybrid")
    dense = detail.get("dense_score") if detail else hit.score
    image = meta.get("image_path")
    return RetrievedPage(
        page_id=hit.page_id,
        score=float(hit.score),
        normalized_score=None if dense is None else float(dense) / budget.r_q,
        rank=hit.rank,
        budget=budget,
        source=meta.get("source"),
        page=meta.get("page"),
        text=str(meta.get("text") or ""),
        image_path=None if image is None else Path(image),
        metadata=meta,
    )


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    return k


def _check_hybrid(mode: str | None) -> str | None:
    if mode is not None and mode not in HYBRID_MODES:
        raise ValueError(f"hybrid must be one of {HYBRID_MODES} or None, got {mode!r}")
    return mode


def _check_min_score(value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -1.0 <= value <= 1.0:
        raise ValueError(
            f"min_score is a normalised score (MaxSim ÷ r_q) in [-1, 1], got {value!r}"
        )
    return float(value)
