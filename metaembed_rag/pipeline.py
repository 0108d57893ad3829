"""Ingestion: PDF folders to a searchable PageIndex, incremental and resumable.

Each file is hashed before anything is rendered. A document already stored completely with the
same file hash is skipped; one stored with another hash is replaced; one stored partly (a run
that was interrupted) is resumed, and the pages already committed are skipped by content hash.
Pages are encoded in batches and committed in chunks, so a kill loses at most the chunk in flight.

What is stored from protected files: a PDF opened with ``password`` is decrypted to be rendered,
and its text layer and page image are stored in the index **unencrypted**, like any other page.
The report says so (``IngestReport.decrypted``, a line in ``summary()``); ``store_text=False`` and
``store_images=False`` keep the text and the images out of the index (for every file of the run).
Without stored text, BM25 and hybrid search have nothing to match for those pages; without stored
images, results carry no page image.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .documents import (
    DEFAULT_DPI,
    DEFAULT_EXCLUDE,
    DEFAULT_INCLUDE,
    DEFAULT_MAX_PIXELS,
    DocumentError,
    FileStatus,
    Page,
    doc_id_for,
    find_inputs,
    load_files,
    printable_path,
)
from .documents.source import inspect_source
from .index import PageIndex
from .model import MetaEmbed

__all__ = ["FileOutcome", "IngestReport", "index_folder", "page_metadata"]

THUMBNAIL_PIXELS = 768 * 1024  # stored page images are for display, not for re-encoding


@dataclass
class FileOutcome:
    """What happened to one file: added, skipped, replaced, resumed, removed or failed."""

    path: str
    doc_id: str
    status: str
    pages: int = 0
    reason: str | None = None
    decrypted: bool = False  # opened with the password: its pages were stored in clear


@dataclass
class IngestReport:
    files: list[FileOutcome] = field(default_factory=list)
    pages_added: int = 0
    pages_skipped: int = 0
    pages_removed: int = 0
    seconds: float = 0.0
    stored_text: bool = True
    stored_images: bool = True

    def count(self, status: str) -> int:
        return sum(f.status == status for f in self.files)

    @property
    def failed(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "failed"]

    @property
    def decrypted(self) -> list[FileOutcome]:
        """Encrypted files indexed with the password (pages stored or resumed in this run)."""
        return [f for f in self.files if f.decrypted and f.status != "failed"]

    def _decrypted_note(self) -> str | None:
        if not self.decrypted:
            return None
        kinds = (("text layer", self.stored_text), ("page images", self.stored_images))
        stored = [what for what, kept in kinds if kept]
        head = f"  note: {len(self.decrypted)} encrypted file(s) were decrypted with the password"
        if not stored:
            return head + "; neither their text nor their page images were stored (vectors only)"
        return (head + f"; their {' and '.join(stored)} are stored in the index UNENCRYPTED "
                "(store_text=False / store_images=False, CLI --no-text / --no-images, keep them out)")

    def summary(self) -> str:
        statuses = ("added", "replaced", "resumed", "skipped", "removed", "failed")
        counts = ", ".join(f"{self.count(s)} {s}" for s in statuses if self.count(s))
        rate = self.pages_added / self.seconds if self.seconds else 0.0
        lines = [
            f"{len(self.files)} files ({counts or 'none'}); {self.pages_added} pages indexed, "
            f"{self.pages_skipped} unchanged, {self.pages_removed} removed in {self.seconds:.1f}s "
            f"({rate:.1f} pages/s)"
        ]
        lines += [f"  failed: {f.reason}" for f in self.failed]
        if (note := self._decrypted_note()) is not None:
            lines.append(note)
        return "\n".join(lines)


def page_metadata(page: Page, *, file_hash: str, page_count: int, store_text: bool = True) -> dict[str, Any]:
    """What the index stores beside a page's vectors (the text feeds RAG answers and BM25;
    ``store_text=False`` stores an empty text)."""
    return {
        "page_id": page.page_id,
        "doc_id": page.doc_id,
        "source": printable_path(page.source),
        "page": page.page_number,
        "content_hash": page.content_hash,
        "file_hash": file_hash,
        "page_count": page_count,
        "width": page.width,
        "height": page.height,
        "text": page.text if store_text else "",
    }


_DONE = object()


def prefetch(items: Iterable[Any], depth: int) -> Iterator[Any]:
    """Iterate ``items`` in a background thread, at most ``depth`` ahead, so rendering (PDFium
    releases the GIL) overlaps encoding. Errors are re-raised in the consumer."""
    buffer: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                buffer.put(item)
        except BaseException as error:  # handed to the consumer, not lost in the thread
            buffer.put(error)
        buffer.put(_DONE)

    thread = threading.Thread(target=produce, name="metaembed-render", daemon=True)
    thread.start()
    try:
        while (item := buffer.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full buffer
            try:
                buffer.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


def _stored_documents(index: PageIndex) -> dict[str, dict[str, Any]]:
    """Per stored document: the file hashes its pages came from and how many pages are stored."""
    docs: dict[str, dict[str, Any]] = defaultdict(lambda: {"hashes": set(), "pages": 0})
    for page in index.pages():
        doc = docs[page.doc_id or page.page_id]
        doc["hashes"].add(page.fields.get("file_hash"))
        doc["pages"] += 1
    return dict(docs)


def _document_input(model: MetaEmbed, page: Page) -> Any:
    """Text backbones read the text layer; a page without one is indexed by its file name."""
    if model.config.family == "bert":
        return page.text if page.text.strip() else f"{Path(page.source).name} page {page.page_number}"
    return page.image


def _thumbnail(page: Page) -> Any:
    image = page.image
    if image.width * image.height > THUMBNAIL_PIXELS:
        scale = (THUMBNAIL_PIXELS / (image.width * image.height)) ** 0.5
        image = image.resize((max(1, int(image.width * scale)), max(1, int(image.height * scale))))
    return image


def index_folder(
    folder: str | Path,
    index: PageIndex,
    model: MetaEmbed,
    *,
    include: Sequence[str] = DEFAULT_INCLUDE,
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
    renderer: str = "pdfium",
    dpi: float = DEFAULT_DPI,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    password: str | None = None,
    batch_size: int = 16,
    commit_every: int = 64,
    sync: bool = False,
    workers: int | None = 1,
    store_images: bool = True,
    store_text: bool = True,
    show_progress_bar: bool = True,
    max_pages: int | None = None,
    page_timeout: float | None = None,
) -> IngestReport:
    """Index every document under ``folder`` (or the one file ``folder`` names) into ``index``; see
    the module docstring.

    ``sync=True`` also deletes documents whose files are gone from ``folder``. One bad file never
    stops the batch: it is reported with its cause and fix in ``IngestReport.failed``. A single file
    gets the same document id (its name) as when its folder is indexed.
    ``store_images`` / ``store_text`` choose whether page images and text layers are stored (see
    the module docstring about encrypted files). For untrusted folders, ``max_pages`` reports
    longer documents as failed instead of indexing them, and ``page_timeout`` (seconds per page)
    stops a renderer stuck on a hostile page and reports the file (see ``RenderOptions``).
    """
    started = time.perf_counter()
    root, files = find_inputs(folder, include, exclude, sync=sync)
    report = IngestReport(stored_text=store_text, stored_images=store_images)
    stored = _stored_documents(index)
    to_render: list[Path] = []
    hashes: dict[str, tuple[str, int]] = {}
    for path in files:
        doc_id = doc_id_for(path, root)
        try:
            # hash and page count, or why it cannot be read
            source = inspect_source(path, password, max_pages)
        except DocumentError as error:
            report.files.append(FileOutcome(printable_path(path), doc_id, "failed", reason=str(error)))
            continue
        except Exception as error:  # a bug or an exotic OS error must not end the batch
            reason = f"{printable_path(path)}: could not be inspected ({type(error).__name__}: {error})"
            report.files.append(FileOutcome(printable_path(path), doc_id, "failed", reason=reason))
            continue
        file_hash, count = source.file_hash, source.num_pages
        hashes[doc_id] = (file_hash, count)
        previous = stored.get(doc_id)
        if previous is None:
            status = "added"
        elif previous["hashes"] == {file_hash} and previous["pages"] == count:
            report.files.append(FileOutcome(printable_path(path), doc_id, "skipped", pages=previous["pages"]))
            report.pages_skipped += previous["pages"]
            continue
        elif previous["hashes"] == {file_hash}:
            status = "resumed"
        else:
            report.pages_removed += index.delete(doc_id=doc_id)
            status = "replaced"
        report.files.append(FileOutcome(printable_path(path), doc_id, status, decrypted=source.encrypted))
        to_render.append(path)
    if sync:
        for doc_id in sorted(set(stored) - set(hashes)):
            removed = index.delete(doc_id=doc_id)
            report.pages_removed += removed
            report.files.append(FileOutcome(doc_id, doc_id, "removed", pages=removed))

    stream = load_files(to_render, root=root, dpi=dpi, max_pixels=max_pixels, renderer=renderer,
                        password=password, workers=workers, max_pages=max_pages, page_timeout=page_timeout)
    bar = tqdm(total=sum(hashes[doc_id_for(p, root)][1] for p in to_render), unit="page",
               desc="Indexing", disable=not show_progress_bar)

    def batches() -> Iterator[tuple[Any, list[dict[str, Any]], list[Any] | None]]:
        pending: list[Page] = []
        for page in prefetch(stream, depth=2 * batch_size):
            pending.append(page)
            if len(pending) == batch_size:
                yield encode(pending)
                pending = []
        if pending:
            yield encode(pending)

    def encode(pages: list[Page]) -> tuple[Any, list[dict[str, Any]], list[Any] | None]:
        vectors = model.encode_documents([_document_input(model, p) for p in pages], batch_size=batch_size)
        metas = [page_metadata(p, file_hash=hashes[p.doc_id][0], page_count=hashes[p.doc_id][1],
                               store_text=store_text) for p in pages]
        bar.update(len(pages))
        return vectors, metas, [_thumbnail(p) for p in pages] if store_images else None

    with bar:
        result = index.add(batches(), commit_every=commit_every)
    report.pages_added += result.added + result.replaced
    report.pages_skipped += result.skipped
    outcomes = {f.doc_id: f for f in report.files}
    for file_report in stream.report.files:
        outcome = outcomes.get(file_report.doc_id)
        if outcome is None:
            continue
        if file_report.status is FileStatus.FAILED:
            outcome.status, outcome.reason = "failed", file_report.reason
        outcome.pages = file_report.num_pages
    report.seconds = time.perf_counter() - started
    return report
