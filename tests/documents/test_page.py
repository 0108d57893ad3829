"""Page records, document ids and content hashes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from PIL import Image

from metaembed_rag.documents import Page, doc_id_for, file_sha256, page_content_hash


def _page(**overrides: object) -> Page:
    fields: dict[str, object] = {
        "image": Image.new("RGB", (4, 3)),
        "text": "hello",
        "source": "/x/a.pdf",
        "page_number": 2,
        "doc_id": "a.pdf",
        "content_hash": "h",
        "width": 4,
        "height": 3,
    }
    fields.update(overrides)
    return Page(**fields)  # type: ignore[arg-type]


def test_page_id_and_repr_without_pixels_or_text() -> None:
    page = _page()
    assert page.page_id == "a.pdf:2"
    assert "hello" not in repr(page) and "a.pdf" in repr(page)


def test_page_validates_number_and_size() -> None:
    with pytest.raises(ValueError, match="1-based"):
        _page(page_number=0)
    with pytest.raises(ValueError, match="disagree"):
        _page(width=5)


def test_doc_id_is_relative_to_root_else_absolute(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "a.pdf"
    assert doc_id_for(path, tmp_path) == "sub/a.pdf"
    assert doc_id_for(path) == path.as_posix()
    assert doc_id_for(path, tmp_path / "elsewhere") == path.as_posix()
    link = tmp_path / "link.pdf"
    link.symlink_to(path)
    assert doc_id_for(link, tmp_path) == "link.pdf"  # links are named by where they sit


def test_doc_id_survives_moving_the_corpus(tmp_path: Path) -> None:
    first = tmp_path / "corpus"
    (first / "sub").mkdir(parents=True)
    (first / "sub" / "a.pdf").write_bytes(b"x")
    before = doc_id_for(first / "sub" / "a.pdf", first)
    moved = tmp_path / "moved"
    os.rename(first, moved)
    assert doc_id_for(moved / "sub" / "a.pdf", moved) == before


def test_hashes(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    data = os.urandom(3 << 20)  # spans several read blocks
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    assert file_sha256(path) == digest
    assert page_content_hash(digest, 1) == hashlib.sha256(f"{digest}:1".encode()).hexdigest()
    assert page_content_hash(digest, 1) != page_content_hash(digest, 2)
