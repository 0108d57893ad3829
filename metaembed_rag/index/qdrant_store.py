"""QdrantStore: the :class:`~metaembed_rag.index.base.VectorStore` operations on a Qdrant collection.

Each page is one point (id ``uuid5(page_id)``) with one named vector per stored candidate level
``r_c``: ``"c1"`` is a plain dense vector (the first candidate vector) and every other level
``"c<r>"`` is a multivector (``MAX_SIM`` comparator, ``DOT`` distance, no HNSW graph) holding the
first ``r`` candidate vectors. By default the levels are the ``r_c`` of the standard budget ladder
(1, 4, 8, 16, 64). Qdrant's ``MAX_SIM`` with ``DOT`` is ``Σ_i max_j ⟨q_i, c_j⟩``, exactly our
:func:`~metaembed_rag.scoring.maxsim`; at ``r_c = 1`` the score ``Σ_i ⟨q_i, c_0⟩`` is one dot
product with the summed query vectors, so ``"c1"`` serves every budget ``(r_q, 1)``.

A search at budget ``(r_q, r_c)`` queries level ``"c<r_c>"`` with the first ``r_q`` query vectors,
exhaustively; with ``rerank_from=M`` it is a Query API call that prefetches the top ``M`` at the
cheap ``first_stage`` level and re-scores them with MaxSim at the budget's level. The model
fingerprint and levels are kept in the collection's metadata. Page images are not stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from qdrant_client import QdrantClient, models

from ..budget import Budget, BudgetLike, ladder_for
from .base import (
    AddResult,
    Batch,
    Filter,
    ImageLike,
    PageIndexError,
    SearchHit,
    StoredPage,
    VectorsLike,
    check_fingerprint,
    fingerprint_of,
)
from .filters import BUILTIN_KINDS, check_filter, value_kind
from .qdrant_filters import to_qdrant_filter
from .qdrant_points import PAYLOAD_INDEXES, level_name, point_id, stored_page, to_point, vectors_config
from .records import IngestBatch, as_vectors, iter_batches

__all__ = ["QdrantStats", "QdrantStore"]

# Bytes per stored coordinate for Qdrant's vector datatypes (None is Qdrant's default, float32).
_DATATYPE_BYTES = {None: 4, "float32": 4, "float16": 2, "uint8": 1}


@dataclass(frozen=True)
class QdrantStats:
    """Sizes of a QdrantStore collection. ``bytes_per_budget[str(budget)]`` is
    ``pages * r_c * D * bytes per coordinate``: the stored level a search at that ladder budget
    reads. ``vector_bytes`` counts every level once (Qdrant's own overhead not included)."""

    pages: int
    dim: int
    levels: tuple[int, ...]
    datatype: str
    vector_bytes: int
    bytes_per_budget: dict[str, int]

_META_FINGERPRINT = "metaembed_fingerprint"
_META_LEVELS = "metaembed_levels"
_SCROLL_PAGE = 1000


class QdrantStore:
    """MetaEmbed page vectors in a Qdrant collection. Works with any ``QdrantClient``: in memory
    (``":memory:"``), local files (``path=``) or a server or cluster (``url=``, ``api_key=``).

    ``QdrantStore(client, collection, fingerprint=fp)`` opens the collection if it exists
    (checking ``fp`` when given) and otherwise, with ``create=True``, creates it for ``fp``.
    :meth:`create` and :meth:`open` are the strict forms, like ``PageIndex``'s.
    """

    def __init__(
        self,
        client: QdrantClient,
        collection: str,
        *,
        fingerprint: Mapping[str, Any] | Any | None = None,
        create: bool = True,
        levels: Sequence[int] | None = None,
        on_disk: bool = False,
        shard_number: int | None = None,
        replication_factor: int | None = None,
    ) -> None:
        self.client = client
        self.collection = collection
        # Local mode (":memory:" or path=) always scores exhaustively and has no payload indexes;
        # it warns when asked for either, so they are only requested from a server.
        self._local = type(getattr(client, "_client", None)).__name__ == "QdrantLocal"
        given = None if fingerprint is None else json.loads(json.dumps(fingerprint_of(fingerprint)))
        if not client.collection_exists(collection):
            if not create or given is None:
                raise FileNotFoundError(
                    f"no Qdrant collection {collection!r}; create one with "
                    f"QdrantStore.create(client, {collection!r}, fingerprint=model.fingerprint())"
                )
            self._create(given, levels, on_disk, shard_number, replication_factor)
        meta = client.get_collection(collection).config.metadata or {}
        try:
            self._fingerprint: dict[str, Any] = json.loads(meta[_META_FINGERPRINT])
            self.levels: tuple[int, ...] = tuple(sorted(int(r) for r in meta[_META_LEVELS]))
        except (KeyError, TypeError, ValueError):
            raise PageIndexError(
                f"Qdrant collection {collection!r} was not created by QdrantStore (its metadata "
                f"lacks {_META_FINGERPRINT!r}/{_META_LEVELS!r})"
            ) from None
        if given is not None:
            check_fingerprint(self._fingerprint, given, f"Qdrant collection {collection!r}")
        self.dim: int = self._fingerprint["dim"]
        self.num_query_tokens: int = self._fingerprint["num_query_tokens"]
        self.num_candidate_tokens: int = self._fingerprint["num_candidate_tokens"]

    def _create(
        self,
        fp: dict[str, Any],
        levels: Sequence[int] | None,
        on_disk: bool,
        shard_number: int | None,
        replication_factor: int | None,
    ) -> None:
        r_c_max = fp["num_candidate_tokens"]
        if levels is None:
            levels = [b.r_c for b in ladder_for(fp["num_query_tokens"], r_c_max)]
        bad = [r for r in levels if isinstance(r, bool) or not isinstance(r, int) or not 1 <= r <= r_c_max]
        if bad:
            raise ValueError(f"levels must be ints in 1..{r_c_max} (num_candidate_tokens), got {bad}")
        # c1 serves the default first stage; the full level serves get(..., with_vectors=True).
        wanted = sorted({1, r_c_max, *levels})
        self.client.create_collection(
            self.collection,
            vectors_config=vectors_config(fp["dim"], wanted, on_disk),
            shard_number=shard_number,
            replication_factor=replication_factor,
            metadata={_META_FINGERPRINT: json.dumps(fp), _META_LEVELS: wanted},
        )
        for key, schema in () if self._local else PAYLOAD_INDEXES:
            self.client.create_payload_index(self.collection, key, schema)

    @classmethod
    def create(
        cls, client: QdrantClient, collection: str, *, fingerprint: Mapping[str, Any] | Any, **options: Any
    ) -> QdrantStore:
        """Create a new collection for the model ``fingerprint``; fails if it exists. ``options``:
        ``levels``, ``on_disk``, ``shard_number``, ``replication_factor`` (see the class)."""
        if client.collection_exists(collection):
            raise FileExistsError(
                f"Qdrant collection {collection!r} exists; open it with QdrantStore.open(client, "
                f"{collection!r})"
            )
        return cls(client, collection, fingerprint=fingerprint, create=True, **options)

    @classmethod
    def open(
        cls, client: QdrantClient, collection: str, fingerprint: Mapping[str, Any] | Any | None = None
    ) -> QdrantStore:
        """Open an existing collection, checking ``fingerprint`` (a dict or the model) when given."""
        return cls(client, collection, fingerprint=fingerprint, create=False)

    def __repr__(self) -> str:
        name = self._fingerprint["name"]
        return f"QdrantStore({self.collection!r}, levels={list(self.levels)}, model={name!r})"

    def fingerprint(self) -> dict[str, Any]:
        """The fingerprint of the model the collection was built with."""
        return dict(self._fingerprint)

    # -- writing ----------------------------------------------------------------------------------
    def add(
        self,
        vectors: VectorsLike | Iterable[Batch],
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        images: Sequence[ImageLike | None] | None = None,
        *,
        commit_every: int | None = None,
    ) -> AddResult:
        """Add pages as :meth:`PageIndex.add <metaembed_rag.index.PageIndex.add>` does: pages stored
        with the same ``content_hash`` are skipped, changed ones replaced. Each batch is one upsert
        (``commit_every`` is accepted for the protocol and ignored). Images are not supported."""
        return self._ingest(vectors, metadatas, images, replace_unchanged=False)

    def upsert(
        self,
        vectors: VectorsLike | Iterable[Batch],
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        images: Sequence[ImageLike | None] | None = None,
        *,
        commit_every: int | None = None,
    ) -> AddResult:
        """Like :meth:`add`, but stored pages are always replaced, even with the same content hash."""
        return self._ingest(vectors, metadatas, images, replace_unchanged=True)

    def _ingest(
        self,
        vectors: VectorsLike | Iterable[Batch],
        metadatas: Sequence[Mapping[str, Any]] | None,
        images: Sequence[ImageLike | None] | None,
        *,
        replace_unchanged: bool,
    ) -> AddResult:
        result = AddResult()
        for batch in iter_batches(vectors, metadatas, images, (self.num_candidate_tokens, self.dim)):
            result += self._commit(batch, replace_unchanged)
        return result

    def _commit(self, batch: IngestBatch, replace_unchanged: bool) -> AddResult:
        if any(im is not None for im in batch.images):
            raise ValueError("QdrantStore does not store page images; pass images=None")
        ids = [r.page_id for r in batch.records]
        if len(set(ids)) != len(ids):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"page_id(s) {dupes[:5]} appear more than once in one commit")
        existing = {
            p.payload["page_id"]: p.payload.get("content_hash")
            for p in self.client.retrieve(
                self.collection, [point_id(i) for i in ids], with_payload=["page_id", "content_hash"]
            )
            if p.payload
        }
        keep = [
            i
            for i, r in enumerate(batch.records)
            if replace_unchanged or existing.get(r.page_id) != r.content_hash
        ]
        skipped = len(ids) - len(keep)
        if not keep:
            return AddResult(skipped=skipped)
        points = [to_point(batch.records[i], batch.vectors[i], self.levels) for i in keep]
        self.client.upsert(self.collection, points, wait=True)
        replaced = sum(batch.records[i].page_id in existing for i in keep)
        return AddResult(added=len(keep) - replaced, skipped=skipped, replaced=replaced, commits=1)

    def delete(
        self,
        *,
        doc_id: str | None = None,
        page_ids: Sequence[str] | None = None,
        filter: Filter | None = None,
    ) -> int:
        """Delete one document's pages, the given pages, or those matching a filter; return how many."""
        if sum(x is not None for x in (doc_id, page_ids, filter)) != 1:
            raise TypeError("delete takes exactly one of doc_id=, page_ids= or filter=")
        if isinstance(page_ids, str):
            raise TypeError("page_ids must be a list of page ids, not a single string")
        if page_ids is not None:
            found = self.client.retrieve(self.collection, [point_id(p) for p in set(page_ids)])
            ids = [p.id for p in found]
        else:
            if filter is not None and not filter:
                raise ValueError("delete(filter={}) would delete every page; give at least one condition")
            qfilter = to_qdrant_filter({"doc_id": doc_id} if filter is None else filter)
            ids = [p.id for p in self._scroll(qfilter)]
        if ids:
            self.client.delete(self.collection, models.PointIdsList(points=ids), wait=True)
        return len(ids)

    # -- reading ----------------------------------------------------------------------------------
    def _scroll(self, qfilter: models.Filter | None, with_payload: bool = False) -> list[models.Record]:
        out: list[models.Record] = []
        offset: Any = None
        while True:
            points, offset = self.client.scroll(
                self.collection, qfilter, limit=_SCROLL_PAGE, offset=offset, with_payload=with_payload
            )
            out.extend(points)
            if offset is None:
                return out

    def _budget(self, budget: BudgetLike, queries: torch.Tensor) -> Budget:
        b = Budget.parse(budget).validate(self.num_query_tokens, self.num_candidate_tokens)
        if b.r_q > queries.shape[1]:
            raise ValueError(f"budget {b} uses {b.r_q} query vectors but the queries have {queries.shape[1]}")
        if b.r_c not in self.levels:
            raise ValueError(
                f"budget {b} needs r_c={b.r_c} candidate vectors, but this Qdrant collection stores the "
                f"levels r_c in {list(self.levels)}; use one of those or create the collection with "
                f"levels=[..., {b.r_c}]"
            )
        return b

    def _query(self, q: torch.Tensor, b: Budget) -> tuple[list[float] | list[list[float]], str]:
        """The Qdrant query for one ``[R_q, D]`` query at budget ``b``, and the vector name to use."""
        if b.r_c == 1:  # Σ_i ⟨q_i, c_0⟩ = ⟨Σ_i q_i, c_0⟩
            return q[: b.r_q].double().sum(0).tolist(), level_name(1)
        return q[: b.r_q].tolist(), level_name(b.r_c)

    def search(
        self,
        queries: VectorsLike,
        budget: BudgetLike | None = None,
        k: int = 10,
        filter: Filter | None = None,
        *,
        rerank_from: int | None = None,
        first_stage: BudgetLike = (1, 1),
    ) -> list[SearchHit] | list[list[SearchHit]]:
        """Top-``k`` pages by MaxSim at ``budget`` (default: every query vector, all ``R_c``), as
        :meth:`PageIndex.search <metaembed_rag.index.PageIndex.search>`. Without ``rerank_from`` the
        search is exact; with it, Qdrant prefetches the top ``rerank_from`` at ``first_stage`` and
        re-scores them at ``budget``. Both budgets' ``r_c`` must be stored levels."""
        single = getattr(queries, "ndim", None) == 2
        q = as_vectors(queries, (-1, self.dim) if single else (-1, -1, self.dim), "queries").float()
        q = q.unsqueeze(0) if single else q
        full = self._budget(budget if budget is not None else (q.shape[1], self.num_candidate_tokens), q)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        if rerank_from is not None and (
            isinstance(rerank_from, bool) or not isinstance(rerank_from, int) or rerank_from < k
        ):
            raise ValueError(f"rerank_from must be an int >= k ({k}), got {rerank_from!r}")
        first = self._budget(first_stage, q)
        qfilter = to_qdrant_filter(filter)
        requests = []
        for one in q:
            query, using = self._query(one, full)
            prefetch = None
            if rerank_from is not None:
                pre_query, pre_using = self._query(one, first)
                prefetch = models.Prefetch(
                    query=pre_query, using=pre_using, limit=rerank_from, filter=qfilter
                )
            requests.append(
                models.QueryRequest(
                    query=query,
                    using=using,
                    prefetch=prefetch,
                    filter=qfilter,
                    limit=k,
                    params=None if prefetch is not None or self._local else models.SearchParams(exact=True),
                    with_payload=True,
                )
            )
        responses = self.client.query_batch_points(self.collection, requests)
        hits = [
            [
                SearchHit(p.payload["page_id"], float(p.score), stored_page(p.payload).metadata(), rank)
                for rank, p in enumerate(resp.points, 1)
                if p.payload is not None
            ]
            for resp in responses
        ]
        if filter and not all(hits):  # nothing matched: say so if the filter names what no page holds
            check_filter(filter, self.fields())
        return hits[0] if single else hits

    def fields(self) -> dict[str, set[str]]:
        """Every field a filter can name, with the kinds of value the pages hold there, as
        :meth:`PageIndex.fields <metaembed_rag.index.PageIndex.fields>`. It reads every payload, so
        :meth:`search` consults it only when a filtered search finds nothing."""
        kinds: dict[str, set[str]] = {key: set(held) for key, held in BUILTIN_KINDS.items()}
        for point in self._scroll(None, with_payload=True):
            for key, value in ((point.payload or {}).get("fields") or {}).items():
                kinds.setdefault(key, set()).add(value_kind(value))
        return kinds

    def get(self, page_id: str, *, with_vectors: bool = False) -> StoredPage | None:
        """The stored page, with its ``[R_c, D]`` fp32 vectors if ``with_vectors``; None if absent."""
        full = level_name(self.num_candidate_tokens)
        found = self.client.retrieve(
            self.collection,
            [point_id(page_id)],
            with_payload=True,
            with_vectors=[full] if with_vectors else False,
        )
        if not found or found[0].payload is None:
            return None
        page = stored_page(found[0].payload)
        if with_vectors:
            vec = found[0].vector
            assert isinstance(vec, dict)
            page = replace(page, vectors=torch.tensor(vec[full], dtype=torch.float32))
        return page

    def pages(self, filter: Filter | None = None) -> list[StoredPage]:
        """Every stored page (metadata only), or those matching ``filter``."""
        return [stored_page(p.payload) for p in self._scroll(to_qdrant_filter(filter), True) if p.payload]

    def has(self, page_id: str, content_hash: str | None = None) -> bool:
        """Whether ``page_id`` is stored (with ``content_hash``, if given)."""
        found = self.client.retrieve(self.collection, [point_id(page_id)], with_payload=["content_hash"])
        stored = (found[0].payload or {}).get("content_hash") if found else None
        return bool(found) and (content_hash is None or stored == content_hash)

    def __contains__(self, page_id: object) -> bool:
        return isinstance(page_id, str) and self.has(page_id)

    def __len__(self) -> int:
        return self.client.count(self.collection, exact=True).count

    def stats(self) -> QdrantStats:
        """Page count, stored levels, and vector bytes in all and per ladder budget."""
        params = self.client.get_collection(self.collection).config.params.vectors
        assert isinstance(params, dict)
        datatypes = {getattr(params[level_name(r)].datatype, "value", None) for r in self.levels}
        datatype = next(iter(datatypes))
        if len(datatypes) != 1 or datatype not in _DATATYPE_BYTES:
            found = sorted(map(str, datatypes))
            raise PageIndexError(f"Qdrant collection {self.collection!r} has vector datatypes {found}")
        pages = len(self)
        per_vector = self.dim * _DATATYPE_BYTES[datatype]
        return QdrantStats(
            pages=pages,
            dim=self.dim,
            levels=self.levels,
            datatype=datatype or "float32",
            vector_bytes=pages * sum(self.levels) * per_vector,
            bytes_per_budget={
                str(b): pages * b.r_c * per_vector
                for b in ladder_for(self.num_query_tokens, self.num_candidate_tokens)
                if b.r_c in self.levels
            },
        )

    def close(self) -> None:
        """Nothing to release: the client belongs to the caller, who closes it."""
