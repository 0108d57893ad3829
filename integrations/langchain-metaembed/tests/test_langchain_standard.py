"""langchain-tests' standard suites, unmodified: the retriever over the sample index, the embeddings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_metaembed import MetaEmbedEmbeddings, MetaEmbedRetriever
from langchain_tests.integration_tests import EmbeddingsIntegrationTests, RetrieversIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

QUERY = "What was Lumen Harbor's total revenue in 2024?"


class TestMetaEmbedRetrieverStandard(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _index(self, sample_index: Path) -> None:
        self.index_path = sample_index

    @property
    def retriever_constructor(self) -> type[MetaEmbedRetriever]:
        return MetaEmbedRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"index": self.index_path, "budget": (4, 8), "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return QUERY


class TestMetaEmbedEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[MetaEmbedEmbeddings]:
        return MetaEmbedEmbeddings


class TestMetaEmbedEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[MetaEmbedEmbeddings]:
        return MetaEmbedEmbeddings
