"""LlamaIndex MetadataFilters -> metaembed-rag filter dicts: exact, or an error."""

from __future__ import annotations

import pytest
from llama_index.core.vector_stores import FilterCondition, FilterOperator, MetadataFilter, MetadataFilters
from llama_index.retrievers.metaembed import MetaEmbedRetriever, to_metaembed_filter
from llamaindex_common import QUERY

F = MetadataFilter
OP = FilterOperator


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (None, None),
        (F(key="doc_id", value="a.pdf"), {"doc_id": {"eq": "a.pdf"}}),
        (MetadataFilters(filters=[F(key="page", value=2, operator=OP.GTE),
                                  F(key="page", value=5, operator=OP.LT),
                                  F(key="lang", value="de", operator=OP.NE)]),
         {"page": {"gte": 2, "lt": 5}, "lang": {"ne": "de"}}),
        (MetadataFilters(filters=[F(key="page", value=1, operator=OP.GT),
                                  F(key="page", value=9, operator=OP.LTE)]),
         {"page": {"gt": 1, "lte": 9}}),
        (MetadataFilters(filters=[F(key="doc_id", value=["a.pdf", "b.pdf"], operator=OP.IN)]),
         {"doc_id": {"in": ["a.pdf", "b.pdf"]}}),
        (MetadataFilters(filters=[F(key="doc_id", value="a.pdf"), F(key="doc_id", value="b.pdf"),
                                  F(key="doc_id", value=["a.pdf", "c.pdf"], operator=OP.IN)],
                         condition=FilterCondition.OR),
         {"doc_id": {"in": ["a.pdf", "b.pdf", "c.pdf"]}}),
        # nested: an AND containing an OR over one field
        (MetadataFilters(filters=[
            F(key="page", value=2, operator=OP.GTE),
            MetadataFilters(filters=[F(key="doc_id", value="a.pdf"), F(key="doc_id", value="b.pdf")],
                            condition=FilterCondition.OR)]),
         {"page": {"gte": 2}, "doc_id": {"in": ["a.pdf", "b.pdf"]}}),
        (F(key="lang", value=None), {"lang": {"eq": None}}),
        ({"page": {"gte": 2}, "doc_id": "a.pdf"}, {"page": {"gte": 2}, "doc_id": "a.pdf"}),
    ],
)
def test_supported_filters_translate_exactly(filters, expected) -> None:
    assert to_metaembed_filter(filters) == expected


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (F(key="doc_id", value=["a"], operator=OP.NIN), "operator 'nin' is not supported"),
        (F(key="tags", value=["a"], operator=OP.ANY), "operator 'any' is not supported"),
        (F(key="tags", value=["a"], operator=OP.ALL), "operator 'all' is not supported"),
        (F(key="tags", value="a", operator=OP.CONTAINS), "operator 'contains' is not supported"),
        (F(key="source", value="rep", operator=OP.TEXT_MATCH), "operator 'text_match' is not supported"),
        (F(key="source", value="rep", operator=OP.TEXT_MATCH_INSENSITIVE), "'text_match_insensitive' is not"),
        (F(key="lang", value=None, operator=OP.IS_EMPTY), "operator 'is_empty' is not supported"),
        (MetadataFilters(filters=[F(key="page", value=2)], condition=FilterCondition.NOT),
         "cannot express NOT"),
        (MetadataFilters(filters=[F(key="page", value=2), F(key="doc_id", value="a.pdf")],
                         condition=FilterCondition.OR), "cannot express an OR across fields"),
        (MetadataFilters(filters=[F(key="page", value=2, operator=OP.GT), F(key="page", value=1)],
                         condition=FilterCondition.OR), "an OR is supported only over '==' or 'in'"),
        (MetadataFilters(filters=[F(key="page", value=2), F(key="page", value=3)]), "two 'eq' conditions"),
        (F(key="score", value=0.5, operator=OP.GTE), "use min_score"),
        (F(key="page", value=[1, 2], operator=OP.GT), "takes a number or a string"),
        (F(key="page", value=2, operator=OP.IN), "'in' takes a list"),
    ],
)
def test_unsupported_filters_raise(filters, message) -> None:
    with pytest.raises(ValueError, match=message):
        to_metaembed_filter(filters)


def test_filters_reach_the_index(retriever: MetaEmbedRetriever) -> None:
    report = "lumen-harbor-annual-report-2024.pdf"
    filters = MetadataFilters(filters=[F(key="doc_id", value=report),
                                       F(key="page", value=8, operator=OP.GTE)])
    narrowed = retriever.with_options(filters=filters, similarity_top_k=10)
    assert narrowed.filters == {"doc_id": {"eq": report}, "page": {"gte": 8}}
    results = narrowed.retrieve(QUERY)
    assert sorted(r.node.metadata["page"] for r in results) == [8, 9, 10]
    either = MetadataFilters(filters=[F(key="doc_id", value="riverton-transit-timetable.pdf"),
                                      F(key="doc_id", value="wayfarer-travel-claim-form.pdf")],
                             condition=FilterCondition.OR)
    results = MetaEmbedRetriever(retriever.core, filters=either, similarity_top_k=50).retrieve(QUERY)
    assert len(results) == 8  # 5 + 3 pages
    assert {r.node.metadata["doc_id"] for r in results} == {"riverton-transit-timetable.pdf",
                                                            "wayfarer-travel-claim-form.pdf"}
    with pytest.raises(ValueError, match="operator 'nin' is not supported"):
        retriever.with_options(filters=F(key="doc_id", value=[report], operator=OP.NIN))
