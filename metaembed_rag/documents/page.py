"""The :class:`Page` record that rendering yields, and the ids and hashes that name it.

Identity choices (the index relies on them to skip unchanged files and replace changed ones):

* ``doc_id`` is the file's path **relative to the folder it was loaded from**, in POSIX form
  (``"reports/annual-2024.pdf"``). It stays the same when the whole corpus folder is moved or
  mounted elsewhere, and it is readable in search results. A file loaded on its own, with no
  folder, uses its resolved absolute path instead. Two folders loaded into one index should
  therefore be loaded from a common parent, or their relative paths may collide.
* A file name that is not valid UTF-8 (``café`` saved as Latin-1 on Linux) is spelt with
  backslash escapes in ids, stored sources and messages (``caf\\xe9.pdf``, see
  :func:`printable_path`): SQLite, JSON and terminals take only valid text.
* ``content_hash`` is ``sha256(file_sha256 + ":" + page_number)``: it changes exactly when the
  file's bytes change, whatever its name, so a renamed but identical file is recognisable and an
  edited file is re-rendered. It does not cover render settings (dpi, max_pixels); an index that
  cares records those once, beside the hashes.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

__all__ = ["Page", "doc_id_for", "file_sha256", "page_content_hash", "printable_path"]

_HASH_BLOCK = 1 << 20


@dataclass(frozen=True, eq=False)
class Page:
    """One rendered page: its image, its text layer and where it came from.

    ``page_number`` is 1-based. ``text`` is the PDF's own text layer (empty for scans without OCR
    and for standalone images). ``width`` and ``height`` are the image's size in pixels.
    Pages compare by identity; compare ``page_id`` and ``content_hash`` to match records.
    """

    image: Image.Image = field(repr=False)
    text: str = field(repr=False)
    source: str
    page_number: int
    doc_id: str
    content_hash: str = field(repr=False)
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.page_number < 1:
            raise ValueError(f"page_number is 1-based, got {self.page_number}")
        if self.image.size != (self.width, self.height):
            raise ValueError(
                f"width/height {(self.width, self.height)} disagree with the image size {self.image.size}"
            )

    @property
    def page_id(self) -> str:
        """``"<doc_id>:<page_number>"``, unique within one corpus."""
        return f"{self.doc_id}:{self.page_number}"


def doc_id_for(path: str | Path, root: str | Path | None = None) -> str:
    """The stable document id of ``path``: relative to ``root`` if given, else absolute (POSIX form).

    Symbolic links are not followed: a link's id is the link's own path, like its place in the tree.
    """
    absolute = Path(os.path.abspath(path))
    if root is not None:
        try:
            return printable_path(absolute.relative_to(os.path.abspath(root)).as_posix())
        except ValueError:
            pass  # not under the root: fall back to the absolute path
    return printable_path(absolute.as_posix())


def printable_path(path: str | Path) -> str:
    """``path`` as valid text: bytes of a name that is not UTF-8 (which Python keeps as lone
    surrogates) become ``\\xNN`` escapes; a valid name is returned unchanged."""
    text = os.fspath(path)
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # lone surrogates that did not come from the file system
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks so large files use no extra memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def page_content_hash(file_hash: str, page_number: int) -> str:
    """The content hash of one page of a file whose bytes hash to ``file_hash``."""
    return hashlib.sha256(f"{file_hash}:{page_number}".encode()).hexdigest()
