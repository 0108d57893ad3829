"""Check one file before rendering: can it be read, what is it, how many pages, what is its hash.

Every problem found here becomes a :class:`~.errors.DocumentError` naming the file, the cause and
the fix, so a folder load can record it and go on with the next file.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .errors import (
    CorruptFileError,
    EmptyDocumentError,
    FileMissingError,
    NotAPdfError,
    TooManyPagesError,
    UnreadableFileError,
    UnsupportedFileError,
    sniff_format,
)
from .images import IMAGE_SUFFIXES, check_image
from .page import file_sha256
from .pdfium_backend import is_encrypted, open_pdf

__all__ = ["PDF_SUFFIXES", "SourceInfo", "inspect_source"]

PDF_SUFFIXES = frozenset({".pdf"})
_HEAD_BYTES = 1024  # the PDF header may sit anywhere in the first 1024 bytes


@dataclass(frozen=True)
class SourceInfo:
    """What :func:`inspect_source` learnt about a readable, renderable file."""

    path: str
    kind: Literal["pdf", "image"]
    num_pages: int
    file_hash: str
    size_bytes: int
    encrypted: bool = False  # a PDF opened with the password (its pages are stored in clear)


def inspect_source(path: str | Path, password: str | None = None, max_pages: int | None = None) -> SourceInfo:
    """Validate ``path`` and count its pages; raise a :class:`DocumentError` saying what is wrong
    (:class:`TooManyPagesError` for a PDF longer than ``max_pages``, when given)."""
    path = Path(path)
    head, size = _read_head(path)
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        check_image(path, head)
        return SourceInfo(str(path), "image", 1, file_sha256(path), size)
    if suffix not in PDF_SUFFIXES and b"%PDF-" not in head:
        raise UnsupportedFileError(
            path,
            f"not a PDF or an image (supported: .pdf {' '.join(sorted(IMAGE_SUFFIXES))})",
            "Convert it, or leave it out with exclude=[...]",
        )
    if size == 0:
        raise CorruptFileError(
            path,
            "corrupt: the file is empty (0 bytes)",
            "The copy or download was probably cut short: fetch it again",
        )
    if b"%PDF-" not in head:
        what = sniff_format(head)
        if what is None:
            raise NotAPdfError(path, "not a PDF: the file does not start with the %PDF header")
        fix = "Rename it with the right extension" if "image" in what else "Convert it to PDF or exclude it"
        raise NotAPdfError(path, f"not a PDF despite its name: its content is {what}", fix)
    file_hash = file_sha256(path)
    with open_pdf(path, password) as doc:
        num_pages = len(doc)
        encrypted = is_encrypted(doc)
    if num_pages == 0:
        raise EmptyDocumentError(path, "the PDF has no pages", "Nothing to index: remove it or exclude it")
    if max_pages is not None and num_pages > max_pages:
        raise TooManyPagesError(
            path,
            f"the PDF has {num_pages} pages, more than max_pages={max_pages}",
            "Raise max_pages (--max-pages) to index it, or split it",
        )
    return SourceInfo(str(path), "pdf", num_pages, file_hash, size, encrypted)


def _read_head(path: Path) -> tuple[bytes, int]:
    """The first bytes and the size of ``path``, with OS errors turned into document errors."""
    try:
        # A FIFO, socket or device named *.pdf would block open() or read() forever: look first.
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
            raise UnreadableFileError(
                path,
                f"unreadable: not a regular file but {_special_kind(mode)}",
                "Copy the document into a regular file, or exclude it",
            )
        with open(path, "rb") as handle:
            head = handle.read(_HEAD_BYTES)
            size = handle.seek(0, 2)
    except FileNotFoundError:
        raise FileMissingError(
            path, "the file does not exist (a broken link, or removed while loading)"
        ) from None
    except IsADirectoryError:
        raise UnsupportedFileError(path, "a folder, not a file", "Pass folders to load_folder()") from None
    except PermissionError:
        raise UnreadableFileError(
            path,
            "unreadable: permission denied",
            "Give this user read access (for example `chmod a+r`), or exclude the file",
        ) from None
    except OSError as error:
        cause = error.strerror or errno.errorcode.get(error.errno or 0, str(error))
        raise UnreadableFileError(path, f"unreadable: {cause}") from None
    return head, size


def _special_kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "a special file"
