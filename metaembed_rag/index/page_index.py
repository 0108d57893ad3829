"""PageIndex: the embedded, on-disk store of MetaEmbed page vectors, metadata and page images.

Layout of an index directory::

    manifest.sqlite      settings, model fingerprint, segments, one row per live page (WAL mode)
    segments/*.safetensors  immutable vector segments, memory-mapped for search
    images/<sha256>.png  page images, content-addressed
    write.lock           serialises writers across processes (flock)

Writes are atomic and crash-safe, readers see consistent snapshots while a writer commits,
and files a crashed writer left behind are removed on the next ``open``: see :mod:`.storage`.
Creation is atomic too (``manifest.sqlite`` appears last and whole): see :mod:`.creating`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..budget import Budget, BudgetLike, ladder_for
from .base import (
    AddResult,
    Batch,
    Filter,
    ImageLike,
    IndexBeingCreatedError,
    IndexCorruptError,
    SearchHit,
    StoredPage,
    VectorsLike,
    check_fingerprint,
    fingerprint_of,
)
from .creating import build_index_files, interrupted_creation
from .filters import check_filter, compile_filter
from .manifest import FORMAT_VERSION, MANIFEST_NAME, Manifest, in_clauses
from .quantize import CODECS, canonical_dtype, get_codec
from .records import IngestBatch, as_vectors, iter_batches
from .search import Scorer
from .storage import CompactResult, Storage
from .summary import field_kinds

__all__ = ["CompactResult", "IndexStats", "PageIndex"]


@dataclass(frozen=True)
class IndexStats:
    """Sizes of an index. ``bytes_per_budget[dtype][str(budget)]`` is ``N * r_c * bytes per vector``,
    the candidate storage a search at that budget reads, for every storage dtype."""

    pages: int
    segments: int
    dead_rows: int
    dtype: str
    dim: int
    num_candidate_tokens: int
    bytes_on_disk: int
    vector_bytes: int
    image_bytes: int
    bytes_per_budget: dict[str, dict[str, int]]


class PageIndex:
    """Embedded on-disk index of page vectors. Build with :meth:`create`, reopen with :meth:`open`.

    Any number of processes may open the same index; writes are serialised between them, and
    readers see the last committed state. One ``PageIndex`` object may be shared by threads, but
    its calls run one at a time; open one per thread to search in parallel. POSIX only (``flock``).
    """

    def __init__(self, path: Path, manifest: Manifest, *, read_only: bool = False) -> None:
        """Internal; use :meth:`create` or :meth:`open`."""
        self.path = path
        meta = manifest.get_meta()
        try:
            version = int(meta["format_version"])
            self._fingerprint: dict[str, Any] = json.loads(meta["fingerprint"])
            self.dtype: str = canonical_dtype(meta["dtype"])
        except (KeyError, ValueError) as exc:
            raise IndexCorruptError(f"the manifest {manifest.path} lacks valid settings ({exc!r})") from None
        if version > FORMAT_VERSION:
            raise IndexCorruptError(
                f"the index at {path} has format version {version}; this metaembed-rag reads up to "
                f"{FORMAT_VERSION}. Upgrade metaembed-rag."
            )
        self._codec = get_codec(self.dtype)
        self.dim: int = self._fingerprint["dim"]
        self.num_query_tokens: int = self._fingerprint["num_query_tokens"]
        self.num_candidate_tokens: int = self._fingerprint["num_candidate_tokens"]
        self._store = Storage(path, manifest, self._codec, self.dtype, read_only=read_only)
        self._manifest = manifest
        self._fields: tuple[int, dict[str, set[str]]] | None = None  # (generation, fields)

    # -- creating and opening ---------------------------------------------------------------------
    @classmethod
    def create(
        cls, path: str | Path, *, fingerprint: Mapping[str, Any] | Any, dtype: str = "bf16"
    ) -> PageIndex:
        """Create an empty index at ``path`` (a new or empty directory) for the model ``fingerprint``
        (a dict or the model itself), storing vectors as ``dtype``: bf16, fp16, fp32, int8 or 1bit."""
        path = Path(path)
        fp = json.loads(json.dumps(fingerprint_of(fingerprint)))
        dtype = canonical_dtype(dtype)
        settings = {"format_version": str(FORMAT_VERSION), "fingerprint": json.dumps(fp), "dtype": dtype}
        build_index_files(path, settings)  # atomic: readers see no index or an empty, whole one
        return cls.open(path)

    @staticmethod
    def exists(path: str | Path) -> bool:
        """Whether ``path`` holds an index (a finished one: its creation is atomic)."""
        return (Path(path) / MANIFEST_NAME).is_file()

    @classmethod
    def open(
        cls,
        path: str | Path,
        fingerprint: Mapping[str, Any] | Any | None = None,
        *,
        verify: bool = False,
        read_only: bool = False,
        create: bool = False,
        dtype: str = "bf16",
    ) -> PageIndex:
        """Open the index at ``path``.

        ``fingerprint`` (a dict or the model) is checked against the one the index was built with.
        Every segment's size and header is checked against the manifest; ``verify=True`` also checks
        every segment's SHA-256 (reads the whole index). ``read_only`` refuses writes and leaves
        files of crashed writers alone. ``create=True`` creates the index (for ``fingerprint``,
        storing ``dtype``) when there is none yet, so the same code runs the first time and after.
        """
        path = Path(path)
        if not (path / MANIFEST_NAME).is_file():
            if create and fingerprint is not None and not read_only:
                try:
                    return cls.create(path, fingerprint=fingerprint, dtype=dtype)
                except FileExistsError:
                    if not (path / MANIFEST_NAME).is_file():  # not another process that won the race
                        raise
                return cls.open(path, fingerprint, verify=verify)
            if create:
                raise ValueError("open(create=True) needs the model (fingerprint) and read_only=False")
            if interrupted_creation(path):
                raise IndexBeingCreatedError(
                    f"no PageIndex at {path} yet: it is being created, or its creation was "
                    "interrupted (then create it again: PageIndex.create cleans up)"
                )
            raise FileNotFoundError(
                f"no PageIndex at {path} ({MANIFEST_NAME} is missing); create one with "
                "PageIndex.create(path, fingerprint=model) or PageIndex.open(path, model, create=True)"
            )
        manifest = Manifest(path / MANIFEST_NAME)
        try:
            index = cls(path, manifest, read_only=read_only)
        except BaseException:
            manifest.close()
            raise
        try:
            if fingerprint is not None:
                given = json.loads(json.dumps(fingerprint_of(fingerprint)))
                check_fingerprint(index._fingerprint, given, str(path))
            if not read_only:
                index._store.remove_orphans()
            index._store.check(verify)
        except BaseException:
            index.close()
            raise
        return index

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> PageIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PageIndex({str(self.path)!r}, dtype={self.dtype!r}, model={self._fingerprint['name']!r})"

    def fingerprint(self) -> dict[str, Any]:
        """The fingerprint of the model the index was built with (a method, like the model's)."""
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
        """Add pages: ``vectors [B, R_c, D]`` with one metadata dict per page, or an iterable of
        ``(vectors, metadatas[, images])`` batches, streamed and committed as they come.

        Metadata keys ``page_id`` (required), ``doc_id``, ``source``, ``page`` and ``content_hash``
        are columns; any other JSON-serialisable key is a user field, filterable like the columns.
        Without ``content_hash`` a hash of the vectors is used. A page whose ``page_id`` is stored
        with the same content hash is skipped; with a different hash it is replaced (vectors,
        metadata and image). ``commit_every=n`` groups batches into commits of at least ``n``
        pages; by default every batch is its own commit, so a failure loses at most one batch.
        """
        return self._ingest(vectors, metadatas, images, commit_every, replace_unchanged=False)

    def upsert(
        self,
        vectors: VectorsLike | Iterable[Batch],
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        images: Sequence[ImageLike | None] | None = None,
        *,
        commit_every: int | None = None,
    ) -> AddResult:
        """Like :meth:`add`, but a stored page is always replaced, even with the same content hash
        (to update its metadata or image)."""
        return self._ingest(vectors, metadatas, images, commit_every, replace_unchanged=True)

    def _ingest(
        self,
        vectors: VectorsLike | Iterable[Batch],
        metadatas: Sequence[Mapping[str, Any]] | None,
        images: Sequence[ImageLike | None] | None,
        commit_every: int | None,
        *,
        replace_unchanged: bool,
    ) -> AddResult:
        if commit_every is not None and (isinstance(commit_every, bool) or commit_every < 1):
            raise ValueError(f"commit_every must be a positive number of pages, got {commit_every!r}")
        shape = (self.num_candidate_tokens, self.dim)
        result = AddResult()
        pending: list[IngestBatch] = []
        for batch in iter_batches(vectors, metadatas, images, shape):
            pending.append(batch)
            if commit_every is None or sum(map(len, pending)) >= commit_every:
                result += self._store.commit(pending, replace_unchanged)
                pending = []
        if pending:
            result += self._store.commit(pending, replace_unchanged)
        return result

    def delete(
        self,
        *,
        doc_id: str | None = None,
        page_ids: Sequence[str] | None = None,
        filter: Filter | None = None,
    ) -> int:
        """Delete the pages of one document, the given pages, or those matching a filter; return how
        many were deleted. Their vectors become tombstones until :meth:`compact`."""
        if sum(x is not None for x in (doc_id, page_ids, filter)) != 1:
            raise TypeError("delete takes exactly one of doc_id=, page_ids= or filter=")
        if isinstance(page_ids, str):
            raise TypeError("page_ids must be a list of page ids, not a single string")
        if doc_id is not None:
            clauses = [("doc_id = ?", [doc_id])]
        elif page_ids is not None:
            clauses = in_clauses("page_id", list(page_ids))
        else:
            if not filter:  # an empty filter matches everything: never a delete-all by accident
                raise ValueError("delete(filter={}) would delete every page; give at least one condition")
            check_filter(filter, self.fields())
            clauses = [compile_filter(filter)]
        return self._store.delete(clauses)

    def compact(self) -> CompactResult:
        """Rewrite live rows into new segments and drop tombstones and the old segments, atomically.
        Stored codes are copied as they are, so search results do not change."""
        return self._store.compact(self.num_candidate_tokens * self._codec.bytes_per_vector(self.dim))

    def verify(self) -> None:
        """Check every segment's SHA-256 against the manifest; raise :class:`IndexCorruptError`."""
        self._store.check(verify=True)

    # -- reading ----------------------------------------------------------------------------------
    def _stored_page(self, row: tuple[Any, ...]) -> StoredPage:
        _, page_id, doc_id, source, page, content_hash, fields, image, _, _ = row
        return StoredPage(
            page_id, doc_id, source, page, content_hash, json.loads(fields),
            None if image is None else self.path / "images" / image,
        )  # fmt: skip

    def search(
        self,
        queries: VectorsLike,
        budget: BudgetLike | None = None,
        k: int = 10,
        filter: Filter | None = None,
        *,
        rerank_from: int | None = None,
        first_stage: BudgetLike = (1, 1),
        chunk_size: int | None = None,
        compute_dtype: torch.dtype | None = None,
    ) -> list[SearchHit] | list[list[SearchHit]]:
        """Top-``k`` pages by MaxSim at ``budget`` (default: every query vector, all ``R_c``).

        ``queries`` is ``[R_q, D]`` (returns a list of hits) or ``[Q, R_q, D]`` (a list per query).
        ``filter`` restricts the pages scored (see :mod:`metaembed_rag.index.filters`).
        ``rerank_from=M`` searches in two stages: the top ``M`` by the cheap ``first_stage`` budget,
        re-scored exactly at ``budget``. ``chunk_size`` is pages per scoring chunk.
        """
        single = getattr(queries, "ndim", None) == 2
        q = as_vectors(queries, (-1, self.dim) if single else (-1, -1, self.dim), "queries")
        q = q.unsqueeze(0) if single else q
        full = self._budget(budget if budget is not None else (q.shape[1], self.num_candidate_tokens), q)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        if rerank_from is not None and (
            isinstance(rerank_from, bool) or not isinstance(rerank_from, int) or rerank_from < k
        ):
            raise ValueError(f"rerank_from must be an int >= k ({k}), got {rerank_from!r}")
        first = self._budget(first_stage, q)
        if filter is not None:
            check_filter(filter, self.fields())
        where, params = compile_filter(filter)
        scorer = Scorer(self._codec, self.dim, compute_dtype)

        def run() -> list[list[SearchHit]]:
            cands = self._store.candidates(*self._store.locations(where, params))
            if rerank_from is None or rerank_from >= len(cands):  # two stages would score everything
                scores, positions = scorer.topk(q[:, : full.r_q], cands, full.r_c, k, chunk_size)
                per_query = list(zip(scores, positions, strict=True))
            else:
                per_query = list(
                    zip(*scorer.two_stage(q, cands, full, first, k, rerank_from, chunk_size), strict=True)
                )
            wanted = sorted({int(cands.ids[p]) for _, pos in per_query for p in pos})
            pages = {}
            for clause, args in in_clauses("id", wanted):
                pages.update((row[0], self._stored_page(row)) for row in self._manifest.pages(clause, args))
            return [
                [
                    SearchHit(pages[pk].page_id, float(s), pages[pk].metadata(), rank)
                    for rank, (s, pk) in enumerate(
                        zip(scores.tolist(), cands.ids[pos.numpy()].tolist(), strict=True), 1
                    )
                ]
                for scores, pos in per_query
            ]

        hits = self._store.snapshot(run)
        return hits[0] if single else hits

    def _budget(self, budget: BudgetLike, queries: torch.Tensor) -> Budget:
        b = Budget.parse(budget).validate(self.num_query_tokens, self.num_candidate_tokens)
        if b.r_q > queries.shape[1]:
            raise ValueError(f"budget {b} uses {b.r_q} query vectors but the queries have {queries.shape[1]}")
        return b

    def get(self, page_id: str, *, with_vectors: bool = False) -> StoredPage | None:
        """The stored page (metadata, image path, and with ``with_vectors`` its ``[R_c, D]`` fp32
        vectors as the index scores them), or None if no such page is stored."""

        def run() -> StoredPage | None:
            rows = self._manifest.pages("page_id = ?", [page_id])
            if not rows:
                return None
            page = self._stored_page(rows[0])
            if with_vectors:
                stored = self._store.readers[rows[0][-2]].gather(np.array([rows[0][-1]]))
                page = replace(page, vectors=self._codec.dequantize(stored, self.dim)[0])
            return page

        return self._store.snapshot(run)

    def pages(self, filter: Filter | None = None) -> list[StoredPage]:
        """Every stored page (metadata and image path, no vectors), or those matching ``filter``."""
        if filter is not None:
            check_filter(filter, self.fields())
        where, params = compile_filter(filter)
        return self._store.snapshot(
            lambda: [self._stored_page(row) for row in self._manifest.pages(where, params)]
        )

    def has(self, page_id: str, content_hash: str | None = None) -> bool:
        """Whether ``page_id`` is stored (with ``content_hash``, if given): skip encoding it again."""
        with self._store.lock, self._manifest.read():
            found = self._manifest.existing([page_id]).get(page_id)
        return found is not None and (content_hash is None or found[0] == content_hash)

    def fields(self) -> dict[str, set[str]]:
        """Every field a filter can name, with the kinds of value the pages hold there
        (``{"page": {"number"}, "lang": {"string"}, ...}``). Filters are checked against it, so a
        misspelt field or a value of the wrong kind raises ``ValueError`` instead of matching nothing.
        Read once per committed state (one pass over the pages' metadata), then cached."""
        with self._store.lock, self._manifest.read():
            generation = self._manifest.generation()
            if self._fields is None or self._fields[0] != generation:
                self._fields = (generation, field_kinds(self._manifest.conn))
            return {key: set(kinds) for key, kinds in self._fields[1].items()}

    def __contains__(self, page_id: object) -> bool:
        return isinstance(page_id, str) and self.has(page_id)

    def __len__(self) -> int:
        with self._store.lock, self._manifest.read():
            return self._manifest.count()

    def generation(self) -> int:
        """A number that changes with every committed write (add, delete, compact): caches built
        from the pages, such as the hybrid search's BM25 index, are valid while it stays the same."""
        with self._store.lock, self._manifest.read():
            return self._manifest.generation()

    def stats(self) -> IndexStats:
        """Page and segment counts, bytes on disk, and candidate bytes per budget for every dtype."""
        with self._store.lock, self._manifest.read():
            pages = self._manifest.count()
            segments = self._manifest.segments()
        sizes = {f: _size(f) for f in self.path.rglob("*") if f.is_file()}
        per_budget = {
            name: {
                str(b): int(pages * b.r_c * codec.bytes_per_vector(self.dim))
                for b in ladder_for(self.num_query_tokens, self.num_candidate_tokens)
            }
            for name, codec in CODECS.items()
        }
        return IndexStats(
            pages=pages,
            segments=len(segments),
            dead_rows=sum(s.rows for s in segments.values()) - pages,
            dtype=self.dtype,
            dim=self.dim,
            num_candidate_tokens=self.num_candidate_tokens,
            bytes_on_disk=sum(sizes.values()),
            vector_bytes=sum(s.nbytes for s in segments.values()),
            image_bytes=sum(n for f, n in sizes.items() if f.parent.name == "images"),
            bytes_per_budget=per_budget,
        )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:  # removed by a concurrent writer since we listed it
        return 0
