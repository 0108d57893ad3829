"""Retrieval datasets: a corpus, queries and graded relevance judgments (qrels), BEIR style.

    from metaembed_rag.evaluation import load_dataset

    data = load_dataset("datasets/scifact", split="test")   # or a ViDoRe parquet folder
    data.corpus["4983"].text, data.queries["1"], data.qrels["1"]    # {"4983": 1}
    texts = data.document_texts()                  # one str per corpus item, in corpus order
    inputs = data.document_inputs(images=True)     # EncoderInput per item (page images rendered)

Corpus rows (``corpus.jsonl`` or parquet; see :mod:`.formats` for accepted column names)::

    {"_id": "d1", "title": "...", "text": "..."}              # text passage (BEIR)
    {"_id": "d2", "image": "pages/d2.png"}                    # image file (or bytes in parquet)
    {"_id": "d3", "pdf": "pdfs/report.pdf", "page": 3}        # one page of a PDF, 1-based
    {"_id": "d4", "pdf": "pdfs/report.pdf", "page": 4, "text": "..."}  # with its text given

Relative paths resolve against the dataset folder. A PDF row's text is the row's ``text`` when
present, else the page's text layer (pypdfium2); its image is rendered only when asked for
(``document_inputs(images=True)``, i.e. for models that read images). Only the queries judged in
the chosen split's qrels are kept, as in BEIR.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from PIL import Image

from ..documents.options import RenderOptions
from ..model.inputs import EncoderInput
from .formats import (
    CORPUS_COLUMNS,
    QUERY_COLUMNS,
    DatasetError,
    available_splits,
    read_qrels,
    read_rows,
    split_files,
)

__all__ = ["CorpusItem", "DatasetError", "RetrievalDataset", "available_splits", "load_dataset"]


@dataclass(frozen=True)
class CorpusItem:
    """One retrievable item: text (with an optional title), an image, or a PDF page (1-based)."""

    id: str
    text: str | None = None
    title: str | None = None
    image: Path | bytes | None = field(default=None, repr=False)
    pdf: Path | None = None
    page: int | None = None

    def full_text(self) -> str | None:
        """``title + " " + text`` as BEIR joins them (either may be missing); None if neither."""
        parts = [p.strip() for p in (self.title, self.text) if p and p.strip()]
        return " ".join(parts) if parts else None

    def load_image(self) -> Image.Image | None:
        """The item's own image (decoded from bytes or read from its file) as RGB, or None."""
        if self.image is None:
            return None
        source = io.BytesIO(self.image) if isinstance(self.image, bytes) else self.image
        try:
            with Image.open(source) as image:
                return image.convert("RGB")
        except (OSError, Image.DecompressionBombError) as error:
            raise DatasetError(f"corpus item {self.id!r}: cannot read its image ({error})") from None


class _PdfReader:
    """Text layers and page images of the PDFs a corpus points at, each file opened once at a time."""

    def __init__(self, options: RenderOptions) -> None:
        from ..documents.pdfium_backend import DocumentCache

        self.options = options
        self.cache = DocumentCache()
        self.texts: dict[tuple[Path, int], str] = {}

    def _doc(self, item: CorpusItem) -> Any:
        from ..documents.errors import DocumentError

        assert item.pdf is not None and item.page is not None
        try:
            doc = self.cache.get(str(item.pdf), None)
        except DocumentError as error:
            raise DatasetError(f"corpus item {item.id!r}: {error}") from None
        if not 1 <= item.page <= len(doc):
            raise DatasetError(
                f"corpus item {item.id!r}: page {item.page} is not in {item.pdf} ({len(doc)} pages)"
            )
        return doc

    def text(self, item: CorpusItem) -> str:
        from ..documents.pdfium_backend import page_text

        key = (item.pdf, item.page)
        if key not in self.texts:
            self.texts[key] = page_text(self._doc(item), item.page - 1)  # type: ignore[operator]
        return self.texts[key]  # type: ignore[index]

    def image(self, item: CorpusItem) -> Image.Image:
        from ..documents.pdfium_backend import render_page

        return render_page(self._doc(item), item.page - 1, self.options)[0]  # type: ignore[operator]


@dataclass
class RetrievalDataset:
    """``corpus`` (id -> item), ``queries`` (id -> text) and ``qrels`` (query id -> {doc id: grade}).

    Grades are ints; a document counts as relevant when its grade is > 0. ``name`` and ``split``
    describe where it came from (reports print them).
    """

    corpus: dict[str, CorpusItem]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    name: str = "dataset"
    split: str | None = None
    render_options: RenderOptions = field(default_factory=RenderOptions)
    _pdfs: _PdfReader | None = field(default=None, init=False, repr=False)
    _depth: int = field(default=0, init=False, repr=False)

    @property
    def doc_ids(self) -> list[str]:
        return list(self.corpus)

    @property
    def query_ids(self) -> list[str]:
        return list(self.queries)

    def _pdf(self) -> _PdfReader:
        if self._pdfs is None:
            self._pdfs = _PdfReader(self.render_options)
        return self._pdfs

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Keep the last PDF open across one batch call, and close it when the outermost call ends."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if not self._depth and self._pdfs is not None:
                self._pdfs.cache.close()

    def text_of(self, item: CorpusItem) -> str | None:
        """An item's text: title + text, else its PDF page's text layer; None for a bare image."""
        text = item.full_text()
        if text is None and item.pdf is not None:
            with self._reading():
                text = self._pdf().text(item).strip() or None
        return text

    def document_texts(self, ids: Sequence[str] | None = None) -> list[str]:
        """One text per corpus item (``""`` for items without text), in corpus order or ``ids`` order."""
        wanted = self.doc_ids if ids is None else ids
        with self._reading():
            return [self.text_of(self.corpus[i]) or "" for i in wanted]

    def document_input(self, item: CorpusItem, *, images: bool) -> EncoderInput:
        """What an encoder reads for ``item``: its image (rendered PDF page) when ``images`` and it has
        one, else its text. A PDF page without a text layer reads as ``"<file name> page <n>"`` for a
        text model, as the indexing pipeline does."""
        if images:
            image = item.load_image() if item.image is not None else None
            if image is None and item.pdf is not None:
                with self._reading():
                    image = self._pdf().image(item)
            if image is not None:
                return EncoderInput(image=image)
        text = self.text_of(item)
        if text is None and item.pdf is not None:
            text = f"{item.pdf.name} page {item.page}"
        if text is None:
            raise DatasetError(
                f"corpus item {item.id!r} is an image without text, and this model reads text only; "
                "evaluate it with a vision-language model, or add a 'text' column (e.g. OCR)"
            )
        return EncoderInput(text=text)

    def document_inputs(self, ids: Sequence[str] | None = None, *, images: bool) -> list[EncoderInput]:
        """:meth:`document_input` for every item (corpus order) or for ``ids``."""
        wanted = self.doc_ids if ids is None else ids
        with self._reading():
            return [self.document_input(self.corpus[i], images=images) for i in wanted]

    def content_hash(self) -> str:
        """SHA-256 of the corpus content (ids, texts, image and PDF bytes, pages) in corpus order:
        the key under which encoded corpus vectors are cached."""
        digest = hashlib.sha256()
        file_hashes: dict[Path, str] = {}
        for item in self.corpus.values():
            digest.update(repr((item.id, item.title, item.text, item.page)).encode())
            for ref in (item.image, item.pdf):
                if isinstance(ref, bytes):
                    digest.update(hashlib.sha256(ref).digest())
                elif ref is not None:
                    if ref not in file_hashes:
                        file_hashes[ref] = _file_sha256(ref, item.id)
                    digest.update(file_hashes[ref].encode())
        return digest.hexdigest()

    def head(self, max_queries: int | None) -> RetrievalDataset:
        """The same corpus with only the first ``max_queries`` queries (all when None)."""
        if max_queries is None or max_queries >= len(self.queries):
            return self
        if max_queries < 1:
            raise ValueError(f"max_queries must be >= 1, got {max_queries}")
        kept = self.query_ids[:max_queries]
        return replace(
            self, queries={q: self.queries[q] for q in kept}, qrels={q: self.qrels[q] for q in kept}
        )


def _file_sha256(path: Path, item_id: str) -> str:
    from ..documents.page import file_sha256

    try:
        return file_sha256(path)
    except OSError as error:
        raise DatasetError(f"corpus item {item_id!r}: cannot read {path} ({error.strerror})") from None


def _resolve(root: Path, value: Any, where: str, kind: str) -> Path:
    if not isinstance(value, str) or not value:
        raise DatasetError(f"{where}: {kind} must be a file path, got {value!r}")
    path = Path(value).expanduser()
    path = path if path.is_absolute() else root / path
    if not path.is_file():
        raise DatasetError(f"{where}: {kind} file {path} does not exist (relative paths start at {root})")
    return path


def _image_ref(root: Path, value: Any, where: str) -> Path | bytes:
    if isinstance(value, dict):  # Hugging Face Image feature: {"bytes": ..., "path": ...}
        if value.get("bytes"):
            return bytes(value["bytes"])
        value = value.get("path")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return _resolve(root, value, where, "image")


def _corpus_item(root: Path, row: dict[str, Any]) -> CorpusItem:
    where = row["_where"]
    pdf = _resolve(root, row["pdf"], where, "pdf") if "pdf" in row else None
    page = row.get("page")
    if pdf is not None and (isinstance(page, bool) or not isinstance(page, int) or page < 1):
        raise DatasetError(f"{where}: a 'pdf' row needs 'page', its 1-based page number (got {page!r})")
    image = _image_ref(root, row["image"], where) if "image" in row else None
    text, title = row.get("text"), row.get("title")
    if text is None and title is None and image is None and pdf is None:
        raise DatasetError(f"{where}: the row has no text, title, image or pdf; give at least one")
    return CorpusItem(row["_id"], text, title, image, pdf, page if pdf is not None else None)


def _unique(rows: Iterable[dict[str, Any]], what: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["_id"] in out:
            raise DatasetError(f"{row['_where']}: {what} id {row['_id']!r} appears twice")
        out[row["_id"]] = row
    return out


def _check_ids(unknown: list[str], what: str, where: Path, strict: bool) -> None:
    if unknown and strict:
        shown = ", ".join(repr(u) for u in sorted(unknown)[:5])
        raise DatasetError(
            f"qrels in {where} name {len(unknown)} {what} id(s) that are not in the {what} file ({shown}"
            f"{', ...' if len(unknown) > 5 else ''}); fix the files, or pass strict=False to drop them"
        )


def load_dataset(
    directory: str | Path, split: str | None = "test", *, strict: bool = True, name: str | None = None
) -> RetrievalDataset:
    """Load a BEIR / ViDoRe-style dataset folder (see the module docstring and :mod:`.formats`).

    ``split`` names the qrels file (``qrels/<split>.tsv`` or ``.parquet``); None picks the only one
    present. Qrels naming unknown queries or documents are an error, or with ``strict=False`` are
    dropped. Queries without any qrels row in the split are left out.
    """
    root = Path(directory).expanduser()
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist")
    splits = split_files(root)
    if not splits:
        raise DatasetError(f"{root} has no qrels: expected qrels/<split>.tsv or qrels/<split>.parquet")
    if split is None:
        if len(splits) > 1:
            raise DatasetError(f"{root} has several splits ({', '.join(sorted(splits))}); choose one")
        split = next(iter(splits))
    if split not in splits:
        raise DatasetError(f"{root} has no split {split!r}; available: {', '.join(sorted(splits))}")
    qrels = read_qrels(splits[split])
    corpus_rows = _unique(read_rows(root, "corpus", CORPUS_COLUMNS), "corpus")
    corpus = {doc_id: _corpus_item(root, row) for doc_id, row in corpus_rows.items()}
    query_rows = _unique(read_rows(root, "queries", QUERY_COLUMNS), "query")
    _check_ids([q for q in qrels if q not in query_rows], "query", root / "qrels", strict)
    unknown_docs = sorted({d for judged in qrels.values() for d in judged if d not in corpus})
    _check_ids(unknown_docs, "corpus", root / "qrels", strict)
    queries: dict[str, str] = {}
    kept: dict[str, dict[str, int]] = {}
    for query_id, row in query_rows.items():  # query file order
        judged = {d: g for d, g in qrels.get(query_id, {}).items() if d in corpus}
        if not judged:
            continue
        text = row.get("text")
        if not isinstance(text, str) or not text.strip():
            raise DatasetError(f"{row['_where']}: query {query_id!r} has no text")
        queries[query_id], kept[query_id] = text, judged
    if not queries:
        raise DatasetError(f"no query of {root} has qrels in split {split!r}")
    return RetrievalDataset(corpus, queries, kept, name=name or root.name, split=split)
