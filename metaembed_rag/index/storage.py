"""The files of a PageIndex: writer lock, read snapshots, segment mapping, crash cleanup, compaction.

Every write follows the same order: new files (segments, images) are written to temporary names,
fsynced and renamed into place; then one SQLite transaction registers them. A reader, or a crash
at any point, sees the state before or after that transaction, never between. Files removed by a
write (old segments after ``compact``, images no page uses) are unlinked only after the commit.

Writers in any process serialise on an ``flock`` of ``write.lock``. Files a crashed writer left
behind are unregistered; ``open`` removes them, but only while it can take that lock, because the
files of a live writer are unregistered too until it commits.
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from .base import AddResult, IndexCorruptError
from .images import store_image
from .manifest import Manifest
from .quantize import Codec, stored_to_torch
from .records import IngestBatch
from .search import Candidates
from .segments import SEGMENT_SUFFIX, TMP_PREFIX, SegmentReader, fsync_dir, write_segment

__all__ = ["LOCK_NAME", "SEGMENT_BYTES", "CompactResult", "Storage"]

T = TypeVar("T")
LOCK_NAME = "write.lock"
#: Target size of the segments ``compact()`` writes.
SEGMENT_BYTES = 256 << 20
_IMAGE_SUFFIXES = (".png", ".jpg", ".webp")
_LOCATIONS_CACHED = 8


@dataclass(frozen=True)
class CompactResult:
    """Tombstoned rows dropped, and the number of segments before and after."""

    rows_dropped: int
    segments_before: int
    segments_after: int


class _SegmentGone(Exception):
    """A segment in our snapshot was retired (by a compaction) before we mapped it."""

    def __init__(self, segment: int, error: IndexCorruptError) -> None:
        super().__init__(str(error))
        self.segment, self.error = segment, error


class Storage:
    """Owns the manifest connection and the memory-mapped segments of one open index."""

    def __init__(self, path: Path, manifest: Manifest, codec: Codec, dtype: str, *, read_only: bool) -> None:
        self.path = path
        self.manifest = manifest
        self.codec = codec
        self.dtype = dtype
        self.read_only = read_only
        self.segments_dir = path / "segments"
        self.images_dir = path / "images"
        # One PageIndex may be shared by threads: they take turns on the connection and readers.
        self.lock = threading.RLock()
        self.readers: dict[int, SegmentReader] = {}
        # Page locations per (generation, filter): listing 100k pages from SQLite takes ~0.1 s,
        # more than a cheap-budget search, and repeated searches mostly see the same snapshot.
        self._locations: OrderedDict[tuple[Any, ...], tuple[np.ndarray, ...]] = OrderedDict()

    def close(self) -> None:
        with self.lock:
            self.readers.clear()
            self.manifest.close()

    # -- writing ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the cross-process writer lock (and the in-process one) for one write."""
        if self.read_only:
            raise PermissionError(f"the index at {self.path} was opened read_only")
        with self.lock, open(self.path / LOCK_NAME, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def commit(self, batches: list[IngestBatch], replace_unchanged: bool) -> AddResult:
        """Write ``batches`` as one segment and register it with their pages in one transaction.
        Pages stored with the same content hash are skipped unless ``replace_unchanged``."""
        records = [r for b in batches for r in b.records]
        images = [im for b in batches for im in b.images]
        ids = [r.page_id for r in records]
        if len(set(ids)) != len(ids):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"page_id(s) {dupes[:5]} appear more than once in one commit")
        with self.writing():
            with self.manifest.read():
                existing = self.manifest.existing(ids)
            keep = [
                i
                for i, r in enumerate(records)
                if replace_unchanged or r.page_id not in existing or existing[r.page_id][0] != r.content_hash
            ]
            skipped = len(records) - len(keep)
            if not keep:
                return AddResult(skipped=skipped)
            image_names = [
                None if images[i] is None else store_image(self.images_dir, images[i]) for i in keep
            ]
            vectors = torch.cat([b.vectors for b in batches])[keep]
            seg = write_segment(self.segments_dir, self.codec.encode(vectors), dtype=self.dtype)
            try:
                with self.manifest.write():
                    sid = self.manifest.register_segment(seg)
                    self.manifest.put_pages(
                        [(*records[i].columns(), image_names[j], sid, j) for j, i in enumerate(keep)]
                    )
            except BaseException:
                (self.segments_dir / seg.name).unlink(missing_ok=True)
                raise
            replaced = [existing[records[i].page_id] for i in keep if records[i].page_id in existing]
            self.drop_unused_images({img for _, img in replaced if img})
        return AddResult(added=len(keep) - len(replaced), skipped=skipped, replaced=len(replaced), commits=1)

    def delete(self, clauses: list[tuple[str, list[Any]]]) -> int:
        """Delete the pages matching any of the ``WHERE`` clauses in one transaction."""
        deleted = 0
        with self.writing():
            images: set[str] = set()
            with self.manifest.write():
                for where, params in clauses:
                    images.update(r[7] for r in self.manifest.pages(where, params) if r[7])
                    deleted += self.manifest.delete_where(where, params)
            self.drop_unused_images(images)
        return deleted

    def drop_unused_images(self, names: set[str]) -> None:
        """Unlink those of ``names`` no page references (call under :meth:`writing`, after commit)."""
        if not names:
            return
        with self.manifest.read():
            in_use = self.manifest.images_in_use()
        for name in names - in_use:
            (self.images_dir / name).unlink(missing_ok=True)

    def remove_orphans(self) -> None:
        """Remove files a crashed writer left: temporaries, unregistered segments, unused images.
        Skipped while another writer holds the lock."""
        with self.lock, open(self.path / LOCK_NAME, "a+b") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            try:
                with self.manifest.read():
                    registered = {s.name for s in self.manifest.segments().values()}
                    in_use = self.manifest.images_in_use()
                for directory, known, suffixes in (
                    (self.segments_dir, registered, (SEGMENT_SUFFIX,)),
                    (self.images_dir, in_use, _IMAGE_SUFFIXES),
                ):
                    for f in directory.iterdir():
                        if f.name.startswith(TMP_PREFIX) or (f.suffix in suffixes and f.name not in known):
                            f.unlink()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def compact(self, page_bytes: float) -> CompactResult:
        """Copy live rows (their stored codes, unchanged) into new segments of about
        ``SEGMENT_BYTES`` (``page_bytes`` per page), repoint the pages and drop the old segments in
        one transaction; then unlink the old files."""
        with self.writing():
            with self.manifest.read():
                self.sync_segments()
                old = self.manifest.segments()
                ids, segs, rows = self.locations()
            dead = sum(s.rows for s in old.values()) - len(ids)
            if dead == 0 and len(old) <= 1:
                return CompactResult(0, len(old), len(old))
            written, moves = [], []
            try:
                for start, stored in self.candidates(ids, segs, rows).chunks(
                    None, max(1, int(SEGMENT_BYTES // max(page_bytes, 1.0)))
                ):
                    arrays = {name: stored_to_torch(a) for name, a in stored.items()}
                    written.append(write_segment(self.segments_dir, arrays, dtype=self.dtype))
                    moves.append([(row, int(ids[start + row])) for row in range(written[-1].rows)])
                with self.manifest.write():
                    for seg, seg_moves in zip(written, moves, strict=True):
                        sid = self.manifest.register_segment(seg)
                        self.manifest.move([(sid, row, pk) for row, pk in seg_moves])
                    self.manifest.drop_segments(list(old))
            except BaseException:
                for seg in written:
                    (self.segments_dir / seg.name).unlink(missing_ok=True)
                raise
            for sid, seg in old.items():
                self.readers.pop(sid, None)
                (self.segments_dir / seg.name).unlink(missing_ok=True)
            fsync_dir(self.segments_dir)
        return CompactResult(dead, len(old), len(written))

    # -- reading ----------------------------------------------------------------------------------
    def snapshot(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` inside one read transaction with every registered segment mapped."""
        for _ in range(5):
            with self.lock:
                try:
                    with self.manifest.read():
                        self.sync_segments()
                        return fn()
                except _SegmentGone as gone:
                    with self.manifest.read():
                        if gone.segment in self.manifest.segments():
                            raise gone.error from None
                    # else a compaction retired it after our snapshot began: retry on a fresh one
        raise IndexCorruptError(f"segments of {self.path} keep disappearing under concurrent compactions")

    def sync_segments(self) -> None:
        """Map segments registered in the current snapshot; forget retired ones."""
        segments = self.manifest.segments()
        for sid in set(self.readers) - set(segments):
            del self.readers[sid]
        for sid, record in segments.items():
            if sid not in self.readers:
                path = self.segments_dir / record.name
                try:
                    self.readers[sid] = SegmentReader(path, record, self.codec.arrays)
                except IndexCorruptError as exc:
                    if path.exists():
                        raise
                    raise _SegmentGone(sid, exc) from None

    def check(self, verify: bool) -> None:
        """Check every segment's size and header (and SHA-256 with ``verify``) and every page's row."""

        def run() -> None:
            if self.manifest.rows_out_of_range():
                raise IndexCorruptError(
                    f"the manifest {self.manifest.path} points at rows past the end of segments"
                )
            if verify:
                for reader in self.readers.values():
                    reader.verify_checksum()

        self.snapshot(run)

    def locations(self, where: str = "1", params: list[Any] | None = None) -> tuple[np.ndarray, ...]:
        """``Manifest.locations`` of the current snapshot, cached per generation and filter."""
        key = (self.manifest.generation(), where, *(params or []))
        if key not in self._locations:
            self._locations[key] = self.manifest.locations(where, params)
            while len(self._locations) > _LOCATIONS_CACHED:
                self._locations.popitem(last=False)
        self._locations.move_to_end(key)
        return self._locations[key]

    def candidates(self, ids: np.ndarray, segs: np.ndarray, rows: np.ndarray) -> Candidates:
        """Candidates from manifest locations sorted by ``(segment, row)``; segments must be mapped."""
        bounds = np.flatnonzero(np.diff(segs)) + 1
        parts = [
            (self.readers[int(s[0])], r)
            for s, r in zip(np.split(segs, bounds), np.split(rows, bounds), strict=True)
            if len(s)
        ]
        return Candidates(ids, parts)
