"""Torch thread counts for the two encoding jobs of the command line, measured on this machine.

    python benchmarks/bench_threads.py [--threads 1,2,4] [--repeats 3]

For every thread count, in a fresh process each time (as a CLI call is): the first query encode
(what one ``metaembed-rag search`` pays), the median of the next 20, and indexing throughput
(pages/s encoding the sample corpus' page texts in batches of 16, the ``index`` default). The
model is the bundled default. Each cell is the median over ``--repeats`` processes, and the
thread counts are interleaved, so load from other users of the machine falls on all of them.
``metaembed-rag`` picks its ``--threads`` defaults from this table (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "pdfs"

_CHILD = r"""
import json, sys, time
import torch
torch.set_num_threads(int(sys.argv[1]))
from metaembed_rag.documents import load_folder
from metaembed_rag.model.defaults import load_model
texts = [p.text for p in load_folder(sys.argv[2])]
model = load_model()
started = time.perf_counter()
model.encode_queries(["annual subscription fee"])
first = time.perf_counter() - started
times = []
for i in range(20):
    started = time.perf_counter()
    model.encode_queries([f"garden club events in week {i}"])
    times.append(time.perf_counter() - started)
times.sort()
started = time.perf_counter()
model.encode_documents(texts, batch_size=16)
pages_per_s = len(texts) / (time.perf_counter() - started)
print(json.dumps({"first_ms": 1e3 * first, "query_ms": 1e3 * times[len(times) // 2],
                  "pages_per_s": pages_per_s}))
"""


def _run(threads: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(threads), str(SAMPLES)], check=True,
                         capture_output=True, text=True, env=os.environ)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", default="1,2,4", help="comma list of torch thread counts")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    counts = [int(t) for t in args.threads.split(",")]
    runs: dict[int, list[dict[str, float]]] = {t: [] for t in counts}
    for _ in range(args.repeats):
        for threads in counts:
            runs[threads].append(_run(threads))
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}; "
          f"median of {args.repeats} processes per row")
    print("| threads | first query encode (ms) | next queries, median (ms) | indexing (pages/s) |")
    print("|---:|---:|---:|---:|")
    for threads, rows in runs.items():
        cell = {key: statistics.median(r[key] for r in rows) for key in rows[0]}
        print(f"| {threads} | {cell['first_ms']:.0f} | {cell['query_ms']:.1f} | {cell['pages_per_s']:.1f} |")


if __name__ == "__main__":
    main()
