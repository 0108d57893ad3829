"""The tables bench_index.py prints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from bench_maxsim import Timing

from metaembed_rag.budget import LADDER, Budget

__all__ = ["Cell", "bound", "print_bytes", "print_exact", "print_peers", "print_two_stage"]

R_C = 64


class Cell(NamedTuple):
    num_pages: int
    dim: int
    num_q: int
    budget: Budget
    timings: dict[str, Timing]


def bound(cell: Cell, bandwidth: float, peak: float) -> tuple[float, str, float, float]:
    """``(bound seconds, what binds, GB read, GFLOP)`` for a cell at these ceilings (GB/s, GFLOP/s)."""
    r_q, r_c = cell.budget
    nbytes = cell.num_pages * r_c * cell.dim * 2
    flops = 2 * cell.num_q * cell.num_pages * r_q * r_c * cell.dim
    t_mem, t_flop = nbytes / bandwidth / 1e9, flops / peak / 1e9
    return max(t_mem, t_flop), ("memory" if t_mem >= t_flop else "GEMM"), nbytes / 1e9, flops / 1e9


def print_exact(cells: Sequence[Cell], bandwidth: float, peak: float) -> None:
    print("\n1. Exact scoring, bf16 storage (fp32 compute): ms per call, and % of the roofline bound")
    head = (
        f"{'N':>7} {'D':>5} {'Q':>3} {'budget':>8} {'GB':>6} {'GFLOP':>8} {'bound ms':>9} {'by':>6} | "
        f"{'search':>8} {'%':>4} | {'maxsim':>8} {'%':>4} | {'gemm':>8} {'%':>4} {'reps':>5}"
    )
    print(head + "\n" + "-" * len(head))
    for c in cells:
        b, by, gb, gflop = bound(c, bandwidth, peak)
        parts = []
        for name in ("search", "maxsim", "gemm"):
            t = c.timings.get(name)
            parts.append(f"{t.seconds * 1e3:>8.2f} {100 * b / t.seconds:>3.0f}%" if t else f"{'':>8} {'':>4}")
        reps = "/".join(str(t.runs) for t in c.timings.values())
        print(
            f"{c.num_pages:>7} {c.dim:>5} {c.num_q:>3} {c.budget!s:>8} {gb:>6.3f} {gflop:>8.2f} "
            f"{b * 1e3:>9.2f} {by:>6} | {parts[0]} | {parts[1]} | {parts[2]} {reps:>5}"
        )
    print(
        "search = PageIndex.search top-10; maxsim = scoring.maxsim + topk on the same memory-mapped "
        "segments ([R_c, n, D] token-major; fused kernel where Q·r_q <= 16); gemm = "
        "maxsim(kernel='gemm'), the chunked-BLAS kernel. Q=32 rows score the first N pages shown."
    )


def print_peers(cells: Sequence[Cell], peers: Sequence[Any], overlap: dict[str, float]) -> None:
    if not cells:
        return
    runnable = [p.name for p in peers if p.search is not None]
    n, d = cells[0].num_pages, cells[0].dim
    print(f"\n2. Peers at equal N = {n} pages, D = {d}: ms per top-10 call; peer ÷ our search, ÷ maxsim")
    head = f"{'Q':>3} {'budget':>8} {'search':>8} {'maxsim':>8} | " + " | ".join(
        f"{name:>14} {'/srch':>6} {'/msim':>6}" for name in runnable
    )
    print(head + "\n" + "-" * len(head))
    for c in cells:
        search, kernel = c.timings["search"].seconds, c.timings["maxsim"].seconds
        row = f"{c.num_q:>3} {c.budget!s:>8} {search * 1e3:>8.2f} {kernel * 1e3:>8.2f} | "
        row += " | ".join(
            f"{c.timings[p].seconds * 1e3:>14.2f} {c.timings[p].seconds / search:>5.1f}x "
            f"{c.timings[p].seconds / kernel:>5.1f}x"
            if p in c.timings
            else f"{'skipped':>14} {'':>6} {'':>6}"
            for p in runnable
        )
        print(row)
    for p in peers:
        if p.search is None:
            print(f"  {p.name}: NOT MEASURED - {p.missing}")
        else:
            print(f"  {p.name}: {p.note}; top-10 overlap with ours >= {overlap[p.name]:.2f} (every cell)")
    print("  skipped: a per-query peer whose batch call would take over the limit (32 x its one-query time).")


def print_bytes(rows: Sequence[tuple[str, int, dict[str, float]]], qdrant: Sequence[Any]) -> None:
    print("\n3. Candidate bytes per page read at each budget, from the segment files on disk, vs r_c·D·2")
    head = f"{'dtype':>6} {'D':>5} | " + " | ".join(f"{b!s:>16}" for b in LADDER)
    print(head + "\n" + "-" * len(head))
    for dtype, dim, per_budget in rows:
        cells = []
        for b in LADDER:
            measured = per_budget[str(b)]
            cells.append(f"{measured:>9.0f} {measured / (b.r_c * dim * 2):>5.3f}x")
        print(f"{dtype:>6} {dim:>5} | " + " | ".join(cells))
    for stats in qdrant:
        if stats is None:
            continue
        cells = []
        for b in LADDER:
            got = stats.bytes_per_budget.get(str(b))
            cells.append(f"{got / stats.pages:>9.0f} {got / stats.pages / (b.r_c * stats.dim * 2):>5.3f}x"
                         if got else f"{'-':>16}")  # fmt: skip
        total = stats.vector_bytes / stats.pages
        print(f"{'qdrant':>6} {stats.dim:>5} | " + " | ".join(cells) + f"   (all levels: {total:.0f} B/page)")
    print("Each cell: bytes per page (segment bytes incl. header / pages · r_c / 64), then that ÷ r_c·D·2. "
          "qdrant: the local-mode QdrantStore, float32, one stored level per r_c.")  # fmt: skip


def print_two_stage(rows: Sequence[tuple[str, int, float, float]], num_pages: int) -> None:
    print(f"\n4. Two-stage search, N = {num_pages} pages, D = 384, budget (16,64), k = 10: per query")
    head = f"{'first stage':>12} {'M':>6} {'recall@10':>10} {'ms/query':>9} {'speed-up':>9}"
    print(head + "\n" + "-" * len(head))
    exact = rows[0][3]
    for first, m, recall, t in rows:
        print(f"{first:>12} {m or '':>6} {recall:>10.3f} {t * 1e3:>9.1f} {exact / t:>8.1f}x")
    print("M = pages kept by the first stage and re-scored exactly; recall against exhaustive search at "
          "(16,64); medians over the queries. Data: the seeded topic model in _index_data.py.")  # fmt: skip
