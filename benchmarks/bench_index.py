"""Index benchmark (issue #4): exact scoring against the roofline, peers, bytes per page, two-stage search.

    PYTHONPATH=. python benchmarks/bench_index.py            # N=100k at D=384, 10k at D=3584; < 12 GB
    PYTHONPATH=. python benchmarks/bench_index.py --quick    # N / 50: a smoke run, about a minute

Everything is measured in one run, side by side, because the machine is shared and noisy:

1. Exact scoring, bf16 storage, at every ladder budget, 1 query and a batch of 32: through the
   real ``PageIndex.search`` (top-10 over memory-mapped segments) and the raw ``scoring.maxsim``
   on the same mapped segments (the index's token-major ``[R_c, n, D]`` layout; one copy of the
   pages in RAM, because the machine's RAM is shared), plus ``kernel="gemm"`` (the chunked-BLAS
   kernel) for one query. Each time is compared with the roofline bound
   ``max(bytes / bandwidth, FLOPs / peak)``: bytes ``N·r_c·D·2``, FLOPs ``2·Q·N·r_q·r_c·D``,
   bandwidth from a large fp32 copy (bytes read + written), peak from a large square fp32 GEMM
   (fp32 is the compute dtype on this CPU: its bf16 GEMM runs at ~1 GFLOP/s). Both ceilings are
   re-probed in every timing round and the bound uses the best seen. The batch of 32 runs on the
   first ``--batch-fraction`` of the pages (its cost is 32x; the bound scales with N alike).
2. Peers at equal N (smaller, because their ingestion goes through Python lists): colpali-engine's
   ``score_multi_vector``, qdrant-client local mode, qdrant-edge-py; see ``_peers.py``.
3. Bytes per page per budget for every storage dtype, from the segment files on disk, against
   ``r_c·D·2``; and what the Qdrant collection holds.
4. Two-stage search at D=384: recall@10 against exhaustive search at (16,64), and the speed-up.
   The pages come from a seeded topic model (``_index_data.py``): on random vectors recall means
   little. The D=3584 case repeats one ~256 MB block of random unit vectors (timings do not depend
   on the values).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]  # bench this checkout, installed or not
from _index_data import TopicModel, queries_for  # noqa: E402
from _index_tables import Cell, print_bytes, print_exact, print_peers, print_two_stage  # noqa: E402
from _peers import Peer, colpali_peer, qdrant_edge_peer, qdrant_local_peer  # noqa: E402
from bench_maxsim import Probe, timed  # noqa: E402

from metaembed_rag.budget import LADDER, Budget  # noqa: E402
from metaembed_rag.index import PageIndex  # noqa: E402
from metaembed_rag.index.quantize import DTYPES, stored_to_torch  # noqa: E402
from metaembed_rag.scoring import maxsim  # noqa: E402

R_Q, R_C, K = 16, 64, 10
SEGMENT_BYTES = 256 << 20  # pages per commit: about this much bf16 (one segment each)


@dataclass
class Sizes:
    """What one run measures; ``--quick`` divides the page counts."""

    cases: tuple[tuple[int, int], ...] = ((100_000, 384), (10_000, 3584))
    batch_fraction: float = 0.1
    peer_pages: dict[int, int] = field(default_factory=lambda: {384: 2000, 3584: 250})
    bytes_pages: dict[int, int] = field(default_factory=lambda: {384: 2000, 3584: 200})
    two_stage_queries: int = 16
    rerank_from: tuple[int, ...] = (100, 200, 500, 1000, 2000)
    first_stages: tuple[Budget, ...] = (Budget(1, 1), Budget(2, 4))
    repeats: int = 5
    cell_seconds: float = 2.0
    peer_call_limit: float = 10.0  # seconds: a batch call predicted slower than this is skipped

    def scaled(self, divisor: int) -> Sizes:
        return Sizes(
            cases=tuple((max(200, n // divisor), d) for n, d in self.cases),
            batch_fraction=self.batch_fraction,
            peer_pages={d: max(50, n // divisor) for d, n in self.peer_pages.items()},
            bytes_pages={d: max(20, n // divisor) for d, n in self.bytes_pages.items()},
            two_stage_queries=4,
            rerank_from=tuple(m // divisor * 5 for m in self.rerank_from[:3]),
            first_stages=self.first_stages,
            repeats=3,
            cell_seconds=0.3,
            peer_call_limit=2.0,
        )


def fingerprint(dim: int) -> dict[str, object]:
    return {"name": "bench", "family": "synthetic", "num_query_tokens": R_Q, "num_candidate_tokens": R_C,
            "dim": dim, "checksum": "bench"}  # fmt: skip


def page_batches(num_pages: int, dim: int, structured: bool):
    """bf16 ``[b, R_c, D]`` batches of about SEGMENT_BYTES: topic-model pages, or one block of random
    unit vectors repeated (cheap to make; scoring time does not depend on the values)."""
    batch = max(1, SEGMENT_BYTES // (R_C * dim * 2))
    if structured:
        for block in TopicModel(dim, page_noise=1.5).pages(num_pages, batch):
            yield block.bfloat16()
        return
    gen = torch.Generator().manual_seed(dim)
    block = torch.nn.functional.normalize(torch.randn(batch, R_C, dim, generator=gen), dim=-1).bfloat16()
    for start in range(0, num_pages, batch):
        yield block[: min(batch, num_pages - start)]


def build(path: Path, batches: Iterable[torch.Tensor], dim: int, dtype: str = "bf16") -> PageIndex:
    """A PageIndex at ``path`` holding the page-major ``[b, R_c, D]`` batches, one commit (segment) each.
    Page ``i`` (in order) gets page_id ``str(i)`` and ``page = i``."""
    index = PageIndex.create(path, fingerprint=fingerprint(dim), dtype=dtype)
    start = 0
    for batch in batches:
        stop = start + len(batch)
        # A content hash given, as the pipeline gives file hashes: no per-page hashing of vectors.
        metas = [{"page_id": str(i), "page": i, "content_hash": f"h{i}"} for i in range(start, stop)]
        index.add(batch, metas)
        start = stop
    return index


def mapped_pages(index: PageIndex) -> list[torch.Tensor]:
    """Each segment's vectors as a read-only page-major view ``[n, R_c, D]`` of the mapped file, in
    page order. The raw kernel scores these, so it reads the same memory as the search (this
    reaches into the index's storage: a benchmark's privilege)."""
    store = index._store

    def views() -> list[torch.Tensor]:
        readers = [store.readers[sid] for sid in sorted(store.readers)]
        return [stored_to_torch(r.view(0, r.record.rows)["vectors"]) for r in readers]

    return store.snapshot(views)


def first_pages(views: list[torch.Tensor], n: int) -> list[torch.Tensor]:
    """The views cut to the first ``n`` pages."""
    out, left = [], n
    for v in views:
        if left <= 0:
            break
        out.append(v[:left])
        left -= len(out[-1])
    return out


def exact_cells(
    index: PageIndex, views: list[torch.Tensor], queries: torch.Tensor, sizes: Sizes, probe: Probe
):
    """Section 1: search / maxsim / gemm timings per (Q, budget)."""
    cells = []
    num_pages, dim = sum(map(len, views)), views[0].shape[-1]
    for num_q in (1, 32):
        n = num_pages if num_q == 1 else max(1, int(num_pages * sizes.batch_fraction))
        q = queries[0] if num_q == 1 else queries[:num_q]
        flt = None if n == num_pages else {"page": {"lt": n}}
        cands = first_pages(views, n)
        for b in LADDER:
            fns = {
                "search": partial(index.search, q, b, k=K, filter=flt),
                "maxsim": partial(_top, q, cands, b, "auto"),
            }
            if num_q == 1:
                fns["gemm"] = partial(_top, q, cands, b, "gemm")
            _check_agree(fns["search"](), fns["maxsim"](), num_q)  # also the warm-up
            timings = timed([*fns.values(), probe.copy, probe.gemm], sizes.repeats, sizes.cell_seconds)
            probe.record(timings[-2], timings[-1])
            cells.append(Cell(n, dim, num_q, b, dict(zip(fns, timings[:-2], strict=True))))
            _log(f"exact {n}x{dim} Q={num_q} {b}: {_ms(cells[-1])}")
    return cells


def _top(q: torch.Tensor, cands: list[torch.Tensor], b: Budget, kernel: str):
    """Top-10 by the raw kernel over consecutive blocks of pages (the index's segments)."""
    scores = torch.cat([maxsim(q, c, b, kernel=kernel) for c in cands], dim=-1)
    return scores.topk(min(K, scores.shape[-1]))


def _check_agree(hits, top, num_q: int) -> None:
    """The search path and the raw kernel agree on the top-10 scores (ids may swap on ties)."""
    per_query = [hits] if num_q == 1 else hits
    got = torch.tensor([[h.score for h in qh] for qh in per_query])
    torch.testing.assert_close(got, top.values.view(num_q, -1), rtol=1e-5, atol=1e-4)


def peer_cells(pages: torch.Tensor, queries: torch.Tensor, sizes: Sizes, tmp: Path):
    """Section 2: our search and kernel against each peer on ``pages [n, R_c, D]``."""
    n, dim = len(pages), pages.shape[-1]
    index = build(tmp / f"peers-{dim}", [pages], dim)
    threads = torch.get_num_threads()
    started = time.perf_counter()
    peers: list[Peer] = [
        colpali_peer(pages),
        qdrant_local_peer(pages, fingerprint(dim)),
        qdrant_edge_peer(pages, threads, tmp / f"edge-{dim}"),
    ]
    _log(f"peers ingested {n}x{dim} in {time.perf_counter() - started:.0f} s")
    ours = {
        "search": lambda q, b, k: [[int(h.page_id) for h in qh] for qh in index.search(q, b, k=k)],
        "maxsim": lambda q, b, k: _top(q, [pages], b, "auto").indices.tolist(),
    }
    runnable = {p.name: p.search for p in peers if p.search is not None}
    batched = {"search", "maxsim", *(p.name for p in peers if p.batched)}  # never skipped
    cells, overlap = [], {name: 1.0 for name in runnable}
    single: dict[tuple[str, Budget], float] = {}  # one query's time, to skip batches that would crawl
    for num_q in (1, 32):
        q = queries[:num_q]
        for b in LADDER:
            fns = {
                name: partial(fn, q, b, K)
                for name, fn in {**ours, **runnable}.items()
                if num_q == 1 or name in batched or single[name, b] * num_q <= sizes.peer_call_limit
            }
            truth = fns["search"]()
            fns["maxsim"]()  # warm-up (numba compiles a kernel per array type on first use)
            for name in runnable.keys() & fns.keys():
                shared = [len(set(t) & set(g)) / len(t) for t, g in zip(truth, fns[name](), strict=True)]
                overlap[name] = min(overlap[name], *shared)
            measured = timed(list(fns.values()), sizes.repeats, sizes.cell_seconds)
            timings = dict(zip(fns, measured, strict=True))
            if num_q == 1:
                single.update({(name, b): t.seconds for name, t in timings.items()})
            cells.append(Cell(n, dim, num_q, b, timings))
            _log(f"peers {n}x{dim} Q={num_q} {b}: {_ms(cells[-1])}")
    qdrant_stats = next((p.store.stats() for p in peers if p.store is not None), None)
    index.close()
    return cells, peers, overlap, qdrant_stats


def bytes_rows(pages: torch.Tensor, tmp: Path) -> list[tuple[str, int, dict[str, float]]]:
    """Section 3: measured candidate bytes per page per budget, for every storage dtype."""
    rows = []
    dim = pages.shape[-1]
    for dtype in DTYPES:
        with build(tmp / f"bytes-{dim}-{dtype}", [pages], dim, dtype) as index:
            stats = index.stats()
            seg_bytes = sum(f.stat().st_size for f in (index.path / "segments").iterdir())
            assert seg_bytes == stats.vector_bytes
            per_page = seg_bytes / stats.pages  # header included, amortised
            rows.append((dtype, dim, {str(b): per_page * b.r_c / R_C for b in LADDER}))
    return rows


def two_stage_rows(index: PageIndex, queries: torch.Tensor, sizes: Sizes):
    """Section 4: exhaustive (16,64) vs two-stage per query: recall@10 and median time."""
    full = Budget(R_Q, R_C)

    def run(**kw) -> tuple[list[set[str]], float]:
        ids, times = [], []
        for q in queries:
            start = time.perf_counter()
            hits = index.search(q, full, k=K, **kw)
            times.append(time.perf_counter() - start)
            ids.append({h.page_id for h in hits})
        return ids, statistics.median(times)

    run(rerank_from=sizes.rerank_from[0])  # warm-up
    truth, t_exact = run()
    rows = [("exhaustive", 0, 1.0, t_exact)]
    for first in sizes.first_stages:
        for m in sizes.rerank_from:
            got, t = run(rerank_from=m, first_stage=first)
            recall = statistics.mean(len(a & b) / len(a) for a, b in zip(truth, got, strict=True))
            rows.append((str(first), m, recall, t))
            _log(f"two-stage {first} M={m}: recall {recall:.3f}, {t * 1e3:.1f} ms")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="page counts / 50: a smoke run")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch and kernel threads (1: stable on a busy 2-core machine)"
    )
    parser.add_argument("--batch-fraction", type=float, default=None, help="pages scored by the batch of 32")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sizes = Sizes().scaled(50) if args.quick else Sizes()
    if args.batch_fraction:
        sizes.batch_fraction = args.batch_fraction
    probe = Probe(*((64, 1024) if args.quick else (256, 1536)))
    exact, peers_out, byte_rows, stage_rows = [], [], [], []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp_name:
        tmp = Path(tmp_name)
        for num_pages, dim in sizes.cases:
            structured = dim == 384
            t0 = time.perf_counter()
            index = build(tmp / f"index-{dim}", page_batches(num_pages, dim, structured), dim)
            views = mapped_pages(index)
            _log(f"built {num_pages}x{dim} in {time.perf_counter() - t0:.0f} s")
            gen = torch.Generator().manual_seed(7)
            targets = torch.randint(0, num_pages, (max(32, sizes.two_stage_queries),), generator=gen)
            target_pages = torch.stack([index.get(str(int(t)), with_vectors=True).vectors for t in targets])
            queries = queries_for(target_pages, TopicModel(dim, page_noise=1.5))
            exact += exact_cells(index, views, queries, sizes, probe)
            if structured:
                stage_rows = two_stage_rows(index, queries[: sizes.two_stage_queries], sizes)
            small = max(sizes.peer_pages[dim], sizes.bytes_pages[dim])
            head = torch.cat(first_pages(views, small))  # a copy: the index is closed next
            del views
            index.close()
            _rmtree(tmp / f"index-{dim}")  # free the disk and page cache before the peers
            peers_out.append(peer_cells(head[: sizes.peer_pages[dim]], queries, sizes, tmp))
            byte_rows += bytes_rows(head[: sizes.bytes_pages[dim]], tmp)
            del head, index
            gc.collect()
            for path in tmp.iterdir():
                _rmtree(path)
    bw, peak = max(probe.bandwidth), max(probe.peak)
    total = time.perf_counter() - started
    print(f"\ntorch {torch.__version__}, {torch.get_num_threads()} thread(s); total {total:.0f} s")
    print(f"ceilings (best of {len(probe.peak)} probes; median): copy bandwidth {bw:.1f} GB/s "
          f"({statistics.median(probe.bandwidth):.1f}), fp32 GEMM peak {peak:.0f} GFLOP/s "
          f"({statistics.median(probe.peak):.0f})")  # fmt: skip
    print_exact(exact, bw, peak)
    for cells, peers, overlap, _ in peers_out:
        print_peers(cells, peers, overlap)
    print_bytes(byte_rows, [q for *_, q in peers_out])
    if stage_rows:
        print_two_stage(stage_rows, sizes.cases[0][0])
    return 0


def _log(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


def _ms(cell: Cell) -> str:
    return " ".join(f"{name} {t.seconds * 1e3:.1f}" for name, t in cell.timings.items()) + " ms"


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
