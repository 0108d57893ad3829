"""What happened to each file of a load: :class:`FileReport` per file, :class:`LoadReport` for all.

Loading sets ``rendered`` or ``failed``. The indexing pipeline, which compares content hashes
with what the index holds, sets ``added``, ``skipped`` (unchanged) or ``replaced`` on the same
records, so one report type describes a whole ``index`` run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import Enum

from .errors import DocumentError
from .page import printable_path

__all__ = ["FileReport", "FileStatus", "LoadReport"]


class FileStatus(str, Enum):
    RENDERED = "rendered"
    FAILED = "failed"
    ADDED = "added"
    SKIPPED = "skipped"
    REPLACED = "replaced"


@dataclass
class FileReport:
    """The outcome for one file.

    ``num_pages`` counts the pages actually yielded; ``page_count`` is the document's length when
    it could be read (a file that failed half way has ``0 < num_pages < page_count``).
    ``reason`` is the full human sentence (file, cause, fix) and ``error_kind`` its short code.
    """

    path: str
    doc_id: str
    status: FileStatus
    kind: str | None = None
    num_pages: int = 0
    page_count: int | None = None
    file_hash: str | None = None
    error_kind: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not FileStatus.FAILED

    def fail(self, error: BaseException) -> None:
        """Mark this file failed with ``error``'s sentence."""
        self.status = FileStatus.FAILED
        self.error_kind = error.kind if isinstance(error, DocumentError) else "error"
        if isinstance(error, DocumentError):
            self.reason = str(error)
        else:
            self.reason = f"{printable_path(self.path)}: {error}"

    @classmethod
    def failed(cls, path: str, doc_id: str, error: BaseException) -> FileReport:
        report = cls(path=path, doc_id=doc_id, status=FileStatus.FAILED)
        report.fail(error)
        return report


@dataclass
class LoadReport:
    """Per-file outcomes: folders that could not be listed first, then files in load order."""

    files: list[FileReport] = field(default_factory=list)

    @property
    def rendered(self) -> list[FileReport]:
        return [f for f in self.files if f.status is FileStatus.RENDERED]

    @property
    def failed(self) -> list[FileReport]:
        return [f for f in self.files if f.status is FileStatus.FAILED]

    @property
    def num_pages(self) -> int:
        return sum(f.num_pages for f in self.files)

    @property
    def ok(self) -> bool:
        return not self.failed

    def __len__(self) -> int:
        return len(self.files)

    def by_doc_id(self) -> dict[str, FileReport]:
        return {f.doc_id: f for f in self.files}

    def summary(self) -> str:
        """A few human lines: counts per status, then one line per failure."""
        counts = Counter(f.status.value for f in self.files)
        parts = ", ".join(f"{n} {status}" for status, n in counts.items())
        lines = [f"{len(self.files)} files, {self.num_pages} pages" + (f": {parts}" if parts else "")]
        lines += [f"  failed: {f.reason}" for f in self.failed]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()
