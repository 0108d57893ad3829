"""The SQLite manifest of a PageIndex: settings, segments, and one row per live page.

SQLite (WAL mode, ``synchronous=FULL``) gives us the atomic commit: new segment files are durable
on disk before the single transaction that registers them and points pages at them, so a reader
sees either the old state or the new one. A reader's transaction is a consistent snapshot for as
long as it lasts, even while a writer commits.

A page lives at ``(segment, row)``. Deleting or replacing a page removes or repoints its row in
``pages``; the segment row it used becomes a tombstone (a segment row no page references), which
``compact()`` drops by rewriting live rows into new segments.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .base import IndexCorruptError
from .segments import SegmentFile
from .summary import MANIFEST_NAME

__all__ = ["FORMAT_VERSION", "MANIFEST_NAME", "PAGE_COLUMNS", "Manifest", "in_clauses"]

#: 2: segments are token-major (see :mod:`.segments`); format-1 segments are still read. An index
#: is marked 2 by the first commit that writes a format-2 segment into it, so older readers refuse
#: it with "upgrade metaembed-rag" rather than misreading the segment.
FORMAT_VERSION = 2

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE segments (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    rows INTEGER NOT NULL,
    nbytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
CREATE TABLE pages (
    id INTEGER PRIMARY KEY,
    page_id TEXT NOT NULL UNIQUE,
    doc_id TEXT,
    source TEXT,
    page INTEGER,
    content_hash TEXT NOT NULL,
    fields TEXT NOT NULL,
    image TEXT,
    segment INTEGER NOT NULL REFERENCES segments(id),
    row INTEGER NOT NULL,
    UNIQUE (segment, row)
);
CREATE INDEX pages_doc_id ON pages(doc_id);
CREATE INDEX pages_source ON pages(source);
"""

#: Values per ``IN (...)`` clause: stays below SQLite's bound-parameter limit.
_IN_CHUNK = 500


def in_clauses(column: str, values: list[Any]) -> list[tuple[str, list[Any]]]:
    """``(sql, params)`` clauses ``column IN (...)`` that together cover ``values``."""
    return [
        (f"{column} IN ({', '.join('?' * len(values[i : i + _IN_CHUNK]))})", values[i : i + _IN_CHUNK])
        for i in range(0, len(values), _IN_CHUNK)
    ]


#: Columns of ``pages`` that describe a page (everything but the internal id and location).
PAGE_COLUMNS = ("page_id", "doc_id", "source", "page", "content_hash", "fields", "image")


class Manifest:
    """A connection to ``manifest.sqlite`` with explicit read and write transactions."""

    def __init__(self, path: Path, *, create: dict[str, str] | None = None) -> None:
        """Connect to the manifest at ``path``; with ``create``, make the schema and store these
        settings in one transaction (a crash leaves no tables or all of them, never some)."""
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60.0)
        try:
            # Autocommit mode: transactions are opened explicitly below. One PageIndex may be used
            # from several threads; the PageIndex serialises access with its own lock.
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            if create is not None:
                with self.write():
                    # Statement by statement: executescript would commit our open transaction.
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            self.conn.execute(statement)
                    self.set_meta(create)
            elif not self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                # Only a creation killed before its first commit leaves a manifest with no tables
                # (creation is atomic now; it was not in older releases).
                self.conn.close()
                raise IndexCorruptError(
                    f"the manifest {path} has no tables: the index's creation was interrupted and it "
                    "holds no pages. Delete the directory and create the index again."
                )
            else:
                self.conn.execute("SELECT count(*) FROM pages").fetchone()
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise IndexCorruptError(
                f"the manifest {path} cannot be read ({exc}). Restore the index directory from a "
                "backup or rebuild the index."
            ) from None

    def close(self) -> None:
        self.conn.close()

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        """A snapshot: every query inside sees the same committed state."""
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        """A write transaction: all or nothing. Each one bumps the manifest's generation."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.conn.execute(
                "INSERT INTO meta (key, value) VALUES ('generation', '1') "
                "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
            )
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def generation(self) -> int:
        """A number that changes with every committed write: read inside a snapshot, it names it."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    # -- settings ---------------------------------------------------------------------------------
    def get_meta(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, value FROM meta").fetchall())

    def set_meta(self, values: dict[str, str]) -> None:
        self.conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", values.items())

    # -- segments ---------------------------------------------------------------------------------
    def segments(self) -> dict[int, SegmentFile]:
        rows = self.conn.execute("SELECT id, name, rows, nbytes, sha256 FROM segments ORDER BY id")
        return {sid: SegmentFile(name, n, nbytes, sha) for sid, name, n, nbytes, sha in rows}

    def register_segment(self, seg: SegmentFile) -> int:
        """Register a segment written in the current format (call inside :meth:`write`)."""
        self.conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'format_version' AND CAST(value AS INTEGER) < ?",
            (str(FORMAT_VERSION), FORMAT_VERSION),
        )
        cur = self.conn.execute(
            "INSERT INTO segments (name, rows, nbytes, sha256) VALUES (?, ?, ?, ?)",
            (seg.name, seg.rows, seg.nbytes, seg.sha256),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def drop_segments(self, ids: list[int]) -> None:
        self.conn.executemany("DELETE FROM segments WHERE id = ?", [(i,) for i in ids])

    def live_rows_per_segment(self) -> dict[int, int]:
        return dict(self.conn.execute("SELECT segment, count(*) FROM pages GROUP BY segment").fetchall())

    def rows_out_of_range(self) -> int:
        """Pages pointing past the end of their segment: a manifest that lies about the data."""
        return self.conn.execute(
            "SELECT count(*) FROM pages p JOIN segments s ON p.segment = s.id "
            "WHERE p.row >= s.rows OR p.row < 0"
        ).fetchone()[0]

    # -- pages ------------------------------------------------------------------------------------
    def count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM pages").fetchone()[0]

    def existing(self, page_ids: list[str]) -> dict[str, tuple[str, str | None]]:
        """``page_id -> (content_hash, image)`` for those of ``page_ids`` that are stored."""
        out: dict[str, tuple[str, str | None]] = {}
        for where, params in in_clauses("page_id", page_ids):
            rows = self.conn.execute(f"SELECT page_id, content_hash, image FROM pages WHERE {where}", params)
            out.update((pid, (h, img)) for pid, h, img in rows)
        return out

    def put_pages(self, rows: list[tuple[Any, ...]]) -> None:
        """Insert or replace pages; each row is ``PAGE_COLUMNS + (segment, row)``."""
        self.conn.executemany(
            f"INSERT INTO pages ({', '.join(PAGE_COLUMNS)}, segment, row) VALUES ({', '.join('?' * 9)}) "
            "ON CONFLICT(page_id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in (*PAGE_COLUMNS[1:], "segment", "row")),
            rows,
        )

    def delete_where(self, where: str, params: list[Any]) -> int:
        return self.conn.execute(f"DELETE FROM pages WHERE {where}", params).rowcount

    def locations(self, where: str = "1", params: list[Any] | None = None) -> tuple[np.ndarray, ...]:
        """``(ids, segments, rows)`` of matching pages, ordered by location for sequential reads."""
        cur = self.conn.execute(
            f"SELECT id, segment, row FROM pages WHERE {where} ORDER BY segment, row", params or []
        )
        data = np.array(cur.fetchall(), dtype=np.int64).reshape(-1, 3)
        return data[:, 0], data[:, 1], data[:, 2]

    def move(self, moves: list[tuple[int, int, int]]) -> None:
        """Point pages at new locations: ``(segment, row, id)`` triples."""
        self.conn.executemany("UPDATE pages SET segment = ?, row = ? WHERE id = ?", moves)

    def pages(self, where: str, params: list[Any]) -> list[tuple[Any, ...]]:
        """``(id, *PAGE_COLUMNS, segment, row)`` of matching pages."""
        return self.conn.execute(
            f"SELECT id, {', '.join(PAGE_COLUMNS)}, segment, row FROM pages WHERE {where}", params
        ).fetchall()

    def images_in_use(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT DISTINCT image FROM pages WHERE image IS NOT NULL")}
