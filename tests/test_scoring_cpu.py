"""The fused CPU MaxSim kernel (metaembed_rag.scoring_cpu) against the float64 reference.

Same tolerance as tests/test_scoring.py: bf16 is widened to fp32 exactly, so only fp32
accumulation error remains (``r_q · D · 2**-24`` for unit vectors).
"""

from __future__ import annotations

import pytest
import torch

from metaembed_rag.scoring import maxsim, maxsim_reference
from metaembed_rag.scoring_cpu import MAX_COLUMNS, _numba_kernel, fused_maxsim, fused_supported, precompile

ATOL = 1e-5


def unit(*shape: int, seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(*shape, generator=g), dim=-1).to(dtype)


def layouts(candidates: torch.Tensor) -> dict[str, torch.Tensor]:
    """Candidates ``[N, R_c, D]`` stored page-major, token-major, and every other page of a
    token-major store (page stride 2)."""
    token_major = candidates.transpose(0, 1).contiguous()
    return {
        "page-major": candidates,
        "token-major": token_major.transpose(0, 1),
        "every-other-page": token_major[:, ::2].transpose(0, 1),
    }


BUDGETS = [(1, 1), (3, 1), (2, 4), (1, 7), (3, 5), (4, 8), (16, 64), (5, 3)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("budget", BUDGETS, ids=str)
def test_fused_matches_reference_in_every_layout(budget: tuple[int, int], dtype: torch.dtype) -> None:
    # 150 pages: more than one 64-page block of a token-major store, with a ragged last block.
    queries, candidates = unit(1, 16, 40, seed=0), unit(150, 64, 40, seed=1, dtype=dtype)
    for name, view in layouts(candidates).items():
        assert fused_supported(view, budget[0], torch.float32), name
        got = maxsim(queries, view, budget, kernel="fused").double()
        torch.testing.assert_close(got, maxsim_reference(queries, view, budget), rtol=0, atol=ATOL, msg=name)


def test_fused_batches_of_queries_up_to_the_column_limit() -> None:
    queries, candidates = unit(4, 16, 24, seed=2), unit(30, 64, 24, seed=3, dtype=torch.bfloat16)
    for budget in ((4, 8), (2, 64), (16, 1)):  # 16, 8 and 4 columns (r_c = 1 sums the query vectors)
        got = maxsim(queries, candidates, budget, kernel="fused").double()
        torch.testing.assert_close(got, maxsim_reference(queries, candidates, budget), rtol=0, atol=ATOL)
    assert not fused_supported(candidates, MAX_COLUMNS + 1, torch.float32)
    with pytest.raises(ValueError, match="at most 16 query vectors"):
        maxsim(queries, candidates, (8, 16), kernel="fused")
    torch.testing.assert_close(  # auto falls back to the GEMM kernel there
        maxsim(queries, candidates, (8, 16)).double(), maxsim_reference(queries, candidates, (8, 16)),
        rtol=0, atol=ATOL,
    )  # fmt: skip


def test_threads_split_pages_without_changing_scores() -> None:
    queries, candidates = unit(1, 16, 8, seed=4), unit(5000, 8, 8, seed=5, dtype=torch.bfloat16)
    one, two = torch.empty(1, 5000), torch.empty(1, 5000)
    fused_maxsim(queries, candidates, 4, 8, one, threads=1)
    fused_maxsim(queries, candidates, 4, 8, two, threads=2)  # two ranges of 2500 pages
    assert torch.equal(one, two)
    torch.testing.assert_close(one.double(), maxsim_reference(queries, candidates, (4, 8)), rtol=0, atol=ATOL)


def test_what_the_fused_kernel_refuses() -> None:
    candidates = unit(5, 8, 16, seed=6)
    assert not fused_supported(candidates.half(), 1, torch.float32)  # fp16: GEMM path (F16C upcast)
    assert not fused_supported(candidates, 1, torch.bfloat16)  # bf16 compute asked for
    assert not fused_supported(candidates[..., ::2], 1, torch.float32)  # D not unit-stride
    q = unit(16, 16, seed=7)
    with pytest.raises(ValueError, match="kernel must be"):
        maxsim(q, candidates, (1, 1), kernel="numba")
    gemm = maxsim(q, candidates.half(), (2, 4), kernel="gemm").double()
    torch.testing.assert_close(gemm, maxsim_reference(q, candidates.half(), (2, 4)), rtol=0, atol=ATOL)


def test_precompile_readies_the_kernel_for_bf16_and_fp32_stores() -> None:
    assert precompile() is True
    stored = {str(signature[0].dtype) for signature in _numba_kernel().signatures}
    assert {"uint16", "float32"} <= stored
    # a search after it finds the kernel ready: no new signature is compiled
    before = len(_numba_kernel().signatures)
    out = torch.empty(1, 3)
    fused_maxsim(torch.randn(1, 4, 8), torch.randn(3, 8, 8).to(torch.bfloat16), 4, 8, out)
    assert len(_numba_kernel().signatures) == before
