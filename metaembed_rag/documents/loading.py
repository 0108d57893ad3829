"""Loading many files: a lazy, ordered, optionally parallel stream of pages plus a per-file report.

    stream = load_folder("papers/", workers=4)
    for page in stream:            # pages in file order, then page order
        ...
    print(stream.report)           # complete once the stream is exhausted

A file that cannot be rendered never stops the batch: it is recorded in ``stream.report`` with
the cause and the fix, and the stream moves on to the next file.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from tqdm.auto import tqdm

from .discover import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, find_documents
from .errors import DocumentError, RenderFailedError, RenderTimeoutError, UnreadableFileError
from .options import DEFAULT_DPI, DEFAULT_MAX_PIXELS, RenderOptions
from .page import Page, doc_id_for
from .pdfium_backend import DocumentCache
from .render import RenderTask, check_renderer, plan_tasks, render_task
from .report import FileReport, FileStatus, LoadReport
from .source import inspect_source
from .stream import Ready, TaskTimeout, ordered_map

__all__ = ["PageStream", "load_files", "load_folder"]

#: Pages per task sent to a worker: big enough to amortise pickling, small enough to stay bounded.
PAGES_PER_TASK = 4


class PageStream:
    """An iterable of :class:`Page` over many files, with a :class:`LoadReport` filled as it goes.

    It can be iterated once. Memory does not grow with the corpus: in process, one page is held at
    a time; with workers, at most ``2 * workers`` tasks of ``pages_per_task`` pages are in flight
    (about ``2 * workers * pages_per_task`` pages, 5.8 MB each for a Letter page at 144 dpi, plus
    their transfer copies), so lower ``pages_per_task`` when running many workers.
    """

    def __init__(
        self,
        paths: Sequence[str | Path],
        *,
        root: str | Path | None,
        options: RenderOptions,
        workers: int | None,
        pages_per_task: int,
        show_progress_bar: bool,
        report: LoadReport | None = None,
    ) -> None:
        check_renderer(options)  # a missing renderer fails every file: say so now, once
        if pages_per_task < 1:
            raise ValueError(f"pages_per_task must be >= 1, got {pages_per_task}")
        self.paths = [Path(os.path.abspath(p)) for p in paths]
        self.root = Path(os.path.abspath(root)) if root is not None else None
        self.options = options
        self.workers = (os.cpu_count() or 1) if workers is None else max(1, workers)
        # In-process PDFium renders page by page (the least memory); poppler starts programs per
        # task, so it keeps ranges even in-process to amortise that cost.
        self.pooled = self.workers > 1 or options.page_timeout is not None
        in_ranges = self.pooled or options.renderer == "poppler"
        self.pages_per_task = pages_per_task if in_ranges else 1
        self.show_progress_bar = show_progress_bar
        self.report = report if report is not None else LoadReport()
        self._started = False

    def __iter__(self) -> Iterator[Page]:
        if self._started:
            raise RuntimeError(
                "a PageStream can be iterated only once: call load_folder()/load_files() again"
            )
        self._started = True
        return self._pages()

    def collect(self) -> tuple[list[Page], LoadReport]:
        """Render everything into a list (fine for small corpora) and return it with the report."""
        return list(self), self.report

    def _work(self, bar: tqdm) -> Iterator[RenderTask | Ready[FileReport]]:
        for path in self.paths:
            doc_id = doc_id_for(path, self.root)
            try:
                source = inspect_source(path, self.options.password, self.options.max_pages)
            except DocumentError as error:
                yield Ready(FileReport.failed(str(path), doc_id, error))
                continue
            except Exception as error:  # a bug or an exotic OS error must not end the batch
                unexpected = RenderFailedError(
                    path, f"could not be inspected ({type(error).__name__}: {error})"
                )
                yield Ready(FileReport.failed(str(path), doc_id, unexpected))
                continue
            bar.total = (bar.total or 0) + source.num_pages
            bar.refresh()
            yield from plan_tasks(source, doc_id, self.options, self.pages_per_task)

    def _time_limit(self, task: RenderTask) -> float:
        assert self.options.page_timeout is not None
        return self.options.page_timeout * (task.last - task.first + 1)

    def _pages(self) -> Iterator[Page]:
        cache = DocumentCache()
        # In-process work uses a private cache; workers use their module-level one (not picklable).
        fn = render_task if self.pooled else functools.partial(render_task, cache=cache)
        bar = tqdm(total=0, unit="page", desc="Rendering", disable=not self.show_progress_bar)
        current: FileReport | None = None
        try:
            timeout = self._time_limit if self.options.page_timeout is not None else None
            work = ordered_map(fn, self._work(bar), workers=self.workers, timeout=timeout)
            for item, outcome in work:
                if isinstance(item, Ready):
                    self.report.files.append(item.value)
                    continue
                task = item
                if task.first == 1:
                    current = FileReport(
                        path=task.source.path,
                        doc_id=task.doc_id,
                        status=FileStatus.RENDERED,
                        kind=task.source.kind,
                        page_count=task.source.num_pages,
                        file_hash=task.source.file_hash,
                    )
                assert current is not None and current.path == task.source.path
                if current.status is FileStatus.FAILED:
                    continue  # an earlier range of this file failed: drop the rest
                if isinstance(outcome, BaseException):
                    current.fail(_as_document_error(task, outcome))
                    self.report.files.append(current)
                    continue
                for page in outcome:
                    current.num_pages += 1
                    bar.update(1)
                    yield page
                if task.is_last_of_file:
                    self.report.files.append(current)
        finally:
            bar.close()
            cache.close()


def _as_document_error(task: RenderTask, error: BaseException) -> DocumentError:
    if isinstance(error, DocumentError):
        return error
    pages = f"page {task.first}" if task.first == task.last else f"pages {task.first}-{task.last}"
    if isinstance(error, TaskTimeout):
        return RenderTimeoutError(
            task.source.path,
            f"rendering {pages} took longer than {error.seconds:g} s "
            f"(page_timeout={task.options.page_timeout:g} s per page); the renderer was stopped",
            "The file may be hostile or extremely complex: raise page_timeout to give it more time, "
            "or exclude it",
        )
    return RenderFailedError(
        task.source.path,
        f"the renderer process crashed on {pages} ({type(error).__name__})",
        "The file is probably damaged: repair it with `qpdf in.pdf out.pdf` or try the other renderer",
    )


def load_folder(
    root: str | Path,
    *,
    include: Sequence[str] = DEFAULT_INCLUDE,
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
    skip_hidden: bool = True,
    dpi: float = DEFAULT_DPI,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    renderer: str = "pdfium",
    password: str | None = None,
    poppler_path: str | None = None,
    workers: int | None = 1,
    pages_per_task: int = PAGES_PER_TASK,
    show_progress_bar: bool = False,
    max_pages: int | None = None,
    page_timeout: float | None = None,
) -> PageStream:
    """Stream the pages of every document under ``root`` (see :mod:`.discover` for the globs;
    hidden files and folders are skipped unless ``skip_hidden=False``).

    ``doc_id`` is each file's path relative to ``root``. ``workers`` > 1 renders in that many
    processes (``None``: one per CPU) while keeping file and page order. Folders that cannot be
    listed are reported as failures too. ``max_pages`` and ``page_timeout`` are the limits for
    untrusted folders described in :class:`RenderOptions`. Raises ``NotADirectoryError`` if
    ``root`` is not a folder and :class:`RendererUnavailableError` if the renderer cannot run.
    """
    report = LoadReport()

    def folder_failed(error: OSError) -> None:
        where = error.filename or str(root)
        cause = "permission denied" if isinstance(error, PermissionError) else error.strerror or str(error)
        reason = UnreadableFileError(where, f"unreadable folder: {cause}", "Give this user read access to it")
        report.files.append(FileReport.failed(str(where), doc_id_for(where, root), reason))

    paths = find_documents(root, include, exclude, skip_hidden=skip_hidden, on_error=folder_failed)
    options = RenderOptions(dpi, max_pixels, renderer, password, poppler_path, max_pages, page_timeout)
    return PageStream(
        paths,
        root=root,
        options=options,
        workers=workers,
        pages_per_task=pages_per_task,
        show_progress_bar=show_progress_bar,
        report=report,
    )


def load_files(
    paths: Iterable[str | Path],
    *,
    root: str | Path | None = None,
    dpi: float = DEFAULT_DPI,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    renderer: str = "pdfium",
    password: str | None = None,
    poppler_path: str | None = None,
    workers: int | None = 1,
    pages_per_task: int = PAGES_PER_TASK,
    show_progress_bar: bool = False,
    max_pages: int | None = None,
    page_timeout: float | None = None,
) -> PageStream:
    """Stream the pages of the given files, in the given order, with the same guarantees as
    :func:`load_folder`. ``doc_id`` is relative to ``root`` when given, else the absolute path."""
    options = RenderOptions(dpi, max_pixels, renderer, password, poppler_path, max_pages, page_timeout)
    return PageStream(
        list(paths),
        root=root,
        options=options,
        workers=workers,
        pages_per_task=pages_per_task,
        show_progress_bar=show_progress_bar,
    )
