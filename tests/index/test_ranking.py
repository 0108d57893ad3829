"""rank_keys: the integer keys that make top-k exact and independent of chunking."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from metaembed_rag.index.search import rank_keys


def ranking(scores: list[float]) -> list[int]:
    s = torch.tensor([scores], dtype=torch.float32)
    keys = rank_keys(s, torch.arange(len(scores))[None])
    return torch.topk(keys, len(scores)).indices[0].tolist()


def test_orders_by_score_then_position() -> None:
    scores = [0.5, -0.5, 0.5, 0.0, -0.0, -2.0, 3e-39, -3e-39, float("inf"), float("-inf")]
    assert ranking(scores) == [8, 0, 2, 6, 3, 4, 7, 1, 5, 9]  # 0.0 and -0.0 tie: position decides


@given(st.lists(st.floats(width=32, allow_nan=False), min_size=1, max_size=50))
def test_matches_a_stable_descending_sort(values: list[float]) -> None:
    expected = sorted(range(len(values)), key=lambda i: (-values[i], i))
    assert ranking(values) == expected
