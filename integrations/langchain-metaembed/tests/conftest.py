"""One index of the bundled sample PDFs (50 pages, bundled default model), built once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_metaembed import MetaEmbedRetriever
from langchain_samples import SAMPLES

from metaembed_rag.retriever import Retriever


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("langchain") / "samples.idx"
    with Retriever.from_pdfs(SAMPLES, index=path, show_progress_bar=False) as core:
        assert core.last_report is not None and core.last_report.pages_added == 50
    return path


@pytest.fixture
def retriever(sample_index: Path) -> Iterator[MetaEmbedRetriever]:
    opened = MetaEmbedRetriever.from_index(sample_index, budget=(4, 8), k=3)
    yield opened
    opened.close()
