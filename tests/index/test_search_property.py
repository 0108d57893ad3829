"""Property test: PageIndex search equals brute-force MaxSim over random add/delete/compact histories.

For each storage dtype, the reference scores the *stored form* of each page (the vectors encoded and
decoded by the codec), in float64. Tolerances, for unit vectors (|q_i| = |c_j| = 1):

* fp32: 1e-5 per query vector (fp32 accumulation only): exact up to rounding.
* bf16, fp16, int8, 1bit: ``r_q * 2**-7``. The default CPU scorer upcasts to fp32 (exact up to
  accumulation), but the test also searches with ``compute_dtype=torch.bfloat16``. Then each query
  value is rounded to 8 significant bits (relative error 2**-9), so by Cauchy-Schwarz an inner
  product moves by at most 2**-9; rounding the product to bf16 adds 2**-9. bf16 codes and 1bit's
  +-1 are exact in bf16; fp16 and dequantised int8 values are not, which adds 2**-9 more. A max
  moves no more than its inputs and the sum over r_q adds them up: at most ``r_q * 3 * 2**-9``,
  inside the allowance.

Separately, the stored form is checked against the original vectors: bf16/fp16 by their rounding
bound, int8 by the bound ``sum_i ||q_i||_1 * max_j scale_j / 2`` from the module docstring.
1bit has no such bound (see ``test_two_stage.py`` for its ranking quality).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metaembed_rag.budget import LADDER
from metaembed_rag.index import AddResult, PageIndex

from .helpers import DIM, R_C, R_Q, assert_topk, fingerprint, reference_scores, stored_form, unit

TOLERANCE = {"fp32": 1e-5, "bf16": 2**-7, "fp16": 2**-7, "int8": 2**-7, "1bit": 2**-7}
PAGE_IDS = [f"p{i}" for i in range(14)]
DOCS = ["d0", "d1", "d2"]

add_op = st.tuples(
    st.just("add"),
    st.lists(st.sampled_from(PAGE_IDS), min_size=1, max_size=5, unique=True),
    st.booleans(),  # re-send existing pages unchanged (they must be skipped)
    st.booleans(),  # upsert instead of add
)
ops = st.lists(
    st.one_of(
        add_op,
        add_op,
        st.tuples(st.just("delete_doc"), st.sampled_from(DOCS)),
        st.tuples(st.just("delete_ids"), st.lists(st.sampled_from(PAGE_IDS), max_size=3)),
        st.tuples(st.just("compact")),
    ),
    min_size=1,
    max_size=7,
)
filters = st.one_of(
    st.none(),
    st.builds(lambda d: {"doc_id": d}, st.sampled_from(DOCS)),
    st.builds(lambda lo, n: {"page": {"gte": lo, "lt": lo + n}}, st.integers(0, 6), st.integers(1, 6)),
    st.builds(lambda p: {"source": {"prefix": p}}, st.sampled_from(["docs/", "docs/x", "other/"])),
    st.builds(lambda ids: {"page_id": {"in": ids}}, st.lists(st.sampled_from(PAGE_IDS), max_size=6)),
)


class Model:
    """What the index should contain: page id -> (original vectors, metadata)."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[torch.Tensor, dict]] = {}

    def matches(self, meta: dict, flt: dict | None) -> bool:
        if flt is None:
            return True
        (key, cond), *_ = flt.items()
        value = meta.get(key)
        if not isinstance(cond, dict):
            return value == cond
        if "in" in cond:
            return value in cond["in"]
        if "prefix" in cond:
            return value.startswith(cond["prefix"])
        return cond["gte"] <= value < cond["lt"]


def apply(ix: PageIndex, model: Model, op: tuple, gen: torch.Generator) -> None:
    kind = op[0]
    if kind == "add":
        _, ids, resend, upsert = op
        vecs, metas, expected = [], [], AddResult()
        for pid in ids:
            if resend and pid in model.pages:
                v, meta = model.pages[pid]
                outcome = AddResult(replaced=1) if upsert else AddResult(skipped=1)
            else:
                v = unit(R_C, DIM, generator=gen)
                n = int(torch.randint(0, 10, (1,), generator=gen))
                meta = {
                    "page_id": pid,
                    "doc_id": DOCS[n % 3],
                    "page": n,
                    "source": ["docs/x/", "docs/y/", "other/"][n % 3 if n < 9 else 0] + pid,
                }
                outcome = AddResult(replaced=1) if pid in model.pages else AddResult(added=1)
            vecs.append(v)
            metas.append(meta)
            expected += outcome
            if outcome.skipped == 0:
                model.pages[pid] = (v, meta)
        result = (ix.upsert if upsert else ix.add)(torch.stack(vecs), metas)
        assert (result.added, result.skipped, result.replaced) == (
            expected.added,
            expected.skipped,
            expected.replaced,
        )
    elif kind == "delete_doc":
        gone = [p for p, (_, m) in model.pages.items() if m["doc_id"] == op[1]]
        assert ix.delete(doc_id=op[1]) == len(gone)
        for p in gone:
            del model.pages[p]
    elif kind == "delete_ids":
        gone = [p for p in set(op[1]) if p in model.pages]
        assert ix.delete(page_ids=op[1]) == len(gone)
        for p in gone:
            del model.pages[p]
    else:
        ix.compact()
    assert len(ix) == len(model.pages)


@pytest.mark.parametrize("dtype", list(TOLERANCE))
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    history=ops,
    flt=filters,
    k=st.integers(1, 8),
    chunk_size=st.one_of(st.none(), st.integers(1, 5)),
    bf16_compute=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_search_equals_brute_force(
    dtype: str,
    history: list,
    flt: dict | None,
    k: int,
    chunk_size: int | None,
    bf16_compute: bool,
    seed: int,
) -> None:
    # bf16 GEMMs (compute_dtype) are within the same tolerance; fp32 must be exact, so no bf16 there.
    compute_dtype = torch.bfloat16 if bf16_compute and dtype != "fp32" else None
    gen = torch.Generator().manual_seed(seed)
    model = Model()
    with tempfile.TemporaryDirectory() as tmp:
        ix = PageIndex.create(Path(tmp) / "ix", fingerprint=fingerprint(), dtype=dtype)
        try:
            for op in history:
                apply(ix, model, op, gen)
            stored = {p: stored_form(v, dtype) for p, (v, m) in model.pages.items() if model.matches(m, flt)}
            queries = unit(2, R_Q, DIM, generator=gen)
            for budget in LADDER:
                results = ix.search(
                    queries, budget, k=k, filter=flt, chunk_size=chunk_size, compute_dtype=compute_dtype
                )
                for q, hits in zip(queries, results, strict=True):
                    tol = TOLERANCE[dtype] * budget.r_q
                    assert_topk(hits, reference_scores(q, stored, tuple(budget)), k, tol)
        finally:
            ix.close()


@pytest.mark.parametrize(("dtype", "rounding"), [("bf16", 2**-9), ("fp16", 2**-11)])
def test_float_storage_error_is_within_rounding_bound(dtype: str, rounding: float) -> None:
    gen = torch.Generator().manual_seed(1)
    pages = unit(50, R_C, DIM, generator=gen)
    q = unit(R_Q, DIM, generator=gen)
    exact = reference_scores(q, dict(enumerate(pages)), (R_Q, R_C))
    stored = reference_scores(q, dict(enumerate(stored_form(pages, dtype))), (R_Q, R_C))
    # |<q, c - round(c)>| <= sum_d |q_d| |c_d| rounding <= |q| |c| rounding, summed over r_q terms.
    assert max(abs(exact[i] - stored[i]) for i in exact) <= R_Q * rounding


def test_int8_storage_error_is_within_its_bound() -> None:
    gen = torch.Generator().manual_seed(2)
    pages = unit(50, R_C, DIM, generator=gen)
    q = unit(R_Q, DIM, generator=gen)
    scales = pages.abs().amax(-1) / 127  # the codec's per-vector scales
    exact = reference_scores(q, dict(enumerate(pages)), (R_Q, R_C))
    stored = reference_scores(q, dict(enumerate(stored_form(pages, "int8"))), (R_Q, R_C))
    for i in exact:
        bound = float(q.abs().sum(-1).sum() * scales[i].max() / 2)
        assert abs(exact[i] - stored[i]) <= bound + 1e-6
