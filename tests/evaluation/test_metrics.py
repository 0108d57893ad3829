"""Metrics against trec_eval (pytrec_eval), a hand-computed case, and properties."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metaembed_rag.evaluation.metrics import (
    evaluate,
    evaluate_per_query,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
)

pytrec_eval = pytest.importorskip("pytrec_eval")

DOCS = [f"d{i}" for i in range(15)]


@st.composite
def runs_and_qrels(draw):
    """Up to 6 queries; graded qrels (0-3) over a 15-doc pool; runs of distinct scores (no ties,
    where trec_eval would re-order by doc id)."""
    qrels, run = {}, {}
    for q in range(draw(st.integers(1, 6))):
        judged = draw(st.dictionaries(st.sampled_from(DOCS), st.integers(0, 3), min_size=1, max_size=8))
        retrieved = draw(st.lists(st.sampled_from(DOCS), unique=True, max_size=15))
        qrels[f"q{q}"] = judged
        run[f"q{q}"] = [(doc, float(len(retrieved) - i)) for i, doc in enumerate(retrieved)]
    return run, qrels


def trec(run, qrels, measures):
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, measures)
    return evaluator.evaluate({q: dict(r) or {"none": 0.0} for q, r in run.items()})


@settings(max_examples=150, deadline=None)
@given(runs_and_qrels())
def test_per_query_metrics_equal_trec_eval(case):
    run, qrels = case
    ours = evaluate_per_query(run, qrels)
    reference = trec(run, qrels, {"ndcg_cut.5,10", "recall.1,5,10"})
    top10 = trec({q: r[:10] for q, r in run.items()}, qrels, {"recip_rank"})
    full = trec(run, qrels, {"recip_rank"})
    assert set(ours) == {q for q, judged in qrels.items() if any(g > 0 for g in judged.values())}
    for q, values in ours.items():
        if not run[q]:  # pytrec_eval needs a non-empty run; ours scores an empty one 0
            assert all(v == 0 for v in values.values())
            continue
        for k in (5, 10):
            assert values[f"ndcg@{k}"] == pytest.approx(reference[q][f"ndcg_cut_{k}"], abs=1e-4)
        for k in (1, 5, 10):
            assert values[f"recall@{k}"] == pytest.approx(reference[q][f"recall_{k}"], abs=1e-4)
        assert values["mrr@10"] == pytest.approx(top10[q]["recip_rank"], abs=1e-4)
        ranking = [d for d, _ in run[q]]
        assert reciprocal_rank(ranking, qrels[q], None) == pytest.approx(full[q]["recip_rank"], abs=1e-4)


def test_hand_computed_case():
    ranking, judged = ["a", "b", "c"], {"b": 2, "c": 1, "x": 1, "y": 0}
    dcg = 2 / math.log2(3) + 1 / math.log2(4)
    idcg = 2 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(ranking, judged, 3) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(ranking, judged, 1) == 0.0
    assert recall_at_k(ranking, judged, 3) == pytest.approx(2 / 3)
    assert reciprocal_rank(ranking, judged) == 0.5
    assert reciprocal_rank(ranking, judged, k=1) == 0.0


def test_evaluate_averages_over_queries_with_a_relevant_document():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "only-zero": {"a": 0}}
    run = {"q1": [("a", 2.0), ("b", 1.0)], "only-zero": [("a", 1.0)]}  # q2 missing: scores 0
    means = evaluate(run, qrels)
    assert means["ndcg@10"] == 0.5 and means["recall@1"] == 0.5 and means["mrr@10"] == 0.5
    assert list(means) == ["ndcg@5", "ndcg@10", "recall@1", "recall@5", "recall@10", "mrr@10"]
    with pytest.raises(ValueError, match="no query has a relevant document"):
        evaluate(run, {"only-zero": {"a": 0}})
    with pytest.raises(ValueError, match="k must be a positive int"):
        ndcg_at_k(["a"], {"a": 1}, 0)


@settings(max_examples=100, deadline=None)
@given(runs_and_qrels(), st.integers(1, 12))
def test_properties(case, k):
    run, qrels = case
    for q, judged in qrels.items():
        if not any(g > 0 for g in judged.values()):
            continue
        ranking = [d for d, _ in run[q]]
        assert 0.0 <= ndcg_at_k(ranking, judged, k) <= 1.0 + 1e-12
        assert recall_at_k(ranking, judged, k) <= recall_at_k(ranking, judged, k + 1)
        assert reciprocal_rank(ranking, judged, k) <= reciprocal_rank(ranking, judged, None)
        ideal = sorted(judged, key=lambda d: -judged[d])
        assert ndcg_at_k(ideal, judged, k) == pytest.approx(1.0)
        assert ndcg_at_k(["not-judged", *ranking], judged, k) <= ndcg_at_k(ranking, judged, k) + 1e-12
