"""A PageIndex read without torch: its settings, sizes and the metadata fields its pages hold.

``metaembed-rag info`` and the checks the command line makes before it loads a model (budget,
filter, which model the index was built with) read the manifest here, through a read-only SQLite
connection, so they answer in milliseconds. :class:`~metaembed_rag.index.PageIndex` is the full
reader and writer.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .filters import BUILTIN_KINDS, json_kind

__all__ = ["FIELD_KINDS_SQL", "MANIFEST_NAME", "IndexSummary", "field_kinds", "read_summary"]

MANIFEST_NAME = "manifest.sqlite"
#: ``(field, json type)`` of every user field the pages hold (SQLite's JSON1 type names).
FIELD_KINDS_SQL = "SELECT DISTINCT j.key, j.type FROM pages, json_each(pages.fields) AS j"


@dataclass(frozen=True)
class IndexSummary:
    """What ``metaembed-rag info`` prints: the settings and sizes of an index."""

    path: Path
    fingerprint: dict[str, Any]
    dtype: str
    format_version: int
    pages: int
    segments: int
    dead_rows: int
    bytes_on_disk: int


def _connect(path: Path) -> sqlite3.Connection:
    manifest = path / MANIFEST_NAME
    if not manifest.is_file():
        raise FileNotFoundError(f"no PageIndex at {path} ({MANIFEST_NAME} is missing)")
    return sqlite3.connect(f"{manifest.resolve().as_uri()}?mode=ro", uri=True, timeout=60.0)


def field_kinds(conn: sqlite3.Connection) -> dict[str, set[str]]:
    """Every filterable field of the pages behind ``conn`` with the kinds of value it holds
    (``"string"``, ``"number"``, ``"bool"``, ``"null"``, ``"list"``, ``"object"``)."""
    kinds: dict[str, set[str]] = {key: set(held) for key, held in BUILTIN_KINDS.items()}
    for key, sql_type in conn.execute(FIELD_KINDS_SQL):
        kinds.setdefault(key, set()).add(json_kind(sql_type))
    return kinds


def read_summary(path: str | Path, *, fields: bool = False) -> tuple[IndexSummary, dict[str, set[str]]]:
    """The summary of the index at ``path`` and, with ``fields``, its :func:`field_kinds` (else {})."""
    path = Path(path)
    conn = _connect(path)
    try:
        conn.execute("BEGIN")  # one snapshot for every count
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            pages = conn.execute("SELECT count(*) FROM pages").fetchone()[0]
            segments, rows = conn.execute("SELECT count(*), coalesce(sum(rows), 0) FROM segments").fetchone()
            kinds = field_kinds(conn) if fields else {}
        finally:
            conn.execute("COMMIT")
    except sqlite3.DatabaseError as error:
        raise RuntimeError(f"the manifest of the index at {path} cannot be read ({error})") from None
    finally:
        conn.close()
    try:
        fingerprint = json.loads(meta["fingerprint"])
        summary = IndexSummary(path, fingerprint, meta["dtype"], int(meta["format_version"]), pages,
                               segments, rows - pages, _bytes_on_disk(path))
    except (KeyError, ValueError) as error:
        raise RuntimeError(f"the manifest of the index at {path} lacks valid settings ({error!r})") from None
    return summary, kinds


def _bytes_on_disk(path: Path) -> int:
    total = 0
    for file in path.rglob("*"):
        with contextlib.suppress(FileNotFoundError):  # removed by a concurrent writer meanwhile
            total += file.stat().st_size if file.is_file() else 0
    return total
