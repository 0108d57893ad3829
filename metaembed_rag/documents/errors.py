"""Why a document could not be read, said in one human sentence with the fix where there is one.

Every per-file failure is a :class:`DocumentError` subclass with a short machine-readable
``kind`` (``"encrypted"``, ``"corrupt"``, ...) so a report can be filtered, and a message of the
form ``"<file>: <what is wrong>. <how to fix it>"`` so it can be shown to a user as is.

:class:`RendererUnavailableError` is different: a missing renderer breaks every file alike, so it
is raised at once instead of being collected per file.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from .page import printable_path

__all__ = [
    "CorruptFileError",
    "DocumentError",
    "EmptyDocumentError",
    "EncryptedDocumentError",
    "FileMissingError",
    "NotAPdfError",
    "RenderFailedError",
    "RenderTimeoutError",
    "RendererUnavailableError",
    "TooManyPagesError",
    "UnreadableFileError",
    "UnsupportedFileError",
    "sniff_format",
]


class DocumentError(Exception):
    """One file could not be turned into pages. ``str(error)`` is the full human sentence."""

    kind: ClassVar[str] = "error"

    def __init__(self, path: str | Path, reason: str, fix: str | None = None) -> None:
        self.path = str(path)
        self.reason = reason
        self.fix = fix
        message = f"{printable_path(self.path)}: {reason}"
        if fix:
            message += f". {fix}"
        super().__init__(message)

    def __reduce__(self) -> tuple[type[DocumentError], tuple[str, str, str | None]]:
        # Errors cross process boundaries in parallel rendering; keep all three fields.
        return (type(self), (self.path, self.reason, self.fix))


class EncryptedDocumentError(DocumentError):
    kind = "encrypted"


class CorruptFileError(DocumentError):
    kind = "corrupt"


class EmptyDocumentError(DocumentError):
    kind = "empty"


class NotAPdfError(DocumentError):
    kind = "not_pdf"


class UnreadableFileError(DocumentError):
    kind = "unreadable"


class FileMissingError(DocumentError):
    kind = "missing"


class UnsupportedFileError(DocumentError):
    kind = "unsupported"


class RenderFailedError(DocumentError):
    kind = "render_failed"


class RenderTimeoutError(DocumentError):
    """Rendering ran past ``page_timeout``; the renderer process was stopped."""

    kind = "timeout"


class TooManyPagesError(DocumentError):
    """The document has more pages than ``max_pages`` allows."""

    kind = "too_many_pages"


class RendererUnavailableError(RuntimeError):
    """The selected renderer cannot run on this machine (a missing program or Python package)."""


# Magic numbers of the formats people most often save under a wrong ".pdf" name.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"PK\x03\x04", "a ZIP archive (maybe a .docx, .pptx or .xlsx file)"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document"),
    (b"{\\rtf", "an RTF document"),
    (b"%!PS", "a PostScript file"),
)


def sniff_format(head: bytes) -> str | None:
    """Name the format of a file from its first bytes, or None when nothing is recognised."""
    for magic, name in _SIGNATURES:
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "an HTML page (often a login or error page saved in place of the real download)"
    if text.startswith((b"<?xml", b"<")):
        return "an XML or HTML file"
    if text.startswith((b"{", b"[")):
        return "a JSON file"
    return None
