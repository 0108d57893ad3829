"""Uploads from the chat app: checked, copied to the uploads folder, indexed incrementally.

Only PDFs and images (``.pdf .png .jpg .jpeg .webp``) up to a size limit are taken, and their bytes
must match their type (a PDF starts with ``%PDF-``, an image opens with Pillow). An upload whose
name is already a document of the index is stored under a new name (``report-2.pdf``), so it never
replaces what is indexed; the same bytes uploaded again are recognised and skipped. A file the
indexer cannot read is removed from the uploads folder again. Indexing never deletes (no ``sync``),
so a bad upload loses nothing already indexed.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from ..retriever import Retriever

__all__ = ["ALLOWED_SUFFIXES", "UploadResult", "add_uploads", "check_upload"]

ALLOWED_SUFFIXES = (".pdf", ".png", ".jpg", ".jpeg", ".webp")
DEFAULT_MAX_BYTES = 50 * 2**20


@dataclass
class UploadResult:
    """Per file name, what happened: ``added`` (with pages), ``skipped`` or ``rejected`` (why)."""

    added: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """One Markdown list item per file."""
        lines = [f"- added {name}: {pages} pages indexed" for name, pages in self.added.items()]
        lines += [f"- skipped {name}: already indexed" for name in self.skipped]
        lines += [f"- **rejected** {name}: {why}" for name, why in self.rejected.items()]
        return "\n".join(lines) or "No file was uploaded."


def check_upload(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> str | None:
    """Why ``path`` cannot be taken, or None when it is a PDF or image within the size limit."""
    suffix = path.suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        kinds = " ".join(ALLOWED_SUFFIXES)
        return f"only PDFs and images ({kinds}) can be added, not {suffix or 'a file without a suffix'}"
    size = path.stat().st_size
    if size > max_bytes:
        return f"{size / 2**20:.1f} MiB is over the {max_bytes / 2**20:.0f} MiB upload limit"
    if size == 0:
        return "the file is empty"
    if suffix == ".pdf":
        with path.open("rb") as handle:
            if not handle.read(1024).lstrip().startswith(b"%PDF-"):
                return "the file is not a PDF (it does not start with %PDF-)"
        return None
    try:
        with Image.open(path) as image:
            image.verify()
    except Exception as error:
        return f"the image cannot be read ({error})"
    return None


def _safe_name(name: str) -> str:
    stem, suffix = Path(name).stem, Path(name).suffix.lower()
    stem = re.sub(r"[^\w.\- ]+", "_", stem).strip(" .") or "upload"
    return f"{stem[:120]}{suffix}"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _place(source: Path, folder: Path, taken: set[str]) -> tuple[str, bool]:
    """The name the upload gets in ``folder`` and whether identical bytes are already stored there."""
    name = _safe_name(source.name)
    stem, suffix = Path(name).stem, Path(name).suffix
    digest = _digest(source)
    for n in range(1, 1000):
        candidate = name if n == 1 else f"{stem}-{n}{suffix}"
        stored = folder / candidate
        if stored.is_file() and _digest(stored) == digest and candidate in taken:
            return candidate, True
        if candidate not in taken and not stored.exists():
            return candidate, False
    raise RuntimeError(f"too many uploads named {name}")


def add_uploads(
    retriever: Retriever,
    files: Sequence[str | Path],
    folder: str | Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    taken: set[str] | None = None,
    show_progress_bar: bool = True,
    **index_options: Any,
) -> UploadResult:
    """Check ``files``, copy the good ones into ``folder`` and index them into ``retriever``.
    ``taken`` holds the doc ids already in the index (read from it when None)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if taken is None:
        pages = getattr(retriever.store, "pages", None)
        taken = set() if pages is None else {p.doc_id for p in pages() if p.doc_id}
    result = UploadResult()
    placed: dict[str, str] = {}  # stored name -> name the user gave
    for file in map(Path, files):
        why = check_upload(file, max_bytes)
        if why is not None:
            result.rejected[file.name] = why
            continue
        name, already = _place(file, folder, taken | set(placed))
        if already:
            result.skipped.append(file.name)
            continue
        shutil.copyfile(file, folder / name)
        placed[name] = file.name
    if not placed:
        return result
    report = retriever.add(folder, include=sorted(placed), show_progress_bar=show_progress_bar,
                           **index_options)
    for outcome in report.files:
        name = Path(outcome.doc_id).name
        given = placed.get(name, name)
        shown = given if given == name else f"{given} (as {name})"
        if outcome.status == "failed":
            (folder / name).unlink(missing_ok=True)
            reason = (outcome.reason or "it could not be indexed").replace(str(folder / name), name)
            result.rejected[given] = reason
        elif outcome.status == "skipped":
            result.skipped.append(shown)
        else:
            result.added[shown] = outcome.pages or 0
    return result
