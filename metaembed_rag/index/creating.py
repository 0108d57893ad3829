"""Creating a PageIndex atomically, as seen by readers and by a kill at any moment.

``manifest.sqlite`` is what makes a directory an index, so it appears last and whole: the schema
and settings are committed in a file under a temporary name, the ``segments`` and ``images``
directories are made, and only then is the file renamed to ``manifest.sqlite`` (and the rename
made durable). A reader therefore finds no index or a complete one, never a manifest without
tables. The build happens in the target directory itself (not in a sibling renamed into place) so
that an empty mount point, a symlink, or a directory whose parent we cannot write all work.

A creator holds the index's writer lock (``write.lock``, an ``flock``) for the whole build, so two
creators cannot interleave, and a later ``create`` can tell the leftovers of a killed creation
(the lock file, the temporary manifest, the empty sub-directories) from a live one and clean them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from .manifest import MANIFEST_NAME, Manifest
from .segments import fsync_dir
from .storage import LOCK_NAME

__all__ = ["CREATING_NAME", "build_index_files", "interrupted_creation"]

#: The manifest's name while it is being built.
CREATING_NAME = ".creating-" + MANIFEST_NAME
_SUBDIRS = ("segments", "images")
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
_LEFTOVERS = {LOCK_NAME, CREATING_NAME, *(CREATING_NAME + s for s in _SQLITE_SIDE_FILES), *_SUBDIRS}


def build_index_files(path: Path, settings: dict[str, str]) -> None:
    """Make the files of an empty index at ``path`` (absent, empty, or holding only the leftovers
    of a killed creation), with ``manifest.sqlite`` renamed into place last."""
    created = not path.exists()
    path.mkdir(parents=True, exist_ok=True)
    with _creator_lock(path):
        if (path / MANIFEST_NAME).exists():
            raise FileExistsError(
                f"{path} already holds an index; open it with PageIndex.open({str(path)!r})"
            )
        _remove_leftovers(path)
        tmp = path / CREATING_NAME
        Manifest(tmp, create=settings).close()  # closing the last connection checkpoints the WAL
        if any((path / (CREATING_NAME + s)).exists() for s in ("-wal", "-journal")):
            raise OSError(f"SQLite kept a journal of {tmp} after closing it; cannot create the index")
        for sub in _SUBDIRS:
            (path / sub).mkdir(exist_ok=True)
        fsync_dir(path)  # the sub-directories and the manifest's name are durable before it counts
        os.rename(tmp, path / MANIFEST_NAME)
        fsync_dir(path)
    if created:
        fsync_dir(path.parent)


def interrupted_creation(path: Path) -> bool:
    """Whether ``path`` holds only what a creation leaves before its manifest is in place."""
    try:
        names = {p.name for p in path.iterdir()}
    except (FileNotFoundError, NotADirectoryError):
        return False
    return LOCK_NAME in names and MANIFEST_NAME not in names and names <= _LEFTOVERS


@contextlib.contextmanager
def _creator_lock(path: Path) -> Iterator[None]:
    with open(path / LOCK_NAME, "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _remove_leftovers(path: Path) -> None:
    """Remove what a killed creation left; refuse a directory holding anything else."""
    names = {p.name for p in path.iterdir()}
    foreign = sorted(names - _LEFTOVERS) + sorted(
        sub for sub in _SUBDIRS if sub in names and (not (path / sub).is_dir() or any((path / sub).iterdir()))
    )
    if foreign:
        raise FileExistsError(
            f"{path} is not empty and holds no PageIndex ({', '.join(foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}); create the "
            "index in a new or empty directory, or open an existing one with PageIndex.open"
        )
    for name in (CREATING_NAME, *(CREATING_NAME + s for s in _SQLITE_SIDE_FILES)):
        (path / name).unlink(missing_ok=True)
