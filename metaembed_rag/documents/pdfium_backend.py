"""The default renderer: PDFium through pypdfium2 (a wheel, no system library to install).

PDFium is not thread-safe, so parallelism happens in processes (see :mod:`.stream`); inside one
process a small cache keeps the last document open, so a worker that renders a file chunk by
chunk parses it only once.
"""

from __future__ import annotations

import os
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from .errors import (
    CorruptFileError,
    DocumentError,
    EmptyDocumentError,
    EncryptedDocumentError,
    UnreadableFileError,
)
from .options import RenderOptions, fit_scale

__all__ = ["DocumentCache", "is_encrypted", "open_pdf", "page_text", "render_page"]

# PDFium's FPDF_GetLastError codes for a failed load.
_ERR_FILE, _ERR_FORMAT, _ERR_PASSWORD, _ERR_SECURITY = 2, 3, 4, 5
_PRIME_PATH = b"/nonexistent/metaembed-rag/prime-last-error.pdf"


def open_pdf(path: str | Path, password: str | None = None) -> pdfium.PdfDocument:
    """Open a PDF, turning PDFium's load errors into :class:`DocumentError` with a fix."""
    # PDFium's last-error value is global and some failures (an empty page tree) do not set it, so
    # a stale code from an earlier file would be blamed. Set it to "file error" first: a file we
    # could read that fails while the code stays there failed without saying why.
    pdfium_c.FPDF_LoadDocument(_PRIME_PATH, None)
    try:
        return pdfium.PdfDocument(str(path), password=password)
    except pdfium.PdfiumError as error:
        raise _load_error(path, error, password) from error


def is_encrypted(doc: pdfium.PdfDocument) -> bool:
    """Whether ``doc`` has a security handler (it was opened with a password, or an empty one)."""
    return int(pdfium_c.FPDF_GetSecurityHandlerRevision(doc.raw)) != -1


def _load_error(path: str | Path, error: pdfium.PdfiumError, password: str | None) -> DocumentError:
    code = getattr(error, "err_code", None)
    if code == _ERR_FILE and os.access(path, os.R_OK):
        return EmptyDocumentError(
            path,
            "PDFium found no pages in it (an empty or damaged page tree)",
            "Nothing to index: remove it or exclude it; if it should have pages, export it again",
        )
    if code == _ERR_PASSWORD:
        if password is None:
            return EncryptedDocumentError(
                path, "encrypted: the PDF is password-protected",
                "Pass its password (--password on the command line, password='...' in Python)",
            )
        return EncryptedDocumentError(
            path, "encrypted: the password given does not open this PDF", "Check the password"
        )
    if code == _ERR_SECURITY:
        return EncryptedDocumentError(
            path,
            "protected by an unsupported security handler (DRM)",
            "Remove the protection with the program that added it, or print it to a new PDF",
        )
    if code == _ERR_FILE:
        return UnreadableFileError(path, "PDFium could not open the file", "Check that it is a readable file")
    return CorruptFileError(
        path,
        f"corrupt: PDFium could not parse it ({error})",
        "Download or export it again; `qpdf damaged.pdf repaired.pdf` can sometimes repair it",
    )


class DocumentCache:
    """Keeps the most recently used document open (one per process)."""

    def __init__(self) -> None:
        self._key: tuple[str, str | None] | None = None
        self._doc: pdfium.PdfDocument | None = None

    def get(self, path: str, password: str | None) -> pdfium.PdfDocument:
        key = (path, password)
        if self._doc is None or self._key != key:
            self.close()
            self._doc = open_pdf(path, password)
            self._key = key
        return self._doc

    def close(self) -> None:
        if self._doc is not None:
            self._doc.close()
        self._doc, self._key = None, None


def page_size(doc: pdfium.PdfDocument, index: int) -> tuple[float, float]:
    """Width and height in points of page ``index`` (0-based), as displayed (rotation applied)."""
    page = doc[index]
    try:
        return page.get_size()
    finally:
        page.close()


def render_page(doc: pdfium.PdfDocument, index: int, options: RenderOptions) -> tuple[Image.Image, str]:
    """Render page ``index`` (0-based) to an RGB image within ``options.max_pixels``, with its text."""
    page = doc[index]
    try:
        width, height = page.get_size()
        scale = fit_scale(width, height, options.dpi, options.max_pixels)
        # rev_byteorder gives RGB straight away; to_pil copies 3-byte data out of PDFium's buffer.
        bitmap = page.render(scale=scale, rev_byteorder=True, draw_annots=True)
        try:
            image = bitmap.to_pil()
        finally:
            bitmap.close()
        return image, _text_of(page)
    finally:
        page.close()


def page_text(doc: pdfium.PdfDocument, index: int) -> str:
    """The text layer of page ``index`` (0-based), with newlines normalised."""
    page = doc[index]
    try:
        return _text_of(page)
    finally:
        page.close()


def _text_of(page: pdfium.PdfPage) -> str:
    textpage = page.get_textpage()
    try:
        text = textpage.get_text_range()
    finally:
        textpage.close()
    return text.replace("\r\n", "\n").replace("\r", "\n")
