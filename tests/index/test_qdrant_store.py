"""QdrantStore on Qdrant's local mode (in memory and on disk): the same answers as PageIndex and
as brute-force MaxSim. A Qdrant server cannot run in CI, so server-only settings are not tested."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from metaembed_rag.budget import ladder_for
from metaembed_rag.index import AddResult, IndexMismatchError, PageIndex, PageIndexError, VectorStore
from metaembed_rag.scoring import maxsim_reference

from .helpers import DIM, R_C, R_Q, assert_topk, fingerprint, metas, reference_scores, unit

qdrant_client = pytest.importorskip("qdrant_client")
from qdrant_client import QdrantClient  # noqa: E402

from metaembed_rag.index.qdrant_filters import source_prefixes  # noqa: E402
from metaembed_rag.index.qdrant_store import QdrantStore  # noqa: E402

# Qdrant stores float32 and sums in float32; scores here are at most R_Q = 16 in size.
TOL = 1e-4


@pytest.fixture(params=["memory", "path"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[QdrantClient]:
    c = QdrantClient(":memory:") if request.param == "memory" else QdrantClient(path=str(tmp_path / "q"))
    yield c
    c.close()


@pytest.fixture
def store(client: QdrantClient) -> QdrantStore:
    return QdrantStore.create(client, "pages", fingerprint=fingerprint())


def test_is_a_vector_store(store: QdrantStore) -> None:
    assert isinstance(store, VectorStore)
    assert store.levels == (1, 4, 8, 16, 64)
    assert store.fingerprint() == fingerprint()


def test_search_matches_bruteforce_at_every_stored_budget(store: QdrantStore) -> None:
    gen = torch.Generator().manual_seed(0)
    vectors = unit(40, R_C, DIM, generator=gen)
    ids = [f"p{i:02d}" for i in range(40)]
    assert store.add(vectors, metas(ids)).added == 40
    pages = dict(zip(ids, vectors, strict=True))
    queries = unit(3, R_Q, DIM, generator=gen)
    budgets = [*ladder_for(R_Q, R_C), (5, 1), (3, 4), (16, 8)]
    for budget in budgets:
        batched = store.search(queries, budget, k=7)
        assert len(batched) == 3
        for q, hits in zip(queries, batched, strict=True):
            assert_topk(hits, reference_scores(q, pages, tuple(budget)), 7, TOL)
        assert [h.page_id for h in store.search(queries[0], budget, k=7)] == [h.page_id for h in batched[0]]
    # Default budget: every query vector, all R_c.
    assert_topk(store.search(queries[1], k=5), reference_scores(queries[1], pages, (R_Q, R_C)), 5, TOL)


def test_two_stage_prefetch_reranks_the_cheap_top_m(store: QdrantStore) -> None:
    gen = torch.Generator().manual_seed(1)
    vectors = unit(30, R_C, DIM, generator=gen)
    ids = [f"p{i}" for i in range(30)]
    store.add(vectors, metas(ids))
    q = unit(R_Q, DIM, generator=gen)
    cheap = maxsim_reference(q, vectors, (1, 1))
    full = maxsim_reference(q, vectors, (8, 16))
    top_m = cheap.topk(8).indices
    expected = top_m[full[top_m].argsort(descending=True)][:4]
    hits = store.search(q, (8, 16), k=4, rerank_from=8)
    assert [h.page_id for h in hits] == [ids[i] for i in expected]
    for h, i in zip(hits, expected, strict=True):
        assert abs(h.score - float(full[i])) <= TOL
    # A first stage larger than the collection is the exhaustive search.
    assert [h.page_id for h in store.search(q, (8, 16), k=4, rerank_from=100)] == [
        ids[i] for i in full.topk(4).indices
    ]
    # Another stored first stage works too.
    hits = store.search(q, (16, 64), k=3, rerank_from=10, first_stage=(2, 4))
    top_m = maxsim_reference(q, vectors, (2, 4)).topk(10).indices
    best = maxsim_reference(q, vectors, (16, 64))
    assert [h.page_id for h in hits] == [ids[i] for i in top_m[best[top_m].argsort(descending=True)][:3]]


def test_budget_and_argument_errors(client: QdrantClient) -> None:
    store = QdrantStore.create(client, "few", fingerprint=fingerprint(), levels=[8])
    assert store.levels == (1, 8, 64)  # c1 and the full level are always stored
    store.add(unit(3, R_C, DIM), metas(["a", "b", "c"]))
    q = unit(R_Q, DIM)
    with pytest.raises(ValueError, match=r"levels r_c in \[1, 8, 64\]"):
        store.search(q, (2, 4))
    with pytest.raises(ValueError, match="levels"):
        store.search(q, (8, 8), rerank_from=2, k=1, first_stage=(2, 4))
    with pytest.raises(ValueError, match="out of range"):
        store.search(q, (17, 64))
    with pytest.raises(ValueError, match="query vectors"):
        store.search(q[:2], (4, 8))
    with pytest.raises(ValueError, match="rerank_from"):
        store.search(q, (4, 8), k=3, rerank_from=2)
    with pytest.raises(ValueError, match="k must"):
        store.search(q, (4, 8), k=0)
    with pytest.raises(ValueError, match="levels must be ints"):
        QdrantStore.create(client, "bad", fingerprint=fingerprint(), levels=[65])
    assert [h.page_id for h in store.search(q, (4, 8), k=3)] == [
        h.page_id for h in store.search(q, (4, 8), k=3, rerank_from=3)
    ]


def test_add_skips_unchanged_replaces_changed_and_upsert_always_replaces(store: QdrantStore) -> None:
    v = unit(3, R_C, DIM)
    pages = [{"page_id": p, "doc_id": "d", "content_hash": "h1"} for p in "abc"]
    assert store.add(v, pages) == AddResult(added=3, commits=1)
    assert store.add(v, pages) == AddResult(skipped=3)
    changed = [{**pages[0], "content_hash": "h2", "lang": "fr"}]
    new = unit(1, R_C, DIM)
    assert store.add(new, changed) == AddResult(replaced=1, commits=1)
    page = store.get("a", with_vectors=True)
    assert page is not None and page.content_hash == "h2" and page.fields == {"lang": "fr"}
    assert torch.allclose(page.vectors, new[0], atol=1e-6)
    res = store.upsert(v[1:], pages[1:])
    assert (res.added, res.skipped, res.replaced) == (0, 0, 2)
    assert len(store) == 3 and "b" in store and store.has("b", "h1") and not store.has("b", "h2")
    assert store.get("zz") is None
    # Streaming batches.
    res = store.add(iter([(unit(2, R_C, DIM), metas(["x", "y"])), (unit(1, R_C, DIM), metas(["z"]))]))
    assert (res.added, res.commits, len(store)) == (3, 2, 6)


def test_add_rejects_bad_input_before_writing(store: QdrantStore) -> None:
    with pytest.raises(ValueError, match="more than once"):
        store.add(unit(2, R_C, DIM), metas(["a", "a"]))
    with pytest.raises(ValueError, match="page_id"):
        store.add(unit(1, R_C, DIM), [{"doc_id": "x"}])
    with pytest.raises(ValueError, match="shape"):
        store.add(unit(1, R_C - 1, DIM), metas(["a"]))
    with pytest.raises(ValueError, match="images"):
        store.add(unit(1, R_C, DIM), metas(["a"]), [b"png"])
    assert len(store) == 0


def test_delete(store: QdrantStore) -> None:
    store.add(unit(6, R_C, DIM), [{"page_id": f"p{i}", "doc_id": f"d{i % 3}", "page": i} for i in range(6)])
    assert store.delete(doc_id="d0") == 2
    assert store.delete(page_ids=["p1", "missing", "p1"]) == 1
    assert store.delete(filter={"page": {"gte": 4}}) == 2
    assert sorted(p.page_id for p in store.pages()) == ["p2"]
    assert [h.page_id for h in store.search(unit(R_Q, DIM), (1, 1), k=10)] == ["p2"]
    with pytest.raises(ValueError, match="every page"):
        store.delete(filter={})
    with pytest.raises(TypeError, match="exactly one"):
        store.delete(doc_id="d2", page_ids=["p2"])
    with pytest.raises(TypeError, match="list"):
        store.delete(page_ids="p2")
    assert len(store) == 1


FILTER_PAGES = [
    {
        "page_id": "a",
        "doc_id": "d1",
        "source": "docs/a.pdf",
        "page": 1,
        "lang": "en",
        "year": 2020,
        "ok": True,
    },
    {"page_id": "b", "doc_id": "d1", "source": "docs/sub/b.pdf", "page": 2, "lang": "de", "year": 2021},
    {"page_id": "c", "doc_id": "d2", "source": "Docs/c.pdf", "page": 3, "lang": "en", "year": "2022"},
    {"page_id": "d", "doc_id": "d3", "source": "/abs/docs/d.pdf", "page": 10, "year": 2023.5, "ok": False},
    {"page_id": "e", "doc_id": None, "source": None, "page": None},
]
FILTERS = [
    {},
    {"doc_id": "d1"},
    {"doc_id": {"eq": "d2"}},
    {"doc_id": None},
    {"doc_id": {"ne": "d1"}},
    {"doc_id": {"ne": None}},
    {"page_id": {"in": ["a", "e", "zz"]}},
    {"doc_id": {"in": []}},
    {"year": {"in": [2020, 2023.5, "2022"]}},
    {"page": {"gte": 2, "lt": 10}},
    {"page": {"gt": 2}},
    {"page": None},
    {"year": {"gt": 2020}},
    {"year": {"lte": 2023.5, "gte": 2021}},
    {"year": 2023.5},
    {"year": "2022"},
    {"lang": {"ne": "de"}},
    {"lang": "en", "page": {"lt": 3}},
    {"ok": True},
    {"ok": False},
    {"source": {"prefix": "docs/"}},
    {"source": {"prefix": "docs/sub/"}},
    {"source": {"prefix": "/"}},
    {"source": {"prefix": ""}},
    {"source": {"prefix": "docs/"}, "doc_id": {"in": ["d1", "d2"]}, "page": {"gte": 2}},
]


@pytest.mark.parametrize("filter", FILTERS, ids=[str(f) for f in FILTERS])
def test_filters_match_page_index(filter: dict, tmp_path: Path) -> None:
    vectors = unit(len(FILTER_PAGES), R_C, DIM)
    q = unit(R_Q, DIM)
    with PageIndex.create(tmp_path / "ix", fingerprint=fingerprint(), dtype="fp32") as index:
        index.add(vectors, FILTER_PAGES)
        expected = index.search(q, (4, 8), k=10, filter=filter)
        assert sorted(p.page_id for p in index.pages(filter)) == sorted(h.page_id for h in expected)
    store = QdrantStore.create(QdrantClient(":memory:"), "f", fingerprint=fingerprint())
    store.add(vectors, FILTER_PAGES)
    got = store.search(q, (4, 8), k=10, filter=filter)
    assert [h.page_id for h in got] == [h.page_id for h in expected]
    for g, e in zip(got, expected, strict=True):
        assert abs(g.score - e.score) <= TOL and g.rank == e.rank and g.metadata == e.metadata
    assert sorted(p.page_id for p in store.pages(filter)) == sorted(h.page_id for h in expected)


@pytest.mark.parametrize(
    ("filter", "message"),
    [
        ({"source": {"prefix": "docs/a"}}, "folder ending in '/'"),
        ({"doc_id": {"prefix": "d"}}, "'source' only"),
        ({"page": {"gt": "2"}}, "numeric"),
        ({"a.b": "x"}, "cannot be filtered"),
        ({"page": {"near": 2}}, "unknown operator"),
        ({"page": [1, 2]}, "'in'"),
    ],
)
def test_unsupported_filters_raise_clearly(store: QdrantStore, filter: dict, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        store.search(unit(R_Q, DIM), (1, 1), filter=filter)


def test_source_prefixes() -> None:
    assert source_prefixes("a/b/c.pdf") == ["a/", "a/b/", "a/b/c.pdf"]
    assert source_prefixes("/x/y.pdf") == ["/", "/x/", "/x/y.pdf"]
    assert source_prefixes("c.pdf") == ["c.pdf"]
    assert source_prefixes(None) == []


def test_create_and_open_semantics(client: QdrantClient) -> None:
    with pytest.raises(FileNotFoundError, match=r"QdrantStore\.create"):
        QdrantStore.open(client, "nope")
    with pytest.raises(FileNotFoundError):
        QdrantStore(client, "nope")  # create=True still needs a fingerprint
    store = QdrantStore(client, "auto", fingerprint=fingerprint())  # created on first use
    store.add(unit(1, R_C, DIM), metas(["a"]))
    assert len(QdrantStore(client, "auto", fingerprint=fingerprint())) == 1
    with pytest.raises(FileExistsError, match=r"QdrantStore\.open"):
        QdrantStore.create(client, "auto", fingerprint=fingerprint())
    with pytest.raises(IndexMismatchError, match="checksum"):
        QdrantStore.open(client, "auto", fingerprint(checksum="other"))
    with pytest.raises(IndexMismatchError, match="dim"):
        QdrantStore(client, "auto", fingerprint=fingerprint(dim=16))
    client.create_collection("foreign")
    with pytest.raises(PageIndexError, match="not created by QdrantStore"):
        QdrantStore.open(client, "foreign")


def test_reopen_from_path_keeps_pages_and_fingerprint(tmp_path: Path) -> None:
    path = str(tmp_path / "qdrant")
    vectors = unit(5, R_C, DIM)
    q = unit(R_Q, DIM)
    client = QdrantClient(path=path)
    store = QdrantStore.create(client, "pages", fingerprint=fingerprint(), levels=[2])
    store.add(vectors, [{"page_id": f"p{i}", "source": f"docs/{i}.pdf", "n": i} for i in range(5)])
    before = store.search(q, (3, 2), k=5)
    client.close()

    client = QdrantClient(path=path)
    store = QdrantStore.open(client, "pages", fingerprint())
    assert len(store) == 5 and store.levels == (1, 2, 64)
    assert store.fingerprint() == fingerprint()
    assert store.search(q, (3, 2), k=5) == before
    page = store.get("p3")
    assert page is not None and page.fields == {"n": 3} and page.source == "docs/3.pdf"
    assert store.add(
        vectors, [{"page_id": f"p{i}", "source": f"docs/{i}.pdf", "n": i} for i in range(5)]
    ) == (AddResult(skipped=5))
    with pytest.raises(IndexMismatchError):
        QdrantStore.open(client, "pages", fingerprint(name="other-model"))
    client.close()


def test_stats_count_pages_and_bytes_per_budget(client: QdrantClient) -> None:
    store = QdrantStore.create(client, "sized", fingerprint=fingerprint(), levels=[4, 16])
    assert store.stats().pages == 0
    store.add(unit(6, R_C, DIM), metas([str(i) for i in range(6)]))
    store.delete(page_ids=["0"])
    stats = store.stats()
    assert (stats.pages, stats.dim, stats.levels, stats.datatype) == (5, DIM, (1, 4, 16, 64), "float32")
    assert stats.vector_bytes == 5 * (1 + 4 + 16 + 64) * DIM * 4
    # Budgets whose r_c is a stored level; (4, 8) reads r_c = 8, which is not stored.
    per_vector = DIM * 4
    assert stats.bytes_per_budget == {
        "(1,1)": 5 * per_vector, "(2,4)": 5 * 4 * per_vector, "(8,16)": 5 * 16 * per_vector,
        "(16,64)": 5 * 64 * per_vector,
    }  # fmt: skip


def test_a_filter_naming_what_no_page_holds_raises_as_in_page_index(store: QdrantStore) -> None:
    store.add(unit(2, R_C, DIM), [{"page_id": "a", "page": 1, "lang": "en"},
                                  {"page_id": "b", "page": 2, "lang": "de"}])
    q = unit(R_Q, DIM)
    with pytest.raises(ValueError, match=r"filter field 'lnag' is held by no page; did you mean 'lang'\?"):
        store.search(q, k=2, filter={"lnag": "en"})
    with pytest.raises(ValueError, match=r"'lang': the pages hold string values there, not number \(3\)"):
        store.search(q, k=2, filter={"lang": 3})
    assert store.search(q, k=2, filter={"lang": "fr"}) == []  # well formed, matches nothing
    assert [h.page_id for h in store.search(q, k=2, filter={"lang": "de"})] == ["b"]
    assert store.fields()["lang"] == {"string"}
