"""MaxSim kernels against the float64 reference (MetaEmbed, arXiv:2509.18095).

Tolerances. On CPU, :func:`maxsim` upcasts fp16/bf16 candidates to fp32 exactly, and the
reference sees the same stored values. The only error left is fp32 accumulation, at most
about ``r_q · D · 2**-24`` for unit vectors (~3e-5 at r_q=16, D=32), so every storage dtype
gets the same tight tolerance. Computing in a low-precision dtype rounds each dot product
and each query vector to that dtype. For unit vectors the error is then at most
``r_q · finfo(dtype).eps`` per score (two roundings of ``eps / 2`` each).
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from metaembed_rag.budget import LADDER, Budget
from metaembed_rag.scoring import maxsim, maxsim_reference, maxsim_train, topk

STORAGE_DTYPES = [torch.float32, torch.float16, torch.bfloat16]
FP32_ATOL = 1e-5


def unit(*shape: int, seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Random L2-normalised vectors, as MetaEmbed emits them."""
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(*shape, generator=g), dim=-1).to(dtype)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Tiny tensors: a second OpenMP thread only adds wake-up stalls on a busy shared machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data() -> tuple[torch.Tensor, torch.Tensor]:
    return unit(3, 16, 32, seed=0), unit(23, 64, 32, seed=1)


@pytest.mark.parametrize("dtype", STORAGE_DTYPES, ids=str)
@pytest.mark.parametrize("budget", LADDER, ids=str)
def test_matches_reference_every_budget_and_storage_dtype(data, budget: Budget, dtype: torch.dtype) -> None:
    queries, candidates = data
    stored = candidates.to(dtype)
    got = maxsim(queries, stored, budget)
    assert got.dtype == torch.float32 and got.shape == (3, 23)
    torch.testing.assert_close(
        got.double(), maxsim_reference(queries, stored, budget), rtol=0, atol=FP32_ATOL
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("budget", [Budget(1, 1), Budget(4, 8), Budget(16, 64)], ids=str)
def test_bf16_compute_within_derived_bound(data, budget: Budget, dtype: torch.dtype) -> None:
    queries, candidates = data
    stored = candidates.to(dtype)
    got = maxsim(queries, stored, budget, compute_dtype=torch.bfloat16).double()
    err = (got - maxsim_reference(queries, stored, budget)).abs().max().item()
    bound = budget.r_q * torch.finfo(torch.bfloat16).eps + FP32_ATOL
    assert err <= bound
    # The knob is honoured: bf16 rounding shows up, well above fp32 error.
    assert err > 10 * FP32_ATOL


def test_budget_forms_and_none_means_full(data) -> None:
    queries, candidates = data
    expected = maxsim(queries, candidates, Budget(4, 8))
    for form in ((4, 8), [4, 8], "4,8"):
        assert torch.equal(maxsim(queries, candidates, form), expected)
    assert torch.equal(maxsim(queries, candidates), maxsim(queries, candidates, (16, 64)))


def test_single_query_is_a_row_of_the_batch(data) -> None:
    queries, candidates = data
    batch = maxsim(queries, candidates, (8, 16))
    for i in range(queries.shape[0]):
        one = maxsim(queries[i], candidates, (8, 16))
        assert one.shape == (23,)
        torch.testing.assert_close(one, batch[i], rtol=0, atol=1e-6)
    torch.testing.assert_close(
        maxsim_reference(queries[1], candidates), maxsim_reference(queries, candidates)[1]
    )


@pytest.mark.parametrize("dtype", STORAGE_DTYPES, ids=str)
@pytest.mark.parametrize("chunk_size", [1, 2, 5, 22, 23, 24, 1000])
def test_chunking_does_not_change_scores(data, chunk_size: int, dtype: torch.dtype) -> None:
    # 23 candidates: 2, 5 and 22 leave a ragged last chunk. Scores agree to fp32 rounding.
    # Bitwise equality is not promised: MKL may pick another kernel for another GEMM shape.
    queries, candidates = data
    stored = candidates.to(dtype)
    for budget in ((2, 4), (16, 64)):
        whole = maxsim(queries, stored, budget, chunk_size=10_000)
        torch.testing.assert_close(
            maxsim(queries, stored, budget, chunk_size=chunk_size), whole, rtol=0, atol=1e-6
        )


def test_strided_candidate_layouts(data) -> None:
    # A [R_c, N, D] store seen as [N, R_c, D] (prefix-major, streams well), and a sliced view.
    queries, candidates = data
    prefix_major = candidates.transpose(0, 1).contiguous().transpose(0, 1)
    every_other = torch.cat([candidates, candidates])[::2]
    for view in (prefix_major, every_other):
        assert not view.is_contiguous()
        torch.testing.assert_close(
            maxsim(queries, view, (4, 8), chunk_size=5).double(),
            maxsim_reference(queries, view, (4, 8)),
            rtol=0,
            atol=FP32_ATOL,
        )


@settings(max_examples=40, deadline=None)
@given(
    num_q=st.integers(1, 4),
    num_c=st.integers(1, 30),
    r_q_max=st.integers(1, 6),
    r_c_max=st.integers(1, 9),
    dim=st.integers(1, 17),
    dtype=st.sampled_from(STORAGE_DTYPES),
    data=st.data(),
)
def test_random_shapes_match_reference(num_q, num_c, r_q_max, r_c_max, dim, dtype, data) -> None:
    r_q = data.draw(st.integers(1, r_q_max), label="r_q")
    r_c = data.draw(st.integers(1, r_c_max), label="r_c")
    chunk = data.draw(st.one_of(st.none(), st.integers(1, num_c + 2)), label="chunk")
    queries = unit(num_q, r_q_max, dim, seed=num_q * 31 + dim)
    candidates = unit(num_c, r_c_max, dim, seed=num_c * 17 + r_c_max, dtype=dtype)
    got = maxsim(queries, candidates, (r_q, r_c), chunk_size=chunk)
    torch.testing.assert_close(
        got.double(), maxsim_reference(queries, candidates, (r_q, r_c)), rtol=0, atol=FP32_ATOL
    )


def test_reference_formula_by_hand() -> None:
    # s = Σ_i max_j <q_i, c_j>: q = (e0, e1), c = (e0, 0.5·e1 + 0.5·e0) -> 1 + 0.5 (no normalisation).
    queries = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    candidates = torch.tensor([[[1.0, 0.0], [0.5, 0.5]]])
    assert maxsim_reference(queries, candidates).item() == 1.5
    assert maxsim(queries, candidates).item() == 1.5
    assert maxsim(queries, candidates, (1, 1)).item() == 1.0
    assert maxsim(queries, candidates, (2, 1)).item() == 1.0


def test_scores_are_plain_tensors(data) -> None:
    queries, candidates = data
    scores = maxsim(queries.clone().requires_grad_(), candidates)
    assert not scores.requires_grad
    scores[:, 0] = -math.inf  # callers mask filtered-out candidates in place
    assert scores.isinf().sum() == 3


# --- maxsim_train -----------------------------------------------------------------------------


def _einsum_maxsim(queries: torch.Tensor, candidates: torch.Tensor, r_q: int, r_c: int) -> torch.Tensor:
    return torch.einsum("bid,njd->bnij", queries[:, :r_q], candidates[:, :r_c]).amax(-1).sum(-1)


@pytest.mark.parametrize("budget", [Budget(1, 1), Budget(2, 4), Budget(3, 5)], ids=str)
def test_train_gradients(budget: Budget) -> None:
    queries = unit(2, 3, 6, seed=2).double().requires_grad_()
    candidates = unit(4, 5, 6, seed=3).double().requires_grad_()
    torch.testing.assert_close(
        maxsim_train(queries, candidates, budget).double(), maxsim_reference(queries, candidates, budget)
    )
    assert torch.autograd.gradcheck(lambda q, c: maxsim_train(q, c, budget), (queries, candidates))
    weights = torch.randn(2, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    got = torch.autograd.grad(
        (maxsim_train(queries, candidates, budget) * weights).sum(), (queries, candidates)
    )
    want = torch.autograd.grad(
        (_einsum_maxsim(queries, candidates, *budget) * weights).sum(), (queries, candidates)
    )
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w)
    # Vectors outside the budget's prefixes get no gradient.
    assert got[0][:, budget.r_q :].abs().sum() == 0 and got[1][:, budget.r_c :].abs().sum() == 0


def test_train_matches_maxsim_and_returns_fp32(data) -> None:
    queries, candidates = data
    for budget in LADDER:
        torch.testing.assert_close(
            maxsim_train(queries, candidates, budget), maxsim(queries, candidates, budget)
        )
    low = maxsim_train(queries.bfloat16(), candidates.bfloat16(), (2, 4))
    assert low.dtype == torch.float32


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("queries", "candidates", "match"),
    [
        (torch.zeros(8), torch.zeros(2, 4, 8), "queries must be"),
        (torch.zeros(1, 2, 3, 8), torch.zeros(2, 4, 8), "queries must be"),
        (torch.zeros(2, 8), torch.zeros(4, 8), "candidates must be"),
        (torch.zeros(2, 8), torch.zeros(3, 4, 7), "D=8, candidates D=7"),
        (torch.zeros(2, 0), torch.zeros(3, 4, 0), "empty"),
        (torch.zeros(0, 8), torch.zeros(3, 4, 8), "empty"),
        (torch.zeros(2, 8), torch.zeros(3, 0, 8), "empty"),
    ],
)
def test_shape_errors(queries: torch.Tensor, candidates: torch.Tensor, match: str) -> None:
    for fn in (maxsim, maxsim_reference):
        with pytest.raises(ValueError, match=match):
            fn(queries, candidates)


def test_budget_out_of_range_names_the_range(data) -> None:
    queries, candidates = data
    for bad in ((17, 64), (16, 65), "32,8"):
        with pytest.raises(ValueError, match=r"r_q must be in 1\.\.16 and r_c in 1\.\.64"):
            maxsim(queries, candidates, bad)
    with pytest.raises(ValueError, match=r"r_q must be in 1\.\.16 and r_c in 1\.\.8"):
        maxsim_train(queries, candidates[:, :8], (4, 16))
    with pytest.raises(ValueError, match=">= 1"):
        maxsim(queries, candidates, (0, 4))


def test_other_argument_errors(data) -> None:
    queries, candidates = data
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="chunk_size"):
            maxsim(queries, candidates, chunk_size=bad)
    with pytest.raises(ValueError, match="float16 is not supported on CPU"):
        maxsim(queries, candidates, compute_dtype=torch.float16)
    with pytest.raises(ValueError, match="floating dtype"):
        maxsim(queries, candidates, compute_dtype=torch.int32)
    with pytest.raises(TypeError, match="candidates must be float32"):
        maxsim(queries, candidates.to(torch.int8))
    with pytest.raises(ValueError, match=r"\[B, R_q, D\]"):
        maxsim_train(queries[0], candidates)


def test_no_queries_or_no_candidates_give_empty_scores(data) -> None:
    queries, candidates = data
    assert maxsim(queries, candidates[:0]).shape == (3, 0)
    assert maxsim(queries[0], candidates[:0]).shape == (0,)
    assert maxsim(queries[:0], candidates).shape == (0, 23)


# --- topk --------------------------------------------------------------------------------------


def test_topk(data) -> None:
    queries, candidates = data
    scores = maxsim(queries, candidates, (4, 8))
    values, indices = topk(scores, 5)
    assert values.shape == indices.shape == (3, 5)
    assert torch.equal(indices, scores.argsort(dim=-1, descending=True)[:, :5])
    assert torch.equal(values, scores.gather(1, indices))
    assert topk(scores[0], 100)[1].shape == (23,)
    with pytest.raises(ValueError, match="k must be"):
        topk(scores, 0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", STORAGE_DTYPES, ids=str)
def test_cuda_storage_dtype_within_derived_bound(data, dtype: torch.dtype) -> None:
    queries, candidates = data
    stored = candidates.to(dtype)
    got = maxsim(queries.cuda(), stored.cuda(), (16, 64)).cpu().double()
    # fp32 on CUDA may use TF32 (eps 2**-10) depending on the global matmul precision setting.
    eps = torch.finfo(dtype).eps if dtype != torch.float32 else 2.0**-10
    assert (got - maxsim_reference(queries, stored, (16, 64))).abs().max().item() <= 16 * eps + FP32_ATOL
