"""BM25 over page text, with the `bm25s` library (Lucene's BM25 variant, sparse, numpy only).

Tokenisation is deliberately simple and documented, so scores can be reproduced elsewhere:

1. lowercase (``str.lower``);
2. split into runs of Unicode word characters (``re.findall(r"\\w+")``), so ``"K7-espresso"`` is
   ``["k7", "espresso"]`` and ``"2,87"`` is ``["2", "87"]``;
3. optionally drop English stopwords (bm25s' list, on by default); no stemming.

Scoring is bm25s' ``method="lucene"``: ``idf · tf / (tf + k1·(1 - b + b·|d|/avgdl))`` with
``idf = ln(1 + (N - df + 0.5) / (df + 0.5))`` (Lucene 8+, no ``k1 + 1`` factor), summed over the
query tokens (a repeated query token counts once per occurrence), with k1 = 1.5 and b = 0.75 unless
given. Ranks break ties by corpus order.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

import numpy as np

__all__ = ["BM25Index", "tokenize"]

_WORD = re.compile(r"\w+")


def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def tokenize(text: str, *, stopwords: bool = True) -> list[str]:
    """Lowercased word tokens of ``text`` (see the module docstring), English stopwords removed
    unless ``stopwords=False``."""
    tokens = _WORD.findall(text.lower())
    if stopwords:
        drop = _stopwords()
        tokens = [t for t in tokens if t not in drop]
    return tokens


class BM25Index:
    """An in-memory BM25 index over ``texts``, addressed by ``ids`` (one per text, unique)."""

    def __init__(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        *,
        k1: float = 1.5,
        b: float = 0.75,
        stopwords: bool = True,
    ) -> None:
        import bm25s

        if len(ids) != len(texts):
            raise ValueError(f"got {len(ids)} ids but {len(texts)} texts; pass one id per text")
        if len(set(ids)) != len(ids):
            raise ValueError("BM25Index ids must be unique")
        self.ids = list(ids)
        self.stopwords = stopwords
        self._position = {doc_id: i for i, doc_id in enumerate(self.ids)}
        self._bm25 = bm25s.BM25(k1=k1, b=b, method="lucene")
        if self.ids:
            self._bm25.index([tokenize(t or "", stopwords=stopwords) for t in texts], show_progress=False)

    def __len__(self) -> int:
        return len(self.ids)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of ``query`` against every text, in ``ids`` order (float32)."""
        tokens = tokenize(query, stopwords=self.stopwords)
        if not tokens or not self.ids:  # bm25s cannot take an empty query
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)

    def search(
        self, query: str, k: int = 10, *, allowed: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        """The ``k`` best ``(id, score)`` pairs, best first. Texts sharing no token with the query
        (score 0) are left out. ``allowed`` restricts the result to those ids (a filter)."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        scores = self.scores(query)
        candidates = np.flatnonzero(scores > 0)
        if allowed is not None:
            keep = np.fromiter((self._position[i] for i in allowed if i in self._position), dtype=np.int64)
            candidates = np.intersect1d(candidates, keep)
        # Stable sort on the negated scores: ties keep corpus order.
        order = candidates[np.argsort(-scores[candidates], kind="stable")][:k]
        return [(self.ids[i], float(scores[i])) for i in order]
