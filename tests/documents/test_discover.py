"""Folder walking with include/exclude globs."""

from __future__ import annotations

from pathlib import Path

import pytest

from metaembed_rag.documents import GlobSet, find_documents


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in [
        "b.pdf",
        "A.PDF",
        "scan.JPG",
        "notes.txt",
        "photo.webp",
        "img.png",
        "pic.jpeg",
        ".~lock.b.pdf#",
        "._b.pdf",
        "reports/2024/q1.pdf",
        "reports/2024/draft-q2.pdf",
        "reports/old/q4.pdf",
        "archive/x.pdf",
        ".git/objects/y.pdf",
    ]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"%PDF-1.4")
    return tmp_path


def _names(paths: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in paths]


def test_defaults_find_pdfs_and_images_any_case_skipping_hidden(tree: Path) -> None:
    assert _names(find_documents(tree), tree) == [
        "A.PDF",
        "archive/x.pdf",
        "b.pdf",
        "img.png",
        "photo.webp",
        "pic.jpeg",
        "reports/2024/draft-q2.pdf",
        "reports/2024/q1.pdf",
        "reports/old/q4.pdf",
        "scan.JPG",
    ]


def test_include_and_exclude_by_name_and_by_path(tree: Path) -> None:
    found = find_documents(tree, include=["*.pdf"], exclude=["draft-*", "archive", "reports/old/**"])
    assert _names(found, tree) == ["A.PDF", "b.pdf", "reports/2024/q1.pdf"]
    only_reports = find_documents(tree, include=["reports/**/*.pdf"])
    assert _names(only_reports, tree) == [
        "reports/2024/draft-q2.pdf",
        "reports/2024/q1.pdf",
        "reports/old/q4.pdf",
    ]
    with_hidden = find_documents(tree, include=["*.pdf"], skip_hidden=False)
    assert ".git/objects/y.pdf" in _names(with_hidden, tree) and "._b.pdf" in _names(with_hidden, tree)


def test_a_lone_string_is_one_pattern(tree: Path) -> None:
    assert _names(find_documents(tree, include="*.png"), tree) == ["img.png"]


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.pdf", "a/b/c.PDF", True),
        ("**/c.pdf", "c.pdf", True),
        ("**/c.pdf", "a/b/c.pdf", True),
        ("a/*.pdf", "a/b/c.pdf", False),
        ("a/**", "a/b/c.pdf", True),
        ("a/?.pdf", "a/c.pdf", True),
        ("[!x]*.pdf", "y.pdf", True),
        ("[!x]*.pdf", "x.pdf", False),
        ("r[0-9].pdf", "r7.pdf", True),
    ],
)
def test_glob_rules(pattern: str, path: str, expected: bool) -> None:
    assert GlobSet([pattern]).matches(path) is expected


def test_root_must_be_a_folder(tmp_path: Path) -> None:
    file = tmp_path / "one.pdf"
    file.write_bytes(b"")
    with pytest.raises(NotADirectoryError, match="load_files"):
        find_documents(file)
