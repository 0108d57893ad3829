"""PDF pages and images in, :class:`Page` records (image + text layer + identity) out.

The default renderer is PDFium (pypdfium2: a wheel, nothing to install system-wide); poppler
(pdf2image) is available with ``renderer="poppler"``. Loading streams pages in order with bounded
memory, optionally over a process pool, and reports each file that could not be rendered with the
cause and the fix instead of stopping.

    from metaembed_rag.documents import load_folder, render_file

    stream = load_folder("samples/pdfs", dpi=144, workers=4, show_progress_bar=True)
    for page in stream:                  # Page(image, text, source, page_number, doc_id, ...)
        print(page.page_id, page.width, page.height, len(page.text))
    print(stream.report)                 # "7 files, 50 pages: 7 rendered" + one line per failure

    pages = list(render_file("manual.pdf", renderer="poppler", max_pixels=1_000_000))
"""

from .discover import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, GlobSet, find_documents, find_inputs
from .errors import (
    CorruptFileError,
    DocumentError,
    EmptyDocumentError,
    EncryptedDocumentError,
    FileMissingError,
    NotAPdfError,
    RendererUnavailableError,
    RenderFailedError,
    RenderTimeoutError,
    TooManyPagesError,
    UnreadableFileError,
    UnsupportedFileError,
)
from .loading import PageStream, load_files, load_folder
from .options import DEFAULT_DPI, DEFAULT_MAX_PIXELS, RenderOptions, fit_scale, fit_size
from .page import Page, doc_id_for, file_sha256, page_content_hash, printable_path
from .render import render_file
from .report import FileReport, FileStatus, LoadReport

__all__ = [
    "DEFAULT_DPI",
    "DEFAULT_EXCLUDE",
    "DEFAULT_INCLUDE",
    "DEFAULT_MAX_PIXELS",
    "CorruptFileError",
    "DocumentError",
    "EmptyDocumentError",
    "EncryptedDocumentError",
    "FileMissingError",
    "FileReport",
    "FileStatus",
    "GlobSet",
    "LoadReport",
    "NotAPdfError",
    "Page",
    "PageStream",
    "RenderFailedError",
    "RenderOptions",
    "RenderTimeoutError",
    "RendererUnavailableError",
    "TooManyPagesError",
    "UnreadableFileError",
    "UnsupportedFileError",
    "doc_id_for",
    "file_sha256",
    "find_documents",
    "find_inputs",
    "fit_scale",
    "fit_size",
    "load_files",
    "load_folder",
    "page_content_hash",
    "printable_path",
    "render_file",
]
