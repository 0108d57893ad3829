"""Training data sources: JSONL pair files and BEIR-style datasets, as lazy example sequences.

A pair file has one JSON object per line::

    {"query": "How do I set the plot title?",
     "positive": {"pdf": "gnuplot.pdf", "page": 12},
     "negatives": [{"pdf": "gnuplot.pdf", "page": 80}, {"text": "an unrelated passage"}]}

``negatives`` is optional. Items are described in :mod:`.items`; relative paths are read from the
folder of the pair file. Every line is checked when the file is loaded (JSON, query, items, files,
page ranges), and all problems are raised together as one :class:`PairFileError` naming file,
line and fix, so a bad line fails before training starts rather than in the middle of it. Pages
are only read when the trainer asks for an example.

    pairs = load_pairs("data/minilm/train.jsonl", read_images=False)
    example = pairs[0]          # TrainingExample(query, positive, negatives, positive_id)
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

from ..documents.options import RenderOptions
from ..model.inputs import EncoderInput
from .examples import TrainingExample
from .items import ItemError, ItemReader, ItemSpec, PageCounter, parse_item

__all__ = ["PairDataset", "PairFileError", "PairRecord", "examples_from_beir", "load_pairs"]

_MAX_LISTED = 30  # problems printed in one error; the rest are counted


class PairFileError(ValueError):
    """A data file has malformed lines. ``problems`` holds one ``"<file>:<line>: ..."`` each."""

    def __init__(self, path: str | Path, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        listed = "\n  ".join(problems[:_MAX_LISTED])
        more = f"\n  ... and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
        super().__init__(f"{path}: {len(problems)} problem(s), nothing was loaded:\n  {listed}{more}")


@dataclass(frozen=True)
class PairRecord:
    """One checked pair, before its items are read. ``origin`` is ``"<file>:<line>"``."""

    query: str
    positive: ItemSpec
    negatives: tuple[ItemSpec, ...]
    origin: str
    positive_id: str | None = None


class PairDataset(Sequence[TrainingExample]):
    """A lazy sequence of :class:`TrainingExample`: items are read in ``__getitem__``.

    ``positive_id`` is the BEIR corpus id or, for pair files, the positive item's key
    (``"<pdf path>:<page>"``, the image path, or a hash of the text).
    """

    def __init__(self, records: Sequence[PairRecord], reader: ItemReader) -> None:
        self.records = list(records)
        self.reader = reader

    def __len__(self) -> int:
        return len(self.records)

    @overload
    def __getitem__(self, index: int) -> TrainingExample: ...
    @overload
    def __getitem__(self, index: slice) -> list[TrainingExample]: ...
    def __getitem__(self, index: int | slice) -> TrainingExample | list[TrainingExample]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        record = self.records[index]
        where = record.origin
        return TrainingExample(
            query=EncoderInput(text=record.query),
            positive=self.reader.resolve(record.positive, where),
            negatives=tuple(self.reader.resolve(item, where) for item in record.negatives),
            positive_id=record.positive_id or record.positive.key,
        )

    def __iter__(self) -> Iterator[TrainingExample]:
        for index in range(len(self)):
            yield self[index]

    @property
    def positive_ids(self) -> list[str]:
        """Every example's ``positive_id`` without reading any item (the trainer's batch planner uses it)."""
        return [record.positive_id or record.positive.key for record in self.records]

    def __repr__(self) -> str:
        return f"PairDataset({len(self)} pairs, read_images={self.reader.read_images})"


def load_pairs(
    path: str | Path, *, read_images: bool, render: RenderOptions | None = None, cache_size: int = 4096
) -> PairDataset:
    """Check a JSONL pair file and return its examples as a lazy :class:`PairDataset`.

    ``read_images=False`` is for text backbones: PDF pages become their text layer (LRU-cached,
    ``cache_size`` pages) and are never rendered; image items then need a ``"text"``.
    ``read_images=True`` renders PDF pages with ``render`` options (default 144 dpi) and loads
    images. Raises :class:`PairFileError` listing every malformed line, or ``FileNotFoundError``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pair file not found: {path}; pass the path of a .jsonl file")
    base = path.resolve().parent
    pages = PageCounter()
    records: list[PairRecord] = []
    problems: list[str] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue  # blank lines (a trailing newline) are harmless
            origin = f"{path}:{number}"
            try:
                records.append(_parse_line(line, origin, base, pages, read_images))
            except ItemError as error:
                problems.append(f"{origin}: {error}")
    if problems:
        raise PairFileError(path, problems)
    if not records:
        raise PairFileError(path, [f"{path}: the file has no pairs; write one JSON object per line"])
    return PairDataset(records, ItemReader(read_images=read_images, options=render, cache_size=cache_size))


def _parse_line(line: str, origin: str, base: Path, pages: PageCounter, read_images: bool) -> PairRecord:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise ItemError(
            f"not valid JSON ({error.msg} at column {error.colno}); write one object per line"
        ) from None
    if not isinstance(row, dict):
        raise ItemError(
            f'a line must be a JSON object {{"query": ..., "positive": ...}}, got {type(row).__name__}'
        )
    unknown = set(row) - {"query", "positive", "negatives"}
    if unknown:
        raise ItemError(
            f"unknown key(s) {sorted(unknown)}; a pair has query, positive and optional negatives"
        )
    query = row.get("query")
    if query is None:
        raise ItemError('missing "query": add the query text, e.g. "query": "how do I ..."')
    if not isinstance(query, str) or not query.strip():
        raise ItemError(f'"query" must be a non-empty string, got {query!r}')
    if "positive" not in row:
        raise ItemError('missing "positive": add the relevant item, e.g. {"pdf": "a.pdf", "page": 3}')
    positive = _item(row["positive"], "positive", base, pages, read_images)
    negatives = row.get("negatives", [])
    if not isinstance(negatives, list):
        raise ItemError(f'"negatives" must be a list of items, got {type(negatives).__name__}')
    parsed = tuple(
        _item(item, f"negatives[{i}]", base, pages, read_images) for i, item in enumerate(negatives)
    )
    return PairRecord(query, positive, parsed, origin)


def _item(value: Any, name: str, base: Path, pages: PageCounter, read_images: bool) -> ItemSpec:
    try:
        return parse_item(value, base, pages, read_images=read_images)
    except ItemError as error:
        raise ItemError(f"{name}: {error}") from None


def examples_from_beir(
    dataset_dir: str | Path,
    split: str,
    *,
    read_images: bool,
    render: RenderOptions | None = None,
    cache_size: int = 4096,
) -> PairDataset:
    """One example per qrel with score > 0 of a BEIR-style dataset folder, lazily read.

    The folder holds ``corpus.jsonl`` (``{"_id", "text"?, "title"?, "image"?, "pdf"?, "page"?}``),
    ``queries.jsonl`` (``{"_id", "text"}``) and ``qrels/<split>.tsv`` (header
    ``query-id  corpus-id  score``). A corpus row with ``pdf`` is that page (its ``text``, if any,
    is used instead of extracting); with ``image`` that image; otherwise ``title`` and ``text``
    joined by a space, as BEIR does. ``positive_id`` is the corpus id. Problems are raised together as one
    :class:`PairFileError`.
    """
    root = Path(dataset_dir)
    qrels_path = root / "qrels" / f"{split}.tsv"
    for needed in (root / "corpus.jsonl", root / "queries.jsonl", qrels_path):
        if not needed.is_file():
            raise FileNotFoundError(f"{needed} not found: a BEIR dataset folder holds corpus.jsonl, "
                                    f"queries.jsonl and qrels/<split>.tsv")
    base = root.resolve()
    pages = PageCounter()
    problems: list[str] = []
    corpus = _read_beir_corpus(root / "corpus.jsonl", base, pages, read_images, problems)
    queries = _read_beir_queries(root / "queries.jsonl", problems)
    records: list[PairRecord] = []
    for origin, query_id, corpus_id in _read_qrels(qrels_path, problems):
        if query_id not in queries:
            problems.append(f"{origin}: query-id {query_id!r} is not in queries.jsonl")
        elif corpus_id not in corpus:
            problems.append(f"{origin}: corpus-id {corpus_id!r} is not in corpus.jsonl (or its row is bad)")
        else:
            record = PairRecord(queries[query_id], corpus[corpus_id], (), origin, positive_id=corpus_id)
            records.append(record)
    if problems:
        raise PairFileError(root, problems)
    if not records:
        raise PairFileError(root, [f"{qrels_path}: no qrel with score > 0, so there is nothing to train on"])
    return PairDataset(records, ItemReader(read_images=read_images, options=render, cache_size=cache_size))


def _jsonl_rows(path: Path, problems: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            origin = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                problems.append(f"{origin}: not valid JSON ({error.msg} at column {error.colno})")
                continue
            if not isinstance(row, dict) or not isinstance(row.get("_id"), (str, int)):
                problems.append(f'{origin}: each row must be a JSON object with an "_id"')
                continue
            yield origin, row


def _read_beir_corpus(
    path: Path, base: Path, pages: PageCounter, read_images: bool, problems: list[str]
) -> dict[str, ItemSpec]:
    corpus: dict[str, ItemSpec] = {}
    for origin, row in _jsonl_rows(path, problems):
        title, text = row.get("title") or "", row.get("text") or ""
        item: dict[str, Any] = {k: row[k] for k in ("image", "pdf", "page") if k in row}
        joined = " ".join(part.strip() for part in (title, text) if isinstance(part, str) and part.strip())
        if joined:
            item["text"] = joined
        try:
            corpus[str(row["_id"])] = parse_item(item, base, pages, read_images=read_images)
        except ItemError as error:
            problems.append(f"{origin}: {error}")
    return corpus


def _read_beir_queries(path: Path, problems: list[str]) -> dict[str, str]:
    queries: dict[str, str] = {}
    for origin, row in _jsonl_rows(path, problems):
        text = row.get("text")
        if not isinstance(text, str) or not text.strip():
            problems.append(f'{origin}: query {row["_id"]!r} needs a non-empty "text"')
            continue
        queries[str(row["_id"])] = text
    return queries


def _read_qrels(path: Path, problems: list[str]) -> Iterator[tuple[str, str, str]]:
    """``(origin, query_id, corpus_id)`` for each qrel with score > 0."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t")
        header = next(rows, None)
        if header is None or [cell.strip() for cell in header[:3]] != ["query-id", "corpus-id", "score"]:
            problems.append(f"{path}:1: the first line must be the header 'query-id<TAB>corpus-id<TAB>score'")
            return
        for number, row in enumerate(rows, start=2):
            if not row or not "".join(row).strip():
                continue
            origin = f"{path}:{number}"
            if len(row) < 3:
                problems.append(f"{origin}: expected 3 tab-separated columns, got {len(row)}")
                continue
            try:
                score = float(row[2])
            except ValueError:
                problems.append(f"{origin}: score {row[2]!r} is not a number")
                continue
            if score > 0:
                yield origin, row[0].strip(), row[1].strip()
