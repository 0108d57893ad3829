"""MaxSim late-interaction scoring on budget prefixes (MetaEmbed, Xiao et al. 2025, arXiv:2509.18095).

MetaEmbed scores a query against a candidate with ColBERT-style late interaction on the
first ``r_q`` query vectors and the first ``r_c`` candidate vectors:

    s(q, c) = Σ_{i<r_q} max_{j<r_c} ⟨q_i, c_j⟩        (a sum, no length normalisation)

Three entry points:

* :func:`maxsim` - the search kernel: a fused CPU kernel for few query vectors, chunked GEMMs
  otherwise; dtype-aware, no autograd.
* :func:`maxsim_train` - the same score, unchunked and differentiable, for the MMR loss.
* :func:`maxsim_reference` - a float64 Python loop, the oracle the tests compare against.

Compute dtype (:func:`maxsim`):

* CPU: always fp32 unless ``compute_dtype`` says otherwise. fp16 and bf16 candidates are
  upcast one cache-sized chunk at a time. The upcast is exact, so the only error is fp32
  accumulation (relative ~1e-6). Measured on the project's AVX2 machine (torch 2.13, MKL,
  2 cores): fp32 GEMM 70-140 GFLOP/s, while bf16 and fp16 GEMM run at ~1 GFLOP/s because the
  CPU has no native bf16/fp16 dot products. ``compute_dtype=torch.bfloat16`` is accepted for
  CPUs with AVX512-BF16/AMX. Every dot product is then rounded to bf16, so a score may be off
  by up to ``r_q · eps_bf16`` (eps = 2**-7) for unit-norm vectors. fp16 compute on CPU is
  refused.
* CUDA: the storage dtype (tensor cores). Per-dot-product rounding to that dtype gives the
  same ``r_q · eps`` bound. Maxima are summed in fp32.

The result is always fp32.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .budget import Budget, BudgetLike
from .scoring_cpu import fused_maxsim, fused_supported

__all__ = ["default_chunk_size", "maxsim", "maxsim_reference", "maxsim_train", "topk"]

_STORAGE_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)
# Bytes of per-chunk scratch (upcast candidates + similarity block) that maxsim aims for.
# On CPU this keeps the GEMM's operands in L2/L3. Of 0.5-16 MiB, 4 MiB was fastest or within 5%
# at every budget on the project's machine (2 threads, Q=1, D=384 and 3584). On GPU it only bounds
# peak memory.
_CPU_CHUNK_BYTES = 4 << 20
_GPU_CHUNK_BYTES = 256 << 20


def _check_shapes(queries: Tensor, candidates: Tensor) -> None:
    if queries.dim() not in (2, 3):
        raise ValueError(
            f"queries must be [R_q, D] or [Q, R_q, D], got a {queries.dim()}-D tensor {tuple(queries.shape)}"
        )
    if candidates.dim() != 3:
        raise ValueError(
            f"candidates must be [N, R_c, D], got a {candidates.dim()}-D tensor {tuple(candidates.shape)}"
        )
    if queries.shape[-1] != candidates.shape[-1]:
        raise ValueError(
            f"embedding dims differ: queries have D={queries.shape[-1]}, candidates D={candidates.shape[-1]}"
        )
    if queries.shape[-1] == 0 or queries.shape[-2] == 0 or candidates.shape[1] == 0:
        raise ValueError(
            "empty embeddings: need at least one vector of at least one dimension per query and "
            f"candidate, got queries {tuple(queries.shape)} and candidates {tuple(candidates.shape)}"
        )
    for name, t in (("queries", queries), ("candidates", candidates)):
        if t.dtype not in _STORAGE_DTYPES:
            raise TypeError(f"{name} must be float32, float16, bfloat16 (or float64), got {t.dtype}")
    if queries.device != candidates.device:
        raise ValueError(f"queries are on {queries.device} but candidates on {candidates.device}")


def _resolve_budget(budget: BudgetLike | None, max_r_q: int, max_r_c: int) -> Budget:
    if budget is None:
        return Budget(max_r_q, max_r_c)
    b = Budget.parse(budget)
    if not (b.r_q <= max_r_q and b.r_c <= max_r_c):
        raise ValueError(
            f"budget {b} does not fit these embeddings: r_q must be in 1..{max_r_q} and "
            f"r_c in 1..{max_r_c} (queries hold {max_r_q} vectors, candidates {max_r_c})"
        )
    return b


def _compute_dtype(storage: torch.dtype, device: torch.device, requested: torch.dtype | None) -> torch.dtype:
    if requested is not None and not requested.is_floating_point:
        raise ValueError(f"compute_dtype must be a floating dtype, got {requested}")
    if device.type != "cpu":
        return requested or storage
    if requested == torch.float16:
        raise ValueError("compute_dtype=torch.float16 is not supported on CPU (no fast fp16 GEMM)")
    if requested is not None:
        return requested
    # Exact upcast; fp32 GEMM is ~100x faster than bf16/fp16 GEMM on AVX2 CPUs.
    return torch.float64 if storage == torch.float64 else torch.float32


def default_chunk_size(
    num_queries: int, budget: Budget, dim: int, compute_dtype: torch.dtype, device: torch.device
) -> int:
    """Candidates per chunk so that the chunk's scratch stays near the cache-friendly target."""
    per_candidate = budget.r_c * (dim + budget.r_q * num_queries) * compute_dtype.itemsize
    target = _CPU_CHUNK_BYTES if device.type == "cpu" else _GPU_CHUNK_BYTES
    return max(1, target // per_candidate)


def maxsim(
    queries: Tensor,
    candidates: Tensor,
    budget: BudgetLike | None = None,
    *,
    chunk_size: int | None = None,
    compute_dtype: torch.dtype | None = None,
    kernel: str = "auto",
) -> Tensor:
    """MetaEmbed MaxSim scores ``Σ_{i<r_q} max_{j<r_c} ⟨q_i, c_j⟩`` (arXiv:2509.18095).

    Args:
        queries: ``[Q, R_q, D]``, or ``[R_q, D]`` for one query.
        candidates: ``[N, R_c, D]`` in fp32, fp16 or bf16. Every candidate has R_c vectors.
            Any strided view works. A prefix-major ``[R_c, N, D]`` store passed as
            ``store.transpose(0, 1)`` makes budget prefixes contiguous. On CPU, single-query
            (1,1) then runs ~3x faster and (2,4) up to 1.6x faster than with scattered
            ``[N, R_c, D]`` rows. Larger budgets gain nothing
            (benchmarks/bench_maxsim.py ``--layout rnd``).
        budget: ``(r_q, r_c)`` prefix sizes (a Budget, pair or ``"r_q,r_c"``). None means full.
        chunk_size: candidates scored per step of the chunked GEMM kernel. Extra memory is
            about ``chunk_size · r_c · (D + Q · r_q)`` compute-dtype values. None picks a
            cache-sized default (:func:`default_chunk_size`). The fused kernel needs no chunks.
        compute_dtype: GEMM dtype. Defaults to fp32 on CPU and the storage dtype on CUDA
            (module docstring). With bf16/fp16 compute a score can differ from the exact
            value by up to ``r_q · torch.finfo(dtype).eps · max‖q_i‖‖c_j‖``.
        kernel: ``"auto"``, ``"fused"`` or ``"gemm"``. The fused CPU kernel
            (:mod:`metaembed_rag.scoring_cpu`) serves fp32 compute on fp32/bf16 storage with at
            most 16 query vectors in all (one query at any budget), reading each stored vector
            once. Everything else uses chunked GEMMs. ``"auto"`` picks the fused kernel where it
            applies; ``"fused"`` raises where it does not.

    Returns:
        fp32 scores ``[Q, N]``, or ``[N]`` if ``queries`` was 2-D. This is inference only:
        use :func:`maxsim_train` for gradients.
    """
    _check_shapes(queries, candidates)
    single = queries.dim() == 2
    q3 = queries.unsqueeze(0) if single else queries
    num_q, max_r_q, dim = q3.shape
    num_c, max_r_c, _ = candidates.shape
    b = _resolve_budget(budget, max_r_q, max_r_c)
    r_q, r_c = b
    dtype = _compute_dtype(candidates.dtype, candidates.device, compute_dtype)
    if chunk_size is None:
        chunk_size = default_chunk_size(num_q, b, dim, dtype, candidates.device)
    elif isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")

    if kernel not in ("auto", "fused", "gemm"):
        raise ValueError(f"kernel must be 'auto', 'fused' or 'gemm', got {kernel!r}")
    columns = num_q * (1 if r_c == 1 else r_q)
    fused = kernel != "gemm" and fused_supported(candidates, columns, dtype)
    if kernel == "fused" and not fused:
        raise ValueError(
            "the fused kernel needs CPU tensors, fp32 compute, fp32 or bf16 candidates with unit "
            f"stride along D, and at most 16 query vectors in all; got {candidates.dtype} on "
            f"{candidates.device}, compute {dtype}, {columns} query vectors. Use kernel='auto'."
        )

    # no_grad rather than inference_mode: the returned scores stay ordinary tensors, so callers
    # can mask them in place (filters) without "inference tensor" errors.
    with torch.no_grad():
        if fused:
            scores = torch.empty(num_q, num_c, dtype=torch.float32)
            fused_maxsim(q3, candidates, r_q, r_c, scores)
        else:
            scores_nq = torch.empty(num_c, num_q, dtype=torch.float32, device=candidates.device)
            if num_c and num_q:
                _score_chunks(q3, candidates, r_q, r_c, chunk_size, dtype, scores_nq)
            scores = scores_nq.T.contiguous()
    return scores[0] if single else scores


def _score_chunks(
    q3: Tensor, candidates: Tensor, r_q: int, r_c: int, chunk: int, dtype: torch.dtype, out: Tensor
) -> None:
    """Fill ``out`` [N, Q] with one GEMM per chunk: ``[n·r_c, D] @ [D, r_q·Q]``."""
    num_q, dim = q3.shape[0], q3.shape[-1]
    num_c = candidates.shape[0]
    chunk = min(chunk, num_c)
    # Query vectors as columns ordered (i, q): both reductions below are then over a middle
    # dim, i.e. elementwise max/add of contiguous rows, which vectorise well.
    q_cols = q3[:, :r_q].transpose(0, 1).reshape(r_q * num_q, dim).to(dtype).T
    # A full-width fp32 index is used in place. A prefix (strided) or another dtype goes
    # through a reused, cache-sized buffer: one pass that copies and upcasts at once.
    in_place = candidates.dtype == dtype and r_c == candidates.shape[1] and candidates.is_contiguous()
    kw = {"dtype": dtype, "device": candidates.device}
    buf = None if in_place else torch.empty(chunk, r_c, dim, **kw)
    sim = torch.empty(chunk * r_c, r_q * num_q, **kw)
    best = torch.empty(chunk, r_q * num_q, **kw) if r_c > 1 else None
    for start in range(0, num_c, chunk):
        stop = min(start + chunk, num_c)
        n = stop - start
        block = candidates[start:stop, :r_c]
        if buf is not None:
            block = buf[:n].copy_(block)
        s = torch.mm(block.view(n * r_c, dim), q_cols, out=sim[: n * r_c])
        m = s if best is None else torch.amax(s.view(n, r_c, r_q * num_q), dim=1, out=best[:n])
        torch.sum(m.view(n, r_q, num_q), dim=1, dtype=torch.float32, out=out[start:stop])


def maxsim_train(queries: Tensor, candidates: Tensor, budget: BudgetLike | None = None) -> Tensor:
    """Differentiable MaxSim ``[B, R_q, D] × [N, R_c, D] -> [B, N]`` for the MMR loss (arXiv:2509.18095).

    Unchunked: it holds a ``[B·r_q, N·r_c]`` similarity matrix, which is fine for in-batch
    candidates. The GEMM runs in the inputs' dtype (so it follows autocast). The sum over
    query vectors and the result are fp32 (fp64 for fp64 inputs). Gradients flow to both inputs; a max
    sends its gradient to the best-matching candidate vector.
    """
    if queries.dim() != 3:
        raise ValueError(
            f"queries must be [B, R_q, D], got a {queries.dim()}-D tensor {tuple(queries.shape)}"
        )
    _check_shapes(queries, candidates)
    b = _resolve_budget(budget, queries.shape[1], candidates.shape[1])
    num_q, dim = queries.shape[0], queries.shape[2]
    num_c = candidates.shape[0]
    q = queries[:, : b.r_q].reshape(num_q * b.r_q, dim)
    c = candidates[:, : b.r_c].reshape(num_c * b.r_c, dim)
    sim = (q @ c.T).view(num_q, b.r_q, num_c, b.r_c)
    return sim.amax(dim=3).sum(dim=1, dtype=torch.promote_types(sim.dtype, torch.float32))


def maxsim_reference(queries: Tensor, candidates: Tensor, budget: BudgetLike | None = None) -> Tensor:
    """Naive float64 MaxSim, one query vector at a time: the tests' oracle. Same shapes as :func:`maxsim`."""
    _check_shapes(queries, candidates)
    single = queries.dim() == 2
    q3 = (queries.unsqueeze(0) if single else queries).double()
    c3 = candidates.double()
    r_q, r_c = _resolve_budget(budget, q3.shape[1], c3.shape[1])
    out = torch.zeros(q3.shape[0], c3.shape[0], dtype=torch.float64)
    for a in range(q3.shape[0]):
        for n in range(c3.shape[0]):
            for i in range(r_q):
                out[a, n] += torch.max(c3[n, :r_c] @ q3[a, i])
    return out[0] if single else out


def topk(scores: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The ``min(k, N)`` best ``(scores, indices)`` along the last dim, best first."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    values, indices = torch.topk(scores, min(k, scores.shape[-1]), dim=-1, largest=True, sorted=True)
    return values, indices
