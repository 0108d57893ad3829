"""PageIndex operations: create/open, add/upsert/skip, streaming, delete, compact, get, images, stats."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import safetensors.torch
import torch
from PIL import Image

from metaembed_rag.budget import LADDER
from metaembed_rag.index import AddResult, PageIndex, VectorStore

from .helpers import DIM, R_C, R_Q, assert_topk, fingerprint, metas, reference_scores, unit


def png_bytes(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 3), color).save(buf, format="PNG")
    return buf.getvalue()


def test_create_refuses_non_empty_dir_and_open_needs_manifest(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "file").write_text("hi")
    with pytest.raises(FileExistsError, match="not empty"):
        PageIndex.create(tmp_path / "x", fingerprint=fingerprint())
    with pytest.raises(FileNotFoundError, match=r"no PageIndex .*manifest\.sqlite"):
        PageIndex.open(tmp_path / "nothing")


def test_create_validates_fingerprint_and_dtype(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="checksum"):
        PageIndex.create(
            tmp_path / "a", fingerprint={k: v for k, v in fingerprint().items() if k != "checksum"}
        )
    with pytest.raises(ValueError, match="dim"):
        PageIndex.create(tmp_path / "b", fingerprint=fingerprint(dim=0))
    with pytest.raises(ValueError, match="unknown index dtype 'int4'"):
        PageIndex.create(tmp_path / "c", fingerprint=fingerprint(), dtype="int4")


def test_default_dtype_is_bf16_and_settings_survive_reopen(index_path: Path) -> None:
    with PageIndex.create(index_path, fingerprint=fingerprint()) as ix:
        assert ix.dtype == "bf16"
        assert isinstance(ix, VectorStore)
    with PageIndex.open(index_path) as ix:
        assert (ix.dtype, ix.dim, ix.num_candidate_tokens) == ("bf16", DIM, R_C)
        assert ix.fingerprint() == fingerprint()


def test_add_search_get_roundtrip_and_reopen(index: PageIndex, index_path: Path) -> None:
    vecs = unit(5, R_C, DIM)
    meta = [
        {
            "page_id": f"p{i}",
            "doc_id": "d",
            "source": Path(f"docs/f{i}.pdf"),
            "page": i,
            "lang": "en",
            "n": [i],
        }
        for i in range(5)
    ]
    assert index.add(vecs, meta) == AddResult(added=5, commits=1)
    assert len(index) == 5 and "p3" in index and "zz" not in index
    page = index.get("p3", with_vectors=True)
    assert page is not None and page.vectors is not None
    assert (page.doc_id, page.source, page.page, page.fields) == (
        "d",
        "docs/f3.pdf",
        3,
        {"lang": "en", "n": [3]},
    )
    assert torch.equal(page.vectors, vecs[3])  # fp32 index: exact
    assert page.content_hash.startswith("vectors-sha256:")
    assert index.get("missing") is None
    index.close()
    with PageIndex.open(index_path, fingerprint()) as ix:
        q = unit(R_Q, DIM)
        hits = ix.search(q, (4, 8), k=3)
        ref = reference_scores(q, {f"p{i}": vecs[i] for i in range(5)}, (4, 8))
        assert_topk(hits, ref, 3, 1e-5)
        assert hits[0].metadata == {
            "doc_id": "d",
            "source": f"docs/f{hits[0].page_id[1:]}.pdf",
            "page": int(hits[0].page_id[1:]),
            "content_hash": ix.get(hits[0].page_id).content_hash,
            "lang": "en",
            "n": [int(hits[0].page_id[1:])],
        }


def test_numpy_vectors_and_batched_queries(index: PageIndex) -> None:
    vecs = unit(4, R_C, DIM)
    index.add(vecs.numpy(), metas(["a", "b", "c", "d"]))
    queries = unit(3, R_Q, DIM)
    out = index.search(queries.numpy(), "2,4", k=2)
    assert len(out) == 3
    pages = dict(zip("abcd", vecs, strict=True))
    for q, hits in zip(queries, out, strict=True):
        assert_topk(hits, reference_scores(q, pages, (2, 4)), 2, 1e-5)


def test_readd_unchanged_is_skipped_changed_is_replaced(index: PageIndex) -> None:
    vecs = unit(3, R_C, DIM)
    index.add(vecs, metas(["a", "b", "c"], content_hash="h1"))
    segments_before = index.stats().segments
    assert index.add(vecs, metas(["a", "b", "c"], content_hash="h1")) == AddResult(skipped=3)
    assert index.stats().segments == segments_before  # nothing was written

    new = unit(2, R_C, DIM)
    res = index.add(new, [{"page_id": "a", "content_hash": "h2"}, {"page_id": "z", "content_hash": "h1"}])
    assert res == AddResult(added=1, replaced=1, commits=1)
    assert torch.equal(index.get("a", with_vectors=True).vectors, new[0])
    assert len(index) == 4
    assert index.stats().dead_rows == 1


def test_default_content_hash_makes_readd_idempotent(index: PageIndex) -> None:
    vecs = unit(2, R_C, DIM)
    index.add(vecs, metas(["a", "b"]))
    assert index.add(vecs, metas(["a", "b"])).skipped == 2
    assert index.add(vecs.flip(0), metas(["a", "b"])).replaced == 2
    assert index.has("a") and not index.has("a", content_hash="other") and not index.has("q")


def test_upsert_replaces_even_unchanged(index: PageIndex) -> None:
    vecs = unit(2, R_C, DIM)
    index.add(vecs, metas(["a", "b"], content_hash="h", tag="old"))
    res = index.upsert(vecs[:1], metas(["a"], content_hash="h", tag="new"))
    assert res == AddResult(replaced=1, commits=1)
    assert index.get("a").fields == {"tag": "new"} and index.get("b").fields == {"tag": "old"}
    assert index.upsert(unit(1, R_C, DIM), metas(["c"])) == AddResult(added=1, commits=1)


def test_streaming_add_commits_per_batch_and_per_commit_every(index: PageIndex) -> None:
    def batches(n: int, size: int):
        for b in range(n):
            yield unit(size, R_C, DIM), metas([f"s{b}-{i}" for i in range(size)])

    assert index.add(batches(4, 3)) == AddResult(added=12, commits=4)
    assert index.stats().segments == 4
    # 10 pages in commits of 4 + 4 + 2; ids s0..s3 exist with other vectors (replaced), s4 is new.
    assert index.add(batches(5, 2), commit_every=4) == AddResult(added=2, replaced=8, commits=3)
    assert len(index) == 14


def test_streaming_add_keeps_committed_batches_when_a_later_batch_fails(index: PageIndex) -> None:
    def batches():
        yield unit(2, R_C, DIM), metas(["a", "b"])
        yield unit(2, R_C, DIM + 1), metas(["c", "d"])  # wrong dim

    with pytest.raises(ValueError, match=rf"shape \[B, {R_C}, {DIM}\]"):
        index.add(batches())
    assert len(index) == 2


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((unit(2, R_C, DIM), [{"page_id": "a"}]), ValueError, "2 pages of vectors but 1 metadata"),
        ((unit(1, R_C, DIM), [{"doc_id": "x"}]), ValueError, "non-empty string 'page_id'"),
        ((unit(1, R_C, DIM), [{"page_id": "a", "page": "3"}]), TypeError, "'page' must be int"),
        ((unit(1, R_C, DIM), [{"page_id": "a", "f": object()}]), ValueError, "JSON-serialisable"),
        ((unit(1, R_C, DIM), [{"page_id": "a", "image_path": "x"}]), ValueError, "images="),
        ((unit(2, R_C, DIM), metas(["a", "a"])), ValueError, "more than once"),
        ((unit(1, R_C, DIM) * float("nan"), metas(["a"])), ValueError, "NaN"),
        ((torch.ones(1, R_C, DIM, dtype=torch.long), metas(["a"])), TypeError, "floating point"),
        ((unit(1, R_C - 1, DIM), metas(["a"])), ValueError, "must have shape"),
        ((unit(1, R_C, DIM),), TypeError, "metadatas .* are required"),
        (([(unit(1, R_C, DIM),)],), TypeError, r"\(vectors, metadatas\[, images\]\) tuple"),
    ],
)
def test_add_rejects_bad_input_without_writing(
    index: PageIndex, args: tuple, error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        index.add(*args)
    assert len(index) == 0
    assert list((index.path / "segments").iterdir()) == []


def test_add_rejects_separate_metadatas_with_batch_iterable(index: PageIndex) -> None:
    with pytest.raises(TypeError, match="do not pass metadatas"):
        index.add(iter([]), metas(["a"]))
    with pytest.raises(ValueError, match="commit_every"):
        index.add(unit(1, R_C, DIM), metas(["a"]), commit_every=0)


def test_delete_by_doc_ids_and_filter(index: PageIndex) -> None:
    index.add(unit(6, R_C, DIM), [{"page_id": f"p{i}", "doc_id": f"d{i % 3}", "page": i} for i in range(6)])
    assert index.delete(doc_id="d0") == 2
    assert index.delete(page_ids=["p1", "nope"]) == 1
    assert index.delete(filter={"page": {"gte": 5}}) == 1
    assert sorted(h.page_id for h in index.search(unit(R_Q, DIM), k=10)) == ["p2", "p4"]
    assert index.delete(doc_id="d0") == 0
    with pytest.raises(TypeError, match="exactly one"):
        index.delete()
    with pytest.raises(TypeError, match="exactly one"):
        index.delete(doc_id="d1", page_ids=["p2"])
    with pytest.raises(TypeError, match="single string"):
        index.delete(page_ids="p2")
    with pytest.raises(ValueError, match="would delete every page"):
        index.delete(filter={})
    assert len(index) == 2


def test_compact_drops_tombstones_and_keeps_results(index: PageIndex, index_path: Path) -> None:
    vecs = unit(9, R_C, DIM)
    for b in range(3):
        index.add(vecs[3 * b : 3 * b + 3], metas([f"p{i}" for i in range(3 * b, 3 * b + 3)]))
    index.delete(page_ids=["p0", "p4", "p8"])
    index.add(unit(1, R_C, DIM), metas(["p1"]))  # replace: one more tombstone
    live = {f"p{i}": index.get(f"p{i}", with_vectors=True).vectors for i in (1, 2, 3, 5, 6, 7)}
    q = unit(R_Q, DIM)
    before = index.search(q, (8, 16), k=6)
    assert index.stats().dead_rows == 4 and index.stats().segments == 4
    old_files = set((index_path / "segments").iterdir())

    result = index.compact()
    assert (result.rows_dropped, result.segments_before, result.segments_after) == (4, 4, 1)
    stats = index.stats()
    assert (stats.pages, stats.segments, stats.dead_rows) == (6, 1, 0)
    assert not old_files & set((index_path / "segments").iterdir())
    assert [(h.page_id, h.score) for h in index.search(q, (8, 16), k=6)] == [
        (h.page_id, h.score) for h in before
    ]
    for pid, v in live.items():
        assert torch.equal(index.get(pid, with_vectors=True).vectors, v)
    assert index.compact().rows_dropped == 0  # nothing left to do
    index.close()
    with PageIndex.open(index_path, verify=True) as ix:
        assert len(ix) == 6


def test_compact_of_fully_deleted_index(index: PageIndex) -> None:
    index.add(unit(2, R_C, DIM), metas(["a", "b"]))
    index.delete(page_ids=["a", "b"])
    assert index.compact().segments_after == 0
    assert len(index) == 0 and index.search(unit(R_Q, DIM)) == []


@pytest.mark.parametrize("dtype", ["bf16", "fp16", "int8", "1bit"])
def test_compact_preserves_stored_codes_exactly(index_path: Path, dtype: str) -> None:
    with PageIndex.create(index_path, fingerprint=fingerprint(), dtype=dtype) as ix:
        ix.add(unit(3, R_C, DIM), metas(["a", "b", "c"]))
        ix.add(unit(2, R_C, DIM), metas(["d", "e"]))
        ix.delete(page_ids=["b"])
        before = {p: ix.get(p, with_vectors=True).vectors for p in "acde"}
        ix.compact()
        for p, v in before.items():
            assert torch.equal(ix.get(p, with_vectors=True).vectors, v)


def test_images_stored_retrieved_shared_and_cleaned(
    index: PageIndex, index_path: Path, tmp_path: Path
) -> None:
    red, blue = png_bytes((255, 0, 0)), png_bytes((0, 0, 255))
    jpg_path = tmp_path / "page.jpg"
    Image.new("RGB", (4, 3), (0, 255, 0)).save(jpg_path, format="JPEG")
    index.add(
        unit(4, R_C, DIM),
        metas(["a", "b", "c", "d"]),
        images=[red, red, jpg_path, Image.new("RGB", (2, 2), (1, 2, 3))],
    )
    a = index.get("a")
    assert a.image_bytes() == red and a.image_path.suffix == ".png"
    assert index.get("b").image_path == a.image_path  # content-addressed: stored once
    assert index.get("c").image_bytes() == jpg_path.read_bytes()
    assert Image.open(io.BytesIO(index.get("d").image_bytes())).size == (2, 2)
    hit = index.search(unit(R_Q, DIM), k=4)
    assert all(Path(h.metadata["image_path"]).is_file() for h in hit)
    assert len(list((index_path / "images").iterdir())) == 3

    index.delete(page_ids=["a"])
    assert index.get("b").image_path.is_file()  # still referenced by b
    index.upsert(unit(1, R_C, DIM), metas(["b"]), images=[blue])
    assert not a.image_path.exists()  # last reference gone
    assert index.get("b").image_bytes() == blue
    c_image = index.get("c").image_path
    assert index.delete(page_ids=["c"]) == 1
    assert not c_image.exists()
    assert len(list((index_path / "images").iterdir())) == 2  # blue (b) and the PIL image (d)


def test_add_rejects_unknown_image_format(index: PageIndex) -> None:
    with pytest.raises(ValueError, match="not PNG, JPEG or WebP"):
        index.add(unit(1, R_C, DIM), metas(["a"]), images=[b"GIF89a...."])
    with pytest.raises(ValueError, match="one entry"):
        index.add(unit(2, R_C, DIM), metas(["a", "b"]), images=[None])
    assert len(index) == 0


def test_stats_counts_bytes_per_budget_for_every_dtype(index: PageIndex) -> None:
    index.add(unit(3, R_C, DIM), metas(["a", "b", "c"]), images=[png_bytes((9, 9, 9)), None, None])
    stats = index.stats()
    assert (stats.pages, stats.segments, stats.dtype) == (3, 1, "fp32")
    assert stats.image_bytes == len(png_bytes((9, 9, 9)))
    seg = next((index.path / "segments").iterdir())
    assert stats.vector_bytes == seg.stat().st_size
    assert stats.bytes_on_disk >= stats.vector_bytes + stats.image_bytes
    for dtype, per in {"bf16": 2, "fp16": 2, "fp32": 4}.items():
        for b in LADDER:
            assert stats.bytes_per_budget[dtype][str(b)] == 3 * b.r_c * DIM * per
    assert stats.bytes_per_budget["int8"]["(16,64)"] == 3 * 64 * (DIM + 4)
    assert stats.bytes_per_budget["1bit"]["(1,1)"] == 3 * 1 * DIM // 8


def test_search_arguments_are_validated(index: PageIndex) -> None:
    index.add(unit(2, R_C, DIM), metas(["a", "b"]))
    q = unit(R_Q, DIM)
    with pytest.raises(ValueError, match="out of range"):
        index.search(q, (R_Q, R_C + 1))
    with pytest.raises(ValueError, match="uses 4 query vectors but the queries have 2"):
        index.search(q[:2], (4, 8))
    with pytest.raises(ValueError, match="must have shape"):
        index.search(unit(R_Q, DIM + 1))
    with pytest.raises(ValueError, match="k must be a positive int"):
        index.search(q, k=0)
    with pytest.raises(ValueError, match="rerank_from must be an int >= k"):
        index.search(q, k=5, rerank_from=2)
    with pytest.raises(TypeError, match="torch tensor or numpy array"):
        index.search(q.tolist())
    assert len(index.search(q[:3])) == 2  # default budget: all given query vectors, all R_c


def test_search_on_empty_index_and_k_larger_than_n(index: PageIndex) -> None:
    assert index.search(unit(R_Q, DIM)) == []
    assert index.search(unit(2, R_Q, DIM)) == [[], []]
    index.add(unit(2, R_C, DIM), metas(["a", "b"]))
    assert len(index.search(unit(R_Q, DIM), k=50)) == 2


@pytest.mark.parametrize("chunk_size", [1, 2, 3, None])
def test_chunked_scoring_across_segments_matches_reference(index: PageIndex, chunk_size: int | None) -> None:
    gen = torch.Generator().manual_seed(0)
    vecs = unit(11, R_C, DIM, generator=gen)
    for lo, hi in ((0, 4), (4, 5), (5, 11)):
        index.add(vecs[lo:hi], metas([f"p{i}" for i in range(lo, hi)]))
    q = unit(2, R_Q, DIM, generator=gen)
    pages = {f"p{i}": vecs[i] for i in range(11)}
    for budget in LADDER:
        for qi, hits in enumerate(index.search(q, budget, k=4, chunk_size=chunk_size)):
            assert_topk(hits, reference_scores(q[qi], pages, tuple(budget)), 4, 1e-5)


def test_ties_are_broken_by_storage_order(index: PageIndex) -> None:
    v = unit(1, R_C, DIM).expand(5, -1, -1)
    index.add(v, metas(["e", "d", "c", "b", "a"]))
    hits = index.search(unit(R_Q, DIM), k=3, chunk_size=2)
    assert [h.page_id for h in hits] == ["e", "d", "c"]
    assert len({h.score for h in hits}) == 1


def test_bf16_storage_is_half_of_fp32(tmp_path: Path) -> None:
    sizes = {}
    for dtype in ("bf16", "fp32", "int8", "1bit"):
        with PageIndex.create(tmp_path / dtype, fingerprint=fingerprint(dim=64), dtype=dtype) as ix:
            ix.add(unit(10, R_C, 64), metas([str(i) for i in range(10)]))
            sizes[dtype] = ix.stats().vector_bytes
    header = 400  # safetensors JSON header, a few hundred bytes
    assert abs(sizes["fp32"] - 2 * sizes["bf16"]) < header
    assert abs(sizes["int8"] - 10 * R_C * (64 + 4)) < header
    assert abs(sizes["1bit"] - 10 * R_C * 64 // 8) < header


def test_user_fields_are_json_and_sorted(index: PageIndex) -> None:
    index.add(unit(1, R_C, DIM), [{"page_id": "a", "z": 1, "a": {"nested": True}}])
    row = index._manifest.conn.execute("SELECT fields FROM pages").fetchone()[0]
    assert json.loads(row) == {"a": {"nested": True}, "z": 1}
    assert index.get("a").metadata()["a"] == {"nested": True}


def test_segments_are_plain_safetensors(index_path: Path) -> None:
    # Format 2: token-major [R_c, pages, ...], so every budget prefix is a contiguous stream.
    vecs = unit(3, R_C, DIM)
    with PageIndex.create(index_path, fingerprint=fingerprint(), dtype="int8") as ix:
        ix.add(vecs, metas(["a", "b", "c"]))
    (segment,) = (index_path / "segments").iterdir()
    loaded = safetensors.torch.load_file(segment)
    assert loaded["vectors"].dtype == torch.int8 and loaded["vectors"].shape == (R_C, 3, DIM)
    dequantized = loaded["vectors"].float() * loaded["scales"].unsqueeze(-1)
    assert torch.allclose(dequantized.transpose(0, 1), vecs, atol=1 / 254)


def test_pages_lists_stored_metadata_with_filters(tmp_path):
    import torch

    from metaembed_rag.index import PageIndex

    fingerprint = {"name": "t", "family": "bert", "num_query_tokens": 2, "num_candidate_tokens": 4,
                   "dim": 8, "checksum": "x"}
    with PageIndex.create(tmp_path / "i", fingerprint=fingerprint) as index:
        metas = [{"page_id": f"a:{i}", "doc_id": "a", "page": i, "file_hash": "h"} for i in (1, 2, 3)]
        index.add(torch.randn(3, 4, 8), metas)
        index.delete(page_ids=["a:2"])
        pages = index.pages()
        assert sorted(p.page_id for p in pages) == ["a:1", "a:3"]
        assert {p.fields["file_hash"] for p in pages} == {"h"} and pages[0].vectors is None
        assert [p.page_id for p in index.pages({"page": {"gte": 3}})] == ["a:3"]


def test_format_1_page_major_segments_are_still_read(index_path: Path, monkeypatch) -> None:
    """An index written before format 2 (page-major segments) searches, gets and compacts the same;
    the first new commit marks it format 2 (so older readers ask for an upgrade)."""
    from functools import partial

    from metaembed_rag.index import storage

    old = {f"old{i}": v for i, v in enumerate(unit(7, R_C, DIM))}
    new = {f"new{i}": v for i, v in enumerate(unit(5, R_C, DIM))}
    q = unit(R_Q, DIM)
    with monkeypatch.context() as m:
        m.setattr(storage, "write_segment", partial(storage.write_segment, token_major=False))
        with PageIndex.create(index_path, fingerprint=fingerprint(), dtype="fp32") as ix:
            ix.add(torch.stack(list(old.values())), metas(list(old)))
            ix._manifest.conn.execute("UPDATE meta SET value = '1' WHERE key = 'format_version'")
    (segment,) = (index_path / "segments").iterdir()
    assert safetensors.torch.load_file(segment)["vectors"].shape == (7, R_C, DIM)

    def version(ix: PageIndex) -> str:
        return ix._manifest.get_meta()["format_version"]

    with PageIndex.open(index_path) as ix:
        assert version(ix) == "1"
        for budget in LADDER:
            assert_topk(ix.search(q, budget, k=4), reference_scores(q, old, budget), 4, 1e-5)
        assert torch.equal(ix.get("old3", with_vectors=True).vectors, old["old3"])
        ix.add(torch.stack(list(new.values())), metas(list(new)))  # a format-2 segment beside it
        assert version(ix) == "2"
        both = old | new
        ix.delete(page_ids=["old1", "new2"])
        live = {p: v for p, v in both.items() if p not in ("old1", "new2")}
        for budget in LADDER:
            assert_topk(ix.search(q, budget, k=6), reference_scores(q, live, budget), 6, 1e-5)
        ix.compact()
        assert len(list((index_path / "segments").iterdir())) == 1
        assert_topk(ix.search(q, (16, 64), k=6), reference_scores(q, live, (16, 64)), 6, 1e-5)
        assert torch.equal(ix.get("old3", with_vectors=True).vectors, old["old3"])


def test_open_with_create_makes_the_index_once_then_opens_it(tmp_path) -> None:
    from .helpers import DIM, R_C, fingerprint, unit

    path = tmp_path / "ix"
    with PageIndex.open(path, fingerprint(), create=True, dtype="fp32") as first:
        first.add(unit(1, R_C, DIM), [{"page_id": "a"}])
    with PageIndex.open(path, fingerprint(), create=True) as again:  # a second run: the same index
        assert len(again) == 1 and again.dtype == "fp32"
    with pytest.raises(ValueError, match="needs the model"):
        PageIndex.open(tmp_path / "other", create=True)
    assert not (tmp_path / "other").exists()
