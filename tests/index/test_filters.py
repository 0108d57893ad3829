"""Metadata filters: compiled to SQL, evaluated in SQLite before scoring."""

from __future__ import annotations

import pytest
import torch

from metaembed_rag.index import PageIndex
from metaembed_rag.index.filters import compile_filter

from .helpers import DIM, R_C, R_Q, unit

PAGES = [
    {
        "page_id": "a",
        "doc_id": "d1",
        "source": "docs/a.pdf",
        "page": 1,
        "lang": "en",
        "year": 2020,
        "ok": True,
    },
    {
        "page_id": "b",
        "doc_id": "d1",
        "source": "docs/a.pdf",
        "page": 2,
        "lang": "de",
        "year": 2021,
        "ok": False,
    },
    {"page_id": "c", "doc_id": "d2", "source": "Docs/b.pdf", "page": 3, "lang": "en", "year": "2022"},
    {"page_id": "d", "doc_id": "d3", "source": "doc_%/c.pdf", "page": 10, "a.b": "dotted", "year": 2023.5},
    {"page_id": "e", "doc_id": None, "source": None, "page": None},
]


@pytest.fixture
def filled(index: PageIndex) -> PageIndex:
    index.add(unit(len(PAGES), R_C, DIM), PAGES)
    return index


def matching(index: PageIndex, filter: dict) -> list[str]:
    return sorted(h.page_id for h in index.search(unit(R_Q, DIM), (1, 1), k=100, filter=filter))


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ({}, ["a", "b", "c", "d", "e"]),
        ({"doc_id": "d1"}, ["a", "b"]),
        ({"doc_id": {"eq": "d2"}}, ["c"]),
        ({"doc_id": None}, ["e"]),
        ({"doc_id": {"ne": "d1"}}, ["c", "d"]),  # a missing value never equals or differs
        ({"doc_id": {"ne": None}}, ["a", "b", "c", "d"]),
        ({"page_id": {"in": ["a", "e", "zz"]}}, ["a", "e"]),
        ({"doc_id": {"in": []}}, []),
        ({"page": {"gte": 2, "lt": 10}}, ["b", "c"]),
        ({"page": {"gt": 2}}, ["c", "d"]),
        ({"page": {"lte": 1}}, ["a"]),
        ({"source": {"prefix": "docs/"}}, ["a", "b"]),  # case-sensitive
        ({"source": {"prefix": "doc_%"}}, ["d"]),  # no LIKE wildcards
        ({"source": {"prefix": ""}}, ["a", "b", "c", "d"]),
        ({"lang": "en"}, ["a", "c"]),
        ({"lang": {"in": ["de", "fr"]}}, ["b"]),
        ({"lang": None}, ["d", "e"]),
        ({"ok": True}, ["a"]),
        ({"ok": False}, ["b"]),
        ({"year": {"gte": 2021}}, ["b", "d"]),  # numeric bound: the string "2022" is not a number
        ({"year": {"gte": "2000"}}, ["c"]),  # string bound: only strings
        ({"a.b": "dotted"}, ["d"]),  # a user field whose name has a dot
        ({"doc_id": "d1", "lang": "de"}, ["b"]),  # AND
        ({"doc_id": "d1", "page": {"gt": 5}}, []),
        ({"lang": "fr"}, []),  # a field some pages hold, a value none has (a field none holds raises)
    ],
)
def test_filter_semantics(filled: PageIndex, filter: dict, expected: list[str]) -> None:
    assert matching(filled, filter) == expected


def test_filter_applies_before_scoring(index: PageIndex) -> None:
    q = unit(R_Q, DIM)
    best = q[0].expand(1, R_C, DIM).clone()  # every vector equals q_0: the top page at (1, 1)
    index.add(torch.cat([best, unit(20, R_C, DIM)]), [{"page_id": "best", "lang": "en"}] + [
        {"page_id": f"p{i}", "lang": "de" if i == 7 else "en"} for i in range(20)
    ])  # fmt: skip
    assert index.search(q, (1, 1), k=1)[0].page_id == "best"
    # Post-filtering the top 1 would return nothing; pre-filtering finds the only German page.
    assert [h.page_id for h in index.search(q, (1, 1), k=1, filter={"lang": "de"})] == ["p7"]
    assert [h.page_id for h in index.search(q, (1, 1), k=1, filter={"lang": "de"}, rerank_from=1)] == ["p7"]


@pytest.mark.parametrize(
    ("filter", "error", "match"),
    [
        ({"page": {"between": [1, 2]}}, ValueError, "unknown operator 'between'.*eq, ne, in, gt, gte"),
        ({"page": [1, 2]}, TypeError, r"write \{'in': \[1, 2\]\}"),
        ({"page": {}}, ValueError, "empty condition"),
        ({"page": {"gt": True}}, TypeError, "number or a string"),
        ({"page": {"gt": [1]}}, TypeError, "number or a string"),
        ({"source": {"prefix": 3}}, TypeError, "'prefix' takes a string"),
        ({"doc_id": {"in": "abc"}}, TypeError, "'in' takes a list"),
        ({"doc_id": {"in": [["x"]]}}, TypeError, "string, number or bool"),
        ({"doc_id": {"x": 1}}, ValueError, "unknown operator 'x'"),
        ({'we"ird': 1}, ValueError, "quote or backslash"),
        ({"": 1}, ValueError, "non-empty"),
        ([("page", 1)], TypeError, "a filter is a dict"),
    ],
)
def test_bad_filters_raise_clear_errors(filter: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        compile_filter(filter)  # type: ignore[arg-type]


def test_bad_filter_in_search_raises_before_reading(filled: PageIndex) -> None:
    with pytest.raises(ValueError, match="unknown operator 'like'"):
        filled.search(unit(R_Q, DIM), filter={"source": {"like": "docs%"}})


def test_compiled_sql_binds_values_as_parameters() -> None:
    sql, params = compile_filter({"doc_id": "x'); DROP TABLE pages; --"})
    assert sql == "doc_id = ?" and params == ["x'); DROP TABLE pages; --"]
    assert compile_filter(None) == ("1", [])


# -- filters checked against what the pages hold ---------------------------------------------------
def test_fields_lists_every_filterable_field_with_the_kinds_it_holds(filled: PageIndex) -> None:
    fields = filled.fields()
    assert fields["year"] == {"number", "string"} and fields["lang"] == {"string"}
    assert fields["ok"] == {"bool"} and fields["a.b"] == {"string"}
    assert fields["page"] >= {"number"} and "source" in fields and "page_id" in fields


@pytest.mark.parametrize(
    ("flt", "message"),
    [
        ({"lnag": "en"}, r"field 'lnag' is held by no page; did you mean 'lang'\? \(fields: .*lang string"),
        ({"zzz": {"gte": 1}}, r"filter field 'zzz' is held by no page \(fields: "),
        ({"page": {"gte": "abc"}}, r"filter 'page': the pages hold number values there, not string \('abc"),
        ({"lang": {"in": ["en", 3]}}, r"filter 'lang': the pages hold string values there, not number \(3\)"),
        ({"ok": 1}, r"filter 'ok': the pages hold bool values there, not number"),
    ],
)
def test_a_filter_naming_what_no_page_holds_raises_in_search_pages_and_delete(
    filled: PageIndex, flt: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        filled.search(unit(R_Q, DIM), k=3, filter=flt)
    with pytest.raises(ValueError, match=message):
        filled.pages(flt)
    with pytest.raises(ValueError, match=message):
        filled.delete(filter=flt)
    assert len(filled) == len(PAGES)


def test_a_well_formed_filter_that_matches_nothing_returns_nothing(filled: PageIndex) -> None:
    assert filled.search(unit(R_Q, DIM), k=3, filter={"page": {"gte": 999}, "lang": "fr"}) == []
    assert filled.search(unit(R_Q, DIM), k=3, filter={"doc_id": None, "lang": None})[0].page_id == "e"


def test_the_fields_follow_writes(filled: PageIndex) -> None:
    with pytest.raises(ValueError, match="held by no page"):
        filled.pages({"topic": "x"})
    filled.add(unit(1, R_C, DIM), [{"page_id": "f", "topic": "x"}])
    assert [p.page_id for p in filled.pages({"topic": "x"})] == ["f"]
