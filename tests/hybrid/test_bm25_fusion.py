"""BM25 tokenisation and scores (Lucene formula by hand), reciprocal-rank and score fusion."""

import math

import pytest

from metaembed_rag.hybrid import BM25Index, fuse, reciprocal_rank_fusion, score_fusion, tokenize


def test_tokenize():
    assert tokenize("The K7-Espresso costs 2,87 EUR; it's OK") == [
        "k7",
        "espresso",
        "costs",
        "2",
        "87",
        "eur",
        "s",
        "ok",
    ]
    assert tokenize("The cat", stopwords=False) == ["the", "cat"]
    assert tokenize("Ärger über Öl") == ["ärger", "über", "öl"]


def lucene(tf: int, df: int, n: int, length: int, avg: float, k1: float = 1.5, b: float = 0.75) -> float:
    return math.log(1 + (n - df + 0.5) / (df + 0.5)) * tf / (tf + k1 * (1 - b + b * length / avg))


def test_bm25_scores_follow_the_lucene_formula():
    index = BM25Index(["a", "b", "c"], ["the cat sat", "The cat, cat and dog", "dog bird"])
    avg = (2 + 3 + 2) / 3  # "the" and "and" are stopwords
    expected = [lucene(1, 2, 3, 2, avg), lucene(2, 2, 3, 3, avg), 0.0]
    assert index.scores("cat").tolist() == pytest.approx(expected, rel=1e-5)
    both = index.scores("cat dog")
    assert both[1] == pytest.approx(lucene(2, 2, 3, 3, avg) + lucene(1, 2, 3, 3, avg), rel=1e-5)
    assert index.search("cat dog", 10) == [
        ("b", pytest.approx(both[1])),
        ("a", pytest.approx(both[0])),
        ("c", pytest.approx(both[2])),
    ]
    assert index.search("cat", 10) == [("b", pytest.approx(expected[1])), ("a", pytest.approx(expected[0]))]
    assert index.search("cat", 10, allowed={"a", "c", "unknown"}) == [("a", pytest.approx(expected[0]))]
    assert index.search("the", 10) == [] and index.search("zebra", 10) == []  # stopword only / unseen


def test_bm25_ties_keep_corpus_order_and_empty_inputs():
    index = BM25Index(["x", "y", "z"], ["same words here", "other", "same words here"])
    assert [d for d, _ in index.search("words", 5)] == ["x", "z"]
    assert len(BM25Index([], [])) == 0 and BM25Index([], []).search("anything") == []
    with pytest.raises(ValueError, match="unique"):
        BM25Index(["a", "a"], ["t", "u"])
    with pytest.raises(ValueError, match="k must be a positive int"):
        index.search("words", 0)


def test_reciprocal_rank_fusion():
    fused = reciprocal_rank_fusion([[("a", 9.0), ("b", 8.0), ("c", 7.0)], [("c", 3.0), ("d", 1.0)]])
    assert [d for d, _ in fused] == ["c", "a", "b", "d"]  # b and d tie at 1/62: first seen first
    assert dict(fused) == pytest.approx({"a": 1 / 61, "b": 1 / 62, "c": 1 / 63 + 1 / 61, "d": 1 / 62})
    weighted = reciprocal_rank_fusion([[("a", 1.0)], [("b", 1.0)]], k=0, weights=[1.0, 3.0])
    assert weighted == [("b", 3.0), ("a", 1.0)]
    with pytest.raises(ValueError, match="2 weights for 1 rankings"):
        reciprocal_rank_fusion([[("a", 1.0)]], weights=[1, 2])


def test_score_fusion():
    first = [("a", 3.0), ("c", 2.0), ("b", 1.0)]
    second = [("c", 10.0), ("d", 0.0)]
    fused = score_fusion(first, second, alpha=0.5)
    assert fused == [("c", 0.75), ("a", 0.5), ("b", 0.0), ("d", 0.0)]
    assert score_fusion(first, second, alpha=1.0)[0] == ("a", 1.0)
    assert score_fusion([("only", -2.0)], [], alpha=0.3) == [("only", pytest.approx(0.3))]  # max == min -> 1
    assert fuse(first, second, "score", alpha=0.5) == fused
    assert fuse(first, second, "rrf") == reciprocal_rank_fusion([first, second])
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        score_fusion(first, second, alpha=1.5)
    with pytest.raises(ValueError, match="unknown fusion 'max': choose one of rrf, score"):
        fuse(first, second, "max")


def test_textless_pages_take_their_dense_score_in_bm25s_place():
    dense = [("a", 1.0), ("t", 0.8), ("b", 0.0)]
    lexical = [("b", 2.0), ("a", 1.0), ("c", 0.0)]  # normalised: b 1, a 0.5, c 0
    assert [i for i, _ in fuse(dense, lexical, "score", alpha=0.5)] == ["a", "b", "t", "c"]
    fused = fuse(dense, lexical, "score", alpha=0.5, textless={"t", "zzz"})
    assert fused == [("t", pytest.approx(0.8)), ("a", 0.75), ("b", 0.5), ("c", 0.0)]
    # BM25 did judge "a": listing it as textless changes nothing
    plain = fuse(dense, lexical, "score", alpha=0.5)
    assert fuse(dense, lexical, "score", alpha=0.5, textless={"a"}) == plain


def test_textless_pages_take_their_dense_rank_in_bm25s_place_for_rrf():
    dense, lexical = [("t", 9.0), ("a", 8.0), ("b", 7.0)], [("b", 5.0), ("a", 4.0)]
    assert fuse(dense, lexical, "rrf", rrf_k=0) == [("b", 1 / 3 + 1), ("t", 1.0), ("a", 1.0)]
    assert fuse(dense, lexical, "rrf", rrf_k=0, textless=["t"]) == [("t", 2.0), ("b", 1 / 3 + 1), ("a", 1.0)]
    assert fuse(dense, lexical, "rrf", rrf_k=0, textless=["a"]) == fuse(dense, lexical, "rrf", rrf_k=0)
