"""Finding documents in a folder tree with include/exclude globs.

Glob rules (matching ignores case, so ``*.pdf`` also finds ``SCAN.PDF``):

* a pattern without ``/`` matches a name: ``*.pdf``, ``draft-*``, ``.*``;
* a pattern with ``/`` matches the path relative to the root: ``archive/**``, ``**/old/*.pdf``;
  ``**`` spans any number of folders, ``*`` and ``?`` stay within one.

A folder matching an exclude pattern is not entered at all. Hidden files and folders (names
starting with ``.``) are skipped unless ``skip_hidden=False``: they are editor lock files, macOS
``._`` resource forks, ``.git`` and the like, which would otherwise show up as failures. This is a
separate switch so that passing ``exclude=[...]`` does not bring them back.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

__all__ = ["DEFAULT_EXCLUDE", "DEFAULT_INCLUDE", "GlobSet", "find_documents", "find_inputs"]

DEFAULT_INCLUDE: tuple[str, ...] = ("*.pdf", "*.png", "*.jpg", "*.jpeg", "*.webp")
DEFAULT_EXCLUDE: tuple[str, ...] = ()


class GlobSet:
    """A compiled set of glob patterns (see the module docstring for the rules)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        if isinstance(patterns, str):
            patterns = [patterns]  # a lone string is one pattern, not a list of characters
        self.patterns = tuple(patterns)
        self._name_res = [_compile(p) for p in self.patterns if "/" not in p]
        self._path_res = [_compile(p.strip("/")) for p in self.patterns if "/" in p]

    def matches(self, relative: str) -> bool:
        """Whether the POSIX path ``relative`` (to the root) matches any pattern."""
        name = relative.rsplit("/", 1)[-1]
        return any(r.fullmatch(name) for r in self._name_res) or any(
            r.fullmatch(relative) for r in self._path_res
        )

    def __repr__(self) -> str:
        return f"GlobSet({list(self.patterns)!r})"


def find_documents(
    root: str | Path,
    include: Sequence[str] = DEFAULT_INCLUDE,
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
    *,
    skip_hidden: bool = True,
    on_error: Callable[[OSError], None] | None = None,
) -> list[Path]:
    """Files under ``root`` (recursively) matching ``include`` and not ``exclude``.

    The order is deterministic: sorted by relative path, folder by folder. Symlinked folders are
    not followed (no cycles); symlinked files are listed. ``on_error`` receives the error of each
    folder that cannot be listed (the walk goes on); by default such errors are ignored.
    """
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder: pass files to load_files() or render_file()")
    includes = GlobSet(include)
    excludes = GlobSet([*exclude, ".*"] if skip_hidden else exclude)
    found: list[tuple[tuple[str, ...], Path]] = []
    for folder, dirnames, filenames in os.walk(root, onerror=on_error):
        base = Path(folder).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        dirnames[:] = [d for d in dirnames if not excludes.matches(prefix + d)]  # prune in place
        for name in filenames:
            relative = prefix + name
            if includes.matches(relative) and not excludes.matches(relative):
                found.append((tuple(relative.split("/")), Path(folder) / name))
    found.sort(key=lambda pair: pair[0])
    return [path for _, path in found]


def find_inputs(
    folder: str | Path,
    include: Sequence[str] = DEFAULT_INCLUDE,
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
    *,
    sync: bool = False,
) -> tuple[Path, list[Path]]:
    """``(root, files)`` that :func:`index_folder` reads: the documents under a folder, or one file
    (its folder is the root). Raises before anything is read when the path does not exist, or when
    ``sync`` is asked of a single file (it would delete every other document of the index)."""
    path = Path(folder)
    if path.is_file():
        if sync:
            raise ValueError(f"sync needs a folder: syncing the single file {path} would delete every "
                             "other document of the index")
        return path.parent, [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path} does not exist; pass a folder of PDFs (or one PDF file)")
    return path, find_documents(path, include, exclude)


def _compile(pattern: str) -> re.Pattern[str]:
    parts = pattern.split("/")
    regex = ""
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            regex += ".*" if last else "(?:.*/)?"
        else:
            regex += _segment(part) + ("" if last else "/")
    return re.compile(regex, re.IGNORECASE | re.DOTALL)


def _segment(part: str) -> str:
    """Translate one path segment's glob to a regex that never crosses a ``/``."""
    out, i = [], 0
    while i < len(part):
        char = part[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (end := part.find("]", i + 2)) != -1:
            body = part[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)
