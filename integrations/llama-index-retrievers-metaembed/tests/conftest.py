"""One index of the bundled sample PDFs per test session, built where the README quickstart runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_index.retrievers.metaembed import MetaEmbedRetriever
from llamaindex_common import SAMPLES

from metaembed_rag.retriever import Retriever


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out like the repository root for the quickstart: ``samples/`` links to ours."""
    folder = tmp_path_factory.mktemp("quickstart")
    (folder / "samples").symlink_to(SAMPLES.parent, target_is_directory=True)
    return folder


@pytest.fixture(scope="session")
def index_path(workdir: Path) -> Path:
    """``samples.idx``: the 50 sample pages indexed with the bundled model, as the quickstart does."""
    path = workdir / "samples.idx"
    with Retriever.from_pdfs(workdir / "samples" / "pdfs", index=path, show_progress_bar=False) as core:
        assert core.last_report is not None and core.last_report.pages_added == 50
    return path


@pytest.fixture(scope="session")
def retriever(index_path: Path) -> Iterator[MetaEmbedRetriever]:
    with MetaEmbedRetriever.from_index(index_path, budget=(4, 8), similarity_top_k=3) as opened:
        yield opened
