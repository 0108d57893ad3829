"""Immutable vector segments: one safetensors file per commit, memory-mapped with numpy.

A segment is written once under a temporary name, fsynced and renamed into place before the
manifest transaction that registers it, so a registered segment is always complete. It is never
modified afterwards; ``compact()`` writes new segments and retires old ones.

Layout. Format 2 (written since index format 2) stores every array token-major: ``[R_c, rows, ...]``,
so the first ``r_c`` vectors of a run of pages, all a budget reads, are ``r_c`` contiguous streams.
Format 1 stored ``[rows, R_c, ...]``; such segments are still read. Either way readers hand out
page-major ``[rows, r, ...]`` arrays (:meth:`SegmentReader.gather`, :meth:`SegmentReader.view`).

Reading: safetensors is an 8-byte little-endian header length, a JSON header naming each tensor's
dtype, shape and byte range, then the raw data. We parse the header ourselves so that numpy can
memory-map each tensor and gather arbitrary rows; safetensors' own readers return copies of
contiguous slices only, and numpy has no bf16 (we map bf16 as raw uint16).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import safetensors.torch
import torch

from .base import IndexCorruptError

__all__ = [
    "SEGMENT_SUFFIX",
    "TMP_PREFIX",
    "SegmentFile",
    "SegmentReader",
    "fsync_dir",
    "sha256_file",
    "write_atomic",
    "write_segment",
]

SEGMENT_SUFFIX = ".safetensors"
TMP_PREFIX = ".tmp-"
_FORMAT = "metaembed-rag-segment/2"  # token-major
_FORMAT_V1 = "metaembed-rag-segment/1"  # page-major, read only
_NUMPY_DTYPES = {
    "BF16": np.dtype(np.uint16),
    "F16": np.dtype(np.float16),
    "F32": np.dtype(np.float32),
    "I8": np.dtype(np.int8),
    "U8": np.dtype(np.uint8),
}


@dataclass(frozen=True)
class SegmentFile:
    """A written segment as the manifest records it."""

    name: str
    rows: int
    nbytes: int
    sha256: str


def fsync_dir(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(directory: Path, name: str, data: bytes) -> None:
    """Write ``data`` to ``directory/name`` via a temporary file, fsync and rename."""
    tmp = directory / f"{TMP_PREFIX}{uuid.uuid4().hex}-{name}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, directory / name)
    fsync_dir(directory)


def write_segment(
    directory: Path, arrays: dict[str, torch.Tensor], *, dtype: str, token_major: bool = True
) -> SegmentFile:
    """Write one segment from page-major ``arrays`` (``[rows, R_c, ...]``, sharing the page axis)
    and return its record. ``token_major=False`` writes the format-1 layout (kept for tests)."""
    rows = {int(t.shape[0]) for t in arrays.values()}
    if len(rows) != 1:
        raise ValueError(f"segment arrays disagree on the number of rows: {rows}")
    if token_major:
        arrays = {name: t.transpose(0, 1).contiguous() for name, t in arrays.items()}
    else:
        arrays = {name: t.contiguous() for name, t in arrays.items()}
    fmt = _FORMAT if token_major else _FORMAT_V1
    data = safetensors.torch.save(arrays, metadata={"format": fmt, "dtype": dtype})
    name = f"{uuid.uuid4().hex}{SEGMENT_SUFFIX}"
    write_atomic(directory, name, data)
    return SegmentFile(name, rows.pop(), len(data), hashlib.sha256(data).hexdigest())


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class SegmentReader:
    """Memory-mapped arrays of one segment; checks the file against its manifest record on open."""

    def __init__(self, path: Path, record: SegmentFile, array_names: tuple[str, ...]) -> None:
        self.path = path
        self.record = record
        try:
            self.arrays = self._map(array_names)
        except FileNotFoundError:  # unlinked between our stat and our open/mmap: a compaction retired it
            raise self._missing() from None

    def _missing(self) -> IndexCorruptError:
        return IndexCorruptError(
            f"segment file {self.path} is missing but the manifest lists it "
            f"({self.record.rows} pages). Restore it from a backup or rebuild the index."
        )

    def _corrupt(self, what: str) -> IndexCorruptError:
        return IndexCorruptError(
            f"segment file {self.path} is damaged: {what}. Restore the index directory from a backup "
            "or rebuild the index; the manifest records this segment's size and SHA-256."
        )

    def _map(self, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            raise self._missing() from None
        if size != self.record.nbytes:
            raise self._corrupt(f"it has {size} bytes, the manifest recorded {self.record.nbytes}")
        if size < 8:
            raise self._corrupt(f"it has only {size} bytes")
        with open(self.path, "rb") as f:
            (header_len,) = struct.unpack("<Q", f.read(8))
            if header_len > size - 8:
                raise self._corrupt("its header length points past the end of the file")
            try:
                header = json.loads(f.read(header_len))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise self._corrupt(f"its header is not valid JSON ({exc})") from None
        fmt = header.get("__metadata__", {}).get("format") if isinstance(header, dict) else None
        if fmt not in (_FORMAT, _FORMAT_V1):
            raise self._corrupt("its header is not a metaembed-rag segment header")
        #: Arrays are stored ``[R_c, rows, ...]`` (format 2) rather than ``[rows, R_c, ...]``.
        self.token_major = fmt == _FORMAT
        page_axis = 1 if self.token_major else 0
        base = 8 + header_len
        out = {}
        for name in names:
            info = header.get(name)
            try:
                dtype = _NUMPY_DTYPES[info["dtype"]]
                shape = tuple(int(s) for s in info["shape"])
                begin, end = (int(o) for o in info["data_offsets"])
            except (KeyError, TypeError, ValueError):
                raise self._corrupt(f"its header has no valid entry for {name!r}") from None
            if (
                len(shape) < 2
                or shape[page_axis] != self.record.rows
                or end - begin != dtype.itemsize * int(np.prod(shape))
                or (base + end > size)
            ):
                raise self._corrupt(f"array {name!r} has shape {shape} and bytes {begin}..{end}")
            # An empty memmap is an error in numpy; zero rows never reach disk, but stay total.
            out[name] = (
                np.memmap(self.path, dtype=dtype, mode="r", offset=base + begin, shape=shape)
                if end > begin
                else np.zeros(shape, dtype)
            )
        return out

    def verify_checksum(self) -> None:
        digest = sha256_file(self.path)
        if digest != self.record.sha256:
            raise self._corrupt(
                f"its SHA-256 is {digest[:16]}..., the manifest recorded {self.record.sha256[:16]}..."
            )

    def gather(self, rows: np.ndarray, r: int | None = None) -> dict[str, np.ndarray]:
        """Copies of rows ``rows`` (sorted ascending), page-major ``[len(rows), r, ...]``, with the
        token axis cut to its first ``r`` entries."""
        if len(rows) and rows[-1] - rows[0] + 1 == len(rows):  # a run reads sequentially
            # np.array copies: a slice of a memmap is a read-only view of the page cache, and the
            # decoded tensors must be owned memory that torch may use freely.
            run = slice(int(rows[0]), int(rows[-1]) + 1)
            return {name: np.array(a, order="C") for name, a in self._select(run, r).items()}
        # Fancy indexing already copies; a token-major copy is handed out as a page-major view.
        return {name: np.asarray(a) for name, a in self._select(rows, r).items()}

    def view(self, start: int, stop: int, r: int | None = None) -> dict[str, np.ndarray]:
        """Rows ``start..stop`` as read-only page-major views of the mapped file (no copy; strided
        for token-major segments). Never write to them: the memory is the page cache."""
        return self._select(slice(start, stop), r)

    def _select(self, index: slice | np.ndarray, r: int | None) -> dict[str, np.ndarray]:
        tokens = slice(None, r)
        if self.token_major:
            return {name: np.swapaxes(a[tokens, index], 0, 1) for name, a in self.arrays.items()}
        return {name: a[index, tokens] for name, a in self.arrays.items()}
