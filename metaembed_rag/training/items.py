"""Items of training data as written in files (text, image, PDF page), checked and then resolved.

An item is a JSON object, one of::

    {"text": "a passage"}
    {"image": "figures/chart.png"}                  # optionally with "text"
    {"pdf": "manuals/gnuplot.pdf", "page": 12}      # 1-based; optionally with "text"

:func:`parse_item` checks one item when a file is loaded (the file exists, the page is in range)
and returns an :class:`ItemSpec` that holds only paths and strings, so a dataset of many
thousands of pairs stays small. :class:`ItemReader` turns a spec into an :class:`EncoderInput`
when the trainer asks for it: a text backbone (``read_images=False``) gets only the PDF text
layer, never rendered pixels, cached per page; a vision backbone gets the rendered page too.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pypdfium2 as pdfium

from ..documents.errors import DocumentError
from ..documents.images import IMAGE_SUFFIXES, load_image
from ..documents.options import RenderOptions
from ..documents.pdfium_backend import open_pdf, page_text, render_page
from ..model.inputs import EncoderInput

_OPEN_DOCUMENTS = 8

__all__ = ["ItemError", "ItemReader", "ItemSpec", "PageCounter", "parse_item"]


class ItemError(ValueError):
    """One item is malformed. The message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class ItemSpec:
    """A checked item: ``kind`` and what it needs (absolute ``path``, 1-based ``page``, ``text``)."""

    kind: Literal["text", "image", "pdf"]
    text: str | None = None
    path: str | None = None
    page: int | None = None

    @property
    def key(self) -> str:
        """A stable id: ``"<pdf path>:<page>"``, the image path, or ``"text:<sha1 of the text>"``.

        A PDF page keeps its key whatever text it carries (for example a masked text layer), so
        two queries about the same page are recognised as sharing a positive.
        """
        if self.kind == "pdf":
            return f"{self.path}:{self.page}"
        if self.kind == "image":
            return str(self.path)
        digest = hashlib.sha1(str(self.text).encode(), usedforsecurity=False).hexdigest()[:16]
        return f"text:{digest}"


class PageCounter:
    """Page counts of PDFs, each file opened once; failures are remembered as their message."""

    def __init__(self) -> None:
        self._counts: dict[str, int | str] = {}

    def count(self, path: str) -> int | str:
        """The number of pages, or a sentence saying why the file cannot be opened."""
        if path not in self._counts:
            try:
                with open_pdf(path) as doc:
                    self._counts[path] = len(doc)
            except DocumentError as error:
                self._counts[path] = f"cannot open the PDF: {error.reason}"
        return self._counts[path]


def parse_item(value: Any, base: Path, pages: PageCounter, *, read_images: bool) -> ItemSpec:
    """Check one item and resolve its path against ``base``; raise :class:`ItemError` if it is bad."""
    if not isinstance(value, dict):
        raise ItemError(
            f'an item must be a JSON object such as {{"text": "..."}}, {{"image": "a.png"}} or '
            f'{{"pdf": "a.pdf", "page": 1}}, got {type(value).__name__}'
        )
    unknown = set(value) - {"text", "image", "pdf", "page"}
    if unknown:
        raise ItemError(f"unknown key(s) {sorted(unknown)}; an item has text, image, or pdf + page")
    text = value.get("text")
    if text is not None and (not isinstance(text, str) or not text.strip()):
        raise ItemError('"text" must be a non-empty string; leave the key out if there is no text')
    if "image" in value and "pdf" in value:
        raise ItemError('an item has either "image" or "pdf", not both; split it into two items')
    if "pdf" in value:
        return _parse_pdf(value, text, base, pages)
    if "page" in value:
        raise ItemError('"page" belongs to a pdf item; add "pdf": "file.pdf" or remove "page"')
    if "image" in value:
        path = _existing_file(value["image"], base, "image")
        if Path(path).suffix.lower() not in IMAGE_SUFFIXES:
            raise ItemError(f"{path} is not an image ({' '.join(sorted(IMAGE_SUFFIXES))}); "
                            'for a PDF page write {"pdf": ..., "page": n}')
        if not read_images and text is None:
            raise ItemError(
                f"image item {path} has no text, and this text backbone cannot read images: "
                'add a "text" to the item, or load with read_images=True for a vision model'
            )
        return ItemSpec("image", text=text, path=path)
    if text is None:
        raise ItemError('the item is empty: give it "text", "image" or "pdf" + "page"')
    return ItemSpec("text", text=text)


def _parse_pdf(value: dict[str, Any], text: str | None, base: Path, pages: PageCounter) -> ItemSpec:
    path = _existing_file(value["pdf"], base, "pdf")
    page = value.get("page")
    if isinstance(page, bool) or not isinstance(page, int):
        raise ItemError(f'pdf item {path} needs "page": a 1-based page number (int), got {page!r}')
    count = pages.count(path)
    if isinstance(count, str):
        raise ItemError(f"{path}: {count}; fix or remove the file, or drop the pairs that use it")
    if not 1 <= page <= count:
        raise ItemError(f"page {page} is out of range: {path} has {count} page(s), numbered 1..{count}")
    return ItemSpec("pdf", text=text, path=path, page=page)


def _existing_file(value: Any, base: Path, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise ItemError(f'"{key}" must be a file path (a non-empty string), got {value!r}')
    path = (base / value).resolve()  # an absolute value stays as it is
    if not path.is_file():
        raise ItemError(
            f"{key} file not found: {path} (relative paths are read from the folder of the data file, {base})"
        )
    return str(path)


class ItemReader:
    """Resolves :class:`ItemSpec` to :class:`EncoderInput`, caching PDF text layers per page.

    With ``read_images=False`` PDF pages become their text layer only (a text backbone), read
    with PDFium and kept in an LRU of ``cache_size`` pages; nothing is rendered. With
    ``read_images=True`` pages are rendered with the documents module's PDFium renderer at
    ``options`` and paired with their text. An item's own ``text`` (for example a masked text
    layer) replaces the extracted one. Safe to pickle for DataLoader workers: caches start empty.
    """

    def __init__(self, *, read_images: bool, options: RenderOptions | None = None, cache_size: int = 4096):
        self.read_images = read_images
        self.options = options or RenderOptions()
        self.cache_size = cache_size
        self._init_caches()

    def _init_caches(self) -> None:
        self._texts: OrderedDict[tuple[str, int], str] = OrderedDict()
        self._docs: OrderedDict[str, pdfium.PdfDocument] = OrderedDict()
        self._lock = threading.Lock()  # PDFium is not thread-safe

    def __getstate__(self) -> dict[str, Any]:
        return {"read_images": self.read_images, "options": self.options, "cache_size": self.cache_size}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_caches()

    def close(self) -> None:
        """Close the PDFs kept open (they are reopened on demand)."""
        with self._lock:
            while self._docs:
                self._docs.popitem()[1].close()

    def resolve(self, spec: ItemSpec, where: str) -> EncoderInput:
        """The encoder input for ``spec``; ``where`` (file and line) prefixes any error."""
        if spec.kind == "text":
            return EncoderInput(text=spec.text)
        if spec.kind == "image":
            image = load_image(str(spec.path), self.options.max_pixels) if self.read_images else None
            return EncoderInput(text=spec.text, image=image)
        assert spec.path is not None and spec.page is not None
        if self.read_images:
            with self._lock:
                image, layer = render_page(self._document(spec.path), spec.page - 1, self.options)
            text = spec.text or (layer if layer.strip() else None)
            return EncoderInput(text=text, image=image)
        text = spec.text or self.page_text(spec.path, spec.page)
        if not text.strip():
            raise ItemError(
                f"{where}: page {spec.page} of {spec.path} has no text layer (a scan?), so a text "
                'backbone has nothing to read: give the item a "text", drop the pair, or use a vision model'
            )
        return EncoderInput(text=text)

    def _document(self, path: str) -> pdfium.PdfDocument:
        # A few documents stay open: shuffled batches jump between files, and re-parsing a large
        # PDF for every page would dominate the cost of reading its text.
        if path in self._docs:
            self._docs.move_to_end(path)
            return self._docs[path]
        doc = self._docs[path] = open_pdf(path)
        if len(self._docs) > _OPEN_DOCUMENTS:
            self._docs.popitem(last=False)[1].close()
        return doc

    def page_text(self, path: str, page: int) -> str:
        """The text layer of ``page`` (1-based) of ``path``, from the LRU cache when possible."""
        key = (path, page)
        with self._lock:
            if key in self._texts:
                self._texts.move_to_end(key)
                return self._texts[key]
            text = page_text(self._document(path), page - 1)
            self._texts[key] = text
            if len(self._texts) > self.cache_size:
                self._texts.popitem(last=False)
        return text
