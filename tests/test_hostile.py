"""Hostile metadata, filters, queries, vectors and page ids: each works or raises a named error,
and nothing reaches SQL or the file system unescaped."""

from __future__ import annotations

import math
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
import torch
from PIL import Image

from metaembed_rag.index import NonFiniteVectorsError, PageIndex
from metaembed_rag.index.filters import compile_filter
from metaembed_rag.model.defaults import load_model
from metaembed_rag.retriever import Retriever

R_Q, R_C, DIM = 16, 64, 8
FINGERPRINT = {"name": "hostile", "family": "text", "num_query_tokens": R_Q, "num_candidate_tokens": R_C,
               "dim": DIM, "checksum": "feed"}  # fmt: skip
SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "pdfs"
LONG = "ü" * 100_000
# Field names and values that would break, or rewrite, SQL pasted together from strings.
HOSTILE = [
    "it's",
    "') OR 1=1 --",
    "') = 1 OR 1=1 OR json_extract(fields, '$.",
    "x'; DROP TABLE pages; --",
    "名前 🗂️ ünïcödé",
    "a.b[0]",
    "%_*?",
    "k" * 10_000,
]


def unit(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, R_C, DIM, generator=g), dim=-1)


@pytest.fixture
def index(tmp_path: Path):
    with PageIndex.create(tmp_path / "index", fingerprint=FINGERPRINT, dtype="fp32") as ix:
        yield ix


@pytest.mark.parametrize("key", HOSTILE)
def test_hostile_field_names_filter_exactly_and_never_inject(index: PageIndex, key: str) -> None:
    metas = [{"page_id": "hit", key: "v"}, {"page_id": "miss", key: "w"}, {"page_id": "none"}]
    index.add(unit(3), metas)
    query = unit(1)[0, :R_Q]
    assert [h.page_id for h in index.search(query, k=3, filter={key: "v"})] == ["hit"]
    assert [h.page_id for h in index.search(query, k=3, filter={key: {"ne": "v"}})] == ["miss"]
    assert sorted(p.page_id for p in index.pages({key: None})) == ["none"]
    # A name no page holds is refused before any SQL runs; and its compiled clause matches no page
    # (an injected "OR 1=1" would match all).
    with pytest.raises(ValueError, match="is held by no page"):
        index.search(query, k=3, filter={key + "'": "v"})
    where, params = compile_filter({key + "'": "v"})
    with sqlite3.connect(index.path / "manifest.sqlite") as conn:
        assert conn.execute(f"SELECT count(*) FROM pages WHERE {where}", params).fetchone()[0] == 0
    assert len(index) == 3  # and no statement ran besides the query


@pytest.mark.parametrize("value", [*HOSTILE, LONG, "", "line\nbreak", "tab\tquote\"back\\slash"])
def test_hostile_values_are_bound_parameters(index: PageIndex, value: str) -> None:
    index.add(unit(2), [{"page_id": "a", "doc_id": value, "tag": value}, {"page_id": "b", "tag": "other"}])
    query = unit(1)[0, :R_Q]
    assert [h.page_id for h in index.search(query, k=2, filter={"tag": value})] == ["a"]
    assert [h.page_id for h in index.search(query, k=2, filter={"doc_id": {"in": [value]}})] == ["a"]
    assert [p.page_id for p in index.pages({"tag": {"prefix": value}})] == ["a"] if value else True
    assert index.get("a").doc_id == value


@pytest.mark.parametrize("key", ['we"ird', "back\\slash", "nul\x00"])
def test_unsupported_field_names_raise_a_value_error_naming_them(key: str) -> None:
    with pytest.raises(ValueError, match="quote or backslash or NUL"):
        compile_filter({key: 1})


@pytest.mark.parametrize("cond", ["a\x00b", {"prefix": "\x00"}, {"gte": "a\x00"}, {"in": ["ok", "\x00"]}])
def test_a_nul_in_a_filter_value_is_a_value_error_not_a_silent_miss(cond: object) -> None:
    with pytest.raises(ValueError, match="NUL character"):
        compile_filter({"tag": cond})


def test_compiled_sql_keeps_a_hostile_name_inside_its_string_literal() -> None:
    sql, params = compile_filter({"') = 1 OR 1=1 OR json_extract(fields, '$.": "v"})
    assert params == ["v"]
    # Parsed by SQLite, the clause is one comparison of one json_extract: no OR at the top level.
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE pages (fields TEXT)")
    con.execute("INSERT INTO pages VALUES ('{}')")
    assert con.execute(f"SELECT count(*) FROM pages WHERE {sql}", params).fetchone() == (0,)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_inf_in_user_vectors_raise_a_named_error_and_write_nothing(
    index: PageIndex, bad: float
) -> None:
    vectors = unit(2)
    vectors[1, 3, 5] = bad
    with pytest.raises(NonFiniteVectorsError, match="NaN or infinite"):
        index.add(vectors, [{"page_id": "a"}, {"page_id": "b"}])
    assert len(index) == 0
    assert isinstance(NonFiniteVectorsError("x"), ValueError)  # callers catching ValueError still do
    index.add(unit(1), [{"page_id": "ok"}])
    query = unit(1)[0, :R_Q].clone()
    query[0, 0] = bad
    with pytest.raises(NonFiniteVectorsError):
        index.search(query, k=1)


@pytest.mark.parametrize("page_id", ["../../../etc/passwd", "/abs/path:1", "a/../../b", "..\\..\\win:2",
                                     "images/../manifest.sqlite", "x" * 5000])
def test_page_ids_with_path_separators_never_reach_the_file_system(index: PageIndex, page_id: str) -> None:
    before = set(Path(index.path).parent.rglob("*"))
    image = Image.new("RGB", (8, 8), (200, 10, 10))
    index.add(unit(1), [{"page_id": page_id, "doc_id": page_id, "source": page_id}], [image])
    stored = index.get(page_id)
    assert stored is not None and stored.page_id == page_id and stored.image_bytes() is not None
    created = set(Path(index.path).parent.rglob("*")) - before
    root = Path(index.path).resolve()
    # Images are content-addressed: the one new image file is named by its SHA-256, inside the index.
    images = [p for p in created if p.suffix == ".png"]
    assert len(images) == 1 and len(images[0].stem) == 64 and images[0].resolve().parent == root / "images"
    assert all(p.resolve().is_relative_to(root) for p in created)
    assert index.delete(page_ids=[page_id]) == 1 and index.get(page_id) is None


@pytest.fixture(scope="module")
def model():
    return load_model()


def test_a_100k_character_query_is_truncated_not_a_crash(model, tmp_path: Path, one_thread) -> None:
    query = "espresso grind size " * 5_000  # 100k characters
    vectors = model.encode_queries([query, "espresso grind size"])
    assert vectors.shape == (2, model.num_query_tokens, model.dim) and bool(torch.isfinite(vectors).all())
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(SAMPLES / "brewline-k7-espresso-manual.pdf", folder)
    with Retriever.from_pdfs(folder, index=tmp_path / "index", model=model, show_progress_bar=False) as r:
        for q in (query, LONG, "'; DROP TABLE pages; --" * 4000, "\x00" * 1000 + "grind"):
            hits = r.search(q, k=2)
            assert len(hits) == 2 and all(math.isfinite(h.score) for h in hits)
        assert len(r.search(query, k=2, hybrid="rrf")) == 2
        assert os.listdir(tmp_path / "index")  # the index is intact after all of them
