"""What the ``metaembed-rag`` commands do (:mod:`metaembed_rag.cli` builds their parsers).

Each command checks everything it can before it loads a model: paths, the index and what it holds,
budgets and filters. Those checks read the index through :mod:`metaembed_rag.index.summary`,
without torch, so a mistake is answered in a fraction of a second. Torch, transformers and the
index are imported only once the checks pass.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .budget import Budget
from .cli import EXIT_ERROR, EXIT_PARTIAL, SAMPLES, parse_filter
from .index.summary import MANIFEST_NAME, IndexSummary, read_summary

if TYPE_CHECKING:
    from .model import MetaEmbed
    from .retriever import RetrievedPage

__all__ = ["page_record", "run_demo", "run_index", "run_info", "run_search"]

DEMO_BUDGETS = ("1,1", "2,4", "4,8", "8,16", "16,64")  # the paper's ladder


# -- checks made before any model is loaded -------------------------------------------------------
def _summary(path: Path, *, fields: bool = False) -> tuple[IndexSummary, dict[str, set[str]]]:
    if not (path / MANIFEST_NAME).is_file():
        raise FileNotFoundError(
            f"no index at {path}: build it with `metaembed-rag index PDF_FOLDER --index {path}`"
        )
    return read_summary(path, fields=fields)


_BUDGET = re.compile(r"\s*\(?\s*(-?\d+)\s*[,x]\s*(-?\d+)\s*\)?\s*")


def check_budget(text: str, fingerprint: dict[str, Any]) -> Budget:
    """``--budget`` read and checked against the model the index was built with."""
    max_q, max_c = fingerprint["num_query_tokens"], fingerprint["num_candidate_tokens"]
    match = _BUDGET.fullmatch(text)
    if match is None:
        raise ValueError(f"cannot read --budget {text!r}: write it as r_q,r_c, for example 4,8")
    r_q, r_c = (int(v) for v in match.groups())
    if not (1 <= r_q <= max_q and 1 <= r_c <= max_c):
        raise ValueError(
            f"--budget {text} is out of range for this index: r_q must be in 1..{max_q} and r_c in 1..{max_c}"
        )
    return Budget(r_q, r_c)


def _describe_model(fingerprint: dict[str, Any]) -> str:
    if fingerprint.get("model"):
        return str(fingerprint["model"])
    if fingerprint.get("recipe"):
        return f"MetaEmbed.from_backbone(**{json.dumps(fingerprint['recipe'], sort_keys=True)})"
    return f"{fingerprint.get('name')!r}, not recorded where to load it from (pass --model DIR to search)"


# -- index ----------------------------------------------------------------------------------------
def run_index(args: argparse.Namespace) -> int:
    from .documents import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, find_inputs

    include, exclude = args.include or DEFAULT_INCLUDE, args.exclude or DEFAULT_EXCLUDE
    if args.sync and Path(args.folder).is_file():
        raise ValueError("--sync needs a folder: with one file it would delete every other document")
    root, files = find_inputs(args.folder, include, exclude, sync=args.sync)
    if not files:
        raise ValueError(
            f"nothing to index: no files in {root} match --include {' '.join(include)}"
            + (f" (--exclude {' '.join(exclude)})" if exclude else "")
        )
    path = Path(args.index)
    existing = (path / MANIFEST_NAME).is_file()
    if path.exists() and not path.is_dir():
        raise ValueError(f"--index {path} is a file; give a folder for the index")
    if not existing and path.is_dir() and any(path.iterdir()):
        raise ValueError(f"--index {path} holds other files and no index; give a new or empty folder")
    recorded = _summary(path)[0].fingerprint if existing else None

    from .threads import index_threads, use_threads

    use_threads(args.threads, index_threads())
    if recorded is not None:
        from .retriever import model_for_index

        model = model_for_index(recorded, args.model, path)
    else:
        from .model.defaults import load_model

        model = load_model(args.model)
    print(f"model: {model.reference or model.config.name}", file=sys.stderr)
    return _index_into(path, model, args, created=None if existing else path.exists())


def _index_into(path: Path, model: MetaEmbed, args: argparse.Namespace, *, created: bool | None) -> int:
    """Index ``args.folder`` into ``path``. ``created`` is None for an index that existed, else
    whether its folder existed (empty) before: an index this run created is removed again when it
    ends up holding nothing."""
    from .index import PageIndex
    from .pipeline import index_folder

    index = PageIndex.open(path, model) if (path / MANIFEST_NAME).is_file() else PageIndex.create(
        path, fingerprint=model, dtype=args.dtype
    )
    globs = {"include": args.include, "exclude": args.exclude}
    try:
        with index:
            report = index_folder(args.folder, index, model, renderer=args.renderer, dpi=args.dpi,
                                  password=args.password, sync=args.sync, batch_size=args.batch_size,
                                  commit_every=args.commit_every, show_progress_bar=not args.quiet,
                                  **{k: v for k, v in globs.items() if v})
            pages = len(index)
            size = index.stats().bytes_on_disk
    except BaseException:
        _remove_if_empty(path, created)
        raise
    print(report.summary())
    if _remove_if_empty(path, created):
        print(f"index: nothing was indexed, so {path} was not created", file=sys.stderr)
    else:
        print(f"index: {path} ({pages} pages, {size / 2**20:.1f} MiB on disk)")
    if report.failed:
        ok = len(report.files) - len(report.failed)
        print(f"metaembed-rag: {len(report.failed)} of {len(report.files)} files failed (listed above)"
              + (f"; the other {ok} are indexed" if ok else ""), file=sys.stderr)
        return EXIT_PARTIAL if ok else EXIT_ERROR
    return 0


def _remove_if_empty(path: Path, created: bool | None) -> bool:
    """Remove an index this run created when it holds no page (leaving a folder that was there
    before, empty); whether it did."""
    if created is None or not (path / MANIFEST_NAME).is_file():
        return False
    summary, _ = read_summary(path)
    if summary.pages:
        return False
    shutil.rmtree(path)
    if created:
        path.mkdir()
    return True


# -- search ---------------------------------------------------------------------------------------
def run_search(args: argparse.Namespace) -> int:
    from .index.filters import check_filter

    path = Path(args.index)
    summary, fields = _summary(path, fields=bool(args.filter))
    budget = check_budget(args.budget, summary.fingerprint)
    filter = parse_filter(args.filter)
    if filter:
        check_filter(filter, fields)
    if not args.query.strip():
        raise ValueError("the query is empty; pass a question or keywords")

    from .retriever import Retriever
    from .threads import QUERY_THREADS, use_threads

    use_threads(args.threads, QUERY_THREADS)
    with Retriever.open(path, args.model, read_only=True, budget=budget, k=args.k, hybrid=args.hybrid,
                        alpha=args.alpha) as retriever:
        started = time.perf_counter()
        pages = retriever.search(args.query, filter=filter)
        seconds = time.perf_counter() - started
    records = [page_record(page) for page in pages]
    if args.json:
        print(json.dumps(records, indent=2, ensure_ascii=False))
        return 0
    what = f"hybrid ({args.hybrid}) search with BM25" if args.hybrid else "search"
    print(f"{what} at budget {budget}: {len(records)} pages in {1e3 * seconds:.0f} ms "
          "(query encoding included)")
    for record in records:
        print(f"{record['rank']:>3}  {record['score']:7.3f}  {record['source']}  page {record['page']}")
        if args.text:
            print("\n".join("       " + line for line in record["text"].splitlines() if line.strip()))
    return 0


def page_record(page: RetrievedPage) -> dict[str, Any]:
    """One hit as ``search --json`` prints it: what a RAG pipeline needs to cite and show the page."""
    return {
        "rank": page.rank,
        "score": page.score,
        "normalized_score": page.normalized_score,
        "page_id": page.page_id,
        "doc_id": page.doc_id,
        "source": page.source,
        "page": page.page,
        "citation": page.citation,
        "image_path": str(page.image_path.resolve()) if page.image_path else None,
        "text": page.text,
    }


# -- info -----------------------------------------------------------------------------------------
def run_info(args: argparse.Namespace) -> int:
    path = Path(args.index)
    summary, _ = _summary(path)
    fingerprint = {k: v for k, v in summary.fingerprint.items() if k not in ("model", "recipe")}
    print(f"index:   {path}")
    print(f"model:   {_describe_model(summary.fingerprint)}")
    print(f"fingerprint: {json.dumps(fingerprint)}")
    print(f"pages:   {summary.pages} in {summary.segments} segments ({summary.dead_rows} deleted rows)")
    print(f"storage: {summary.dtype}, {summary.bytes_on_disk / 2**20:.2f} MiB on disk")
    return 0


# -- demo -----------------------------------------------------------------------------------------
def run_demo(args: argparse.Namespace) -> int:
    import tempfile

    from .index import PageIndex
    from .model.defaults import load_model
    from .pipeline import index_folder

    folder = Path(args.folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"--folder {folder} does not exist; pass a folder of PDFs")
    queries = [json.loads(line) for line in (SAMPLES / "queries.jsonl").read_text().splitlines()][::9]
    model = load_model(args.model)
    with tempfile.TemporaryDirectory() as tmp, PageIndex.create(Path(tmp) / "i", fingerprint=model) as index:
        report = index_folder(folder, index, model, show_progress_bar=not args.quiet)
        print(report.summary())
        stats = index.stats()
        print(f"index: {stats.pages} pages, {stats.vector_bytes / 2**20:.2f} MiB of {stats.dtype} vectors, "
              f"{stats.bytes_on_disk / 2**20:.2f} MiB on disk\n")
        hits_at_1 = {b: 0 for b in DEMO_BUDGETS}
        for item in queries:
            vectors = model.encode_queries([item["query"]])[0]
            print(f"Q: {item['query']}   (answer: {item['file']} p.{item['page']})")
            for budget in DEMO_BUDGETS:
                started = time.perf_counter()
                hits = index.search(vectors, budget=budget, k=3)
                ms = 1e3 * (time.perf_counter() - started)
                top = hits[0].metadata
                found = (Path(top["source"]).name, top["page"]) == (item["file"], item["page"])
                hits_at_1[budget] += found
                shown = "; ".join(
                    f"{Path(h.metadata['source']).name} p.{h.metadata['page']} ({h.score:.2f})" for h in hits
                )
                print(f"  {budget:>6}  {ms:5.1f} ms  {'✓' if found else '✗'}  {shown}")
        print("\nhit@1 by budget: " + ", ".join(f"{b}: {n}/{len(queries)}" for b, n in hits_at_1.items()))
    return 0 if not report.failed else EXIT_PARTIAL if len(report.failed) < len(report.files) else EXIT_ERROR
