"""Helpers for the PageIndex tests: a small fake model geometry and brute-force references."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from metaembed_rag.index import SearchHit
from metaembed_rag.index.quantize import get_codec
from metaembed_rag.scoring import maxsim_reference

# The paper's token counts, so every ladder budget is valid; a tiny dim keeps tests fast.
R_Q, R_C, DIM = 16, 64, 8


def fingerprint(**changes: object) -> dict[str, object]:
    fp: dict[str, object] = {
        "name": "test-model",
        "family": "text",
        "num_query_tokens": R_Q,
        "num_candidate_tokens": R_C,
        "dim": DIM,
        "checksum": "0123abcd",
    }
    fp.update(changes)
    return fp


def unit(*shape: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random L2-normalised vectors, as the encoder produces."""
    return torch.nn.functional.normalize(torch.randn(*shape, generator=generator), dim=-1)


def stored_form(vectors: torch.Tensor, dtype: str) -> torch.Tensor:
    """The fp32 vectors an index with ``dtype`` scores against: encode, then dequantise."""
    codec = get_codec(dtype)
    stored = {}
    for name, t in codec.encode(vectors.float()).items():
        stored[name] = t.view(torch.int16).numpy().view("uint16") if t.dtype == torch.bfloat16 else t.numpy()
    return codec.dequantize(stored, vectors.shape[-1])


def reference_scores(
    query: torch.Tensor, pages: Mapping[str, torch.Tensor], budget: tuple[int, int]
) -> dict[str, float]:
    """Float64 brute-force MaxSim of one query ``[R_q, D]`` against every page, by page id."""
    if not pages:
        return {}
    ids = list(pages)
    scores = maxsim_reference(query, torch.stack([pages[i] for i in ids]), budget)
    return dict(zip(ids, scores.tolist(), strict=True))


def assert_topk(hits: Sequence[SearchHit], ref: Mapping[str, float], k: int, tol: float) -> None:
    """``hits`` are a correct top-``k`` of ``ref`` up to ``tol``: scores match, ordered, and no page
    left out scores more than ``2 * tol`` above the lowest returned one (ties may go either way)."""
    assert len(hits) == min(k, len(ref))
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert len({h.page_id for h in hits}) == len(hits)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    for h in hits:
        assert abs(h.score - ref[h.page_id]) <= tol, (h.page_id, h.score, ref[h.page_id], tol)
    if hits:
        floor = min(ref[h.page_id] for h in hits)
        returned = {h.page_id for h in hits}
        missed = {p: s for p, s in ref.items() if p not in returned and s > floor + 2 * tol}
        assert not missed, (missed, floor)


def metas(ids: Sequence[str], **common: object) -> list[dict[str, object]]:
    return [{"page_id": i, **common} for i in ids]
