"""Framework overhead and cold start of the retrievers (issue 12, section 4).

For one query at k=5 and budget (4,8), over the bundled samples and over a synthetic index of
10k pages (random unit vectors with the bundled model's fingerprint, so every retriever opens it):

* ``PageIndex.search`` is the baseline. Every row, the baseline included, **encodes the query**:
  the baseline is ``model.encode_queries`` + ``PageIndex.search``, the least any retriever must do
  for a text query, so a ratio measures only what the retriever adds (validation, the lock,
  ``RetrievedPage`` / ``Document`` / ``NodeWithScore`` construction, LangChain's callback manager).
  ``search only`` is also printed, with a pre-encoded query, to show how small scoring is next to
  encoding; and every row again with the encoder stubbed (it returns the pre-encoded query), as a
  ratio to ``PageIndex.search`` alone: the layers' own cost, free of the encoder's noise.
* core ``Retriever.search``, LangChain ``MetaEmbedRetriever.invoke`` and LlamaIndex
  ``MetaEmbedRetriever.retrieve`` (``n/a`` where that package is not importable) as ratios to it.
  Medians of interleaved rounds, so load drift on a shared machine hits every row alike.

Cold start: a new Python process, from nothing to the first LangChain result over the samples,
split into imports, model load, index open, numba kernel (load from its on-disk cache, or compile),
and the first search; run once with an empty numba cache dir (a fresh clone) and once again with
the cache the first run left (every later process).

    python benchmarks/bench_retrievers.py            # 10k pages, 30 rounds
    python benchmarks/bench_retrievers.py --quick    # 2k pages, 5 rounds
    ... --samples-index my-samples.idx               # reuse an index of samples/pdfs
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "pdfs"
LANGCHAIN = ROOT / "integrations" / "langchain-metaembed"
QUERY = "How much revenue did Lumen Harbor make in North America?"
BUDGET, K = (4, 8), 5


def median_ms(rows: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median wall time of each callable in ms, over ``rounds`` interleaved rounds after one warm-up."""
    for fn in rows.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(rounds):
        for name, fn in rows.items():
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


def synthetic_index(path: Path, pages: int) -> Path:
    """``pages`` random unit-vector pages under the bundled model's fingerprint, with text metadata."""
    from metaembed_rag import PageIndex
    from metaembed_rag.model.defaults import default_model_reference
    from metaembed_rag.retriever import load_shared_model

    model = load_shared_model()
    fingerprint = model.fingerprint() | {"model": default_model_reference()}
    generator = torch.Generator().manual_seed(0)
    with PageIndex.create(path, fingerprint=fingerprint, dtype="bf16") as index:
        for start in range(0, pages, 1000):
            n = min(1000, pages - start)
            shape = (n, model.num_candidate_tokens, model.config.hidden_size)
            vectors = torch.nn.functional.normalize(torch.randn(*shape, generator=generator), dim=-1)
            metas = [{"page_id": f"synthetic.pdf:{i}", "doc_id": "synthetic.pdf", "source": "synthetic.pdf",
                      "page": i, "content_hash": f"h{i}", "text": f"synthetic page {i}"}
                     for i in range(start, start + n)]
            index.add(vectors, metas)
    return path


def overhead_rows(index: Path, rounds: int) -> dict[str, float | None]:
    from langchain_metaembed import MetaEmbedRetriever

    from metaembed_rag.retriever import Retriever

    core = Retriever.open(index, budget=BUDGET, k=K)
    lc = MetaEmbedRetriever(core=core, budget=BUDGET, k=K)
    model, store = core.model, core.store
    vectors = model.encode_queries([QUERY], budget=BUDGET)[0]
    rows: dict[str, Callable[[], object]] = {
        "search only": lambda: store.search(vectors, BUDGET, K),
        "PageIndex.search": lambda: store.search(model.encode_queries([QUERY], budget=BUDGET)[0], BUDGET, K),
        "Retriever.search": lambda: core.search(QUERY),
        "LangChain invoke": lambda: lc.invoke(QUERY),
    }
    try:
        from llama_index.retrievers.metaembed import MetaEmbedRetriever as LlamaRetriever
    except ImportError:
        llama = None
    else:
        llama = _llama_retriever(LlamaRetriever, core, index)
    if llama is not None:
        rows["LlamaIndex retrieve"] = lambda: llama.retrieve(QUERY)
    result: dict[str, float | None] = dict(median_ms(rows, rounds))
    result.setdefault("LlamaIndex retrieve", None)
    # The same calls with the encoder stubbed (it returns the pre-encoded query): what each layer
    # adds on top of scoring alone, without the encoder's noise.
    cached = model.encode_queries([QUERY], budget=BUDGET)
    model.encode_queries = lambda *args, **kwargs: cached  # type: ignore[method-assign]
    try:
        stubbed = median_ms({name: fn for name, fn in rows.items() if name != "search only"}, rounds)
    finally:
        del model.encode_queries
    result |= {f"{name}, encoder stubbed": ms for name, ms in stubbed.items()}
    result.setdefault("LlamaIndex retrieve, encoder stubbed", None)
    core.close()
    return result


def _llama_retriever(cls: type, core: object, index: Path) -> object | None:
    """The LlamaIndex retriever over the same core if its constructor takes one, else over the index."""
    for attempt in (lambda: cls(core=core, budget=BUDGET, similarity_top_k=K),
                    lambda: cls.from_index(index, budget=BUDGET, similarity_top_k=K)):
        try:
            return attempt()
        except (TypeError, AttributeError, ValueError):
            continue
    return None


COLD = r"""
import json, sys, time
t0 = time.perf_counter()
import torch
from langchain_metaembed import MetaEmbedRetriever
from metaembed_rag.retriever import load_shared_model
from metaembed_rag.scoring_cpu import fused_maxsim
t1 = time.perf_counter()
model = load_shared_model()
t2 = time.perf_counter()
retriever = MetaEmbedRetriever.from_index(sys.argv[1], budget=(4, 8), k=5)
t3 = time.perf_counter()
# the kernel a bf16 index uses, on two tiny pages: numba's import, then its cache load or compile
out = torch.empty(1, 2)
fused_maxsim(torch.zeros(1, 4, 8), torch.zeros(2, 8, 8, dtype=torch.bfloat16), 4, 8, out)
t4 = time.perf_counter()
docs = retriever.invoke(sys.argv[2])
t5 = time.perf_counter()
retriever.invoke(sys.argv[2])
t6 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "model load": t2 - t1, "index open": t3 - t2, "kernel": t4 - t3,
                  "first search": t5 - t4, "second search": t6 - t5, "total": t5 - t0, "hits": len(docs)}))
"""


def cold_start(index: Path) -> dict[str, dict[str, float]]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(LANGCHAIN), env.get("PYTHONPATH", "")])
    runs = {}
    with tempfile.TemporaryDirectory() as cache:
        # empty: as on a fresh clone; the second run finds what the first wrote
        env["NUMBA_CACHE_DIR"] = cache
        for label in ("fresh numba cache", "warm numba cache"):
            done = subprocess.run([sys.executable, "-c", COLD, str(index), QUERY], env=env, check=True,
                                  capture_output=True, text=True)
            runs[label] = json.loads(done.stdout.strip().splitlines()[-1])
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2k synthetic pages and 5 rounds")
    parser.add_argument("--pages", type=int, help="synthetic pages (default 10000, 2000 with --quick)")
    parser.add_argument("--rounds", type=int, help="timed rounds (default 30, 5 with --quick)")
    parser.add_argument("--samples-index", type=Path,
                        help="an index of samples/pdfs built before (default: build one in a temp dir)")
    args = parser.parse_args(argv)
    pages = args.pages or (2000 if args.quick else 10_000)
    rounds = args.rounds or (5 if args.quick else 30)
    sys.path[:0] = [str(ROOT), str(LANGCHAIN)]
    from metaembed_rag.retriever import Retriever

    with tempfile.TemporaryDirectory() as tmp:
        samples = args.samples_index or Path(tmp) / "samples.idx"
        if args.samples_index is None:
            Retriever.from_pdfs(SAMPLES, index=samples, show_progress_bar=False).close()
        synthetic = synthetic_index(Path(tmp) / "synthetic.idx", pages)
        columns = {"samples (50 pages)": overhead_rows(samples, rounds),
                   f"synthetic ({pages} pages)": overhead_rows(synthetic, rounds)}
        cold = cold_start(samples)

    print(f"\nOne query, k={K}, budget {BUDGET}, median of {rounds} rounds, torch threads "
          f"{torch.get_num_threads()}. Rows encode the query (ratio to encode + PageIndex.search), "
          "except 'search only' and the 'encoder stubbed' rows (ratio to PageIndex.search alone).\n")
    print("| call | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for row in next(iter(columns.values())):
        cells = []
        for values in columns.values():
            base = values["PageIndex.search, encoder stubbed" if "stubbed" in row else "PageIndex.search"]
            ms = values[row]
            cells.append("n/a" if ms is None else f"{ms:.2f} ms ({ms / base:.2f}x)")  # type: ignore[operator]
        print(f"| {row} | " + " | ".join(cells) + " |")
    print("\nCold start, new process, `from_index` over the samples to the first LangChain result (s):\n")
    parts = ["imports", "model load", "index open", "kernel", "first search", "total", "second search"]
    print("| numba cache | " + " | ".join(parts) + " |")
    print("|---|" + "---|" * len(parts))
    for label, run in cold.items():
        print(f"| {label} | " + " | ".join(f"{run[p]:.2f}" for p in parts) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
