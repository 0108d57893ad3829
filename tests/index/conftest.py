"""Fixtures for the PageIndex tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from metaembed_rag.index import PageIndex

from .helpers import fingerprint


@pytest.fixture
def index_path(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def index(index_path: Path) -> Iterator[PageIndex]:
    ix = PageIndex.create(index_path, fingerprint=fingerprint(), dtype="fp32")
    yield ix
    ix.close()
