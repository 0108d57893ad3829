"""A fused CPU MaxSim kernel for few query vectors (numba), used by :func:`metaembed_rag.scoring.maxsim`.

Why: for one query the similarity GEMM is ``[n·r_c, D] @ [D, r_q]`` with at most 16 columns. BLAS
runs such skinny products at 15-25% of its square-GEMM peak on the project's AVX2 machine (MKL and
OpenBLAS alike), and the chunked path also writes and re-reads an fp32 upcast of every candidate.
This kernel reads each stored candidate vector once (bf16 bits are widened in registers), keeps it
in L1 while it is dotted with every query vector, and keeps the running maxima in a small array:
no scratch traffic, no similarity matrix.

Candidates are addressed as rows of a 2-D ``[rows, D]`` array with unit stride along D: row
``offset + j·stride_token + n·stride_page`` is candidate ``n``'s vector ``j``. That one form covers
``[N, R_c, D]`` stores, prefix-major ``[R_c, N, D]`` stores (a budget prefix is then one contiguous
stream) and any slice of either, without copying. Work is split over threads by candidate ranges;
the kernel releases the GIL, so concurrent searches from several threads are safe.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numpy as np
import torch
from torch import Tensor

__all__ = ["MAX_COLUMNS", "fused_maxsim", "fused_supported", "precompile"]

#: Query-vector columns (``Q · r_q``) up to which the fused kernel beats chunked BLAS here.
MAX_COLUMNS = 16
# Pages per block for token-major stores: 64 rows of one token stream per step.
_PAGE_BLOCK = 64
# Candidates per thread task below which a second thread costs more than it saves.
_MIN_PER_THREAD = 2048


def fused_supported(candidates: Tensor, columns: int, compute_dtype: torch.dtype) -> bool:
    """Whether :func:`fused_maxsim` handles these candidates: CPU, fp32 compute, fp32/bf16 storage,
    unit stride along D, row strides that are whole rows, and at most :data:`MAX_COLUMNS` columns."""
    if candidates.device.type != "cpu" or compute_dtype != torch.float32 or columns > MAX_COLUMNS:
        return False
    if candidates.dtype not in (torch.float32, torch.bfloat16) or candidates.shape[-1] == 0:
        return False
    dim = candidates.shape[-1]
    s_page, s_token, s_dim = candidates.stride()
    sizes = candidates.shape
    whole_rows = all(s % dim == 0 or n == 1 for s, n in ((s_page, sizes[0]), (s_token, sizes[1])))
    return (s_dim == 1 or dim == 1) and whole_rows and _numba_kernel() is not None


def fused_maxsim(
    queries: Tensor, candidates: Tensor, r_q: int, r_c: int, out: Tensor, threads: int | None = None
) -> None:
    """Fill ``out`` ``[Q, N]`` (fp32) with MaxSim of ``queries [Q, ≥r_q, D]`` against ``candidates
    [N, ≥r_c, D]`` on the first ``r_q`` / ``r_c`` vectors. Requires :func:`fused_supported`."""
    num_q, dim = queries.shape[0], queries.shape[-1]
    num_c = candidates.shape[0]
    if num_c == 0 or num_q == 0:
        return
    q = queries[:, :r_q].float()
    if r_c == 1:  # Σ_i ⟨q_i, c_0⟩ = ⟨Σ_i q_i, c_0⟩: one column per query
        q_cols, eff_r_q = q.sum(dim=1), 1
    else:  # columns ordered (i, q) so the kernel's per-query sum is a strided read
        q_cols, eff_r_q = q.transpose(0, 1).reshape(r_q * num_q, dim), r_q
    q_np = q_cols.contiguous().numpy()
    rows, offset, s_token, s_page = _row_view(candidates)
    # Token-major (pages are the inner axis): blocks of pages stream each vector row. Page-major:
    # one page at a time, or four when few query vectors are dotted four pages at a time.
    block = _PAGE_BLOCK if s_page < s_token else (4 if q_cols.shape[0] < 4 else 1)
    out_np = out.numpy()
    kernel = _numba_kernel()
    threads = threads or torch.get_num_threads()
    parts = max(1, min(threads, num_c // _MIN_PER_THREAD))
    bounds = [num_c * i // parts for i in range(parts + 1)]

    def run(i: int) -> None:
        lo, hi = bounds[i], bounds[i + 1]
        kernel(rows, offset, s_token, s_page, lo, hi, r_c, q_np, eff_r_q, num_q, out_np, block)

    if parts == 1:
        run(0)
    else:
        with ThreadPoolExecutor(parts) as pool:
            list(pool.map(run, range(parts)))


def precompile() -> bool:
    """Compile the kernel for bf16 and fp32 stores now (or load it from numba's on-disk cache, next
    to this file or in ``NUMBA_CACHE_DIR``), so that no search pays for it. A fresh clone compiles
    once (seconds); every later process loads the cache. ``make`` runs this after installing.
    Returns False without numba."""
    if _numba_kernel() is None:
        return False
    queries, out = torch.zeros(1, 2, 8), torch.empty(1, 2)
    for dtype in (torch.bfloat16, torch.float32):
        fused_maxsim(queries, torch.zeros(2, 2, 8, dtype=dtype), 2, 2, out)
    return True


def _row_view(candidates: Tensor) -> tuple[np.ndarray, int, int, int]:
    """``(rows [M, D], offset, stride_token, stride_page)`` in rows, viewing the same memory."""
    dim = candidates.shape[-1]
    t = candidates.view(torch.int16) if candidates.dtype == torch.bfloat16 else candidates
    s_page, s_token, _ = (s // dim for s in t.stride())
    s_page = s_page if candidates.shape[0] > 1 else 0
    s_token = s_token if candidates.shape[1] > 1 else 0
    span = 1 + (candidates.shape[0] - 1) * s_page + (candidates.shape[1] - 1) * s_token
    base = t.numpy()
    if base.dtype == np.int16:
        base = base.view(np.uint16)
    # The first element of ``t`` starts row 0; every candidate row lies within ``span`` rows of it.
    rows = np.lib.stride_tricks.as_strided(
        base, shape=(span, dim), strides=(dim * base.itemsize, base.itemsize), writeable=False
    )
    return rows, 0, s_token, s_page


@cache
def _numba_kernel() -> object | None:
    """The compiled kernel (cached on disk by numba, compiled on first use); None without numba."""
    try:
        import numba
        from numba.extending import overload
    except ImportError:  # pragma: no cover - numba is a dependency; stay correct without it
        return None

    @overload(_widen, jit_options=_OPTIONS)
    def _widen_impl(src, dst):  # type: ignore[no-untyped-def]
        return _widen_bf16 if src.dtype == numba.types.uint16 else _widen_f32

    import llvmlite.ir as ir
    from numba.extending import intrinsic

    @intrinsic
    def bf16_bits_to_f32(typingctx, bits):  # type: ignore[no-untyped-def]
        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
            wide = builder.shl(builder.zext(args[0], ir.IntType(32)), ir.Constant(ir.IntType(32), 16))
            return builder.bitcast(wide, ir.FloatType())

        return numba.types.float32(numba.types.uint16), codegen

    @overload(_load, jit_options=_OPTIONS)
    def _load_impl(src, d):  # type: ignore[no-untyped-def]
        if src.dtype == numba.types.uint16:
            return lambda src, d: bf16_bits_to_f32(src[d])
        return lambda src, d: src[d]

    @overload(_dot_raw, jit_options=_OPTIONS)
    def _dot_raw_impl(row, q, best):  # type: ignore[no-untyped-def]
        return _dot_raw

    @overload(_dot_raw4, jit_options=_OPTIONS)
    def _dot_raw4_impl(r0, r1, r2, r3, q, best, i):  # type: ignore[no-untyped-def]
        return _dot_raw4

    @overload(_dot_pair, jit_options=_OPTIONS)
    def _dot_pair_impl(x0, x1, q, best):  # type: ignore[no-untyped-def]
        return _dot_pair

    @overload(_dot_one, jit_options=_OPTIONS)
    def _dot_one_impl(x0, q, best):  # type: ignore[no-untyped-def]
        return _dot_one
    return numba.njit(**_OPTIONS)(_kernel)


# fastmath without "ninf"/"nnan": the running maxima start at -inf.
_OPTIONS = {
    "nogil": True,
    "fastmath": {"reassoc", "contract", "nsz", "arcp"},
    "cache": True,
    "boundscheck": False,
    "error_model": "numpy",
}


# The helpers below are compiled through numba overloads, which require the same parameters as the
# typing stubs, annotations included: hence no annotations on them.


def _widen(src, dst):  # type: ignore[no-untyped-def]
    """Copy one stored vector into the fp32 scratch ``dst`` (compiled per dtype, below)."""
    raise NotImplementedError("only called from compiled code")


def _widen_bf16(src, dst):  # type: ignore[no-untyped-def]
    bits = dst.view(np.uint32)  # bf16 bits are the top half of an fp32
    for d in range(dst.shape[0]):
        bits[d] = np.uint32(src[d]) << 16


def _widen_f32(src, dst):  # type: ignore[no-untyped-def]
    for d in range(dst.shape[0]):
        dst[d] = src[d]


def _dot_pair(x0, x1, q, best):  # type: ignore[no-untyped-def]
    """``best[v] = max(best[v], <x0, q_v>, <x1, q_v>)``: two candidate vectors share every load of
    a query vector, and four query vectors at a time give eight independent FMA chains."""
    dim, cols = x0.shape[0], q.shape[0]
    v = 0
    while v + 4 <= cols:
        q0, q1, q2, q3 = q[v], q[v + 1], q[v + 2], q[v + 3]
        a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = np.float32(0.0)
        for d in range(dim):
            u, w = x0[d], x1[d]
            e0, e1, e2, e3 = q0[d], q1[d], q2[d], q3[d]
            a0 += u * e0
            a1 += u * e1
            a2 += u * e2
            a3 += u * e3
            b0 += w * e0
            b1 += w * e1
            b2 += w * e2
            b3 += w * e3
        best[v] = max(best[v], max(a0, b0))
        best[v + 1] = max(best[v + 1], max(a1, b1))
        best[v + 2] = max(best[v + 2], max(a2, b2))
        best[v + 3] = max(best[v + 3], max(a3, b3))
        v += 4
    while v < cols:
        qv = q[v]
        a0 = b0 = np.float32(0.0)
        for d in range(dim):
            a0 += x0[d] * qv[d]
            b0 += x1[d] * qv[d]
        best[v] = max(best[v], max(a0, b0))
        v += 1


def _load(src, d):  # type: ignore[no-untyped-def]
    """``src[d]`` as fp32 (compiled per dtype: bf16 bits are widened in a register)."""
    raise NotImplementedError("only called from compiled code")


def _dot_raw(row, q, best):  # type: ignore[no-untyped-def]
    """``best[v] = max(best[v], <row, q_v>)`` straight from the stored row: for one to three query
    vectors a scratch copy would cost more than the dot products it saves."""
    for v in range(q.shape[0]):
        qv = q[v]
        acc = np.float32(0.0)
        for d in range(row.shape[0]):
            acc += _load(row, d) * qv[d]
        best[v] = max(best[v], acc)


def _dot_raw4(r0, r1, r2, r3, q, best, i):  # type: ignore[no-untyped-def]
    """:func:`_dot_raw` for four pages' rows at once (into ``best[i..i+3]``): four independent
    FMA chains per query vector, where one chain would wait on the FMA latency."""
    for v in range(q.shape[0]):
        qv = q[v]
        a0 = a1 = a2 = a3 = np.float32(0.0)
        for d in range(r0.shape[0]):
            e = qv[d]
            a0 += _load(r0, d) * e
            a1 += _load(r1, d) * e
            a2 += _load(r2, d) * e
            a3 += _load(r3, d) * e
        best[i, v] = max(best[i, v], a0)
        best[i + 1, v] = max(best[i + 1, v], a1)
        best[i + 2, v] = max(best[i + 2, v], a2)
        best[i + 3, v] = max(best[i + 3, v], a3)


def _dot_one(x0, q, best):  # type: ignore[no-untyped-def]
    """``best[v] = max(best[v], <x0, q_v>)``."""
    dim, cols = x0.shape[0], q.shape[0]
    v = 0
    while v + 4 <= cols:
        q0, q1, q2, q3 = q[v], q[v + 1], q[v + 2], q[v + 3]
        a0 = a1 = a2 = a3 = np.float32(0.0)
        for d in range(dim):
            u = x0[d]
            a0 += u * q0[d]
            a1 += u * q1[d]
            a2 += u * q2[d]
            a3 += u * q3[d]
        best[v] = max(best[v], a0)
        best[v + 1] = max(best[v + 1], a1)
        best[v + 2] = max(best[v + 2], a2)
        best[v + 3] = max(best[v + 3], a3)
        v += 4
    while v < cols:
        qv = q[v]
        a0 = np.float32(0.0)
        for d in range(dim):
            a0 += x0[d] * qv[d]
        best[v] = max(best[v], a0)
        v += 1


def _kernel(rows, offset, s_token, s_page, start, stop, r_c, q, r_q, num_q, out, block):  # type: ignore[no-untyped-def]
    """Scores of candidates ``start..stop`` into ``out[:, n]``; see the module docstring.

    Pages go in blocks of ``block``, vector by vector: with a token-major store, each step then
    streams ``block`` consecutive rows (a page-major store uses ``block = 1``).
    """
    dim = rows.shape[1]
    cols = q.shape[0]
    best = np.empty((block, cols), np.float32)
    x0 = np.empty(dim, np.float32)
    x1 = np.empty(dim, np.float32)
    for lo in range(start, stop, block):
        hi = min(lo + block, stop)
        best[:] = -np.inf
        if cols < 4:  # few query vectors: no scratch, four pages at a time
            for j in range(r_c):
                n = lo
                while n + 4 <= hi:
                    at = offset + n * s_page + j * s_token
                    _dot_raw4(rows[at], rows[at + s_page], rows[at + 2 * s_page], rows[at + 3 * s_page],
                              q, best, n - lo)  # fmt: skip
                    n += 4
                for m in range(n, hi):
                    _dot_raw(rows[offset + m * s_page + j * s_token], q, best[m - lo])
        for j in range(0, (r_c - 1) * (cols >= 4), 2):
            for n in range(lo, hi):
                base = offset + n * s_page + j * s_token
                _widen(rows[base], x0)
                _widen(rows[base + s_token], x1)
                _dot_pair(x0, x1, q, best[n - lo])
        if r_c % 2 and cols >= 4:  # the last vector of an odd prefix, alone
            for n in range(lo, hi):
                _widen(rows[offset + n * s_page + (r_c - 1) * s_token], x0)
                _dot_one(x0, q, best[n - lo])
        for n in range(lo, hi):
            for k in range(num_q):
                total = np.float32(0.0)
                for i in range(r_q):
                    total += best[n - lo, i * num_q + k]
                out[k, n] = total
