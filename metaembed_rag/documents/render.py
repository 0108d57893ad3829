"""Rendering a range of pages of one file into :class:`Page` records.

:func:`render_task` is the unit of work, small and picklable so that a process pool can run it;
:func:`render_file` is the plain one-file, one-process generator built on the same pieces.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from .errors import DocumentError, RenderFailedError
from .images import load_image
from .options import DEFAULT_DPI, DEFAULT_MAX_PIXELS, RenderOptions
from .page import Page, doc_id_for, page_content_hash
from .pdfium_backend import DocumentCache, render_page
from .poppler_backend import check_poppler, render_range
from .source import SourceInfo, inspect_source

__all__ = ["RenderTask", "check_renderer", "plan_tasks", "render_file", "render_task"]

# One open document per process: consecutive tasks of a file reuse it instead of re-parsing.
_CACHE = DocumentCache()


@dataclass(frozen=True)
class RenderTask:
    """Render pages ``first..last`` (1-based, inclusive) of one inspected file."""

    source: SourceInfo
    doc_id: str
    first: int
    last: int
    options: RenderOptions

    @property
    def is_last_of_file(self) -> bool:
        return self.last == self.source.num_pages


def check_renderer(options: RenderOptions) -> None:
    """Fail early, with install instructions, when the selected renderer cannot run here."""
    if options.renderer == "poppler":
        check_poppler(options.poppler_path)


def plan_tasks(
    source: SourceInfo, doc_id: str, options: RenderOptions, pages_per_task: int
) -> list[RenderTask]:
    """Split a file into tasks of at most ``pages_per_task`` pages, in page order."""
    return [
        RenderTask(source, doc_id, first, min(first + pages_per_task - 1, source.num_pages), options)
        for first in range(1, source.num_pages + 1, pages_per_task)
    ]


def render_task(task: RenderTask, cache: DocumentCache = _CACHE) -> list[Page]:
    """Render one task. Any failure is raised as a :class:`DocumentError` naming file and pages."""
    try:
        pairs = _render_pairs(task, cache)
    except DocumentError:
        raise
    except Exception as error:
        # PDFium and poppler failures come in many types; the report needs one sentence.
        pages = f"page {task.first}" if task.first == task.last else f"pages {task.first}-{task.last}"
        raise RenderFailedError(
            task.source.path,
            f"rendering failed on {pages} ({type(error).__name__}: {error})",
            "The file may be damaged: try the other renderer, or repair it with `qpdf in.pdf out.pdf`",
        ) from error
    source = task.source
    return [
        Page(
            image=image,
            text=text,
            source=source.path,
            page_number=number,
            doc_id=task.doc_id,
            content_hash=page_content_hash(source.file_hash, number),
            width=image.width,
            height=image.height,
        )
        for number, (image, text) in zip(range(task.first, task.last + 1), pairs, strict=True)
    ]


def _render_pairs(task: RenderTask, cache: DocumentCache) -> list[tuple[Image.Image, str]]:
    source, options = task.source, task.options
    if source.kind == "image":
        return [(load_image(source.path, options.max_pixels), "")]
    if options.renderer == "poppler":
        return render_range(source.path, task.first, task.last, options, cache)
    doc = cache.get(source.path, options.password)
    return [render_page(doc, number - 1, options) for number in range(task.first, task.last + 1)]


def render_file(
    path: str | Path,
    *,
    root: str | Path | None = None,
    dpi: float = DEFAULT_DPI,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    renderer: str = "pdfium",
    password: str | None = None,
    poppler_path: str | None = None,
) -> Iterator[Page]:
    """Return a generator of the pages of one PDF or image, rendered one at a time in this process.

    The file is checked at once: a file that cannot be opened raises a :class:`DocumentError`
    here, and a missing renderer raises :class:`RendererUnavailableError`. ``doc_id`` is the path
    relative to ``root`` when given, else the absolute path. For many files, parallelism and
    per-file error reports, use :func:`load_folder` or :func:`load_files`.
    """
    options = RenderOptions(dpi, max_pixels, renderer, password, poppler_path)
    check_renderer(options)
    source = inspect_source(path, password)
    return _pages(plan_tasks(source, doc_id_for(path, root), options, pages_per_task=1))


def _pages(tasks: list[RenderTask]) -> Iterator[Page]:
    cache = DocumentCache()  # private: a generator left half-read must not hold the shared one
    try:
        for task in tasks:
            yield from render_task(task, cache)
    finally:
        cache.close()
