"""Concurrency harness: readers search while a writer adds, deletes and compacts.

    OMP_NUM_THREADS=1 python benchmarks/concurrency.py --seconds 10 --seed 0

The writer (a process) commits pages in chunks: chunk ``c`` holds ``size`` pages, each tagged
``{"chunk": c, "size": size}``, added in one commit. It deletes the oldest chunk (one commit) to
keep at most ``LIVE_CHUNKS`` of them and compacts every few chunks. So every committed state is a
run of consecutive chunks, each whole. Readers (4 threads with an index each, and 2 processes)
search with ``k`` above any possible page count, so a result lists the whole snapshot: it must
hold whole chunks, consecutive, no page twice, ranks in order. A search with a small ``k`` must
hold no page twice and sorted scores. Any exception or failed check is an error.

Runs a phase with readers only, then one with the writer; prints searches, errors and p50/p99
search latency per phase.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from metaembed_rag.index import PageIndex, SearchHit

R_Q, R_C, DIM = 4, 8, 8
FINGERPRINT = {"name": "concurrency", "family": "text", "num_query_tokens": R_Q, "num_candidate_tokens": R_C,
               "dim": DIM, "checksum": "5eed"}  # fmt: skip
LIVE_CHUNKS, MAX_CHUNK, COMPACT_EVERY = 8, 6, 5
FULL_K = (LIVE_CHUNKS + 1) * MAX_CHUNK + 1  # more than any committed state holds


@dataclass
class Tally:
    searches: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def merge(self, other: Tally) -> None:
        self.searches += other.searches
        self.errors += other.errors
        self.latencies += other.latencies


def chunk(c: int, rng: random.Random) -> tuple[torch.Tensor, list[dict[str, Any]]]:
    size = rng.randint(1, MAX_CHUNK)
    vectors = torch.nn.functional.normalize(torch.randn(size, R_C, DIM), dim=-1)
    metas = [{"page_id": f"c{c}-{i}", "doc_id": f"c{c}", "chunk": c, "size": size} for i in range(size)]
    return vectors, metas


def check_hits(hits: list[SearchHit], full: bool) -> str | None:
    """Why ``hits`` could not come from one committed state, or None."""
    ids = [h.page_id for h in hits]
    if len(set(ids)) != len(ids):
        return f"page twice: {sorted(i for i, n in Counter(ids).items() if n > 1)}"
    if [h.rank for h in hits] != list(range(1, len(hits) + 1)):
        return "ranks out of order"
    scores = [h.score for h in hits]
    if scores != sorted(scores, reverse=True):
        return "scores not sorted"
    if full:
        counts = Counter(h.metadata["chunk"] for h in hits)
        sizes = {h.metadata["chunk"]: h.metadata["size"] for h in hits}
        partial = {c: (n, sizes[c]) for c, n in counts.items() if n != sizes[c]}
        if partial:
            return f"partial chunks (seen, size): {partial}"
        if counts and sorted(counts) != list(range(min(counts), max(counts) + 1)):
            return f"chunks not consecutive: {sorted(counts)}"
    return None


def search_loop(path: Path, stop: Any, seed: int) -> Tally:
    """Search until ``stop()``; every fourth search lists the whole snapshot."""
    tally, rng = Tally(), random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    with PageIndex.open(path, read_only=True) as ix:
        ix.search(torch.randn(R_Q, DIM), k=1)  # warm-up (first-call set-up), not timed
        while tally.searches < 2 or not stop():  # two at least, so a slow start still counts
            query = torch.nn.functional.normalize(torch.randn(R_Q, DIM, generator=gen), dim=-1)
            full = tally.searches % 4 == 0
            budget = rng.choice([(1, 1), (2, 4), (4, 8)])
            started = time.perf_counter()
            try:
                hits = ix.search(query, budget=budget, k=FULL_K if full else 5)
                tally.latencies.append(time.perf_counter() - started)
                problem = check_hits(hits, full)
            except Exception as exc:
                problem = f"{type(exc).__name__}: {exc}"
            tally.searches += 1
            if problem:
                tally.errors.append(problem)
    return tally


def reader_process(path: Path, seed: int, stop_r: int, stop_w: int) -> tuple[int, int]:
    """Fork a reader; it searches until ``stop_r`` reads EOF, then sends its tally as JSON."""
    out_r, out_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(stop_w)  # else our own copy would keep the stop pipe open
        os.close(out_r)
        try:
            tally = search_loop(path, lambda: bool(select.select([stop_r], [], [], 0)[0]), seed)
        except BaseException:
            tally = Tally(errors=[traceback.format_exc(limit=3)])
        with os.fdopen(out_w, "w") as out:
            json.dump(tally.__dict__, out)
        os._exit(0)
    os.close(out_w)
    return pid, out_r


def writer_process(path: Path, seconds: float, first_chunk: int, seed: int, stop_w: int) -> tuple[int, int]:
    """Fork the writer: chunks in, oldest chunks out, compactions, for ``seconds`` (and at least
    until it has compacted once); it sends its counts as JSON."""
    out_r, out_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(out_r)
        os.close(stop_w)
        counts = Counter[str]()
        try:
            rng = random.Random(seed)
            torch.manual_seed(seed)
            deadline = time.monotonic() + seconds
            with PageIndex.open(path, FINGERPRINT) as ix:
                c = first_chunk
                while time.monotonic() < deadline or not counts["compactions"]:
                    ix.add(*chunk(c, rng))
                    counts["adds"] += 1
                    if c - LIVE_CHUNKS >= 0:
                        counts["deleted pages"] += ix.delete(filter={"chunk": c - LIVE_CHUNKS})
                        counts["deletes"] += 1
                    if c % COMPACT_EVERY == 0:
                        ix.compact()
                        counts["compactions"] += 1
                    c += 1
        except BaseException:
            counts["errors"] += 1
            traceback.print_exc()
        with os.fdopen(out_w, "w") as out:
            json.dump(counts, out)
        os._exit(0)
    os.close(out_w)
    return pid, out_r


def phase(path: Path, seconds: float, seed: int, writer_from: int | None) -> tuple[Tally, dict[str, int]]:
    """Readers search for ``seconds`` (with the writer running, if ``writer_from`` is a chunk)."""
    stop_r, stop_w = os.pipe()  # closing stop_w stops the reader processes
    procs = [reader_process(path, seed + 100 + i, stop_r, stop_w) for i in range(2)]  # before threads
    os.close(stop_r)
    writer = None if writer_from is None else writer_process(path, seconds, writer_from, seed, stop_w)
    done = threading.Event()
    tallies: list[Tally] = []
    lock = threading.Lock()

    def thread(i: int) -> None:
        try:
            t = search_loop(path, done.is_set, seed + i)
        except BaseException:
            t = Tally(errors=[traceback.format_exc(limit=3)])
        with lock:
            tallies.append(t)

    threads = [threading.Thread(target=thread, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    counts: dict[str, int] = {}
    if writer:
        with os.fdopen(writer[1]) as f:  # EOF when the writer is done
            counts = json.load(f)
        os.waitpid(writer[0], 0)
    else:
        time.sleep(seconds)
    done.set()
    for t in threads:
        t.join()
    total = Tally()
    os.close(stop_w)
    for pid, out_r in procs:
        with os.fdopen(out_r) as f:
            total.merge(Tally(**json.load(f)))
        os.waitpid(pid, 0)
    for t in tallies:
        total.merge(t)
    return total, counts


def run(seconds: float, seed: int, workdir: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="concurrency-", dir=workdir) as tmp:
        path = Path(tmp) / "index"
        rng = random.Random(seed)
        torch.manual_seed(seed)
        with PageIndex.create(path, fingerprint=FINGERPRINT, dtype="fp32") as ix:
            for c in range(LIVE_CHUNKS):
                ix.add(*chunk(c, rng))
        alone, _ = phase(path, seconds / 3, seed, None)
        loaded, counts = phase(path, seconds, seed, LIVE_CHUNKS)
        with PageIndex.open(path, verify=True) as ix:
            final = check_hits(ix.search(torch.randn(R_Q, DIM), k=FULL_K), full=True)
    return {"readers only": alone, "with writer": loaded, "writer": counts, "final": final}


def summary(name: str, t: Tally) -> str:
    lat = np.array(t.latencies) * 1e3 if t.latencies else np.zeros(1)
    return (f"{name:13s} searches {t.searches:7d}  errors {len(t.errors)}  "
            f"p50 {np.percentile(lat, 50):6.2f} ms  p99 {np.percentile(lat, 99):6.2f} ms")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the phase with the writer")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    result = run(args.seconds, args.seed, args.workdir)
    print(f"4 reader threads + 2 reader processes, seed {args.seed}")
    for name in ("readers only", "with writer"):
        print(summary(name, result[name]))
        for error in result[name].errors[:5]:
            print(f"  error: {error}")
    print("writer: " + ", ".join(f"{v} {k}" for k, v in result["writer"].items()))
    errors = sum(len(result[n].errors) for n in ("readers only", "with writer"))
    errors += int(result["writer"].get("errors", 0)) + (result["final"] is not None)
    print(f"errors: {errors}")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
