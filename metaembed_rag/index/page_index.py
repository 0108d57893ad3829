"""PageIndex: the embedded, on-disk store of MetaEmbed page vectors, metadata and page images.

Layout of an index directory::

    manifest.sqlite      settings, model fingerprint, segments, one row per live page (WAL mode)
    segments/*.safetensors  immutable vector segments, memory-mapped for search
    images/<sha256>.png  page images, content-addressed
    write.lock           serialises writers across processes (flock)

Every write (one ``add`` batch, ``delete``, ``compact``) follows the same order: new files are
written to temporary names, fsynced and renamed; then one SQLite transaction registers them. A
reader, or a crash at any point, sees the state before or after that transaction, never between.
Files a crashed writer left behind are unregistered and are removed by the next ``open``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from ..budget import Budget, BudgetLike, ladder_for
from .base import (
    AddResult,
    Batch,
    Filter,
    ImageLike,
    IndexCorruptError,
    SearchHit,
    StoredPage,
    VectorsLike,
    check_fingerprint,
    fingerprint_of,
)
from .filters import compile_filter
from .images import store_image
from .manifest import FORMAT_VERSION, MANIFEST_NAME, Manifest
from .quantize import CODECS, canonical_dtype, get_codec, stored_to_torch
from .records import IngestBatch, as_vectors, iter_batches
from .search import Candidates, Scorer
from .segments import SEGMENT_SUFFIX, TMP_PREFIX, SegmentReader, fsync_dir, write_segment

__all__ = ["CompactResult", "IndexStats", "PageIndex"]

T = TypeVar("T")
LOCK_NAME = "write.lock"
#: Target size of the segments ``compact()`` writes.
SEGMENT_BYTES = 256 << 20


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


@dataclass(frozen=True)
class CompactResult:
    rows_dropped: int
    segments_before: int
    segments_after: int


class _SegmentGone(Exception):
    """A segment in our snapshot was retired (by a compaction) before we mapped it."""

    def __init__(self, segment: int, error: IndexCorruptError) -> None:
        super().__init__(str(error))
        self.segment, self.error = segment, error


class PageIndex:
    """Embedded on-disk index of page vectors. Build with :meth:`create`, reopen with :meth:`open`."""

    def __init__(self, path: Path, manifest: Manifest, *, read_only: bool = False) -> None:
        """Internal; use :meth:`create` or :meth:`open`."""
        self.path = path
        self._manifest = manifest
        self._read_only = read_only
        self._lock = threading.RLock()
        self._readers: dict[int, SegmentReader] = {}
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
        if path.exists() and any(path.iterdir()):
            raise FileExistsError(
                f"{path} is not empty; open an existing index with PageIndex.open({str(path)!r})"
            )
        for sub in ("segments", "images"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        manifest = Manifest(path / MANIFEST_NAME, create=True)
        with manifest.write():
            manifest.set_meta(
                {"format_version": str(FORMAT_VERSION), "fingerprint": json.dumps(fp), "dtype": dtype}
            )
        return cls(path, manifest)

    @classmethod
    def open(
        cls,
        path: str | Path,
        fingerprint: Mapping[str, Any] | Any | None = None,
        *,
        verify: bool = False,
        read_only: bool = False,
    ) -> PageIndex:
        """Open the index at ``path``.

        ``fingerprint`` (a dict or the model) is checked against the one the index was built with.
        Every segment's size and header is checked against the manifest; ``verify=True`` also checks
        every segment's SHA-256 (reads the whole index). ``read_only`` refuses writes and leaves
        files of crashed writers alone.
        """
        path = Path(path)
        if not (path / MANIFEST_NAME).is_file():
            raise FileNotFoundError(
                f"no PageIndex at {path} ({MANIFEST_NAME} is missing); create one with "
                "PageIndex.create(path, fingerprint=model.fingerprint())"
            )
        index = cls(path, Manifest(path / MANIFEST_NAME), read_only=read_only)
        try:
            if fingerprint is not None:
                given = json.loads(json.dumps(fingerprint_of(fingerprint)))
                check_fingerprint(index._fingerprint, given, str(path))
            if not read_only:
                index._remove_orphans()
            index._check(verify)
        except BaseException:
            index.close()
            raise
        return index

    def close(self) -> None:
        with self._lock:
            self._readers.clear()
            self._manifest.close()

    def __enter__(self) -> PageIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PageIndex({str(self.path)!r}, dtype={self.dtype!r}, model={self._fingerprint['name']!r})"

    @property
    def fingerprint(self) -> dict[str, Any]:
        """The fingerprint of the model the index was built with."""
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
                result += self._commit(pending, replace_unchanged)
                pending = []
        if pending:
            result += self._commit(pending, replace_unchanged)
        return result

    def _commit(self, batches: list[IngestBatch], replace_unchanged: bool) -> AddResult:
        records = [r for b in batches for r in b.records]
        images = [im for b in batches for im in b.images]
        ids = [r.page_id for r in records]
        if len(set(ids)) != len(ids):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"page_id(s) {dupes[:5]} appear more than once in one commit")
        with self._writing():
            with self._manifest.read():
                existing = self._manifest.existing(ids)
            keep = [
                i
                for i, r in enumerate(records)
                if replace_unchanged or r.page_id not in existing or existing[r.page_id][0] != r.content_hash
            ]
            skipped = len(records) - len(keep)
            if not keep:
                return AddResult(skipped=skipped)
            image_names = [
                None if images[i] is None else store_image(self.path / "images", images[i]) for i in keep
            ]
            vectors = torch.cat([b.vectors for b in batches])[keep]
            seg = write_segment(self.path / "segments", self._codec.encode(vectors), dtype=self.dtype)
            try:
                with self._manifest.write():
                    sid = self._manifest.register_segment(seg)
                    self._manifest.put_pages(
                        [
                            (
                                r.page_id,
                                r.doc_id,
                                r.source,
                                r.page,
                                r.content_hash,
                                r.fields,
                                image_names[j],
                                sid,
                                j,
                            )
                            for j, r in enumerate(records[i] for i in keep)
                        ]
                    )
            except BaseException:
                (self.path / "segments" / seg.name).unlink(missing_ok=True)
                raise
            replaced = [existing[records[i].page_id] for i in keep if records[i].page_id in existing]
            self._drop_unused_images({img for _, img in replaced if img})
        return AddResult(added=len(keep) - len(replaced), skipped=skipped, replaced=len(replaced), commits=1)

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
            ids = list(page_ids)
            clauses = [
                (f"page_id IN ({', '.join('?' * len(ids[i : i + 500]))})", ids[i : i + 500])
                for i in range(0, len(ids), 500)
            ]
        else:
            clauses = [compile_filter(filter)]
        deleted = 0
        with self._writing():
            images: set[str] = set()
            with self._manifest.write():
                for where, params in clauses:
                    images.update(r[7] for r in self._manifest.pages(where, params) if r[7])
                    deleted += self._manifest.delete_where(where, params)
            self._drop_unused_images(images)
        return deleted

    def compact(self) -> CompactResult:
        """Rewrite live rows into new segments and drop tombstones and the old segments, atomically."""
        with self._writing():
            with self._manifest.read():
                self._sync_segments()
                old = self._manifest.segments()
                ids, segs, rows = self._manifest.locations()
            dead = sum(s.rows for s in old.values()) - len(ids)
            if dead == 0 and len(old) <= 1:
                return CompactResult(0, len(old), len(old))
            cands = self._candidates(ids, segs, rows)
            page_bytes = max(1.0, self.num_candidate_tokens * self._codec.bytes_per_vector(self.dim))
            written, moves = [], []
            try:
                for start, stored in cands.chunks(None, max(1, int(SEGMENT_BYTES // page_bytes))):
                    arrays = {name: stored_to_torch(a) for name, a in stored.items()}
                    written.append(write_segment(self.path / "segments", arrays, dtype=self.dtype))
                    moves.append([(row, int(ids[start + row])) for row in range(written[-1].rows)])
                with self._manifest.write():
                    for seg, seg_moves in zip(written, moves, strict=True):
                        sid = self._manifest.register_segment(seg)
                        self._manifest.move([(sid, row, pk) for row, pk in seg_moves])
                    self._manifest.drop_segments(list(old))
            except BaseException:
                for seg in written:
                    (self.path / "segments" / seg.name).unlink(missing_ok=True)
                raise
            for sid, seg in old.items():
                self._readers.pop(sid, None)
                (self.path / "segments" / seg.name).unlink(missing_ok=True)
            fsync_dir(self.path / "segments")
        return CompactResult(dead, len(old), len(written))

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the cross-process writer lock (and the in-process one) for one write."""
        if self._read_only:
            raise PermissionError(f"the index at {self.path} was opened read_only")
        with self._lock, open(self.path / LOCK_NAME, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _drop_unused_images(self, names: set[str]) -> None:
        if not names:
            return
        with self._manifest.read():
            in_use = self._manifest.images_in_use()
        for name in names - in_use:
            (self.path / "images" / name).unlink(missing_ok=True)

    def _remove_orphans(self) -> None:
        """Remove files a crashed writer left: temporaries, unregistered segments, unused images.
        Only when no writer is active, since a live writer's files are not registered yet."""
        with self._lock, open(self.path / LOCK_NAME, "a+b") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            try:
                with self._manifest.read():
                    registered = {s.name for s in self._manifest.segments().values()}
                    in_use = self._manifest.images_in_use()
                for f in (self.path / "segments").iterdir():
                    if f.name.startswith(TMP_PREFIX) or (
                        f.suffix == SEGMENT_SUFFIX and f.name not in registered
                    ):
                        f.unlink()
                for f in (self.path / "images").iterdir():
                    if f.name.startswith(TMP_PREFIX) or (
                        f.suffix in (".png", ".jpg", ".webp") and f.name not in in_use
                    ):
                        f.unlink()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- reading ----------------------------------------------------------------------------------
    def _snapshot(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` inside one read transaction with every registered segment mapped."""
        for _ in range(5):
            with self._lock:
                try:
                    with self._manifest.read():
                        self._sync_segments()
                        return fn()
                except _SegmentGone as gone:
                    with self._manifest.read():
                        if gone.segment in self._manifest.segments():
                            raise gone.error from None
                    # else a compaction retired it after our snapshot began: retry on a fresh one
        raise IndexCorruptError(f"segments of {self.path} keep disappearing under concurrent compactions")

    def _sync_segments(self) -> None:
        segments = self._manifest.segments()
        for sid in set(self._readers) - set(segments):
            del self._readers[sid]
        for sid, record in segments.items():
            if sid not in self._readers:
                path = self.path / "segments" / record.name
                try:
                    self._readers[sid] = SegmentReader(path, record, self._codec.arrays)
                except IndexCorruptError as exc:
                    if path.exists():
                        raise
                    raise _SegmentGone(sid, exc) from None

    def _check(self, verify: bool) -> None:
        def run() -> None:
            if self._manifest.rows_out_of_range():
                raise IndexCorruptError(
                    f"the manifest {self._manifest.path} points at rows past the end of segments"
                )
            if verify:
                for reader in self._readers.values():
                    reader.verify_checksum()

        self._snapshot(run)

    def verify(self) -> None:
        """Check every segment's SHA-256 against the manifest; raise :class:`IndexCorruptError`."""
        self._check(verify=True)

    def _candidates(self, ids: np.ndarray, segs: np.ndarray, rows: np.ndarray) -> Candidates:
        bounds = np.flatnonzero(np.diff(segs)) + 1  # locations are sorted by segment
        parts = [
            (self._readers[int(s[0])], r)
            for s, r in zip(np.split(segs, bounds), np.split(rows, bounds), strict=True)
            if len(s)
        ]
        return Candidates(ids, parts)

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
        where, params = compile_filter(filter)
        scorer = Scorer(self._codec, self.dim, compute_dtype)

        def run() -> list[list[SearchHit]]:
            cands = self._candidates(*self._manifest.locations(where, params))
            if rerank_from is None or rerank_from >= len(cands):  # two stages would score everything
                scores, positions = scorer.topk(q[:, : full.r_q], cands, full.r_c, k, chunk_size)
                per_query = list(zip(scores, positions, strict=True))
            else:
                per_query = list(
                    zip(*scorer.two_stage(q, cands, full, first, k, rerank_from, chunk_size), strict=True)
                )
            wanted = sorted({int(cands.ids[p]) for _, pos in per_query for p in pos})
            pages = {}
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                for row in self._manifest.pages(f"id IN ({', '.join('?' * len(chunk))})", chunk):
                    pages[row[0]] = self._stored_page(row)
            return [
                [
                    SearchHit(pages[pk].page_id, float(s), pages[pk].metadata(), rank)
                    for rank, (s, pk) in enumerate(
                        zip(scores.tolist(), cands.ids[pos.numpy()].tolist(), strict=True), 1
                    )
                ]
                for scores, pos in per_query
            ]

        hits = self._snapshot(run)
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
                stored = self._readers[rows[0][-2]].gather(np.array([rows[0][-1]]))
                page = StoredPage(**{**page.__dict__, "vectors": self._codec.dequantize(stored, self.dim)[0]})
            return page

        return self._snapshot(run)

    def has(self, page_id: str, content_hash: str | None = None) -> bool:
        """Whether ``page_id`` is stored (with ``content_hash``, if given): skip encoding it again."""
        with self._lock, self._manifest.read():
            found = self._manifest.existing([page_id]).get(page_id)
        return found is not None and (content_hash is None or found[0] == content_hash)

    def __contains__(self, page_id: object) -> bool:
        return isinstance(page_id, str) and self.has(page_id)

    def __len__(self) -> int:
        with self._lock, self._manifest.read():
            return self._manifest.count()

    def stats(self) -> IndexStats:
        """Page and segment counts, bytes on disk, and candidate bytes per budget for every dtype."""
        with self._lock, self._manifest.read():
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
