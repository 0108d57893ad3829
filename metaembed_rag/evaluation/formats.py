"""Reading the files of a BEIR / ViDoRe-style dataset folder into plain rows.

Accepted layouts (``<split>`` is e.g. ``test``)::

    corpus.jsonl   queries.jsonl   qrels/<split>.tsv          (BEIR)
    corpus.parquet queries.parquet qrels/<split>.parquet      (flat parquet)
    corpus/*.parquet queries/*.parquet qrels/<split>-*.parquet (Hugging Face shards, as ViDoRe v2)

Column names are matched through the aliases below, so BEIR's ``_id``/``text`` and ViDoRe's
``corpus-id``/``query-id``/``query`` both work. Parquet needs ``pyarrow``
(``pip install metaembed-rag[eval]``).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["DatasetError", "available_splits", "read_qrels", "read_rows", "split_files"]

_SHARD = re.compile(r"-\d{5}-of-\d{5}$")
#: Our field name -> accepted column names, most specific first.
CORPUS_COLUMNS = {
    "_id": ("_id", "corpus-id", "corpus_id", "id", "docid"),
    "text": ("text", "markdown"),
    "title": ("title",),
    "image": ("image", "image_path"),
    "pdf": ("pdf",),
    "page": ("page",),
}
QUERY_COLUMNS = {"_id": ("_id", "query-id", "query_id", "id", "qid"), "text": ("text", "query")}
QREL_COLUMNS = {
    "query-id": ("query-id", "query_id", "qid"),
    "corpus-id": ("corpus-id", "corpus_id", "docid", "doc-id"),
    "score": ("score", "relevance", "rel"),
}


class DatasetError(ValueError):
    """A dataset folder or file that cannot be read as a retrieval dataset; says what to fix."""


def _files(root: Path, name: str) -> list[Path]:
    """``name.jsonl``, ``name.parquet`` or ``name/*.parquet`` (shards), whichever exists first."""
    for candidate in (root / f"{name}.jsonl", root / f"{name}.parquet"):
        if candidate.is_file():
            return [candidate]
    shards = sorted((root / name).glob("*.parquet")) if (root / name).is_dir() else []
    if shards:
        return shards
    raise DatasetError(
        f"{root} has no {name}.jsonl, {name}.parquet or {name}/*.parquet; a dataset folder holds "
        "corpus, queries and qrels/<split> files in BEIR or ViDoRe layout"
    )


def _rename(row: dict[str, Any], columns: dict[str, tuple[str, ...]], where: str) -> dict[str, Any]:
    out = {}
    for field, aliases in columns.items():
        for alias in aliases:
            if row.get(alias) is not None:
                out[field] = row[alias]
                break
    if "_id" in columns and "_id" not in out:
        raise DatasetError(f"{where}: no id column (expected one of {', '.join(columns['_id'])})")
    return out


def _jsonl_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise DatasetError(f"{path}:{number}: not valid JSON ({error.msg})") from None
            if not isinstance(row, dict):
                raise DatasetError(f"{path}:{number}: each line must be a JSON object")
            yield f"{path}:{number}", row


def _parquet_table(path: Path) -> list[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DatasetError(
            f"{path} is parquet, which needs pyarrow: pip install 'metaembed-rag[eval]' (or pyarrow)"
        ) from None
    try:
        return pq.read_table(path).to_pylist()
    except Exception as error:  # pyarrow raises several types for damaged files
        raise DatasetError(f"{path}: cannot read parquet ({error})") from None


def _parquet_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for number, row in enumerate(_parquet_table(path), 1):
        yield f"{path} row {number}", row


def read_rows(root: Path, name: str, columns: dict[str, tuple[str, ...]]) -> list[dict[str, Any]]:
    """Rows of ``corpus`` or ``queries`` with columns renamed to our field names; ids as str."""
    rows = []
    for path in _files(root, name):
        reader = _jsonl_rows(path) if path.suffix == ".jsonl" else _parquet_rows(path)
        for where, raw in reader:
            row = _rename(raw, columns, where)
            row["_id"] = str(row["_id"])
            row["_where"] = where
            rows.append(row)
    return rows


def split_files(root: Path) -> dict[str, list[Path]]:
    """``split -> qrels files`` found under ``root/qrels`` (shards of one split grouped)."""
    folder = root / "qrels"
    found: dict[str, list[Path]] = {}
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.suffix in (".tsv", ".parquet") and path.is_file():
                found.setdefault(_SHARD.sub("", path.stem), []).append(path)
    return found


def available_splits(root: str | Path) -> list[str]:
    """The qrels splits of a dataset folder, e.g. ``["dev", "test"]``."""
    return sorted(split_files(Path(root)))


def _score(value: Any, where: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DatasetError(f"{where}: relevance score {value!r} is not a number") from None
    if not number.is_integer():
        raise DatasetError(
            f"{where}: relevance score {value!r} is not an integer (graded levels 0, 1, 2, ...)"
        )
    return int(number)


def _tsv_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader, None)
        if header is None:
            return
        names = [h.strip() for h in header]
        if not any(n in QREL_COLUMNS["query-id"] for n in names):
            raise DatasetError(
                f"{path}: the first line must be the header 'query-id<TAB>corpus-id<TAB>score', got {header}"
            )
        for number, values in enumerate(reader, 2):
            if values:
                yield f"{path}:{number}", dict(zip(names, values, strict=False))


def read_qrels(files: list[Path]) -> dict[str, dict[str, int]]:
    """``query id -> {doc id: relevance}`` from qrels TSV or parquet files."""
    qrels: dict[str, dict[str, int]] = {}
    for path in files:
        reader = _tsv_rows(path) if path.suffix == ".tsv" else _parquet_rows(path)
        for where, raw in reader:
            row = _rename(raw, QREL_COLUMNS, where)
            missing = [c for c in QREL_COLUMNS if c not in row]
            if missing:
                raise DatasetError(
                    f"{where}: missing {', '.join(missing)} (columns: query-id, corpus-id, score)"
                )
            qrels.setdefault(str(row["query-id"]), {})[str(row["corpus-id"])] = _score(row["score"], where)
    return qrels
